"""Scalar results print as a lecturer writes them: numbers first, powers collected, like terms merged,
a denominator under a fraction bar. The values are checked too: each printed formula reads back (the
round-trip hook in conftest) and the gradient is compared with finite differences of the function."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.reading import read_latex
from nnsym.verify.evaluate import evaluate

x, y = ns.scalar("x"), ns.scalar("y")

CASES = [
    ("(x y)^2", lambda: (x * y) ** 2, "2 x y^{2}"),
    ("2 log(1 + x^2)", lambda: ns.log(1 + x ** 2) * 2, r"\frac{4 x}{1 + x^{2}}"),
    ("y sigma(3x)", lambda: ns.sigmoid(3 * x) * y, r"3 y \sigma'\left(3 x\right)"),
    ("x x y", lambda: x * x * y, "2 x y"),
]


@pytest.mark.parametrize("label, build, expected", CASES, ids=[c[0] for c in CASES])
def test_scalar_gradient_prints_in_board_form_and_is_right(label, build, expected):
    f = build()
    gradient = ns.grad(f, x)
    assert gradient.latex() == expected
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {"x": rng.uniform(0.5, 2.0), "y": rng.uniform(-2.0, 2.0)}
        h = 1e-6
        up, down = dict(point, x=point["x"] + h), dict(point, x=point["x"] - h)
        numeric = (float(evaluate(f, up)[0, 0]) - float(evaluate(f, down)[0, 0])) / (2 * h)
        read = read_latex(expected, {})
        assert float(evaluate(read, point)[0, 0]) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_like_terms_merge_and_cancel():
    assert ns.latex(x * y + y * x) == "2 x y"
    assert ns.latex(x * y - y * x + 3) == "3"


def test_matrix_products_keep_their_order():
    A, v = ns.matrix("A", 3, 3), ns.vector("v", 3)
    assert ns.latex((A @ v - v).T @ (A @ v - v) / 2) == r"\frac{1}{2} \left(A v - v\right)^\top \left(A v - v\right)"
    assert ns.latex(v.T @ A @ v * 2) == r"2 v^\top A v"


def test_nested_scalar_factors_of_a_vector_join_one_coefficient():
    X, w, y, N = ns.matrix("X", 5, 3), ns.vector("w", 3), ns.vector("y", 5), ns.scalar("N")
    from nnsym.declare.expressions import power, scale
    f = scale(power(scale(2, N), -1), ns.norm(X @ w - y, squared=True))
    assert ns.grad(f, w).latex() == r"\frac{X^\top \left(X w - y\right)}{N}"
    assert ns.latex(scale(3, scale(power(scale(2, N), -1), w))) == r"\frac{3 w}{2 N}"
