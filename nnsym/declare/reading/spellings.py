"""Everyday spellings the notation's grammar would misread, settled on the raw text before it is scanned.

TeX's own rules read some of what people type as something else: ``log(x)`` without a backslash is the
product l o g x, ``x^12`` is x^1 times 2, ``1e-3`` is 1 e - 3 with e Euler's number. Each such spelling
is either refused with a message saying what to write, or -- where only one reading is possible --
rewritten to the notation's own spelling before the scanner sees it (``e^-x`` to ``e^{-x}``).
Rewrites only add or replace characters inside the matched spelling; nothing else moves but the
columns after it.
"""

from __future__ import annotations

import re

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
    error = ParseError(f"col {col}: {message}\n  {text[:80]}\n  {' ' * (col - 1)}^" if col <= 80 else
                       f"col {col}: {message}")
    error.column = col
    return error


def respell(text: str) -> str:
    """The text with everyday spellings settled: refused (a `ParseError` naming the column and what to
    write) or rewritten to the notation's spelling."""
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
    # \mathrm{e}^{x}: the upright e is Euler's number (padded with spaces: later columns stay put)
    text = _UPRIGHT_E.sub(lambda m: "e" + " " * (len(m.group(0)) - 1), text)
    text = _SLASH_EXPONENT.sub(lambda m: f"^{{{m.group(1)}\\frac{{{m.group(2)}}}{{{m.group(3)}}}}}", text)
    text = _LEADING_DOT.sub(r"0.\1", text)  # .5x is 0.5 x
    match = _LOG_BASE.search(text)
    if match and not re.match(r"\s*(?:\\left\s*)?\(", text[match.end():]):
        raise _error(text, match.start() + 1, f"a logarithm to a base needs its argument in parentheses: "
                                              f"\\log_{{{match.group(1) or match.group(2)}}}(x)")
    text = _LOG_BASE.sub(lambda m: rf"\frac{{1}}{{\ln({m.group(1) or m.group(2)})}}\log", text)
    return _negative_exponents(text)


def _negative_exponents(text: str) -> str:
    """x^-1, e^-x, e^-\\lambda: TeX would raise to '-' alone; only one reading is meant when one token
    follows. e^-xy (is it e^{-x} y or e^{-xy}?) is refused."""
    out, last = [], 0
    for match in _UNBRACED_NEGATIVE.finditer(text):
        token = match.group(1)
        after = text[match.end():match.end() + 1]
        if token[0].isalpha() and after.isalpha() or token.isdigit() and len(token) > 1:
            raise _error(text, match.start() + 1, f"'^-{token}{after if token[0].isalpha() else ''}...' is "
                                                  "ambiguous: write the exponent in braces, e.g. ^{-x} or ^{-xy}")
        if token in ("T",):  # ^-T is the inverse transpose, read as it is
            continue
        out.append(text[last:match.start()])
        out.append(f"^{{-{token}}}")
        last = match.end()
    out.append(text[last:])
    return "".join(out)
