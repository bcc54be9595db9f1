"""The LaTeX round trip, issue 3: every formula nnsym prints reads back, with nnsym's reader, to an
expression that evaluates equal to the one it was printed from.

tests/conftest.py checks this after every test for the formulas that test printed (the whole suite is
the corpus); this file checks the check itself, and prints a corpus of its own (Matrix Cookbook
identities, backprop in every configuration, Hessians, Jacobians, every notation) so that the round trip
is exercised when this file runs alone.
"""

import numpy as np
import pytest
import sympy

import nnsym as ns
from latex_round_trip import Recorder, RoundTripError, Unverifiable, check_round_trip
from nnsym.declare.expressions import as_size, constant, identity, ones, scale
from nnsym.declare.reading import read_latex
from nnsym.emit.latex import LatexPrinter, Notation, latex


def _corpus():
    """Expressions nnsym derives, from the textbook identities to backprop with every option."""
    W, A, X = ns.matrix("W", "m", "n"), ns.matrix("A", "n", "n"), ns.matrix("X", "N", "d")
    S = ns.matrix("S", "n", "n", assume="spd")
    x, y, a, w, t = ns.vector("x", "n"), ns.vector("y", "m"), ns.vector("a", "n"), ns.vector("w", "d"), ns.vector("t", "N")
    p = ns.vector("p", "m", assume="probability")
    c = ns.scalar("c")
    out = [
        ns.grad(ns.norm(W @ x - y, squared=True) / 2, W, verify=False).expression,
        ns.grad(ns.norm(W @ x - y, squared=True) / 2, x, verify=False).expression,
        ns.grad(x.T @ A @ x, x, verify=False).expression,
        ns.grad(x.T @ S @ x, x, verify=False).expression,
        ns.grad(a.T @ x, x, verify=False).expression,
        ns.grad(ns.trace(A), A, verify=False).expression,
        ns.grad(ns.trace(A.T @ A), A, verify=False).expression,
        ns.grad(ns.logdet(S), S, verify=False).expression,
        ns.grad(ns.det(A), A, verify=False).expression,
        ns.grad(ns.trace(ns.inv(A) @ ns.outer(a, x)), A, verify=False).expression,
        ns.grad(ns.sum_entries(ns.sigmoid(W @ x)), x, verify=False).expression,
        ns.grad(ns.logsumexp(W @ x), W, verify=False).expression,
        ns.grad(-p.T @ ns.log_softmax(W @ x), W, verify=False).expression,
        ns.grad(ns.norm(x), x, verify=False).expression,
        ns.grad(c * ns.norm(x, squared=True), c, verify=False).expression,
        ns.grad(ns.sum_entries(ns.leaky_relu(W @ x, 0.01)), W, verify=False).expression,
        ns.hessian(ns.binary_cross_entropy(X @ w, t), w, verify=False).expression,
        ns.hessian(x.T @ A @ x, x, verify=False).expression,
        ns.jacobian(ns.tanh(W @ x), x, verify=False).expression,
        ns.jacobian(ns.softmax(W @ x), x, verify=False).expression,
    ]
    for options in ({"activation": "sigmoid"}, {"activation": "relu", "loss": "binary_cross_entropy"},
                    {"activation": "tanh", "loss": "softmax_cross_entropy", "batch": "B", "mean": True},
                    {"activation": "softplus", "batch": "B"}, {"activation": "leaky_relu", "batch": 3}):
        sizes = ["n_0", "n_1", "n_2"] if options.get("loss") != "binary_cross_entropy" else ["n_0", "n_1", 1]
        net = ns.backprop(ns.network(sizes, **options), verify=False)
        out += [delta for _, delta in net.equations.deltas] + list(net.equations.gradients.values())
    return out


NOTATIONS = [Notation(), Notation(transpose="^T"), Notation(transpose=r"^{\mathsf{T}}", bold_vectors=True),
             Notation(hadamard=r"\circ")]


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


@pytest.mark.parametrize("notation", NOTATIONS, ids=["top", "T", "mathsf-bold", "circ"])
def test_every_derived_formula_reads_back_to_its_value(corpus, notation):
    checked = 0
    for expr in corpus:
        text = latex(expr, notation)
        try:
            assert check_round_trip(expr, text) <= 1e-9
            checked += 1
        except Unverifiable:
            pass
    assert checked >= len(corpus) - 2


def test_the_recorder_sees_every_formula_nnsym_prints(latex_recorder):
    x = ns.vector("x_{round}", "n")
    text = ns.grad(ns.norm(x, squared=True), x).latex()
    assert text in latex_recorder.formulas
    assert latex_recorder.formulas[text].shape == x.shape


def test_a_dropped_transpose_is_caught_and_named(monkeypatch, latex_recorder):
    W, y = ns.matrix("W", 3, 2), ns.vector("y", 3)
    expr = W.T @ y
    with latex_recorder.paused():
        monkeypatch.setattr(LatexPrinter, "_print_Transpose", lambda self, node: self._print(node.args[0]))
        wrong = latex(expr)
    assert wrong == "W y"
    with pytest.raises(RoundTripError, match=r"^W y\n  does not read back: col 3: matrix product"):
        check_round_trip(expr, wrong)


def test_a_wrong_value_is_caught_and_named():
    A, z = ns.matrix("A", 3, 3), ns.vector("z", 3)
    with pytest.raises(RoundTripError, match=r"^A z\n  reads back to a different value"):
        check_round_trip(A.T @ z, "A z")  # the shapes fit, the values do not
    with pytest.raises(RoundTripError, match=r"reads back with shape"):
        check_round_trip(ns.tanh(z), r"\mathbf{1}^\top \tanh(z)")
    assert check_round_trip(A.T @ z, r"A^\intercal z") < 1e-12


def test_assumptions_are_honoured_where_the_formula_needs_them():
    S, p = ns.matrix("S", 3, 3, assume="spd"), ns.vector("p", 3, assume="positive")
    assert check_round_trip(ns.logdet(S), r"\log|S|") < 1e-12
    assert check_round_trip(ns.log(p), r"\ln(p)") < 1e-12


def test_a_size_printed_in_a_number_reads_back_as_a_scalar():
    Y = ns.matrix("Y", "n", "B")
    mean = scale(constant(1 / as_size("B")), ns.sum_entries(Y))
    text = latex(mean)
    assert "B" in text
    assert check_round_trip(mean, text) < 1e-12


def test_the_recorder_checks_what_it_recorded(monkeypatch, latex_recorder):
    fresh = Recorder()
    z = ns.vector("z", 3)
    with latex_recorder.paused(), fresh.installed():
        latex(ns.sigmoid(z))
        monkeypatch.setattr(LatexPrinter, "_print_Apply", lambda self, node: rf"\tanh\left({self._print(node.args[0])}\right)")
        latex(ns.sigmoid(z) + z)
        latex(ns.sigmoid(z) + z)  # printed twice, recorded once
    assert list(fresh.formulas) == [r"\sigma\left(z\right)", r"\tanh\left(z\right) + z"]
    monkeypatch.undo()
    failures = fresh.check()
    assert fresh.checked == 1 and len(failures) == 1
    assert failures[0].startswith(r"\tanh\left(z\right) + z" + "\n  reads back to a different value")
    capped = Recorder(cap=1)
    with latex_recorder.paused(), capped.installed():
        latex(z)
        latex(ns.tanh(z))
    assert len(capped.formulas) == 1 and capped.dropped == 1


def test_printed_sizes_of_ones_and_identities_read_back():
    b = ns.vector("b", "n")
    for expr, text in [(b @ ones(1, "B"), r"b \mathbf{1}_{B}^\top"), (ones("n"), r"\mathbf{1}_{n}"),
                       (identity("n"), "I_{n}"), (scale(constant(2), identity(3)), "2 I_{3}"),
                       (ones(1, "n") @ b, r"\mathbf{1}^\top b")]:
        assert latex(expr) == text
        assert check_round_trip(expr, text) < 1e-12


def test_parametrised_activations_print_their_parameter_readably():
    z = ns.vector("z", 3)
    for slope, text in [(0.01, "0.01"), (0.1, "0.1"), (1 / 3, r"\frac{1}{3}")]:
        expr = ns.leaky_relu(z, slope)
        assert f"_{{{text}}}" in latex(expr)
        assert check_round_trip(expr, latex(expr)) < 1e-12
        prime = ns.grad(ns.sum_entries(expr), z).expression
        assert check_round_trip(prime, latex(prime)) < 1e-12
    assert np.isclose(float(ns.leaky_relu(z, 1 / 3).function.parameter), 1 / 3)
    for exact in (sympy.Rational(3, 2**40), sympy.Rational(-1, 8), sympy.Rational(5, 2), sympy.Rational(2, 7)):
        text = rf"\operatorname{{LeakyReLU}}_{{{LatexPrinter().parameter(exact)}}}(z)"
        assert "E" not in text
        assert read_latex(text, {"z": 3}).function.parameter == exact, text
