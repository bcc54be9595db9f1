"""Regressions from a user's review of the Python API: each test failed before its fix.

Values are checked against an independent source (NumPy written out here, or the textbook identity).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import nnsym as ns
from nnsym.verify.elementwise import entry_symbols
from nnsym.verify.evaluate import evaluate


def test_jacobian_of_the_variable_itself_is_the_identity():
    # The finite-difference check used to read the perturbed input back as the output (aliasing),
    # computed 0 and refused the right answer I with VerificationError.
    x = ns.vector("x", "n")
    J = ns.jacobian(x, x)
    assert np.array_equal(evaluate(J.expression, {}, {x.rows: 4}), np.eye(4))


@pytest.mark.parametrize("build", [
    lambda x, a: ns.norm(x, squared=True) / 2,
    lambda x, a: (x - a).T @ (x - a) / 2,
])
def test_hessian_of_half_squared_norm_is_the_identity(build):
    x, a = ns.vector("x", 3), ns.vector("a", 3)
    H = ns.hessian(build(x, a), x)
    assert np.allclose(evaluate(H.expression, {"x": np.ones((3, 1)), "a": np.zeros((3, 1))}), np.eye(3))


@pytest.mark.parametrize("exponent, expected_latex", [(0.5, r"\sqrt{s}"), (1 / 3, r"\frac{1}{3}"),
                                                      (np.float64(1.5), r"\frac{3}{2}"), (Fraction(3, 2), r"\frac{3}{2}")])
def test_float_and_fraction_exponents_are_exact(exponent, expected_latex):
    # 0.5 used to stay a float: s^{0.5}, 0.333333333333333 in the LaTeX of the gradient.
    s = ns.scalar("s")
    g = ns.grad(s ** exponent, s)
    text = g.latex()
    assert "0." not in text and expected_latex in ns.latex(s ** exponent) + text
    value = evaluate(g.expression, {"s": np.array([[2.0]])})[0, 0]
    p = float(exponent)
    assert value == pytest.approx(p * 2.0 ** (p - 1), rel=1e-12)


@pytest.mark.parametrize("number, expected", [(Fraction(1, 3), 1 / 3), (np.int64(3), 3.0),
                                              (np.float32(0.25), 0.25), (0.1, 0.1)])
def test_python_and_numpy_numbers_mix_with_expressions(number, expected):
    x = ns.vector("x", 2)
    f = ns.sum_entries(number * x) + number
    value = evaluate(f, {"x": np.array([[1.0], [2.0]])})[0, 0]
    assert value == pytest.approx(3 * expected + expected, rel=1e-12)
    assert np.allclose(evaluate(ns.grad(f, x).expression, {"x": np.zeros((2, 1))}), expected)


@pytest.mark.parametrize("build", [
    lambda s: s ** float("nan"),
    lambda s: s * float("inf"),
    lambda s: s + float("-inf"),
    lambda s: 2 ** s,
    lambda s: s * 1j,
])
def test_non_finite_complex_and_number_to_expression_powers_are_refused(build):
    with pytest.raises(ns.InputError):
        build(ns.scalar("s"))


def test_linear_layer_writes_its_pre_activation_once():
    result = ns.backprop(ns.network([2, 3, 1], activations=[None, "tanh"]))
    lefts = [lhs for lhs, _ in result.forward_lines()]
    assert lefts == ["z^{(1)}", "z^{(2)}", "a^{(2)}", "L"]


def test_oracle_entries_are_python_identifiers():
    # Names such as W^{(1)}[0,0] made lambdify rewrite the whole unshared expression tree: a 2-3-3
    # ELU network with a batch of 4 took 110 s to check by default.
    W = ns.matrix("W^{(1)}", 2, 3)
    names = [str(v) for v in entry_symbols(W, {}, "v0")]
    assert len(set(names)) == 6 and all(name.isidentifier() for name in names)


def test_hessian_of_a_cubic_matches_the_hand_written_formula():
    # Regrouping (x a^T + a x^T) x as column times 1x1: this used to be refused as a third-order tensor.
    x, a = ns.vector("x", 3), ns.vector("a", 3)
    H = ns.hessian((x.T @ x) * (a.T @ x), x)
    rng = np.random.default_rng(3)
    xv, av = rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
    expected = 2 * av @ xv.T + 2 * xv @ av.T + 2 * (av.T @ xv).item() * np.eye(3)
    assert np.allclose(evaluate(H.expression, {"x": xv, "a": av}), expected)


def test_jacobian_of_a_column_times_a_scalar_of_the_same_variable():
    x = ns.vector("x", 3)
    J = ns.jacobian(x @ (x.T @ x), x)
    xv = np.array([[1.0], [-2.0], [0.5]])
    assert np.allclose(evaluate(J.expression, {"x": xv}), 2 * xv @ xv.T + (xv.T @ xv).item() * np.eye(3))


def test_hessian_of_the_rayleigh_quotient_matches_differences_of_its_textbook_gradient():
    # Its gradient holds the transpose of a row that depends on x, which had no Jacobian rule.
    x, A = ns.vector("x", 3), ns.matrix("A", 3, 3)
    H = ns.hessian((x.T @ A @ x) / (x.T @ x), x)
    rng = np.random.default_rng(5)
    xv, Av = rng.normal(size=(3, 1)), rng.normal(size=(3, 3))

    def gradient(v):  # d/dx of x^T A x / x^T x, by the quotient rule
        q, r = (v.T @ Av @ v).item(), (v.T @ v).item()
        return ((Av + Av.T) @ v * r - 2 * v * q) / r ** 2

    eps = 1e-6
    numeric = np.hstack([(gradient(xv + eps * e) - gradient(xv - eps * e)) / (2 * eps) for e in np.eye(3)[:, :, None]])
    assert np.allclose(evaluate(H.expression, {"x": xv, "A": Av}), numeric, atol=1e-6)


def test_jacobian_of_log_softmax_is_identity_minus_ones_softmax():
    W, x = ns.matrix("W", 3, 2), ns.vector("x", 2)
    J = ns.jacobian(ns.log_softmax(W @ x), x)
    rng = np.random.default_rng(7)
    Wv, xv = rng.normal(size=(3, 2)), rng.normal(size=(2, 1))
    p = np.exp(Wv @ xv) / np.exp(Wv @ xv).sum()
    assert np.allclose(evaluate(J.expression, {"W": Wv, "x": xv}), (np.eye(3) - np.ones((3, 1)) @ p.T) @ Wv)
