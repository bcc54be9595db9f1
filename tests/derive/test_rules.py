"""The rules table itself: every node type has a rule (or is a leaf, or is refused by name), a wrong
rule is caught before its result is handed out, and results read as a lecturer writes them."""

import inspect

import numpy as np
import sympy
import pytest

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.derive import rules
from nnsym.derive.reverse import cotangents, gradient
from nnsym.derive.simplify import collect_common_factors
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import random_point, small_sizes, symbols_of

NODE_TYPES = [c for _, c in inspect.getmembers(E, inspect.isclass) if issubclass(c, E.Expr) and c is not E.Expr]
# Refused on purpose: the Kronecker product's gradient has no closed matrix form in this notation.
REFUSED = {E.Kronecker}


def test_every_node_type_has_a_rule_or_is_a_leaf_or_is_refused():
    for node_type in NODE_TYPES:
        assert node_type in rules.VJP or node_type in rules.leaf_types() or node_type in REFUSED, node_type


def test_every_rule_states_its_identity():
    for node_type, rule in rules.VJP.items():
        assert rule.__doc__ and ("d" in rule.__doc__ or "name" in rule.__doc__), node_type


def test_missing_rule_is_an_error_naming_the_node_never_zero():
    A, B = ns.matrix("A", 2, 2), ns.matrix("B", 2, 2)
    with pytest.raises(ns.MissingRuleError, match="Kronecker"):
        gradient(ns.sum_entries(ns.kronecker(A, B)), A)


def test_a_wrong_rule_is_caught_before_the_gradient_is_handed_out(monkeypatch):
    """Break the transpose in the matrix-product rule: grad() must refuse, not return the wrong form."""
    def missing_transpose(node, G):
        A, B = node.args
        if A.is_square and B.is_column:
            return [E.matmul(G, E.transpose(B)), E.matmul(A, G)]  # A G instead of A^T G
        return rules._matmul(node, G)

    monkeypatch.setitem(rules.VJP, E.MatMul, missing_transpose)
    A, x = ns.matrix("A", 3, 3), ns.vector("x", 3)
    with pytest.raises(ns.VerificationError, match="failed its check"):
        ns.grad(ns.norm(A @ x, squared=True), x)


def test_gradient_with_respect_to_an_absent_symbol_is_a_true_zero():
    x, y = ns.vector("x", 3), ns.vector("y", 3)
    g = ns.grad(x.T @ x, y)
    assert isinstance(g.expression, E.Zero)


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda W, x, y, A: (ns.norm(W @ x - y, squared=True) / 2, W), r"\left(W x - y\right) x^\top"),
        (lambda W, x, y, A: (ns.norm(W @ x - y, squared=True) / 2, x), r"W^\top \left(W x - y\right)"),
        (lambda W, x, y, A: (x.T @ A @ x, x), r"\left(A^\top + A\right) x"),
        (lambda W, x, y, A: (ns.logdet(A), A), r"A^{-\top}"),
        (lambda W, x, y, A: (ns.det(A), A), r"\det\left(A\right) A^{-\top}"),
        (lambda W, x, y, A: (ns.norm(x), x), r"\frac{x}{\left\|x\right\|}"),
        (lambda W, x, y, A: (ns.trace(A @ A.T), A), r"2 A"),
    ],
)
def test_results_read_as_on_the_board(build, expected):
    W, x, y, A = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m"), ns.matrix("A", "n", "n")
    f, v = build(W, x, y, A)
    assert ns.grad(f, v).latex() == expected


def test_backprop_equations_have_the_textbook_delta_form():
    bp = ns.backprop(ns.network([2, 3, 2], activation="tanh", loss="softmax_cross_entropy"))
    lines = dict(bp.backward_lines())
    assert lines[r"\delta^{(2)}"] == r"\operatorname{softmax}\left(z^{(2)}\right) - y"
    assert lines[r"\delta^{(1)}"] == r"\left(W^{(2)\top} \delta^{(2)}\right) \odot \tanh'\left(z^{(1)}\right)"
    assert lines[r"\frac{\partial L}{\partial W^{(1)}}"] == r"\delta^{(1)} x^\top"
    assert lines[r"\frac{\partial L}{\partial W^{(2)}}"] == r"\delta^{(2)} a^{(1)\top}"


def test_softmax_cross_entropy_without_the_probability_assumption_keeps_the_sum():
    """softmax(z) - y needs targets summing to one; otherwise the general form (1^T y) softmax(z) - y."""
    z, y = ns.vector("z", 4), ns.vector("y", 4)
    g = ns.grad(ns.softmax_cross_entropy(z, y), z)
    assert r"\mathbf{1}^\top y" in g.latex()


def test_collecting_common_factors_keeps_the_value():
    x, A, B = ns.vector("x", "n"), ns.matrix("A", "n", "n"), ns.matrix("B", "n", "n")
    raw = A.T @ x + A @ x + B @ x
    collected = collect_common_factors(raw)
    assert ns.latex(collected) == r"\left(A^\top + A + B\right) x"
    symbols = symbols_of(raw)
    sizes = small_sizes(symbols)
    values = random_point([raw], symbols, sizes, np.random.default_rng(0))
    np.testing.assert_allclose(evaluate(collected, values, sizes), evaluate(raw, values, sizes), rtol=1e-12)


def test_a_number_every_term_carries_is_collected_and_floats_are_not_invented():
    W, x, y = ns.matrix("W", 3, 2), ns.vector("x", 2), ns.vector("y", 3)
    cases = [(2 * (W @ x) - 2 * y, r"2 \left(W x - y\right)"),
             (E.scale(E.constant(sympy.Rational(3, 4)), W @ x) + E.scale(E.constant(sympy.Rational(-1, 2)), y),
              r"\frac{1}{4} \left(3 W x - 2 y\right)"),
             (-2 * (W @ x) - 4 * y, r"-2 \left(W x + 2 y\right)"),
             (2 * (W @ x) + 3 * y, r"2 W x + 3 y"),          # no common factor but 1
             (-(W @ x) - y, r"-W x - y"),
             (W @ x + y, r"W x + y")]
    for raw, printed in cases:
        collected = collect_common_factors(raw)
        assert ns.latex(collected) == printed
        values = random_point([raw], symbols_of(raw), {}, np.random.default_rng(1))
        np.testing.assert_allclose(evaluate(collected, values), evaluate(raw, values), rtol=1e-12)
    # The least-squares gradient as a lecturer writes it: 2 (W x - y) x^T, not (2 W x - 2 y) x^T.
    assert ns.grad(ns.norm(W @ x - y, squared=True), W).latex() == r"2 \left(W x - y\right) x^\top"


def test_hessians_in_closed_form():
    x, A = ns.vector("x", "n"), ns.matrix("A", "n", "n")
    assert ns.hessian(x.T @ A @ x, x).latex() == r"A^\top + A"
    X, w, y = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    h = ns.hessian(ns.binary_cross_entropy(X @ w, y), w)
    assert h.latex() == r"X^\top \operatorname{diag}\left(\sigma'\left(X w\right)\right) X"
    assert h.reports[0].ok


def test_jacobian_of_softmax_is_diag_minus_outer():
    z = ns.vector("z", 4)
    j = ns.jacobian(ns.softmax(z), z)
    s = np.exp([0.1, -0.3, 0.7, 0.2])
    s /= s.sum()
    value = evaluate(j.expression, {"z": np.log(s)})
    np.testing.assert_allclose(value, np.diag(s) - np.outer(s, s), rtol=1e-12)


def test_gradient_of_a_non_scalar_is_a_shape_error():
    W, x = ns.matrix("W", 3, 2), ns.vector("x", 2)
    with pytest.raises(ns.ShapeError, match="needs a scalar function, but this one is 3x1"):
        cotangents(W @ x, [x])
