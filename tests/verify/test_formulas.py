"""The checks a displayed formula passes: read back by nnsym's reader, latex2sympy2 for scalar formulas,
an independent reference, central differences; each one can fail."""

from __future__ import annotations

import pytest

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.errors import VerificationError
from nnsym.verify.formulas import by_latex2sympy, check_formula, check_latex, read_back


def test_a_correct_gradient_passes_every_check_that_applies():
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    f = ns.norm(W @ x - y, squared=True) / 2
    check = check_formula(ns.grad(f, W).expression, reference=E.MatMul(W @ x - y, E.Transpose(x)),
                          derivative_of=(f, W))
    assert check.methods == ("read back by nnsym's reader, evaluated vs NumPy",
                             "equal to an independent formula at random points", "central finite differences")
    assert check.max_rel_error < 1e-6


def test_a_wrong_gradient_or_reference_fails():
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    f = ns.norm(W @ x - y, squared=True) / 2
    with pytest.raises(VerificationError, match="failed its check: FAILED by central finite differences"):
        check_formula(2 * ns.grad(f, W).expression, derivative_of=(f, W))
    with pytest.raises(VerificationError, match="equal to an independent formula"):
        check_formula(ns.transpose(W) @ y, reference=ns.transpose(W) @ (W @ x))


def test_scalar_formulas_get_a_second_reader():
    pytest.importorskip("latex2sympy2_extended")
    x, y = ns.scalar("x"), ns.scalar("y")
    expr = ns.log(1 + ns.exp(x)) * y + ns.sigmoid(x)
    assert by_latex2sympy(expr) < 1e-12
    assert "read by latex2sympy2, evaluated by SymPy" in check_formula(expr).methods
    assert by_latex2sympy(ns.vector("v", 3)) is None  # not a scalar formula: not given to it


def test_read_back_handles_a_size_printed_as_a_number():
    X = ns.matrix("X", "n", "B")
    assert read_back(ns.mean_over_batch(ns.norm(X, squared=True), "B")) < 1e-12
    assert read_back(E.Constant(1 / E.as_size("B"))) < 1e-12  # 1/B alone, B in no symbol's shape


def test_a_formula_that_does_not_read_back_is_refused(monkeypatch, latex_recorder):
    # A printer that drops the transpose prints W y for W^T y, which does not read back: a note
    # cannot show it. (The session's round-trip recorder is paused: this LaTeX is wrong on purpose.)
    from nnsym.emit.latex import LatexPrinter
    W, y = ns.matrix("W", 3, 2), ns.vector("y", 3)
    monkeypatch.setattr(LatexPrinter, "_print_Transpose", lambda self, node: self._print(node.args[0]))
    with latex_recorder.paused(), pytest.raises(VerificationError, match="does not read back"):
        check_formula(W.T @ y)


def test_a_display_carries_its_authors_check():
    assert check_latex("1 + 1 = 2", "arithmetic", 0.0).max_rel_error == 0.0
    with pytest.raises(VerificationError, match=r"failed its check \(arithmetic\): relative error 1.00e\+00"):
        check_latex("1 + 1 = 3", "arithmetic", 1.0)
