"""Losses, means and sums print as a lecturer writes them on the board, and still read back to their value.

Each expected string is checked twice: here against a NumPy value written by hand (read back with nnsym's
reader), and by the round-trip hook in conftest against the expression it was printed from."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.expressions import Hadamard, MatMul, Scale, Transpose, scale
from nnsym.declare.reading import read_latex
from nnsym.verify.evaluate import evaluate


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def read_value(text, shapes, values):
    return evaluate(read_latex(text, shapes), values)


def test_mean_binary_cross_entropy_of_a_row_takes_its_minus_out_and_has_no_ones_matrix():
    """XOR's loss: one output unit, four examples as columns."""
    z, Y = ns.matrix("z", 1, 4), ns.matrix("Y", 1, 4)
    text = ns.latex(ns.mean_over_batch(ns.binary_cross_entropy(z, Y), 4))
    assert text == (r"-\frac{1}{4} \left(Y \odot \log \sigma\left(z\right) + \left(\mathbf{1}^\top - Y\right) "
                    r"\odot \log\left(\mathbf{1}^\top - \sigma\left(z\right)\right)\right) \mathbf{1}")
    rng = np.random.default_rng(1)
    values = {"z": rng.standard_normal((1, 4)), "Y": rng.uniform(0, 1, (1, 4))}
    p = sigmoid(values["z"])
    want = -np.mean(values["Y"] * np.log(p) + (1 - values["Y"]) * np.log(1 - p))
    got = read_value(text, {"z": (1, 4), "Y": (1, 4)}, values)
    assert float(got[0, 0]) == pytest.approx(want, rel=1e-12)


def test_mean_softmax_cross_entropy_over_a_symbolic_batch():
    Z, Y = ns.matrix("Z", 3, "N"), ns.matrix("Y", 3, "N")
    loss = ns.mean_over_batch(ns.softmax_cross_entropy(Z, Y), "N")
    text = ns.latex(loss)
    assert text == r"-\frac{1}{N} \mathbf{1}^\top \left(Y \odot \log \operatorname{softmax}\left(Z\right)\right) \mathbf{1}"
    rng = np.random.default_rng(2)
    values = {"Z": rng.standard_normal((3, 5)), "Y": rng.dirichlet(np.ones(3), 5).T}
    logp = values["Z"] - np.log(np.exp(values["Z"]).sum(axis=0))
    want = -np.sum(values["Y"] * logp) / 5
    N = next(iter(Z.shape[1].free_symbols))
    got = evaluate(read_latex(text, {"Z": "3xN", "Y": "3xN"}), dict(values, N=5.0), {N: 5})
    assert float(got[0, 0]) == pytest.approx(want, rel=1e-12)
    # As a later term of a sum the loss's minus is the sum's: x - 1^T (...) 1, never x + -1^T (...) 1.
    x = ns.scalar("x")
    assert ns.latex(x + ns.softmax_cross_entropy(Z, Y)).startswith(r"x - \mathbf{1}^\top \left(Y")
    assert ns.latex(x + loss).startswith(r"x - \frac{1}{N} \mathbf{1}^\top")


def test_a_scaled_hadamard_product_has_no_double_parentheses():
    A, Y, Z = ns.matrix("A", 2, 3), ns.matrix("Y", 2, 3), ns.matrix("Z", 2, 3)
    h = ns.hadamard(A - Y, ns.sigmoid(Z))
    assert ns.latex(ns.mean_over_batch(h, "B")) == r"\frac{1}{B} \left(A - Y\right) \odot \sigma\left(Z\right)"
    c = ns.scalar("c")
    assert ns.latex(scale(c, h)) == r"c \left(A - Y\right) \odot \sigma\left(Z\right)"
    # Where it is a factor of something binding tighter, the whole c A o B is grouped.
    D = ns.matrix("D", 3, 2)
    product = MatMul(Scale(ns.scalar("k"), h), D)  # built as is: the constructors would take k out
    text = ns.latex(product)
    assert text == r"\left(k \left(A - Y\right) \odot \sigma\left(Z\right)\right) D"
    rng = np.random.default_rng(3)
    values = {n: rng.standard_normal(s) for n, s in
              {"A": (2, 3), "Y": (2, 3), "Z": (2, 3), "D": (3, 2), "k": (1, 1)}.items()}
    shapes = {"A": (2, 3), "Y": (2, 3), "Z": (2, 3), "D": (3, 2)}
    np.testing.assert_allclose(read_value(text, shapes, values), evaluate(product, values), rtol=1e-12)
    assert ns.latex(Transpose(Scale(ns.scalar("k"), h))).startswith(r"\left(k \left(A - Y\right)")
    assert ns.latex(Hadamard(Scale(ns.scalar("k"), h), A)).startswith(r"\left(k \left(A - Y\right)")


def test_the_sum_of_a_vector_is_written_ones_transpose_first():
    u, v, M = ns.vector("u", 3), ns.vector("v", 3), ns.matrix("M", 3, 2)
    assert ns.latex(ns.transpose(u - v) @ ns.ones(3)) == r"\mathbf{1}^\top \left(u - v\right)"
    assert ns.latex(ns.transpose(M) @ ns.ones(3)) == r"M^\top \mathbf{1}"  # a vector, not a sum: unchanged


def test_a_parameter_joins_the_fraction_before_a_compound_factor():
    lam, x, W = ns.scalar(r"\lambda"), ns.scalar("x"), ns.matrix("W", 2, 2)
    assert ns.latex(lam * ns.norm(W, squared=True) / 2) == r"\frac{\lambda}{2} \left\|W\right\|_F^{2}"
    assert ns.latex(x / 2) == r"\frac{1}{2} x"  # a coefficient of a lone unknown stays in front


def test_backprop_batch_output_in_board_form():
    """What `nnsym backprop --batch B --mean [--weight-decay]` prints (its checks are tested elsewhere)."""
    out = ns.backprop(ns.network([3, 4, 2], loss="binary_cross_entropy", batch="B", mean=True, weight_decay=True),
                      verify=False).latex()
    assert r"L &= -\frac{1}{B} \mathbf{1}^\top \left(Y \odot" in out
    assert r"+ \frac{\lambda}{2} \left(\left\|W^{(1)}\right\|_F^{2}" in out
    assert r"\left(-" not in out
    out = ns.backprop(ns.network(["n_0", "n_1"], activation="relu", batch="B", mean=True), verify=False).latex()
    assert r"\delta^{(1)} &= \frac{1}{B} \left(a^{(1)} - Y\right) \odot H\left(z^{(1)}\right) \\" in out


def test_a_sum_of_entries_in_a_scalar_product_needs_no_parentheses():
    s, x = ns.scalar("s"), ns.vector("x", "n")
    assert ns.latex(s * s * ns.sum_entries(x)) == r"s^{2} \mathbf{1}^\top x"
    assert ns.grad(s * s * ns.sum_entries(x), s).latex() == r"2 s \mathbf{1}^\top x"
    assert ns.latex(ns.sum_entries(x) * ns.sum_entries(x)) == r"\left(\mathbf{1}^\top x\right)^{2}"


def test_hessians_and_jacobians_display_in_jupyter_with_their_left_side():
    x, A, W = ns.vector("x", "n"), ns.matrix("A", "n", "n"), ns.matrix("W", "m", "n")
    hessian = ns.hessian(ns.transpose(x) @ A @ x, x)
    assert hessian._repr_latex_() == rf"$\displaystyle \frac{{\partial^2 f}}{{\partial x\, \partial x^\top}} = {hessian.latex()}$"
    jacobian = ns.jacobian(ns.sigmoid(W @ x), x)
    assert jacobian._repr_latex_().startswith(r"$\displaystyle \frac{\partial f}{\partial x} = \operatorname{diag}")
