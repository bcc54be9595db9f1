"""The elementwise oracle as a straight-line program: independent (a planted wrong rule is caught by
it alone, without finite differences), right (it agrees with SymPy differentiating the expanded
formula), bounded (large sizes are checked on a smaller copy, and the report says so)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.expressions import Apply, Hadamard, Inverse, MatMul, Scale, SoftmaxCrossEntropy
from nnsym.derive import rules
from nnsym.derive.reverse import cotangents
from nnsym.present.cli import main
from nnsym.verify import budget
from nnsym.verify.elementwise import (ORACLE_SIZES, Program, ToSympy, check_elementwise, elementwise_gradient,
                                      entry_symbols)
from nnsym.verify.points import random_point, small_sizes, symbols_of

W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
A, B = ns.matrix("A", "n", "n"), ns.matrix("B", "n", "n")


def _drops_the_derivative(node, G):
    return [G]  # f(A)' left out: the classic missing sigma'(z)


def _swaps_the_factors(node, G):
    a, b = node.args
    return [E.hadamard(G, a), E.hadamard(G, b)]


def _forgets_the_target(node, G):
    z, t = node.args
    return [E.scale(G, E.softmax(z)), E.neg(E.scale(G, E.log_softmax(z)))]


def _loses_the_sign(node, G):
    inverse_transpose = E.transpose(node)
    return [E.matmul(E.matmul(inverse_transpose, G), inverse_transpose)]


def _doubles(node, G):
    a, b = node.args
    return [E.matmul(G, E.transpose(b)), E.scale(2, E.matmul(E.transpose(a), G))]


def _scales_twice(node, G):
    c, a = node.args
    return [rules.inner(G, a), E.scale(c, E.scale(c, G))]


PLANTED = [
    ("elementwise function", Apply, _drops_the_derivative,
     lambda: (ns.norm(ns.tanh(W @ x) - y, squared=True) / 2, W)),
    ("Hadamard product", Hadamard, _swaps_the_factors,
     lambda: (ns.sum_entries(ns.hadamard(ns.sigmoid(W @ x), W @ x)), x)),
    ("softmax cross-entropy", SoftmaxCrossEntropy, _forgets_the_target,
     lambda: (ns.softmax_cross_entropy(W @ x, ns.vector("p", "m", assume="probability")), W)),
    ("inverse", Inverse, _loses_the_sign,
     lambda: (ns.vector("u", "n").T @ ns.inv(A) @ ns.vector("v", "n"), A)),
    ("matrix product", MatMul, _doubles,
     lambda: (ns.norm(ns.tanh(W @ x), squared=True), x)),
    ("scaling", Scale, _scales_twice,
     lambda: (ns.scalar("c") * ns.trace(A @ B), B)),
]


@pytest.mark.parametrize("what, node_type, wrong, build", PLANTED, ids=[p[0] for p in PLANTED])
def test_the_oracle_alone_catches_a_planted_wrong_rule(monkeypatch, what, node_type, wrong, build):
    f, variable = build()
    right = cotangents(f, [variable])
    assert check_elementwise(f, right).ok  # the control: the true rule passes
    monkeypatch.setitem(rules.VJP, node_type, wrong)
    planted = cotangents(f, [variable])
    assert planted[variable] != right[variable]
    report = check_elementwise(f, planted)  # the oracle only: no finite differences run here
    assert not report.ok, f"the oracle passed a wrong {what} rule: {report}"
    assert "FAILED by elementwise SymPy derivation" in str(report)


def test_a_wrong_rule_is_caught_by_the_oracle_in_a_deep_network(monkeypatch):
    """The oracle checks an 8-layer network (it used to be skipped past 5 nonlinear steps)."""
    monkeypatch.setitem(rules.VJP, Apply, _drops_the_derivative)
    net = ns.network([3, 3, 3, 3, 3, 3, 3, 3, 2], activation="gelu")
    wrong = ns.backprop(net, verify=False)
    report = check_elementwise(wrong.forward.loss, wrong.equations.gradients)
    assert not report.ok


def _expanded_derivative(f, variable, seed):
    """dL/dW by SymPy differentiating the fully expanded scalar formula (the old oracle), at a point."""
    symbols = symbols_of(f, variable)
    sizes = small_sizes(symbols, choices=ORACLE_SIZES)
    entries = {s: entry_symbols(s, sizes, f"v{k}") for k, s in enumerate(symbols)}
    derivative = elementwise_gradient(f, variable, sizes, entries)
    point = random_point([f], symbols, sizes, np.random.default_rng(seed))
    at = {entries[s][index]: point[s.name][index] for s in symbols for index in np.ndindex(*point[s.name].shape)}
    expected = np.array(derivative.subs(at).evalf(30).tolist(), dtype=float)
    return sizes, entries, at, expected


@pytest.mark.parametrize("build", [
    lambda: (ns.norm(ns.tanh(W @ x) - y, squared=True) / 2, W),
    lambda: (ns.logsumexp(ns.hadamard(W @ x, W @ x) + y), x),
    lambda: (ns.logdet(A @ A.T + ns.identity("n")), A),
    lambda: (ns.softmax_cross_entropy(ns.gelu(W @ x), ns.vector("p", "m", assume="probability")), W),
], ids=["tanh least squares", "logsumexp of a square", "log det", "gelu softmax CE"])
def test_reverse_accumulation_over_the_program_equals_sympy_on_the_expanded_formula(build):
    f, variable = build()
    sizes, entries, at, expected = _expanded_derivative(f, variable, seed=4)
    program = Program()
    loss = ToSympy(sizes, entries, program)(f)[0, 0]
    values = program.forward({symbol: float(value) for symbol, value in at.items()})
    adjoint = program.gradient(values, loss)
    got = np.array([[adjoint.get(w, 0.0) for w in row] for row in entries[variable].tolist()])
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_steps_of_one_kind_share_their_compiled_code():
    """An 8-layer network has about as many kinds of step as a 2-layer one."""
    entries = {}
    program = Program()
    z = ns.vector("z", 3)
    f = z
    for _ in range(8):
        f = ns.tanh(ns.matrix("V", 3, 3) @ f)
    sizes = {}
    for k, s in enumerate(symbols_of(f)):
        entries[s] = entry_symbols(s, sizes, f"v{k}")
    ToSympy(sizes, entries, program)(ns.sum_entries(f))
    kinds = {id(step.local) for step in program.steps}
    assert len(program) > 40 and len(kinds) <= 4


def test_large_networks_are_checked_by_both_checks_on_a_smaller_copy(capsys):
    started = time.perf_counter()
    code = main(["backprop", "--sizes", "300,200,100,3", "--activation", "gelu", "--batch", "16", "--mean"])
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    reports = [line for line in out.splitlines() if line.startswith("% verified")]
    assert code == 0 and len(reports) == 2
    assert "central finite differences" in reports[0] and "elementwise SymPy derivation" in reports[1]
    for line in reports:
        assert "300->" in line and "over its" in line  # which sizes, and why
    assert elapsed < 20


def test_sizes_too_large_to_hold_are_verified_on_a_small_copy(latex_recorder):
    """10^5 x 10^5 weights (used to be refused as too large to check): both checks run on a copy with
    small sizes, no full-size array is made, and the reports say so. (The conftest's read-back would
    evaluate the printed formulas at full size, so it is paused.)"""
    M = ns.matrix("M", 10**5, 10**5)
    g = ns.grad(ns.norm(M @ ns.vector("v", 10**5), squared=True), M)
    result = ns.backprop(ns.network([10**5, 10**5, 1]))
    for reports in (g.reports, result.reports):
        assert [r.ok for r in reports] == [True, True]
        assert all(r.sizes.startswith("100000->") for r in reports)
    with latex_recorder.paused():
        assert main(["backprop", "--sizes", "100000,100000,1"]) == 0


def test_small_problems_are_checked_at_the_sizes_given():
    g = ns.grad(ns.norm(ns.matrix("M", 3, 2) @ ns.vector("u", 2), squared=True), ns.matrix("M", 3, 2))
    assert [r.sizes for r in g.reports] == ["as given", "as given"]


def test_a_copy_whose_sizes_are_computed_from_others_is_not_used():
    """A Kronecker product's rows are a product of sizes: shrinking the factors would not shrink it."""
    P, Q = ns.matrix("P", 40, 40), ns.matrix("Q", 40, 40)
    f = ns.sum_entries(ns.kronecker(P, Q))
    with pytest.raises(ns.InputError, match="cannot be checked at smaller sizes"):
        budget.plan(f, {P: f}, "the check", budget.finite_difference_seconds, 1e-9, 3)


def test_the_estimates_grow_with_size_and_depth():
    small = ns.network([3, 3, 2]).forward()
    deep = ns.network([3] * 9).forward()
    wide = ns.network([300, 300, 2]).forward()
    estimate = {name: budget.oracle_seconds(fw.loss, {w: w for w in fw.weights}, {}, 2)
                for name, fw in (("small", small), ("deep", deep), ("wide", wide))}
    assert estimate["small"] < estimate["deep"] < estimate["wide"]
    assert sympy.Integer(2) in budget._size_map([sympy.Integer(300)], 1).values()


def _softmax_without_the_outer_product(walk, node):
    (z,) = node.args
    return E.matmul(E.diag(E.softmax(z)), walk(z))  # diag(s) - s s^T with s s^T left out


def test_the_jacobian_oracle_alone_catches_a_planted_wrong_jacobian_rule(monkeypatch):
    from nnsym.derive import jacobian as jacobian_rules
    from nnsym.verify.elementwise import check_elementwise_jacobian

    z = ns.vector("z", "n")
    y = ns.softmax(ns.tanh(A @ z))
    right = jacobian_rules.jacobian(y, z)
    assert check_elementwise_jacobian(y, z, right).ok
    monkeypatch.setitem(jacobian_rules.JACOBIAN, E.Softmax, _softmax_without_the_outer_product)
    wrong = jacobian_rules.jacobian(y, z)
    assert not check_elementwise_jacobian(y, z, wrong).ok


def test_jacobians_and_hessians_carry_both_checks():
    z = ns.vector("z", "n")
    J = ns.jacobian(ns.softmax(A @ z), z)
    H = ns.hessian(ns.logsumexp(A @ z), z)
    assert ["finite differences" in r.method for r in J.reports] == [True, False]
    assert all(r.ok for r in J.reports + H.reports)
    assert sum("elementwise SymPy" in r.method for r in H.reports) == 2  # the gradient's and the Hessian's


def test_a_size_held_as_a_number_is_kept_when_the_smaller_copy_disagrees():
    """Batch norm's gradient holds 1/B as a number: a copy with B shrunk but the number not is another
    formula, so its check fails; the check runs again with B as given, and passes."""
    net = ns.network([3, 4, 2], activation="tanh", loss="softmax_cross_entropy", batch=5, mean=True, norm="batch")
    result = ns.backprop(net)
    assert [r.ok for r in result.reports] == [True, True]
    assert "5 kept" in result.reports[1].sizes or "run again" in result.reports[1].sizes
    assert budget.sizes_in_constants([result.forward.loss], {sympy.Integer(5), sympy.Integer(4)}) == {5}
