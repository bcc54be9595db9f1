"""Issue 10, point 5: what a new user runs into (named functions in export, names as written in the
JSON, one weight in l2_penalty, LaTeX display in Jupyter)."""

import json

import numpy as np

import nnsym as ns
from nnsym.emit.standalone import load
from nnsym.present.cli import main


def test_export_reads_a_named_function(capsys):
    assert main(["export", "--function", r"L = \frac{1}{2}\|Wx-y\|^2", "--wrt", "W", "--shape", "W=3x2",
                 "--shape", "x=2", "--shape", "y=3"]) == 0
    module = load(capsys.readouterr().out)
    W, x, y = np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0]), np.array([0.5, 0.0, 1.0])
    loss, grads = module.loss_and_gradients(W=W, x=x, y=y)
    r = W @ x - y
    assert np.isclose(loss, r @ r / 2) and np.allclose(grads["W"], np.outer(r, x))


def test_json_arguments_are_the_names_as_written(capsys):
    assert main(["derive", "--function", r"\frac{1}{2}\|W_1x-y\|^2", "--wrt", "W_1", "--shape", "W_1=3x2",
                 "--shape", "x=2", "--shape", "y=3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["arguments"] == {"W_1": "W_1", "x": "x", "y": "y"}


def test_l2_penalty_of_one_weight_with_a_symbolic_strength():
    w, lam = ns.vector("w", 3), ns.scalar(r"\lambda")
    penalty = ns.l2_penalty(w, lam)
    value = ns.evaluate(penalty, {"w": np.array([1.0, 2.0, 2.0]), r"\lambda": 0.5})
    assert np.isclose(value[0, 0], 0.5 / 2 * 9)
    assert np.allclose(ns.grad(penalty, w).to_numpy()(w=[1.0, 2.0, 2.0], **{r"\lambda": 0.5}).ravel(), [0.5, 1.0, 1.0])


def test_expressions_and_networks_display_as_latex():
    w, x = ns.vector("w", 3), ns.vector("x", 3)
    assert (w.T @ x)._repr_latex_() == r"$\displaystyle w^\top x$"
    shown = ns.network([2, 2, 1])._repr_latex_()
    assert shown.startswith("$") and r"z^{(1)} &= W^{(1)} x + b^{(1)}" in shown and "L &=" in shown


def test_python_errors_name_arguments_and_the_command_line_names_options(capsys):
    import pytest

    with pytest.raises(ns.InputError) as caught:
        ns.check(r"x^\top x", "2x", " ", {"x": "3"})
    assert "--" not in str(caught.value) and "wrt" in str(caught.value)
    with pytest.raises(ns.InputError) as caught:
        ns.check(r"x^\top x", "2x", "q", {"x": "3"})
    assert "--" not in str(caught.value)
    assert main(["check", "--function", r"x^\top x", "--wrt", " ", "--shape", "x=3", "--claimed", "2x"]) == 2
    assert "--wrt" in capsys.readouterr().err


def test_a_hessian_with_respect_to_a_matrix_says_what_it_returns():
    import pytest

    W, x = ns.matrix("W", 2, 2), ns.vector("x", 2)
    with pytest.raises(ns.ShapeError, match=r"W is a 2x2 matrix; a Hessian here is the n x n matrix .* 4-index"):
        ns.hessian(ns.norm(W @ x, squared=True), W)
    assert ns.hessian(ns.norm(W @ x, squared=True), x).expression.shape == (2, 2)
