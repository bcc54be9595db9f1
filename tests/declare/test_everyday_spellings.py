"""Issue 9, class 5 and the everyday forms: LaTeX that TeX would read as something else is refused with
what to write, and what people write every day is read as meant -- each gradient compared with central
differences of a NumPy function written here."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.reading import read_latex
from nnsym.present.claims import derive

SIGMA = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731


def central(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        out[index] = (f(up) - f(down)) / (2 * eps)
    return out


@pytest.mark.parametrize("text, hint", [
    ("log(x)", r"\log"), ("exp(x)", r"\exp"), ("tanh(x)", r"\tanh"), ("relu(x)", r"\operatorname{ReLU}"),
    ("2 + ln(x)", r"\ln"), ("sigmoid(x)", r"\sigma"), ("x^12", "^{12}"), ("x^{2} + x^12", "^{12}"),
    ("1e-3 x^2", r"10^{-3}"), ("2.5E+4 x", r"10^{4}"), (r"e^-xy", "braces"), (r"\log_2 x", r"\log_{2}(x)"),
    (r"x^-12", "braces"),
])
def test_a_misread_spelling_is_refused_saying_what_to_write(text, hint):
    with pytest.raises(ns.ParseError) as error:
        read_latex(text)
    assert hint in str(error.value) and str(error.value).startswith("col ")


def test_softmax_of_a_row_is_refused():
    with pytest.raises(ns.NnsymError, match=r"softmax works on columns"):
        read_latex(r"\operatorname{softmax}(x^\top) \mathbf{1}", {"x": "3"})
    read_latex(r"\operatorname{softmax}(x)^\top \mathbf{1}", {"x": "3"})  # the column's, transposed


POINT = np.array([[-1.3], [0.4], [2.2]])


@pytest.mark.parametrize("text, wrt, shapes, assumptions, numpy_f", [
    (r"\frac{x^2}{2\sigma^2}", "x", {r"\sigma": "1"}, {}, lambda x, s=1.7: float(np.sum(x ** 2 / (2 * s ** 2)))),
    (r"|x|", "x", {}, {}, lambda x: float(np.sum(np.abs(x)))),
    (r"\mathbf{1}^\top x", "x", {"x": "1"}, {}, lambda x: float(np.sum(x))),
    (r"x \cdot y", "x", {"x": "3", "y": "3"}, {}, lambda x, y=POINT[::-1]: float(np.sum(x * y))),
    (r"\log_2(x) + \log_{10}(x)", "x", {}, {"x": "positive"}, lambda x: float(np.sum(np.log2(x) + np.log10(x)))),
    (r"\mathrm{e}^{x}", "x", {}, {}, lambda x: float(np.sum(np.exp(x)))),
    (r"\max(x, y)", "x", {}, {}, lambda x, y=0.3: float(np.sum(np.maximum(x, y)))),
    (r"\min(x, y)", "x", {}, {}, lambda x, y=0.3: float(np.sum(np.minimum(x, y)))),
    (r"e^-x", "x", {}, {}, lambda x: float(np.sum(np.exp(-x)))),
    (r"x^-1", "x", {}, {}, lambda x: float(np.sum(1 / x))),
    (r".5x^2", "x", {}, {}, lambda x: float(np.sum(0.5 * x ** 2))),
    (r"x^{-1/2}", "x", {}, {"x": "positive"}, lambda x: float(np.sum(x ** -0.5))),
    (r"2^{x}", "x", {}, {}, lambda x: float(np.sum(2.0 ** x))),
    (r"\sigma''(z)", "z", {}, {}, lambda z: float(np.sum(SIGMA(z) * (1 - SIGMA(z)) * (1 - 2 * SIGMA(z))))),
    (r"\sigma^{\prime\prime}(z)", "z", {}, {}, lambda z: float(np.sum(SIGMA(z) * (1 - SIGMA(z)) * (1 - 2 * SIGMA(z))))),
    (r"\tanh''(z)", "z", {}, {}, lambda z: float(np.sum(-2 * np.tanh(z) * (1 - np.tanh(z) ** 2)))),
])
def test_everyday_forms_are_read_as_meant(text, wrt, shapes, assumptions, numpy_f):
    g = derive(text, wrt, shapes, assumptions)
    code = g.to_numpy()
    scalar = not shapes.get(wrt) or shapes.get(wrt) == "1"
    for x in ([[-1.3]], [[0.4]], [[2.2]]) if scalar else (POINT,):
        x = np.abs(np.array(x)) if assumptions.get(wrt) == "positive" else np.array(x, dtype=float)
        others = {"sigma": 1.7, "y": 0.3} if scalar else {"y": POINT[::-1]}
        others[wrt] = x if not scalar else x.item()
        kwargs = {k: v for k, v in others.items() if k in code.arguments.values()}
        actual = np.asarray(code(**kwargs), float) * np.ones(np.shape(x))
        np.testing.assert_allclose(actual.reshape(np.shape(x)), central(numpy_f, x), rtol=1e-6, atol=1e-9)


def test_jacobians_of_elementwise_division_and_a_diagonal_times_a_vector():
    torch = pytest.importorskip("torch")
    x, y = ns.vector("x", 3), ns.vector("y", 3)
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    cases = [(ns.hadamard_div(x, y), lambda a, b: a / b), (ns.diag(x) @ y, lambda a, b: torch.diag(a) @ b)]
    for expression, torch_f in cases:
        for k, symbol in enumerate((x, y)):
            J = ns.jacobian(expression, symbol)
            code = J.to_numpy()
            values = code(**{k: v for k, v in {"x": xv, "y": yv}.items() if k in code.arguments.values()})
            a, b = torch.tensor(xv), torch.tensor(yv)
            expected = torch.autograd.functional.jacobian(lambda u, v: torch_f(u, v), (a, b))[k].numpy()
            np.testing.assert_allclose(np.asarray(values, float).reshape(3, 3), expected, rtol=1e-12, atol=1e-14)


def test_a_bare_sigma_is_still_the_sigmoid_unless_declared():
    with pytest.raises(ns.ParseError, match=r"declare \\sigma a scalar"):
        read_latex(r"\frac{x^2}{2\sigma^2}")
    f = read_latex(r"\sigma(x)")
    assert not any(s.name == r"\sigma" for s in f.free_symbols())
    assert math.isclose(float(ns.grad(read_latex(r"x \sigma", {r"\sigma": "1"}), ns.scalar("x")).to_numpy()(sigma=2.0)), 2.0)
