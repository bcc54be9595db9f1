"""A second opinion on scalar LaTeX: nnsym's reader and latex2sympy2 agree by value.

latex2sympy2_extended (the maintained line of latex2sympy2; it installs and imports on Python 3.10-3.13)
is configured not to lowercase symbols (so W stays W) and not to read ``2 \\frac{1}{2}`` as a mixed
fraction. Version 1.11 ignores that second option, so no formula here puts an integer before a
``\\frac``. It reads ``\\log`` as base 10, so natural logarithms are written ``\\ln`` here; formulas it
misreads (``W^T``, ``a^{(1)}``, ``\\sigma``) are not given to it: that is what the matrix reader is for.
"""

import numpy as np
import pytest

from nnsym.declare.reading import read_latex
from nnsym.verify.evaluate import evaluate

latex2sympy2 = pytest.importorskip("latex2sympy2_extended.latex2sympy2")

CONFIG = latex2sympy2.ConversionConfig(lowercase_symbols=False, interpret_as_mixed_fractions=False)

FORMULAS = [
    r"\frac{1}{1+e^{-x}}",
    r"\frac{1}{1 + \exp(-w x - b)}",
    r"x^2 + 3x + 2",
    r"\frac{x^3}{3} - 2x",
    r"x^{3} y^{2}",
    r"(a x + b)^2",
    r"\frac{1}{2}(x - y)^2",
    r"x_1 w_1 + x_2 w_2 + b",
    r"\theta^2 - 2\theta + 1",
    r"\alpha x + (1 - \alpha) y",
    r"0.5 x + 0.25 y",
    r"x \cdot y \cdot z",
    r"x^{-1} + y^{-2}",
    r"\frac{a}{b} + \frac{b}{a}",
    r"\frac{x - y}{x + y}",
    r"\left(x + \frac{1}{x}\right)^3",
    r"\ln(x) + \ln(y)",
    r"\ln\left(\frac{x}{y}\right)",
    r"-\ln(1 + e^{-x})",
    r"y \ln(p) + (1 - y) \ln(1 - p)",
    r"\ln(\exp(x) + \exp(y))",
    r"\sqrt{x^2 + y^2}",
    r"\sqrt{x} \cdot \sqrt{y}",
    r"\sqrt{1 + \tanh(x)^2}",
    r"e^{x} \cdot e^{-y}",
    r"e^{x^2}",
    r"\exp(x - y)",
    r"\tanh(x) + 1",
    r"\frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
    r"\pi x^2",
    r"\frac{1}{\sqrt{2\pi}} e^{-\frac{x^2}{2}}",
    r"\left[x - \left(y - z\right)\right] \times 2",
    r"W x + b",
]


def _plain(name: str) -> str:
    """The name without LaTeX markup, as latex2sympy2 spells it: x_{1} -> x_1, \\theta -> theta."""
    return "".join(ch for ch in name if ch not in "\\{} ")


@pytest.mark.parametrize("text", FORMULAS)
def test_nnsym_and_latex2sympy2_agree_on_scalar_latex(text):
    ours = read_latex(text)
    theirs = latex2sympy2.latex2sympy(text, conversion_config=CONFIG)
    names = {symbol.name for symbol in ours.free_symbols()}
    assert {_plain(n) for n in names} == {str(s) for s in theirs.free_symbols}, (names, theirs)
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {name: rng.uniform(0.2, 0.9) for name in names}  # inside every domain used above
        expected = complex(theirs.subs({s: point[_by_plain(names, str(s))] for s in theirs.free_symbols}).evalf())
        assert expected.imag == 0
        got = float(evaluate(ours, point)[0, 0])
        assert got == pytest.approx(expected.real, rel=1e-10, abs=1e-12), (text, point)


def _by_plain(names, plain):
    return next(n for n in names if _plain(n) == plain)


def test_a_capital_is_never_lowercased():
    ours = read_latex(r"W w", {"W": "1x1", "w": "1x1"})
    assert {s.name for s in ours.free_symbols()} == {"W", "w"}
    theirs = latex2sympy2.latex2sympy(r"W w", conversion_config=CONFIG)
    assert {str(s) for s in theirs.free_symbols} == {"W", "w"}
