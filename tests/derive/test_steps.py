"""Step-by-step derivations: every line is a true statement (central differences on the line's own
claim), the rules named are the ones a lecturer would name, and the levels of detail nest."""

from __future__ import annotations

import pytest

import nnsym as ns
from nnsym.declare.expressions import Named
from nnsym.derive.backprop import delta_name
from nnsym.derive.steps import DETAILS, Line, derive_steps
from nnsym.errors import InputError
from nnsym.verify.finite_differences import check_gradients
from nnsym.verify.formulas import check_step


def least_squares():
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    return ns.norm(W @ x - y, squared=True) / 2, W, x, y


def two_layer(loss="squared_error", activation="sigmoid"):
    forward = ns.network([2, 3, 2], activation=activation, loss=loss).forward()
    named = set(forward.pre_activations)

    def hook(node, G):
        return Named(delta_name(node), G) if node in named else G

    return forward, derive_steps(forward.loss, forward.parameters, hook=hook)


def assert_line_true(f, line):
    if line.is_result:
        report = check_gradients(f, {line.node: line.cotangent}, seed=3)
    else:
        replaced, stand_in = line.stand_in(f)
        report = check_step(f, line.node, stand_in, replaced, line.cotangent, seed=3)
    assert report.ok, (line.node, report)


def texts(lines):
    return {line.node: [rule.text for rule in line.rules] for line in lines}


@pytest.mark.parametrize("build", ["least_squares", "quadratic_form", "two_layer", "softmax_net", "batch"])
def test_every_line_of_a_derivation_is_true(build):
    if build == "least_squares":
        f, W, x, _ = least_squares()
        derivation = derive_steps(f, [W, x])
    elif build == "quadratic_form":
        # x^T A x: the line for the node x^T has a cotangent x^T A^T whose x^T comes from the other
        # factor; the check must not rewrite it (a bug the first version had).
        A, x = ns.matrix("A", "n", "n"), ns.vector("x", "n")
        f = ns.transpose(x) @ A @ x
        derivation = derive_steps(f, [x])
    elif build == "batch":
        forward = ns.network([2, 3, 1], loss="binary_cross_entropy", batch="B", mean=True).forward()
        f, derivation = forward.loss, derive_steps(forward.loss, forward.parameters)
    else:
        loss = "softmax_cross_entropy" if build == "softmax_net" else "squared_error"
        forward, derivation = two_layer(loss, "tanh" if build == "softmax_net" else "sigmoid")
        f = forward.loss
    lines = derivation.lines("every")
    assert len(lines) >= 3
    for line in lines:
        assert_line_true(f, line)


def test_a_false_line_fails_its_check():
    f, W, x, y = least_squares()
    line = next(l for l in derive_steps(f, [W]).lines("every") if l.node == W @ x - y)
    wrong = Line(line.node, 2 * line.cotangent, line.rules, False, True)  # off by the factor the 1/2 cancels
    replaced, stand_in = wrong.stand_in(f)
    assert not check_step(f, wrong.node, stand_in, replaced, wrong.cotangent).ok


def test_least_squares_names_its_rules():
    f, W, x, y = least_squares()
    derivation = derive_steps(f, [W, x])
    result = texts(derivation.lines("result"))
    assert result[W] == ["chain rule", "squared-norm rule", "product rule, trace cyclicity"]
    assert result[x] == ["chain rule", "squared-norm rule", "product rule, transpose rule"]
    every = texts(derivation.lines("every"))
    assert every[W @ x - y] == ["chain rule", "squared-norm rule"]
    assert every[W @ x] == ["chain rule", "sum rule"]
    assert every[W] == ["chain rule", "product rule, trace cyclicity"]


def test_two_layer_network_shows_the_backprop_rules():
    forward, derivation = two_layer("softmax_cross_entropy")
    z1, z2 = forward.pre_activations
    W1, b1, W2, b2 = forward.parameters
    key = texts(derivation.lines("key"))
    assert key[z2] == ["softmax-CE simplification"]
    assert key[z1] == ["chain rule", "⊙/diag rule"]
    assert key[W2] == ["chain rule", "product rule, trace cyclicity"]
    assert key[forward.activations[1]] == ["chain rule", "product rule, transpose rule"]
    assert key[b1] == ["chain rule", "sum rule"]
    # delta^{(l)} is named where it is formed and used by name below it.
    lines = {line.node: line for line in derivation.lines("key")}
    assert isinstance(lines[z1].cotangent, Named) and lines[z1].cotangent.name == r"\delta^{(1)}"
    assert ns.latex(lines[W1].cotangent) == r"\delta^{(1)} x^\top"


def test_transpose_and_product_rules_are_named():
    A, x = ns.matrix("A", "n", "n"), ns.vector("x", "n")
    lines = derive_steps(ns.transpose(x) @ A @ x, [x]).lines("every")
    names = {rule.text for line in lines for rule in line.rules}
    assert {"product rule, transpose rule", "sum over paths", "product rule, trace cyclicity"} <= names
    # The path through x^T applies the transpose rule too; the line says it once, not "transpose rule" again.
    assert texts(lines)[x] == ["chain rule", "sum over paths", "product rule, transpose rule"]
    recorded = {name.text for step in derive_steps(ns.transpose(x) @ A @ x, [x]).steps
                for _, _, name in step.contributions}
    assert "transpose rule" in recorded  # recorded, only not repeated on the board
    s, t = ns.scalar("s"), ns.scalar("t")
    scalar_lines = derive_steps(ns.sigmoid(s * t), [s]).lines("every")
    assert "product rule" in texts(scalar_lines)[s]


def test_levels_of_detail_nest():
    forward, derivation = two_layer()
    nodes = {detail: [line.node for line in derivation.lines(detail)] for detail in DETAILS}
    assert set(nodes["result"]) == set(forward.parameters)
    assert set(nodes["result"]) < set(nodes["key"]) < set(nodes["every"])
    # "every" has one line per node reverse mode visited, except the function itself.
    assert len(nodes["every"]) == len(derivation.steps) - 1
    # Results agree with the plain reverse pass.
    assert all(derivation.results[p] == line.cotangent
               for line in derivation.lines("result") for p in [line.node])


def test_unknown_detail_is_refused():
    f, W, _, _ = least_squares()
    with pytest.raises(InputError, match="unknown detail 'all'"):
        derive_steps(f, [W]).lines("all")


def test_a_scalar_function_is_differentiated_not_diagonalised():
    """For a scalar argument the rule is the function's derivative; ⊙/diag is for vectors and matrices."""
    w, x, b = ns.scalar("w"), ns.scalar("x"), ns.scalar("b")
    lines = derive_steps(ns.sigmoid(w * x + b), [w]).lines("key")
    assert texts(lines)[w * x + b] == ["derivative of sigmoid"]
    root = derive_steps(ns.sqrt(ns.exp(x) + 1), [x]).lines("every")
    assert root[0].rules[0].latex == r"\text{derivative of }\sqrt{\cdot}"  # \sqrt alone would eat what follows
    assert "derivative of exp" in texts(root)[x]
    forward, derivation = two_layer()
    assert texts(derivation.lines("key"))[forward.pre_activations[0]] == ["chain rule", "⊙/diag rule"]
