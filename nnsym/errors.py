"""One error family for everything nnsym refuses.

Every message says what went wrong and where; the command line prints the message alone (no traceback)
and exits with code 2.
"""

import functools


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


def refuse_deep_nesting(function):
    """Make a RecursionError (an expression nested deeper than a recursive walk can follow, e.g. a
    chain of thousands of activations) an `InputError` naming the call, never a traceback."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except RecursionError:
            raise InputError(f"{function.__name__}: the expression is nested too deeply to handle; "
                             "name intermediate results or split the computation") from None

    return guarded
