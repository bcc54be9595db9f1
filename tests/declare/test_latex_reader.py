"""The LaTeX reader reads every construct of shared/NOTATION.md to the value it means.

Each case reads a formula and evaluates it (nnsym.verify.evaluate) at random points, against a NumPy
formula written here by hand from the notation, and checks the shape. Errors name a column, show a caret
under it and say what was expected; pathological input is refused quickly.
"""

import re
import time

import numpy as np
import pytest
import sympy
from sympy.parsing import sympy_parser

from nnsym.declare.reading import MAX_DEPTH, MAX_LENGTH, parse_shape, read_claim, read_equations, read_latex
from nnsym.errors import InputError, NnsymError, ParseError, ShapeError
from nnsym.verify.evaluate import evaluate

# Distinct sizes, so that a dropped transpose changes the shape or fails to multiply.
SHAPES = {
    "W": "3x2", "x": "2", "y": "3", "z": "3", "u": "3", "v": "3", "A": "3x3", "B": "3x3", "X": "4x3",
    "w": "2", "p": "3", "P": "3x3", "c": "1", "d": "1",
    "W^{(1)}": "3x2", "W^{(2)}": "3x3", "W^{[2]}": "3x2", "a^{(l-1)}": "2", "\\hat{y}": "3",
    "\\delta^{(2)}": "3", "\\theta": "3", "b_{1}": "3", "W_{2}": "3x2",
}
ASSUME = {"p": "positive", "P": "spd", "d": "positive"}


def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def _softmax(t):
    e = np.exp(t - t.max())
    return e / e.sum()


def draw(shapes=SHAPES, assume=ASSUME, seed=0):
    """Values by name, drawn here (not by nnsym) so that the reference is independent."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, spec in shapes.items():
        rows, cols = parse_shape(spec)
        kind = assume.get(name)
        if kind == "positive":
            values[name] = rng.uniform(0.5, 2.0, (rows, cols))
        elif kind == "spd":
            b = rng.standard_normal((rows, rows))
            values[name] = b @ b.T / rows + np.eye(rows)
        else:
            values[name] = rng.standard_normal((rows, cols))
    return values


def s(a):
    """A 1x1 array as a float (the reader's scalars are 1x1)."""
    return float(np.asarray(a).reshape(-1)[0])


# (LaTeX, NumPy reference of the values v, shape)
CASES = [
    # symbols and their spellings
    (r"W x", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"Wx", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"W^{(1)} x", lambda v: v["W^{(1)}"] @ v["x"], (3, 1)),
    (r"W^(1) x", lambda v: v["W^{(1)}"] @ v["x"], (3, 1)),
    (r"W^{[2]} x", lambda v: v["W^{[2]}"] @ v["x"], (3, 1)),
    (r"W^{(2)} W^{(1)} x", lambda v: v["W^{(2)}"] @ v["W^{(1)}"] @ v["x"], (3, 1)),
    (r"W^{(1)} a^{(l-1)}", lambda v: v["W^{(1)}"] @ v["a^{(l-1)}"], (3, 1)),
    (r"\hat{y} - y", lambda v: v["\\hat{y}"] - v["y"], (3, 1)),
    (r"\hat y - y", lambda v: v["\\hat{y}"] - v["y"], (3, 1)),
    (r"W \mathbf{x}", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"W \vec{x}", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"W \boldsymbol{x}", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"\mathbf{W} \mathbf x", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"\delta^{(2)} \odot z", lambda v: v["\\delta^{(2)}"] * v["z"], (3, 1)),
    (r"\boldsymbol{\theta}^\top z", lambda v: v["\\theta"].T @ v["z"], (1, 1)),
    (r"b_1 + b_{1}", lambda v: 2 * v["b_{1}"], (3, 1)),
    (r"W_2 x", lambda v: v["W_{2}"] @ v["x"], (3, 1)),
    # transposes, in every spelling
    (r"W^T y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"W^{T} y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"W^\top y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"W^{\top} y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"W^\intercal y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"W^{\mathsf{T}} y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"W^\mathsf{T} y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"{W^{(1)}}^\top y", lambda v: v["W^{(1)}"].T @ v["y"], (2, 1)),
    (r"(W^{(1)})^T y", lambda v: v["W^{(1)}"].T @ v["y"], (2, 1)),
    (r"W^{(1)\top} y", lambda v: v["W^{(1)}"].T @ v["y"], (2, 1)),
    (r"W^{(1)T} y", lambda v: v["W^{(1)}"].T @ v["y"], (2, 1)),
    (r"W^{[2]\top} y", lambda v: v["W^{[2]}"].T @ v["y"], (2, 1)),
    (r"A^T z", lambda v: v["A"].T @ v["z"], (3, 1)),
    (r"z^\top A z", lambda v: v["z"].T @ v["A"] @ v["z"], (1, 1)),
    (r"y x^\top", lambda v: v["y"] @ v["x"].T, (3, 2)),
    (r"(W x)^\top", lambda v: (v["W"] @ v["x"]).T, (1, 3)),
    (r"\left(W x - y\right) x^\top", lambda v: (v["W"] @ v["x"] - v["y"]) @ v["x"].T, (3, 2)),
    # inverses
    (r"A^{-1}", lambda v: np.linalg.inv(v["A"]), (3, 3)),
    (r"A^{-1} z", lambda v: np.linalg.solve(v["A"], v["z"]), (3, 1)),
    (r"A^{-T}", lambda v: np.linalg.inv(v["A"]).T, (3, 3)),
    (r"A^{-\top}", lambda v: np.linalg.inv(v["A"]).T, (3, 3)),
    (r"(A + B)^{-1}", lambda v: np.linalg.inv(v["A"] + v["B"]), (3, 3)),
    # elementwise products, fractions, brackets
    (r"u \odot v", lambda v: v["u"] * v["v"], (3, 1)),
    (r"u \circ v", lambda v: v["u"] * v["v"], (3, 1)),
    (r"u \oslash p", lambda v: v["u"] / v["p"], (3, 1)),
    (r"u \otimes x", lambda v: np.kron(v["u"], v["x"]), (6, 1)),
    (r"A \otimes W", lambda v: np.kron(v["A"], v["W"]), (9, 6)),
    (r"\sigma'(z) \odot W^{(2)\top} u", lambda v: _sigmoid(v["z"]) * (1 - _sigmoid(v["z"])) * (v["W^{(2)}"].T @ v["u"]),
     (3, 1)),
    (r"\frac{1}{2} \|W x - y\|^2", lambda v: 0.5 * np.sum((v["W"] @ v["x"] - v["y"]) ** 2), (1, 1)),
    (r"\frac{W x}{2}", lambda v: v["W"] @ v["x"] / 2, (3, 1)),
    (r"\dfrac{z}{c}", lambda v: v["z"] / s(v["c"]), (3, 1)),
    (r"\tfrac{3}{4} c", lambda v: 0.75 * v["c"], (1, 1)),
    (r"\frac{1}{1 + e^{-c}}", lambda v: _sigmoid(v["c"]), (1, 1)),
    (r"\left( W x \right)", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"[W x - y]", lambda v: v["W"] @ v["x"] - v["y"], (3, 1)),
    (r"\{W x - y\}", lambda v: v["W"] @ v["x"] - v["y"], (3, 1)),
    (r"\left[ W x \right] + \left\{ y \right\}", lambda v: v["W"] @ v["x"] + v["y"], (3, 1)),
    (r"\bigl( W x \bigr) + \Big( y \Big)", lambda v: v["W"] @ v["x"] + v["y"], (3, 1)),
    (r"{W x}", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"-W x + y", lambda v: -v["W"] @ v["x"] + v["y"], (3, 1)),
    (r"y - W x - y", lambda v: -v["W"] @ v["x"], (3, 1)),
    (r"2 W x", lambda v: 2 * v["W"] @ v["x"], (3, 1)),
    (r"0.5 z", lambda v: 0.5 * v["z"], (3, 1)),
    (r"W \cdot x", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"c \cdot z", lambda v: s(v["c"]) * v["z"], (3, 1)),
    (r"c \times z", lambda v: s(v["c"]) * v["z"], (3, 1)),
    (r"c z^\top", lambda v: s(v["c"]) * v["z"].T, (1, 3)),
    (r"c * d", lambda v: v["c"] * v["d"], (1, 1)),
    # powers
    (r"c^2", lambda v: v["c"] ** 2, (1, 1)),
    (r"c^{3}", lambda v: v["c"] ** 3, (1, 1)),
    (r"d^{-1}", lambda v: 1 / v["d"], (1, 1)),
    (r"d^{0.5}", lambda v: np.sqrt(v["d"]), (1, 1)),
    (r"(c + d)^2", lambda v: (v["c"] + v["d"]) ** 2, (1, 1)),
    (r"A^2", lambda v: v["A"] @ v["A"], (3, 3)),
    (r"A^3 z", lambda v: v["A"] @ v["A"] @ v["A"] @ v["z"], (3, 1)),
    (r"z^{\circ 2}", lambda v: v["z"] ** 2, (3, 1)),
    (r"e^{-c}", lambda v: np.exp(-v["c"]), (1, 1)),
    (r"e^c", lambda v: np.exp(v["c"]), (1, 1)),
    (r"e^{z}", lambda v: np.exp(v["z"]), (3, 1)),
    (r"e", lambda v: np.e, (1, 1)),
    (r"\pi c", lambda v: np.pi * v["c"], (1, 1)),
    (r"2 \pi", lambda v: 2 * np.pi, (1, 1)),
    # functions and their derivatives
    (r"\sigma(z)", lambda v: _sigmoid(v["z"]), (3, 1)),
    (r"\operatorname{sigmoid}(z)", lambda v: _sigmoid(v["z"]), (3, 1)),
    (r"\sigma'(z)", lambda v: _sigmoid(v["z"]) * (1 - _sigmoid(v["z"])), (3, 1)),
    (r"\sigma^{\prime}(z)", lambda v: _sigmoid(v["z"]) * (1 - _sigmoid(v["z"])), (3, 1)),
    (r"\tanh(z)", lambda v: np.tanh(v["z"]), (3, 1)),
    (r"\tanh'(z)", lambda v: 1 - np.tanh(v["z"]) ** 2, (3, 1)),
    (r"\operatorname{ReLU}(z)", lambda v: np.maximum(0, v["z"]), (3, 1)),
    (r"\mathrm{ReLU}(z)", lambda v: np.maximum(0, v["z"]), (3, 1)),
    (r"\operatorname{ReLU}'(z)", lambda v: (v["z"] > 0).astype(float), (3, 1)),
    (r"\max(0, z)", lambda v: np.maximum(0, v["z"]), (3, 1)),
    (r"\max(z, 0)", lambda v: np.maximum(0, v["z"]), (3, 1)),
    (r"\mathbb{1}[z > 0]", lambda v: (v["z"] > 0).astype(float), (3, 1)),
    (r"\mathbb{1}\{z > 0\}", lambda v: (v["z"] > 0).astype(float), (3, 1)),
    (r"H(z)", lambda v: (v["z"] > 0).astype(float), (3, 1)),
    (r"\operatorname{softplus}(z)", lambda v: np.log1p(np.exp(v["z"])), (3, 1)),
    (r"\exp(z)", lambda v: np.exp(v["z"]), (3, 1)),
    (r"\log(p)", lambda v: np.log(v["p"]), (3, 1)),
    (r"\ln(p)", lambda v: np.log(v["p"]), (3, 1)),
    (r"\log\left(p\right)", lambda v: np.log(v["p"]), (3, 1)),
    (r"\sqrt{p}", lambda v: np.sqrt(v["p"]), (3, 1)),
    (r"\sqrt{d}", lambda v: np.sqrt(v["d"]), (1, 1)),
    (r"\sigma(W^{(1)} x) - y", lambda v: _sigmoid(v["W^{(1)}"] @ v["x"]) - v["y"], (3, 1)),
    (r"\operatorname{LeakyReLU}_{0.1}(z)", lambda v: np.where(v["z"] > 0, v["z"], 0.1 * v["z"]), (3, 1)),
    # vector functions, diag
    (r"\operatorname{softmax}(z)", lambda v: _softmax(v["z"]), (3, 1)),
    (r"\operatorname{softmax}(z) - y", lambda v: _softmax(v["z"]) - v["y"], (3, 1)),
    (r"\log \operatorname{softmax}(z)", lambda v: np.log(_softmax(v["z"])), (3, 1)),
    (r"\operatorname{logsumexp}(z)", lambda v: np.log(np.sum(np.exp(v["z"]))), (1, 1)),
    (r"-y^\top \log \operatorname{softmax}(z)", lambda v: -v["y"].T @ np.log(_softmax(v["z"])), (1, 1)),
    (r"\operatorname{diag}(z)", lambda v: np.diag(v["z"][:, 0]), (3, 3)),
    (r"\operatorname{diag}(\sigma'(z)) A", lambda v: np.diag((_sigmoid(v["z"]) * (1 - _sigmoid(v["z"])))[:, 0]) @ v["A"],
     (3, 3)),
    # norms, traces, determinants
    (r"\|x\|^2", lambda v: np.sum(v["x"] ** 2), (1, 1)),
    (r"\|x\|_2^2", lambda v: np.sum(v["x"] ** 2), (1, 1)),
    (r"\|X\|_F^2", lambda v: np.sum(v["X"] ** 2), (1, 1)),
    (r"\|X\|_{F}^{2}", lambda v: np.sum(v["X"] ** 2), (1, 1)),
    (r"\|x\|", lambda v: np.linalg.norm(v["x"]), (1, 1)),
    (r"\|x\|_2", lambda v: np.linalg.norm(v["x"]), (1, 1)),
    (r"\|X\|_F", lambda v: np.linalg.norm(v["X"]), (1, 1)),
    (r"\left\|W x - y\right\|^{2}", lambda v: np.sum((v["W"] @ v["x"] - v["y"]) ** 2), (1, 1)),
    (r"\lVert x \rVert^2", lambda v: np.sum(v["x"] ** 2), (1, 1)),
    (r"\Vert x \Vert", lambda v: np.linalg.norm(v["x"]), (1, 1)),
    (r"\operatorname{tr}(A)", lambda v: np.trace(v["A"]), (1, 1)),
    (r"\mathrm{tr}(A^\top B)", lambda v: np.trace(v["A"].T @ v["B"]), (1, 1)),
    (r"\operatorname{tr}(W^\top W)", lambda v: np.trace(v["W"].T @ v["W"]), (1, 1)),
    (r"\det(A)", lambda v: np.linalg.det(v["A"]), (1, 1)),
    (r"|A|", lambda v: np.linalg.det(v["A"]), (1, 1)),
    (r"\left|A\right|", lambda v: np.linalg.det(v["A"]), (1, 1)),
    (r"|A B|", lambda v: np.linalg.det(v["A"] @ v["B"]), (1, 1)),
    (r"\log\det(P)", lambda v: np.log(np.linalg.det(v["P"])), (1, 1)),
    (r"\log|P|", lambda v: np.log(np.linalg.det(v["P"])), (1, 1)),
    # identity and ones
    (r"A + I", lambda v: v["A"] + np.eye(3), (3, 3)),
    (r"I - A", lambda v: np.eye(3) - v["A"], (3, 3)),
    (r"I_3", lambda v: np.eye(3), (3, 3)),
    (r"I_{3} + A", lambda v: np.eye(3) + v["A"], (3, 3)),
    (r"(I + A) z", lambda v: (np.eye(3) + v["A"]) @ v["z"], (3, 1)),
    (r"W^\top I y", lambda v: v["W"].T @ v["y"], (2, 1)),
    (r"\mathbf{1}^\top z", lambda v: np.sum(v["z"]), (1, 1)),
    (r"\mathbf{1}^\top X \mathbf{1}", lambda v: np.sum(v["X"]), (1, 1)),
    (r"\mathbf{1}_3", lambda v: np.ones((3, 1)), (3, 1)),
    (r"z + \mathbf{1}", lambda v: v["z"] + 1, (3, 1)),
    (r"\mathbf{1} - \sigma(z)", lambda v: 1 - _sigmoid(v["z"]), (3, 1)),
    (r"\mathbf{1}^\top \exp(z)", lambda v: np.sum(np.exp(v["z"])), (1, 1)),
    (r"z \mathbf{1}_3^\top", lambda v: v["z"] @ np.ones((1, 3)), (3, 3)),
    # layout spacing and math mode
    (r"$W x$", lambda v: v["W"] @ v["x"], (3, 1)),
    (r"\displaystyle W\, x \; - \! y", lambda v: v["W"] @ v["x"] - v["y"], (3, 1)),
]


@pytest.mark.parametrize("text, reference, shape", CASES, ids=[case[0] for case in CASES])
def test_each_construct_reads_to_its_value(text, reference, shape):
    for seed in (0, 1):
        values = draw(seed=seed)
        expr = read_latex(text, SHAPES, ASSUME)
        assert expr.shape == shape
        np.testing.assert_allclose(evaluate(expr, values), np.broadcast_to(reference(values), shape),
                                   rtol=1e-10, atol=1e-12)


def test_symbolic_sizes_come_from_the_caller():
    shapes = {"W": "mxn", "x": "n", "y": "m"}
    expr = read_latex(r"W^\top (W x - y)", shapes)
    n = sympy.Symbol("n", integer=True, positive=True)
    assert expr.shape == (n, 1)
    rng = np.random.default_rng(3)
    W, x, y = rng.standard_normal((4, 3)), rng.standard_normal((3, 1)), rng.standard_normal((4, 1))
    np.testing.assert_allclose(evaluate(expr, {"W": W, "x": x, "y": y}), W.T @ (W @ x - y), rtol=1e-12)
    assert read_latex("W", {"W": "m x n"}).shape == read_latex("W", {"W": ("m", "n")}).shape


def test_shapes_may_be_tuples_lengths_or_specs():
    assert read_latex("x", {"x": 3}).shape == (3, 1)
    assert read_latex("x", {"x": (1, 4)}).shape == (1, 4)
    assert read_latex("x", {"x": "3x1"}).shape == read_latex("x", {"x": "3"}).shape
    assert parse_shape("3x2") == (3, 2) and parse_shape("3") == (3, 1)
    for bad in ("3x", "0x2", "3x2x1", "", "3;2", "-3", "3x2;", None):
        with pytest.raises(ParseError):
            parse_shape(bad)


def test_a_symbol_without_a_shape_is_a_scalar():
    expr = read_latex(r"\alpha x", {"x": "2"})
    assert expr.shape == (2, 1)
    alpha = next(s for s in expr.free_symbols() if s.name == "\\alpha")
    assert alpha.shape == (1, 1)
    expr = read_latex(r"3xy + \lambda")  # scalar algebra: the letters of xy are split
    np.testing.assert_allclose(s(evaluate(expr, {"x": 2.0, "y": 5.0, "\\lambda": 0.5})), 30.5)


def test_spellings_of_one_symbol_are_one_symbol():
    for spelling in (r"\mathbf{x}", r"\vec{x}", r"\boldsymbol{x}", r"\mathbf x", "x"):
        (symbol,) = read_latex(spelling, {"x": "2"}).free_symbols()
        assert symbol.name == "x" and symbol.shape == (2, 1)
    # a shape may be declared under any spelling
    (symbol,) = read_latex("x", {r"\mathbf{x}": "2"}).free_symbols()
    assert symbol.shape == (2, 1)
    names = {sym.name for sym in read_latex(r"W^{(1)} + W^{(2)} + W^{[1]}", {
        "W^{(1)}": "2x2", "W^{(2)}": "2x2", "W^{[1]}": "2x2"}).free_symbols()}
    assert names == {"W^{(1)}", "W^{(2)}", "W^{[1]}"}


def test_a_layer_index_is_part_of_the_name_never_a_power():
    expr = read_latex(r"c^{(2)} + a^{(l-1)}")  # undeclared: scalar symbols with layer indices
    names = {sym.name for sym in expr.free_symbols()}
    assert names == {"c^{(2)}", "a^{(l-1)}"}
    got = evaluate(expr, {"c^{(2)}": 3.0, "a^{(l-1)}": 0.25, "c": 5.0})
    assert s(got) == pytest.approx(3.25)  # not 5 ** 2 + ...


def test_W_is_never_folded_into_w():
    shapes = {"W": "3x2", "w": "2", "x": "2"}
    expr = read_latex(r"W w + W x", shapes)
    assert {sym.name for sym in expr.free_symbols()} == {"W", "w", "x"}
    values = draw(shapes, {}, seed=4)
    np.testing.assert_allclose(evaluate(expr, values), values["W"] @ (values["w"] + values["x"]), rtol=1e-12)
    with pytest.raises(ShapeError):  # w is 2x1 and W 3x2: W + w cannot be a confusion of the two
        read_latex("W + w", shapes)
    assert {sym.name for sym in read_latex("Ww", shapes).free_symbols()} == {"W", "w"}


def test_a_transpose_is_never_dropped():
    values = draw()
    plain = read_latex("A z", SHAPES)
    transposed = read_latex("A^T z", SHAPES)
    assert not np.allclose(evaluate(plain, values), evaluate(transposed, values))
    np.testing.assert_allclose(evaluate(transposed, values), values["A"].T @ values["z"], rtol=1e-12)
    # W^T x and W x differ in shape; with the wrong one the product does not fit
    assert read_latex("W^T y", SHAPES).shape == (2, 1) and read_latex("W x", SHAPES).shape == (3, 1)
    with pytest.raises(ShapeError):
        read_latex("W^T x", SHAPES)
    for spelling in (r"^T", r"^{T}", r"^\top", r"^{\top}", r"^\intercal", r"^{\mathsf{T}}"):
        np.testing.assert_allclose(evaluate(read_latex("A" + spelling + " z", SHAPES), values),
                                   values["A"].T @ values["z"], rtol=1e-12, err_msg=spelling)


def test_T_as_a_transpose_is_refused_when_T_is_a_declared_symbol():
    shapes = {"A": "3x3", "z": "3", "T": "3x3"}
    with pytest.raises(ParseError, match=r"col 2: '\^T' is ambiguous because T is a declared symbol: write \^\\top"):
        read_latex("A^T z", shapes)
    values = draw(shapes, {}, seed=5)
    np.testing.assert_allclose(evaluate(read_latex(r"A^\top T z", shapes), values),
                               values["A"].T @ values["T"] @ values["z"], rtol=1e-12)


def test_a_prime_is_never_a_transpose():
    for text in ("x'", "x^{\\prime}", "x^\\prime"):
        with pytest.raises(ParseError, match="not a transpose"):
            read_latex(text, {"x": "2"})


def test_e_and_I_are_symbols_when_declared():
    values = {"e": np.array([[1.0], [2.0]]), "I": np.array([[3.0, 1.0], [0.0, 2.0]])}
    expr = read_latex("I e", {"e": "2", "I": "2x2"})
    np.testing.assert_allclose(evaluate(expr, values), values["I"] @ values["e"])


def test_symbolic_identity_and_ones_take_the_size_of_their_neighbours():
    shapes = {"A": "nxn", "x": "n"}
    expr = read_latex(r"(A + I) x + \mathbf{1}", shapes)
    n = sympy.Symbol("n", integer=True, positive=True)
    assert expr.shape == (n, 1)
    rng = np.random.default_rng(6)
    A, x = rng.standard_normal((4, 4)), rng.standard_normal((4, 1))
    np.testing.assert_allclose(evaluate(expr, {"A": A, "x": x}, {n: 4}), (A + np.eye(4)) @ x + 1, rtol=1e-12)
    assert read_latex(r"I_n", {}).shape == (n, n)


# ----- claims and equations -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, function, variable", [
    (r"\frac{\partial L}{\partial W} = (Wx - y)x^\top", "L", "W"),
    (r"\frac{\partial L}{\partial W}=\left(W x - y\right) x^{T}", "L", "W"),
    (r"\dfrac{\partial L}{\partial W} = (Wx - y)x^\top", "L", "W"),
    (r"\nabla_W L = (Wx - y)x^\top", "L", "W"),
    (r"\nabla_{W} L = (Wx - y)x^\top", "L", "W"),
    (r"\frac{dL}{dW} = (Wx - y)x^\top", "L", "W"),
    (r"\frac{\mathrm{d} L}{\mathrm{d} W} = (Wx - y)x^\top", "L", "W"),
    (r"\frac{\partial \mathcal{L}}{\partial \mathbf{W}} = (Wx - y)x^\top", "\\mathcal{L}", "W"),
    (r"(Wx - y)x^\top", None, None),
])
def test_claims_with_and_without_left_sides(text, function, variable):
    shapes = {"W": "3x2", "x": "2", "y": "3"}
    f, w, claim = read_claim(text, shapes)
    assert (f, w) == (function, variable)
    values = draw(shapes, {}, seed=7)
    np.testing.assert_allclose(evaluate(claim, values), (values["W"] @ values["x"] - values["y"]) @ values["x"].T,
                               rtol=1e-12)


def test_claim_left_side_with_a_layer_index():
    shapes = {"W^{(1)}": "3x2", "\\delta^{(1)}": "3", "x": "2"}
    f, w, claim = read_claim(r"\frac{\partial L}{\partial W^{(1)}} = \delta^{(1)} x^\top", shapes)
    assert (f, w) == ("L", "W^{(1)}") and claim.shape == (3, 2)
    assert read_claim(r"\nabla_{W^{(1)}} L = \delta^{(1)} x^\top", shapes)[:2] == ("L", "W^{(1)}")


def test_claims_are_refused_with_a_column_when_the_left_side_is_not_a_derivative():
    with pytest.raises(ParseError, match=r"^col 1: the left side of '=' must be a derivative"):
        read_claim(r"W = x", {"W": "2", "x": "2"})
    with pytest.raises(ParseError, match=r"^col \d+: a claim has one '='"):
        read_claim(r"\nabla_W L = x = x", {"W": "2", "x": "2"})


def test_linear_equations_read_as_pairs_of_sides():
    (left, right), = read_equations(r"a_1 x_1 + a_2 x_2 + b = 0")
    values = {"a_{1}": 2.0, "x_{1}": 3.0, "a_{2}": -1.0, "x_{2}": 4.0, "b": 0.5}
    assert s(evaluate(left, values)) == pytest.approx(2.5) and s(evaluate(right, values)) == 0
    shapes = {"A": "3x3", "x": "3", "b": "3"}
    (left, right), = read_equations(r"A x = b", shapes)
    values = draw(shapes, {}, seed=8)
    np.testing.assert_allclose(evaluate(left, values), values["A"] @ values["x"])
    np.testing.assert_allclose(evaluate(right, values), values["b"])
    system = read_equations("x + y = 1 \\\\ x - y = 3")
    assert len(system) == 2
    system = read_equations("\\begin{cases} x + y = 1 \\\\ 2x - y = 0 \\end{cases}")
    assert [s(evaluate(l - r, {"x": 1.0, "y": 2.0})) for l, r in system] == [2.0, 0.0]


# ----- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, column, kind, expected", [
    (r"W^", 2, ParseError, r"'\^' needs an exponent"),
    (r"x^{}", 2, ParseError, r"'\^' needs an exponent"),
    (r"(Wx", 1, ParseError, r"'\(' is never closed"),
    (r"Wx)", 3, ParseError, r"'\)' closes nothing"),
    (r"\foo(x)", 1, ParseError, r"unknown command \\foo"),
    (r"x +", 4, ParseError, r"'\+' needs an operand"),
    (r"x \odot", 8, ParseError, r"'\\odot' needs an operand"),
    (r"\left( W x", 1, ParseError, r"'\\left\(' is never closed"),
    (r"\left( W x )", 12, ParseError, r"'\)' does not close '\\left\(' \(col 1\)"),
    (r"( W x \right)", 7, ParseError, r"does not close '\('"),
    (r"\frac{1}{2", 9, ParseError, r"'\{' is never closed"),
    (r"W + y", 3, ShapeError, r"sum: shapes 3x2 and 3x1 do not match"),
    (r"W x + x", 5, ShapeError, r"sum: shapes 3x1 and 2x1 do not match"),
    (r"W y", 3, ShapeError, r"matrix product: 3x2 times 3x1"),
    (r"u \odot x", 3, ShapeError, r"Hadamard product"),
    (r"\operatorname{tr}(W)", 1, ShapeError, r"trace needs a square matrix"),
    (r"W^{-1}", 2, ShapeError, r"inverse needs a square matrix"),
    (r"x^2", 2, ShapeError, r"only scalars and square matrices have powers"),
    (r"\frac{x}{y}", 1, ParseError, r"needs a scalar denominator"),
    (r"W \times x", 3, ParseError, r"\\times between a 3x2 and a 2x1"),
    (r"\sigma z", 8, ParseError, r"\\sigma needs its argument in parentheses"),
    (r"\sqrt(x)", 6, ParseError, r"\\sqrt needs its arguments in braces"),
    (r"x ++ y", 4, ParseError, r"unexpected '\+': expected an operand"),
    (r"x / 2", 3, ParseError, r"'/' is not read"),
    (r"\|x\|_1", 6, ParseError, r"a norm is read only as"),
    (r"\|X\|_2", 4, ParseError, r"spectral norm"),
    (r"|x|", 1, ParseError, r"read only as the determinant"),
    (r"\sum_i x", 1, ParseError, r"cannot tell the range of index i"),  # index notation (issue 12)
    (r"\operatorname{foo}(x)", 1, ParseError, r"unknown operator 'foo'"),
    (r"\mathbb{R}", 1, ParseError, r"\\mathbb\{R\} is not read"),
    (r"\begin{pmatrix} 1 \end{pmatrix}", 1, ParseError, r"environment 'pmatrix' is not read"),
    (r"Wq", 1, ParseError, r"unknown name 'Wq' \(W declared, q not\)"),
    (r"\log \det P", 11, ParseError, r"\\det needs its argument in parentheses"),
    (r"\tanh'", 7, ParseError, r"\\tanh' needs its argument in parentheses"),
    (r"\operatorname{ReLU}' z", 22, ParseError, r"ReLU\}' needs its argument in parentheses"),
    (r"x'", 2, ParseError, r"it is not a transpose"),
    (r"I", 1, ParseError, r"cannot tell the size of I here"),
    (r"\mathbf{1}", 1, ParseError, r"cannot tell the size of \\mathbf\{1\} here"),
    (r"W = x", 3, ParseError, r"'=' is not part of a formula"),
    (r"", 1, ParseError, r"nothing to read"),
    (r"a \\ b", 3, ParseError, r"separates equations"),
    (r"x ? y", 3, ParseError, r"unexpected character '\?'"),
    ("x \u00b7 y", 3, ParseError, r"unexpected character"),
    (r"\ ", 1, ParseError, r"nothing to read"),
    (r"\\", 1, ParseError, r"separates equations|nothing to read"),
])
def test_errors_name_the_column_and_what_was_expected(text, column, kind, expected):
    with pytest.raises(kind) as caught:
        read_latex(text, SHAPES, ASSUME)
    message = str(caught.value)
    first, *rest = message.split("\n")
    assert first.startswith(f"col {column}: "), message
    assert caught.value.column == column
    assert re.search(expected, first), message
    if text.strip():
        # the caret sits under the column in the echoed text
        shown, caret = rest
        assert shown.strip() == text.strip()[:80]
        offset = len(shown) - len(shown.lstrip()) - (len(text) - len(text.lstrip()))
        assert caret.index("^") - offset == column - 1, message


def test_every_error_is_one_of_nnsyms_and_never_a_python_error():
    nasty = [r"\frac", r"\frac{", r"^", r"_x", r"{", r"}", r"\left", r"\left.", r"\right)", r"\mathbf",
             r"\mathbf{}", r"\operatorname{}", r"\nabla", r"\partial", r"x^{(", r"W^{(1", r"\|", r"||", r"|A",
             r"\sigma'", r"\sigma(", r"\max(0,", r"\mathbb{1}[z", r"\mathbb{1}[z>1]", r"e^{(1)}", "\x00", "\u2212x",
             r"\operatorname{LeakyReLU}(z)", r"\hat", r"\hat{", r"x_", r"x_{", r"\begin{cases", r"I_{n+1}",
             r"\mathbf{1}_{-}", r"A^{-2}", r"A^{x}", r"c^{c}", r"1.2.3", r"\,\,", r"\sqrt[3]{x}", r"a^{(1)}^{(2)}"]
    for text in nasty:
        try:
            read_latex(text, SHAPES, ASSUME)
        except NnsymError as error:
            assert str(error).startswith("col "), (text, str(error))
        # a few of these are valid formulas; what matters is that nothing else escapes


def test_non_string_input_is_refused():
    with pytest.raises(InputError):
        read_latex(None)
    with pytest.raises(InputError):
        read_latex(b"x")


def test_deep_nesting_and_long_input_are_refused_quickly():
    cases = [
        "(" * 10_000 + "x" + ")" * 10_000,              # too long
        "(" * 4_000 + "x" + ")" * 4_000,                # too deep
        "{" * 1_000 + "x" + "}" * 1_000,
        r"\sqrt{" * 1_000 + "d" + "}" * 1_000,
        r"\left(" * 1_000 + "x" + r"\right)" * 1_000,
        "e^{" * 1_000 + "c" + "}" * 1_000,
        "x" + " + x" * (MAX_LENGTH // 4 + 10),
        "A " * (MAX_LENGTH // 2 - 10),                  # a product of thousands of factors
        "A^{-1} " * (MAX_LENGTH // 7 - 10),
        "-" * 5_000 + "c",
    ]
    for text in cases:
        start = time.perf_counter()
        with pytest.raises(NnsymError) as caught:
            read_latex(text, SHAPES, ASSUME)
        assert time.perf_counter() - start < 2.0, text[:40]
        assert str(caught.value).startswith("col "), str(caught.value)[:200]
    for read, text in [(read_claim, r"\nabla_A L = " + "A " * 3000), (read_equations, "A " * 3000 + "= A"),
                       (read_equations, "c = " + "(" * 3000 + "c" + ")" * 3000)]:
        start = time.perf_counter()
        with pytest.raises(ParseError, match="^col "):
            read(text, SHAPES, ASSUME)
        assert time.perf_counter() - start < 2.0
    with pytest.raises(ParseError, match=f"at most {MAX_LENGTH:,} are read"):
        read_latex("x" * (MAX_LENGTH + 1))
    with pytest.raises(ParseError, match=f"more than {MAX_DEPTH} levels deep"):
        read_latex("(" * (MAX_DEPTH + 1) + "c" + ")" * (MAX_DEPTH + 1))


def test_nesting_within_the_limits_is_read():
    depth = MAX_DEPTH - 10
    expr = read_latex(r"\sigma(" * depth + "c" + ")" * depth)
    t = 0.3
    for _ in range(depth):
        t = _sigmoid(t)
    assert s(evaluate(expr, {"c": 0.3})) == pytest.approx(t, rel=1e-12)
    expr = read_latex("c" + " + c" * 2000)
    assert s(evaluate(expr, {"c": 0.5})) == pytest.approx(1000.5)


def test_user_text_is_never_evaluated(monkeypatch):
    import builtins
    calls = []
    for name in ("eval", "exec"):
        original = getattr(builtins, name)
        monkeypatch.setattr(builtins, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k))
    monkeypatch.setattr(sympy_parser, "parse_expr", lambda *a, **k: calls.append("parse_expr"))
    for text in [r"\operatorname{__import__}(x)", r"x_{__class__}", "x; import os", r"\text{os.system('ls')}(x)",
                 r"\hat{__import__('os')}", "x_{1+1} + 1e3"]:
        try:
            read_latex(text, {"x": "2"})
        except NnsymError:
            pass
    assert calls == []


# ----- review: forms students write that must read (each failed before its fix) -----

@pytest.mark.parametrize("text, reference", [
    (r"\frac12 c", lambda v: 0.5 * s(v["c"])),
    (r"\frac 1 2 c", lambda v: 0.5 * s(v["c"])),
    (r"\frac1d", lambda v: 1 / s(v["d"])),
    (r"\frac{1}2 c", lambda v: 0.5 * s(v["c"])),
    (r"\frac1{2d}", lambda v: 1 / (2 * s(v["d"]))),
    (r"\frac123", lambda v: 1.5),                       # TeX: \frac{1}{2}3
    (r"\frac1dc", lambda v: s(v["c"]) / s(v["d"])),     # TeX: \frac{1}{d} c
    (r"\frac\theta2", lambda v: v["\\theta"] / 2),
    (r"\frac\pi2", lambda v: np.pi / 2),
    (r"\sqrt2 c", lambda v: np.sqrt(2) * s(v["c"])),
    (r"\frac12\|Wx - y\|^2", lambda v: 0.5 * np.sum((v["W"] @ v["x"] - v["y"]) ** 2)),
])
def test_frac_and_sqrt_take_one_token_arguments_without_braces(text, reference):
    values = draw()
    got = evaluate(read_latex(text, SHAPES, ASSUME), values)
    np.testing.assert_allclose(np.asarray(got).reshape(np.shape(reference(values))), reference(values), rtol=1e-12)


@pytest.mark.parametrize("text, said", [
    (r"\frac1", r"\frac needs two arguments"),
    (r"\sqrt", r"\sqrt needs an argument"),
    (r"\frac(1)(2)", r"\frac needs its arguments in braces"),
    (r"\frac\sigma2", r"\frac needs its arguments in braces"),
])
def test_frac_arguments_that_are_not_one_token_are_refused(text, said):
    with pytest.raises(ParseError, match=re.escape(said)):
        read_latex(text)


def test_a_power_of_a_function_is_its_value_to_that_power_entrywise():
    values = draw()
    got = evaluate(read_latex(r"\mathbf{1} - \tanh^2(z)", SHAPES, ASSUME), values)
    np.testing.assert_allclose(got, 1 - np.tanh(values["z"]) ** 2, rtol=1e-12)
    got = evaluate(read_latex(r"\sigma^{2}(c)", SHAPES, ASSUME), values)
    assert s(got) == pytest.approx(_sigmoid(s(values["c"])) ** 2, rel=1e-12)
    with pytest.raises(ParseError, match=re.escape(r"\tanh^{-1} (an inverse function) is not read")):
        read_latex(r"\tanh^{-1}(c)")
    with pytest.raises(ParseError, match="positive whole number"):
        read_latex(r"\tanh^{0.5}(c)")
    with pytest.raises(ParseError, match=re.escape(r"col 10: \tanh^{2} needs its argument in parentheses")):
        read_latex(r"\tanh^{2}c")


@pytest.mark.parametrize("text, variable", [
    (r"\nabla_{\boldsymbol{\theta}} J(\theta) = x", "\\theta"),
    (r"\nabla_W L(W, x) = x", "W"),
    (r"\frac{\partial}{\partial W} L = x", "W"),
    (r"\frac{d}{dW} L = x", "W"),
])
def test_claim_left_sides_with_arguments_or_an_operator_first(text, variable):
    function, named, right = read_claim(text, SHAPES)
    assert named == variable and function in ("J", "L")
    with pytest.raises(ParseError, match="must be a derivative"):
        read_claim(r"\nabla_W L(W)(x) = x", SHAPES)


def test_a_bare_identity_or_ones_in_a_claim_takes_the_given_shape():
    with pytest.raises(ParseError, match="cannot tell the size"):
        read_claim(r"\nabla_x L = \mathbf{1}", SHAPES)
    _, _, ones = read_claim(r"\nabla_x L = \mathbf{1}", SHAPES, shape=(2, 1))
    np.testing.assert_array_equal(evaluate(ones, {}), np.ones((2, 1)))
    _, _, eye = read_claim(r"2I", SHAPES, shape=(3, 3))
    np.testing.assert_array_equal(evaluate(eye, {}), 2 * np.eye(3))
    values = draw()
    _, _, outer = read_claim(r"x \mathbf{1}^\top", SHAPES, shape=(2, 3))
    np.testing.assert_allclose(evaluate(outer, values), values["x"] @ np.ones((1, 3)))


def test_negative_powers_of_a_square_matrix_are_powers_of_its_inverse():
    values = draw()
    got = evaluate(read_latex(r"A^{-2}", SHAPES, ASSUME), values)
    inverse = np.linalg.inv(values["A"])
    np.testing.assert_allclose(got, inverse @ inverse, rtol=1e-10)
    with pytest.raises(ShapeError, match="only scalars and square matrices have powers"):
        read_latex(r"W^{-2}", SHAPES)


@pytest.mark.parametrize("written, name", [
    (r"\hat y", r"\hat{y}"), (r"\boldsymbol\theta", r"\theta"), (r"\mathbf x", "x"), (r"\mathbf{x}", "x"),
    ("W^{(1)}", "W^{(1)}"), ("W_1", "W_{1}"), (r"a^{(l-1)}", r"a^{(l-1)}"),
])
def test_names_on_the_command_line_are_read_as_in_a_formula(written, name):
    from nnsym.declare.reading import read_name
    assert read_name(written) == name
    # and a shape given under that spelling is the shape of the symbol in the formula
    assert read_latex(name, {written: "3"}).shape == (3, 1)
    with pytest.raises(InputError, match="not a symbol name"):
        read_name("x; y")


@pytest.mark.parametrize("text, name", [
    (r"L = \frac12\|Wx - y\|^2", "L"), (r"L(W) = \frac12\|Wx - y\|^2", "L"),
    (r"\mathcal{L}(W, x) = \frac12\|Wx - y\|^2", r"\mathcal{L}"), (r"\frac12\|Wx - y\|^2", None),
])
def test_a_function_may_carry_its_name(text, name):
    from nnsym.declare.reading import read_definition
    values = draw()
    named, f = read_definition(text, SHAPES)
    assert named == name
    assert s(evaluate(f, values)) == pytest.approx(0.5 * np.sum((values["W"] @ values["x"] - values["y"]) ** 2))
    with pytest.raises(ParseError, match="must be the function's name"):
        read_definition(r"2L = \|x\|^2", SHAPES)


def test_a_lone_zero_in_a_claim_is_the_zero_of_the_given_shape():
    for text in ("0", r"\mathbf{0}", r"\nabla_x L = 0"):
        _, _, zero = read_claim(text, SHAPES, shape=(2, 3))
        np.testing.assert_array_equal(evaluate(zero, {}), np.zeros((2, 3)))


@pytest.mark.parametrize("text, reference", [
    (r"\|Wx - y\|^2_2", lambda v: np.sum((v["W"] @ v["x"] - v["y"]) ** 2)),
    (r"\|X\|^2_F", lambda v: np.sum(v["X"] ** 2)),
    (r"\|X\|^{2}_{F} + 1", lambda v: np.sum(v["X"] ** 2) + 1),
    (r"\|X\|_\text{F}^2", lambda v: np.sum(v["X"] ** 2)),
    (r"z^\top{A}z", lambda v: v["z"].T @ v["A"] @ v["z"]),
    (r"z^{\mathsf T} A z", lambda v: v["z"].T @ v["A"] @ v["z"]),
    (r"z^{\text T}Az", lambda v: v["z"].T @ v["A"] @ v["z"]),
])
def test_norm_scripts_in_either_order_and_more_transpose_spellings(text, reference):
    values = draw()
    np.testing.assert_allclose(s(evaluate(read_latex(text, SHAPES, ASSUME), values)), s(reference(values)), rtol=1e-12)
    with pytest.raises(ParseError, match=r"a norm is read only as"):
        read_latex(r"\|X\|^2_3", SHAPES)


@pytest.mark.parametrize("text", [r"z^{\!\top}Az", r"z^{\rm T}Az", r"z^{\sf T}Az", r"z^{\, T}Az", r"z^{\mathrm T} A z"])
def test_transpose_with_spacing_or_old_font_commands(text):
    values = draw()
    np.testing.assert_allclose(s(evaluate(read_latex(text, SHAPES, ASSUME), values)),
                               s(values["z"].T @ values["A"] @ values["z"]), rtol=1e-12)
