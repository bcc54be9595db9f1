"""`derive --index` (the gradient entry by entry), `check` of entry-wise claims (shown in matrix
form) and `--layout numerator` for derive and check."""

import json

import numpy as np
import pytest

from nnsym.declare.reading import read_claim
from nnsym.emit.index_latex import entrywise
from nnsym.present.claims import check, derive
from nnsym.present.cli import main
from nnsym.present.lint import lint_text
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import random_point, small_sizes, symbols_of

FUNCTIONS = [  # function, variable, shapes
    (r"\frac12\|Wx - y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"}),
    (r"\frac12\|\sigma(W x) - y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"}),
    (r"x^\top A x", "x", {"A": "3x3", "x": "3"}),
    (r"-y^\top \log \operatorname{softmax}(W x)", "W", {"W": "4x3", "x": "3", "y": "4"}),
    (r"\operatorname{tr}(X^\top A X)", "X", {"X": "3x2", "A": "3x3"}),
    (r"\frac12\|\tanh(W^{(1)} x + b^{(1)}) - y\|^2", "b^{(1)}", {"W^{(1)}": "3x2", "x": "2", "y": "3", "b^{(1)}": "3"}),
    (r"\frac12\|\tanh(W^{(1)} x + b_1) - y\|^2", "W^{(1)}", {"W^{(1)}": "3x2", "x": "2", "y": "3", "b_1": "3"}),
    (r"\mathbf{1}^\top \exp(w) + w^\top \operatorname{diag}(v) w", "w", {"w": "3", "v": "3"}),
]


@pytest.mark.parametrize("function, wrt, shapes", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_the_entry_wise_form_reads_back_to_the_gradient(function, wrt, shapes):
    gradient = derive(function, wrt, shapes, oracle=False)
    text = entrywise(gradient.expression, gradient.variable)
    _, variable, claim = read_claim(text, shapes)
    assert variable == gradient.variable.name
    symbols = symbols_of(gradient.expression, claim)
    sizes = small_sizes(symbols)
    point = random_point([gradient.expression], symbols, sizes, np.random.default_rng(0))
    assert np.allclose(evaluate(claim, point, sizes), evaluate(gradient.expression, point, sizes), rtol=1e-10)
    # and `check` agrees, entry by entry
    assert check(function, text, None, shapes).ok


def test_the_index_form_of_least_squares_is_the_textbook_one():
    gradient = derive(r"\frac12\|Wx - y\|^2", "W", {"W": "mxn", "x": "n", "y": "m"}, oracle=False)
    assert entrywise(gradient.expression, gradient.variable) == \
        r"\frac{\partial f}{\partial W_{ij}} = \left(\sum_{k} W_{ik} x_{k} - y_{i}\right) x_{j}"


def test_check_shows_an_entry_wise_claim_in_matrix_form():
    shapes = {"W": "3x2", "x": "2", "y": "3"}
    right = check(r"\frac12\|Wx-y\|^2", r"\frac{\partial L}{\partial W_{ij}} = \left(\sum_k W_{ik} x_k - y_i\right) x_j",
                  None, shapes)
    assert right.ok and right.matrix_form == r"\left(W x - y\right) x^\top"
    assert "your claim in matrix form: \\left(W x - y\\right) x^\\top" in str(right)
    wrong = check(r"\frac12\|Wx-y\|^2", r"\frac{\partial L}{\partial W_{ij}} = \sum_k W_{ik} x_k x_j", None, shapes)
    assert not wrong.ok and wrong.matrix_form == r"W x x^\top"
    assert "dropped term" in wrong.diagnosis or "term" in wrong.diagnosis


def cli(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().out


def test_derive_index_and_numerator_layout_from_the_command_line(capsys):
    base = ["derive", "--function", r"\frac12\|Wx-y\|^2", "--wrt", "W", "--shape", "W=3x2", "--shape", "x=2",
            "--shape", "y=3"]
    code, out = cli(base + ["--index"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == r"\frac{\partial f}{\partial W} = \left(W x - y\right) x^\top"
    assert lines[2] == r"\frac{\partial f}{\partial W_{ij}} = \left(\sum_{k} W_{ik} x_{k} - y_{i}\right) x_{j}"
    code, out = cli(base + ["--layout", "numerator"], capsys)
    assert out.splitlines()[0] == r"\frac{\partial f}{\partial W} = x \left(W x - y\right)^\top"
    assert "numerator layout" in out.splitlines()[1]
    code, out = cli(base + ["--layout", "numerator", "--index", "--json"], capsys)
    found = json.loads(out)
    assert found["gradient"] == r"x \left(W x - y\right)^\top" and found["index"].startswith(r"\frac{\partial f}")


def test_check_in_numerator_layout(capsys):
    base = ["check", "--function", r"x^\top A x", "--shape", "A=3x3", "--shape", "x=3", "--wrt", "x"]
    assert cli(base + ["--claimed", r"x^\top (A + A^\top)", "--layout", "numerator"], capsys)[0] == 0
    code, out = cli(base + ["--claimed", r"x^\top (A + A^\top)"], capsys)
    assert code == 1 and "transpose" in out and "--layout numerator" in out
    code, out = cli(base + ["--claimed", r"(A + A^\top) x", "--layout", "numerator"], capsys)
    assert code == 1 and "in numerator layout the gradient" in out


def test_what_derive_prints_in_numerator_layout_lints_in_numerator_layout(capsys):
    base = ["derive", "--function", r"\frac12\|\sigma(Wx)-y\|^2", "--wrt", "W", "--shape", "W=3x2", "--shape", "x=2",
            "--shape", "y=3"]
    equation = cli(base + ["--layout", "numerator"], capsys)[1].splitlines()[0]
    document = "% nnsym: --shape W=3x2 --shape x=2 --shape y=3 --function 'f = \\frac12\\|\\sigma(Wx)-y\\|^2'\n"
    document += f"\\[ {equation} \\]\n"
    assert lint_text(document, "tex", layout="numerator").right == 1
    assert lint_text(document, "tex").wrong == 1
