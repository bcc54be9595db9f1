"""One error family for everything nnsym refuses.

Every message says what went wrong and where; the command line prints the message alone (no traceback)
and exits with code 2.
"""

import contextlib
import contextvars
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


# ----- issue 10: messages in the caller's vocabulary -------------------------------------------------
# The same check serves the Python API and the command line; a Python user is never told to pass a
# flag. The command line runs inside `command_line()`, and a message names an option with `spelled`.

_COMMAND_LINE = contextvars.ContextVar("nnsym_command_line", default=False)


@contextlib.contextmanager
def command_line():
    """Messages raised inside name command-line options (--wrt W) rather than arguments (wrt="W")."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def spelled(cli: str, python: str) -> str:
    """``cli`` when running as the command line, else ``python``."""
    return cli if _COMMAND_LINE.get() else python
