"""`nnsym derive` and `nnsym check` on the command line: output, exit codes 0/1/2, one-line errors.

Most runs are in-process through `cli.main` (fast); two are real subprocesses, as a user runs them.
The `numpy` source that `derive --json` prints is run in a fresh namespace and compared with central
differences of a hand-written NumPy forward.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from nnsym.present.cli import main
from differences import central_differences

LSQ = ["--function", r"\frac{1}{2}\|Wx-y\|^2", "--shape", "W=3x2", "--shape", "x=2", "--shape", "y=3"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_derive_prints_the_gradient_its_layout_and_its_verification(capsys):
    code, out, err = run(capsys, "derive", *LSQ, "--wrt", "W")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == r"\frac{\partial f}{\partial W} = \left(W x - y\right) x^\top"
    assert "denominator layout" in lines[1]
    assert lines[2].startswith("% verified by central finite differences")


def test_derive_json_numpy_source_runs_alone_and_matches_finite_differences(capsys):
    function = r"-y^\top \log(\operatorname{softmax}(W^{(1)} x))"
    code, out, _ = run(capsys, "derive", "--function", function, "--wrt", "W^{(1)}", "--shape", "W^{(1)}=4x3",
                       "--shape", "x=3", "--shape", "y=4", "--assume", "y=probability", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"gradient", "layout", "numpy", "arguments", "assumptions_used", "verified"}
    assert data["arguments"] == {"W^{(1)}": "W_1", "x": "x", "y": "y"}
    assert data["verified"]["points"] >= 3 and data["verified"]["max_rel_error"] < 1e-4
    namespace = {}
    exec(compile(data["numpy"], "<derive --json>", "exec"), namespace)  # noqa: S102 - our own output
    assert "import nnsym" not in data["numpy"] and "from nnsym" not in data["numpy"]
    rng = np.random.default_rng(7)
    W, x = rng.standard_normal((4, 3)), rng.standard_normal(3)
    y = rng.uniform(0.1, 1.0, 4)
    y /= y.sum()

    def forward(W):  # written by hand: cross-entropy of a softmax
        z = W @ x
        return -y @ (z - z.max() - np.log(np.sum(np.exp(z - z.max()))))

    gradient = namespace["gradient"](**{data["arguments"]["W^{(1)}"]: W, "x": x, "y": y})
    np.testing.assert_allclose(gradient, central_differences(forward, W), rtol=1e-6, atol=1e-8)


def test_derive_oracle_adds_the_elementwise_check(capsys):
    code, out, _ = run(capsys, "derive", *LSQ, "--wrt", "W", "--oracle")
    assert code == 0 and "elementwise SymPy" in out


def test_check_right_exits_0(capsys):
    code, out, err = run(capsys, "check", *LSQ, "--wrt", "W", "--claimed", r"W x x^\top - y x^\top")
    assert code == 0 and err == "" and out.startswith("right:")


def test_check_takes_the_variable_from_the_left_side(capsys):
    code, out, _ = run(capsys, "check", *LSQ, "--claimed", r"\frac{\partial L}{\partial W} = (Wx-y)x^\top")
    assert code == 0


def test_check_wrong_exits_1_with_worst_entry_and_diagnosis(capsys):
    code, out, err = run(capsys, "check", *LSQ, "--wrt", "W", "--claimed", r"2 (Wx-y) x^\top", "--json")
    assert code == 1 and err == ""
    data = json.loads(out)
    assert data["ok"] is False
    assert data["diagnosis"].startswith("scaled by 2")
    assert data["worst_claimed"] == pytest.approx(2 * data["worst_true"], rel=1e-12)
    assert len(data["worst_index"]) == 2 and data["points"] >= 3
    code, out, _ = run(capsys, "check", *LSQ, "--wrt", "W", "--claimed", r"x (Wx-y)^\top")
    assert code == 1 and "diagnosis: transpose" in out


def test_check_assumptions_decide(capsys):
    quadratic = ["--function", r"x^\top A x", "--wrt", "x", "--shape", "A=3x3", "--shape", "x=3", "--claimed", "2Ax"]
    code, out, _ = run(capsys, "check", *quadratic)
    assert code == 1 and "symmetric-only identity" in out
    assert run(capsys, "check", *quadratic, "--assume", "A=symmetric")[0] == 0


@pytest.mark.parametrize("claim, said", [
    (r"x^\top x", "the claim is 1x1, but the gradient with respect to W has its shape 3x2"),
    (r"(Wx - y)^\top x", "the claim's shapes do not fit together"),
])
def test_check_claims_of_the_wrong_shape_exit_1(capsys, claim, said):
    code, out, err = run(capsys, "check", *LSQ, "--wrt", "W", "--claimed", claim)
    assert code == 1 and err == "" and said in out


BAD = [
    (["derive", *LSQ, "--wrt", "W", "--function", r"\frac{1}{2}\|Wx-y\|^"], "function: col "),
    (["derive", *LSQ[2:], "--wrt", "W", "--function", r"\foo{W}"], r"unknown command \foo"),
    (["derive", *LSQ[2:], "--wrt", "W", "--function", r"\frac{1}{2}\|Wx-y\|^{2"], "never closed"),
    (["derive", *LSQ, "--wrt", "q"], "q does not appear in the function and is not declared"),
    (["derive", *LSQ, "--wrt", "W x"], "wrt: "),
    (["derive", *LSQ[2:], "--wrt", "W", "--function", "Wx"], "not a scalar"),
    (["derive", *LSQ[2:], "--wrt", "W", "--function", r"\|Wx - x\|^2"], "sum: shapes 3x1 and 2x1"),
    (["derive", *LSQ, "--wrt", "W", "--shape", "W=3y2"], "--shape 'W=3y2'"),
    (["derive", *LSQ, "--wrt", "W", "--shape", "W3x2"], "write --shape NAME=SPEC"),
    (["derive", *LSQ, "--wrt", "W", "--shape", "W=2x2"], "W already has another shape"),
    (["derive", *LSQ, "--wrt", "W", "--assume", "W=orthogonal"], "unknown KIND 'orthogonal'"),
    (["derive", *LSQ, "--wrt", "W", "--assume", "W=spd"], "needs a square matrix"),
    (["derive", *LSQ, "--wrt", "W", "--assume", "c=probability"], "needs a vector or a matrix"),
    (["derive", *LSQ[:2], "--wrt", "W", "--shape", "W=5000x2", "--shape", "x=2", "--shape", "y=5000"],
     "sizes too large to check numerically: W is 5000x2; at most 1000 rows or columns"),
    (["derive", *LSQ[:2], "--wrt", "W", "--shape", "W=90x90", "--shape", "x=90", "--shape", "y=90"],
     "finite differences check at most 4,096"),
    (["derive", *LSQ[2:], "--wrt", "x", "--function", "x+" * 100_000 + "x"], "at most 10,000 are read"),
    (["derive", *LSQ[2:], "--wrt", "x", "--function", "(" * 5000 + "x" + ")" * 5000], "col "),
    (["derive", *LSQ], "the following arguments are required: --wrt"),
    (["check", *LSQ, "--wrt", "W"], "the following arguments are required: --claimed"),
    (["check", *LSQ, "--wrt", "W", "--claimed", r"(Wx-y)x^"], "claimed: col 8: '^' needs an exponent"),
    (["check", *LSQ, "--wrt", "W", "--claimed", r"\frac{\partial L}{\partial x} = x"], "but --wrt is W"),
    (["check", *LSQ, "--wrt", "W", "--claimed", r"z x^\top"], "the claim uses z"),
    (["check", *LSQ, "--claimed", r"(Wx-y)x^\top"], "say which variable"),
]


@pytest.mark.parametrize("argv, said", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_exits_2_with_one_line(capsys, argv, said):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("nnsym: ") and err.count("\n") == 1, err
    assert said in err and "Traceback" not in err


def test_real_subprocess_runs():
    base = [sys.executable, "-m", "nnsym.present.cli"]
    done = subprocess.run([*base, "derive", *LSQ, "--wrt", "W", "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["gradient"] == r"\left(W x - y\right) x^\top"
    done = subprocess.run([*base, "check", *LSQ, "--wrt", "W", "--claimed", r"W x x^\top"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "dropped term" in done.stdout
    done = subprocess.run([*base, "check", *LSQ, "--wrt", "W", "--claimed", r"(W x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_review_forms_from_the_help_text_and_latex_names(capsys):
    # the --function help text's own example, \frac12 without braces
    code, out, err = run(capsys, "derive", "--function", r"\frac12\|Wx-y\|^2", "--wrt", "W",
                         "--shape", "W=3x2", "--shape", "x=2", "--shape", "y=3", "--json")
    assert code == 0 and err == "" and json.loads(out)["gradient"] == r"\left(W x - y\right) x^\top"
    # names spelled as LaTeX spells them: \hat y, \boldsymbol\theta
    code, out, err = run(capsys, "check", "--function", r"\frac{1}{2}\|\hat{y} - y\|^2", "--shape", r"\hat y=3",
                         "--shape", "y=3", "--wrt", r"\hat y", "--claimed", r"\hat{y} - y")
    assert (code, err) == (0, "")
    code, out, err = run(capsys, "check", "--function", r"\boldsymbol{\theta}^\top x", "--shape", r"\boldsymbol\theta=3",
                         "--shape", "x=3", "--claimed", r"\nabla_{\boldsymbol\theta} J(\theta) = x")
    assert (code, err) == (0, "")
    # a named function, and a zero gradient written 0
    code, out, err = run(capsys, "check", "--function", r"L(W) = \frac{1}{2}\|Wx-y\|^2", *LSQ[2:], "--wrt", "x",
                         "--claimed", r"W^\top(Wx - y)")
    assert (code, err) == (0, "")
    code, out, err = run(capsys, "check", "--function", r"\mathbf{1}^\top x", "--shape", "x=3", "--shape", "y=3",
                         "--wrt", "y", "--claimed", "0")
    assert (code, err) == (0, "")
    code, out, err = run(capsys, "check", "--function", r"2L = \|x\|^2", "--shape", "x=3", "--wrt", "x", "--claimed", "x")
    assert code == 2 and err.count("\n") == 1 and "the left side of '=' must be the function's name" in err


def test_a_reader_that_leaves_early_is_no_internal_error():
    # `nnsym derive ... | head -1`: the pipe closes before nnsym writes; it stops quietly, no "internal error".
    command = [sys.executable, "-m", "nnsym.present.cli", "derive", *LSQ, "--wrt", "W"]
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    running.stdout.close()
    err = running.stderr.read().decode()
    running.wait(timeout=60)
    assert "internal error" not in err and "Traceback" not in err and "Exception ignored" not in err, err
    assert running.returncode in (0, 141)
