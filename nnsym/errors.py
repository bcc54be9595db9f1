"""One error family for everything nnsym refuses.

Every message says what went wrong and where; the command line prints the message alone (no traceback)
and exits with code 2.
"""


class NnsymError(Exception):
    """Base of every error nnsym raises on purpose."""


class ShapeError(NnsymError, ValueError):
    """Operands whose shapes do not fit the operation."""


class ParseError(NnsymError, ValueError):
    """LaTeX (or a command-line NAME/SPEC) that cannot be read; the message points at the column."""


class MissingRuleError(NnsymError, NotImplementedError):
    """A node with no derivative (or printing) rule: refused, never treated as zero."""


class VerificationError(NnsymError, ArithmeticError):
    """A derived formula that failed its numerical check; nnsym never hands it out."""


class InputError(NnsymError, ValueError):
    """Any other bad input: unknown symbol, bad assumption, sizes too large to check."""
