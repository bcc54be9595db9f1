"""Index notation read into matrix form: each form of the issue, evaluated against the index formula
computed directly in NumPy (loops and einsum written here, not nnsym's)."""

import numpy as np
import pytest

from nnsym.declare.reading import read_claim, read_latex
from nnsym.errors import ParseError, ShapeError
from nnsym.verify.evaluate import evaluate

SHAPES = {"W": "3x2", "A": "3x3", "x": "2", "y": "3", "u": "3", "b_1": "3"}
RNG = np.random.default_rng(7)
VALUES = {"W": RNG.standard_normal((3, 2)), "A": RNG.standard_normal((3, 3)), "x": RNG.standard_normal((2, 1)),
          "y": RNG.standard_normal((3, 1)), "u": RNG.standard_normal((3, 1)), "b_{1}": RNG.standard_normal((3, 1))}
W, A, x, y, u = (VALUES[k] for k in "WAxyu")
sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731

CASES = [  # LaTeX, free indices, the value by direct computation
    (r"\sum_i y_i", "", np.sum(y)),
    (r"\sum_{i=1}^{3} y_i u_i", "", sum(y[i, 0] * u[i, 0] for i in range(3))),
    (r"\sum_{i,j} W_{ij}^2", "", np.einsum("ij,ij->", W, W)),
    (r"\sum_{i} \sum_{j} W_{i,j} y_i x_j", "", np.einsum("ij,i,j->", W, y[:, 0], x[:, 0])),
    (r"\sum_k W_{ik} x_k", "i", np.einsum("ik,k->i", W, x[:, 0])[:, None]),
    (r"[Wx]_i - y_i", "i", W @ x - y),
    (r"(Wx)_i y_j", "ij", np.einsum("i,j->ij", (W @ x)[:, 0], y[:, 0])),
    (r"W_{ij}", "ij", W),
    (r"W_{ji}", "ij", W.T),
    (r"W_{i,j} x_j", "ij", W * x[:, 0][None, :]),
    (r"\sum_k A_{ik} \delta_{kj}", "ij", A),
    (r"\sum_{k} \delta_{ik} y_k", "i", y),
    (r"\sum_k A_{kk}", "", np.trace(A)),
    (r"\frac{1}{2} \sum_i \left(\sum_k W_{ik} x_k - y_i\right)^2", "", 0.5 * np.sum((W @ x - y) ** 2)),
    (r"\sigma(u_i) (1 - \sigma(u_i))", "i", sig(u) * (1 - sig(u))),
    (r"2 \sum_k A_{ik} u_k + 3 \cdot \sum_j A_{ji} u_j", "i", 2 * A @ u + 3 * A.T @ u),
    (r"\sum_j \sum_k A_{ij} A_{jk} u_k", "i", A @ A @ u),
    (r"\left[b_1\right]_i + y_i", "i", VALUES["b_{1}"] + y),
    # the product rule by indices: the sum is distributed and each delta summed away
    (r"\sum_{i} \sum_{j} A_{ij} \left(\delta_{ik} u_{j} + u_{i} \delta_{jk}\right)", "k", (A + A.T) @ u),
    (r"\sum_{i} \sum_{j} A_{ij} \left(\delta_{ik} u_{j} - u_{i} \delta_{jk}\right)", "k", (A - A.T) @ u),
]


@pytest.mark.parametrize("text, free, expected", CASES, ids=[c[0] for c in CASES])
def test_index_formulas_read_to_their_value(text, free, expected):
    expr = read_latex(text, SHAPES, indices=tuple(free))
    assert np.allclose(evaluate(expr, VALUES), np.reshape(expected, expr.shape), rtol=1e-12, atol=1e-12)


def test_names_and_entries_are_told_apart():
    # b_1 is a declared name; W_2 is a name (W_{2} has no index letter); x_i with x undeclared is a name
    assert read_latex("b_1", SHAPES).name == "b_{1}"
    assert read_latex("W_2", SHAPES).name == "W_{2}"
    assert read_latex("x_i").name == "x_{i}"
    assert read_latex("x_1", SHAPES).name == "x_{1}"  # a number is not an index: a scalar named x_1
    # a declared \delta (a layer's error) takes entries like any vector; undeclared it is Kronecker's
    delta = read_latex(r"\delta_{i} u_i", {"\\delta": "3", "u": "3"}, indices=("i",))
    assert delta.shape == (3, 1)


def test_entry_wise_claims_are_read_in_the_variables_orientation():
    function, variable, claim = read_claim(
        r"\frac{\partial L}{\partial W_{ij}} = \left(\sum_k W_{ik} x_k - y_i\right) x_j", SHAPES)
    assert (function, variable) == ("L", "W")
    assert np.allclose(evaluate(claim, VALUES), (W @ x - y) @ x.T)


@pytest.mark.parametrize("text, message", [
    (r"\sum_i x_i y_i", r"index i runs over \d \([xy]\) and over \d \([xy]\)"),
    (r"W_{ij} x_k", "more than a matrix holds"),
    (r"\sum x_i", r"\\sum needs its index as a subscript"),
    (r"\sum_{i=2} x_i", "a sum runs over all entries"),
    (r"\sum_i W_{i}", "an entry needs two indices"),
    (r"x_i", "the free indices are i, but the left side has none"),
    (r"(Wx)_{2}", "an entry's subscript must be index letters"),
])
def test_index_errors_say_what_and_where(text, message):
    with pytest.raises((ParseError, ShapeError), match=message) as caught:
        read_latex(text, SHAPES)
    assert str(caught.value).startswith("col ")
