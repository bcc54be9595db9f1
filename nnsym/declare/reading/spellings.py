"""Everyday spellings the notation's grammar would misread, settled on the raw text before it is scanned.

TeX's own rules read some of what people type as something else: ``log(x)`` without a backslash is the
product l o g x, ``x^12`` is x^1 times 2, ``1e-3`` is 1 e - 3 with e Euler's number. Each such spelling
is either refused with a message saying what to write, or -- where only one reading is possible --
rewritten to the notation's own spelling before the scanner sees it (``e^-x`` to ``e^{-x}``).
Rewrites only add or replace characters inside the matched spelling; nothing else moves but the
columns after it.

Where errors point (issue 17): every error is said in the text the user typed. `respell_columns` returns,
with the rewritten text, its `Columns`: for each character of the rewritten text, the column it was typed
at, composed across the rewrites. The reader applies it in one place, `typed_error`, to every error that
leaves it (scanner, grammar, builder, time steps): its column, the text shown and the caret under it.
This is design (b) of the issue, not (a) "move the rewrites into the scanner": the scanner is a
character-index machine (700 lines of ``self.text[i]``, brackets matched by index, one-token arguments
of ``\\frac`` marked by index, time steps found by slicing the text), and the rewrites produce tokens
the user never typed (``\\log_2(x)`` becomes a fraction, ``x^{-1/2}`` a ``\\frac`` inside braces), so
moving them there would mean synthesizing token runs with made-up positions all through it. A column map
touches none of that: the stages keep reading one text, and the one function that formats a located
error (`nnsym.declare.reading.scanner._located`) draws it again in the typed text. The refusals below,
raised while the text is half rewritten, are said in typed columns at once (`_Rewriting.refuse`).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from nnsym.declare.reading.scanner import _located
from nnsym.errors import ParseError

# Function names that, typed without a backslash and followed by "(", TeX reads as a product of letters.
_BARE_FUNCTIONS = {
    "log": r"\log", "ln": r"\ln", "exp": r"\exp", "tanh": r"\tanh", "sqrt": r"\sqrt{...}", "det": r"\det",
    "relu": r"\operatorname{ReLU}", "ReLU": r"\operatorname{ReLU}", "sigmoid": r"\sigma",
    "softmax": r"\operatorname{softmax}", "softplus": r"\operatorname{softplus}", "max": r"\max", "min": r"\min",
    "tr": r"\operatorname{tr}", "trace": r"\operatorname{tr}", "diag": r"\operatorname{diag}",
    "sin": r"\sin", "cos": r"\cos", "abs": "|x|", "logsumexp": r"\operatorname{logsumexp}",
}
_BARE_CALL = re.compile(r"(?<![\\A-Za-z])(" + "|".join(sorted(_BARE_FUNCTIONS, key=len, reverse=True))
                        + r")(?=\s*(?:\\left\s*)?\()")
_SCIENTIFIC = re.compile(r"(?<![A-Za-z0-9_.])([0-9]*\.?[0-9]+)[eE]([+-]?[0-9]+)")
_LONG_EXPONENT = re.compile(r"\^\s*([0-9])([0-9]+)")
_UNBRACED_NEGATIVE = re.compile(r"\^\s*-\s*([0-9]+|[A-Za-z]|\\[A-Za-z]+)")
_LEADING_DOT = re.compile(r"(?<![0-9A-Za-z}])\.([0-9])")
_SLASH_EXPONENT = re.compile(r"\^\{\s*(-?)\s*([0-9]+)\s*/\s*([0-9]+)\s*\}")
_UPRIGHT_E = re.compile(r"\\(?:mathrm|operatorname|text|rm)\s*\{\s*e\s*\}")
_LOG_BASE = re.compile(r"\\log_\s*(?:\{\s*([0-9]+(?:\.[0-9]+)?)\s*\}|([0-9]))")


def _error(text: str, col: int, message: str) -> ParseError:
    # the scanner's picture: past column 80 too, a window of the text around the caret
    return _located(ParseError, text, col, message)


def respell(text: str) -> str:
    """The text with everyday spellings settled: refused (a `ParseError` naming the column and what to
    write) or rewritten to the notation's spelling."""
    return respell_columns(text)[0]


def respell_columns(text: str):
    """(the respelled text, its `Columns`): `respell`, with where each character was typed."""
    match = _BARE_CALL.search(text)
    if match:
        name = match.group(1)
        raise _error(text, match.start() + 1, f"'{name}(' without a backslash is read by TeX as the product of "
                                              f"the letters {' '.join(name)}: write {_BARE_FUNCTIONS[name]}(...)")
    match = _SCIENTIFIC.search(text)
    if match:
        mantissa, exponent = match.groups()
        raise _error(text, match.start() + 1, f"'{match.group(0)}' would read as {mantissa} e {exponent} (e is "
                                              f"Euler's number): write {mantissa} \\cdot 10^{{{int(exponent)}}}, "
                                              "or the number in decimals")
    match = _LONG_EXPONENT.search(text)
    if match:
        digits = match.group(1) + match.group(2)
        raise _error(text, match.start() + 1, f"'^{digits}' is ^{match.group(1)} followed by {match.group(2)} "
                                              f"in TeX: write ^{{{digits}}}")
    rewriting = _Rewriting(text)
    # \mathrm{e}^{x}: the upright e is Euler's number (padded with spaces: later columns stay put)
    rewriting.sub(_UPRIGHT_E, lambda m: "e" + " " * (len(m.group(0)) - 1))
    rewriting.sub(_SLASH_EXPONENT, lambda m: f"^{{{m.group(1)}\\frac{{{m.group(2)}}}{{{m.group(3)}}}}}")
    rewriting.sub(_LEADING_DOT, lambda m: "0." + m.group(1))  # .5x is 0.5 x
    match = _LOG_BASE.search(rewriting.text)
    if match and not re.match(r"\s*(?:\\left\s*)?\(", rewriting.text[match.end():]):
        rewriting.refuse(match.start(), f"a logarithm to a base needs its argument in parentheses: "
                                        f"\\log_{{{match.group(1) or match.group(2)}}}(x)")
    rewriting.sub(_LOG_BASE, lambda m: rf"\frac{{1}}{{\ln({m.group(1) or m.group(2)})}}\log")
    rewriting.sub(_UNBRACED_NEGATIVE, lambda m: _negative_exponent(rewriting, m))
    return rewriting.text, Columns(rewriting.columns)


def _negative_exponent(rewriting, match) -> str:
    """x^-1, e^-x, e^-\\lambda: TeX would raise to '-' alone; only one reading is meant when one token
    follows. e^-xy (is it e^{-x} y or e^{-xy}?) is refused."""
    token = match.group(1)
    after = rewriting.text[match.end():match.end() + 1]
    if token[0].isalpha() and after.isalpha() or token.isdigit() and len(token) > 1:
        rewriting.refuse(match.start(), f"'^-{token}{after if token[0].isalpha() else ''}...' is "
                                        "ambiguous: write the exponent in braces, e.g. ^{-x} or ^{-xy}")
    if token in ("T",):  # ^-T is the inverse transpose, read as it is
        return match.group(0)
    return f"^{{-{token}}}"


# ----- issue 17: where each rewritten character was typed ------------------------------------------------

class Columns:
    """Rewritten position -> typed position. ``typed(col)`` is the 1-based column in the typed text of the
    1-based column ``col`` of the rewritten text (one past its end: one past the typed text's end)."""

    def __init__(self, positions):
        self.positions = positions  # 0-based typed index of each rewritten character, and of its end

    def typed(self, col: int) -> int:
        return self.positions[max(0, min(col - 1, len(self.positions) - 1))] + 1

    @property
    def moved(self) -> bool:
        return self.positions != list(range(len(self.positions)))


class _Rewriting:
    """The text as rewritten so far, with the typed position of each of its characters."""

    def __init__(self, text: str):
        self.typed, self.text, self.columns = text, text, list(range(len(text) + 1))

    def sub(self, pattern, replace):
        """``pattern.sub(replace, text)``, carrying the columns along: a character kept by a rewrite keeps
        its column, an added one takes the column of the typed character it stands for (the first
        character of a rewrite: where the rewritten spelling starts)."""
        text, columns, out, mapped, last = self.text, self.columns, [], [], 0
        for match in pattern.finditer(text):
            new = replace(match)
            out += [text[last:match.start()], new]
            mapped += columns[last:match.start()] + _aligned(match.group(0), new, columns[match.start():match.end()])
            last = match.end()
        self.text, self.columns = "".join(out) + text[last:], mapped + columns[last:]

    def refuse(self, index: int, message: str):
        raise _error(self.typed, self.columns[index] + 1, message)


def _aligned(old: str, new: str, columns: list) -> list:
    """The typed columns of ``new``, which replaces ``old`` (typed at ``columns``)."""
    out = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        out += columns[i1:i2] if tag == "equal" else [columns[min(i1, len(old) - 1)]] * (j2 - j1)
    return out[:1] and [columns[0]] + out[1:]


def typed_error(error, typed: str, columns: Columns):
    """``error`` (located in the rewritten text) said in the typed text: its column, the text shown and the
    caret; a column named in the message (``'\\right)' does not close '\\left[' (col 4)``) as well."""
    col = getattr(error, "column", None)
    message = str(error)
    if col is None or not columns.moved or not message.startswith(f"col {col}: "):
        return error
    lines = message.split("\n")
    pictured = len(lines) >= 3 and lines[-2].startswith("  ") and lines[-1].strip() == "^"
    body = "\n".join(lines[:-2] if pictured else lines)[len(f"col {col}: "):]
    body = re.sub(r"\(col ([0-9]+)\)", lambda m: f"(col {columns.typed(int(m.group(1)))})", body)
    if pictured:
        again = _located(type(error), typed, columns.typed(col), body)
    else:
        again = type(error)(f"col {columns.typed(col)}: {body}")
        again.column = columns.typed(col)
    return again
