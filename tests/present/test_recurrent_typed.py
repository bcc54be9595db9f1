"""Issue 15: recurrent networks typed in LaTeX (`--define`, families x_t, sums over time) and the classic BPTT
mistakes diagnosed from `nnsym check` and `nnsym lint`.

The right claims are judged against central differences of a forward pass written here in NumPy, and against
PyTorch autograd of `nn.RNN` where torch is installed; the wrong ones must exit 1 with their diagnosis.
"""

import subprocess
import sys

import numpy as np
import pytest

import nnsym as ns
from nnsym.present.claims import derive
from nnsym.present.cli import main
from nnsym.present.lint import lint_text
from nnsym.verify.evaluate import evaluate
from differences import central_differences

T = 3
SHAPES = {"W": "3x3", "U": "3x2", "V": "2x3", "h_0": "3", "x_t": "2", "y_t": "2"}
STATES = [f"h_{t} = \\tanh(W h_{t - 1} + U x_{t})" for t in range(1, T + 1)]
DELTAS = [r"\delta_3 = V^\top(V h_3 - y_3)",
          r"\delta_2 = V^\top(V h_2 - y_2) + W^\top(\delta_3 \odot (1 - h_3 \odot h_3))",
          r"\delta_1 = V^\top(V h_1 - y_1) + W^\top(\delta_2 \odot (1 - h_2 \odot h_2))"]
DEFINITIONS = ["T = 3"] + STATES + DELTAS
LOSS = r"L = \sum_{t=1}^{T} \frac12\|V h_t - y_t\|^2"
RIGHT_DW = r"\sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) h_{t-1}^\top"
STATE_SLIP = r"\sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) h_t^\top"
LAST_ONLY = r"(\delta_3 \odot (1 - h_3 \odot h_3)) h_2^\top"


def rnn_args(shapes=SHAPES, definitions=DEFINITIONS, loss=LOSS, wrt="W"):
    args = []
    for name, spec in shapes.items():
        args += ["--shape", f"{name}={spec}"]
    for definition in definitions:
        args += ["--define", definition]
    return args + ["--function", loss, "--wrt", wrt]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----- a forward pass written here, and its central differences -------------------------------------

def forward(W, U, V, h0, xs, ys):
    h, loss = h0, 0.0
    for x, y in zip(xs, ys):
        h = np.tanh(W @ h + U @ x)
        loss += 0.5 * float(np.sum((V @ h - y) ** 2))
    return loss


def point(seed):
    rng = np.random.default_rng(seed)
    values = {"W": rng.standard_normal((3, 3)) * 0.7, "U": rng.standard_normal((3, 2)), "V": rng.standard_normal((2, 3)),
              "h_{0}": rng.standard_normal((3, 1))}
    for t in range(1, T + 1):
        values[f"x_{{{t}}}"], values[f"y_{{{t}}}"] = rng.standard_normal((2, 1)), rng.standard_normal((2, 1))
    return values


def by_hand(values, wrt):
    xs = [values[f"x_{{{t}}}"] for t in range(1, T + 1)]
    ys = [values[f"y_{{{t}}}"] for t in range(1, T + 1)]
    rest = {k: values[k] for k in ("W", "U", "V")}

    def f(value):
        return forward(**{**rest, wrt: value}, h0=values["h_{0}"], xs=xs, ys=ys)

    return central_differences(f, values[wrt].copy())


# ----- nnsym check from the command line ----------------------------------------------------------------

def test_the_right_bptt_claim_is_accepted_and_equals_central_differences(capsys):
    code, out, err = run(capsys, "check", *rnn_args(), "--claimed", RIGHT_DW)
    assert code == 0 and err == "", out + err
    assert out.startswith("right:")
    verdict = ns.check(LOSS, RIGHT_DW, "W", SHAPES, definitions=DEFINITIONS)
    claim = verdict.expressions[1]
    for seed in (1, 2):
        values = point(seed)
        assert np.allclose(evaluate(claim, values), by_hand(values, "W"), rtol=1e-6, atol=1e-8)


def test_h_t_where_h_t_minus_1_belongs_exits_1_with_its_diagnosis(capsys):
    code, out, err = run(capsys, "check", *rnn_args(), "--claimed", STATE_SLIP)
    assert code == 1 and err == ""
    assert "diagnosis: h_t where h_{t-1} belongs" in out


def test_only_the_last_steps_term_is_not_summed_over_time(capsys):
    code, out, _ = run(capsys, "check", *rnn_args(), "--claimed", LAST_ONLY)
    assert code == 1
    assert "diagnosis: not summed over time" in out


def test_the_diagnoses_do_not_depend_on_the_letters(capsys):
    """s_t for the state, W_{hh} and W_{xh} for the weights, e_t ... no h, no c."""
    shapes = {"W_{hh}": "3x3", "W_{xh}": "3x2", "V": "2x3", "s_0": "3", "u_t": "2", "y_t": "2"}
    states = [f"s_{t} = \\tanh(W_{{hh}} s_{{{t - 1}}} + W_{{xh}} u_{t})" for t in range(1, T + 1)]
    errors = [r"\rho_3 = V^\top(V s_3 - y_3)"] + [
        rf"\rho_{t} = V^\top(V s_{t} - y_{t}) + W_{{hh}}^\top(\rho_{t + 1} \odot (1 - s_{t + 1} \odot s_{t + 1}))"
        for t in (2, 1)]
    args = rnn_args(shapes, ["T = 3"] + states + errors, r"L = \sum_{t=1}^{T} \frac12\|V s_t - y_t\|^2", "W_{hh}")
    right = r"\sum_{t=1}^{T} (\rho_t \odot (1 - s_t \odot s_t)) s_{t-1}^\top"
    assert run(capsys, "check", *args, "--claimed", right)[0] == 0
    code, out, _ = run(capsys, "check", *args, "--claimed", right.replace("s_{t-1}", "s_t"))
    assert code == 1 and "h_t where h_{t-1} belongs" in out
    code, out, _ = run(capsys, "check", *args, "--claimed", r"(\rho_3 \odot (1 - s_3 \odot s_3)) s_2^\top")
    assert code == 1 and "not summed over time" in out


def lstm_args(carried=True, steps=2):
    args = ["--shape", "h_0=2", "--shape", "c_0=2", "--shape", "x_t=2", "--shape", "y_t=2"]
    for g in "ifgo":
        args += ["--shape", f"W_{g}=2x2", "--shape", f"U_{g}=2x2"]
    for t in range(1, steps + 1):
        for g, fn in zip("ifgo", [r"\sigma", r"\sigma", r"\tanh", r"\sigma"]):
            args += ["--define", rf"{g}_{t} = {fn}(W_{g} x_{t} + U_{g} h_{t - 1})"]
        args += ["--define", rf"c_{t} = f_{t} \odot c_{t - 1} + i_{t} \odot g_{t}",
                 "--define", rf"h_{t} = o_{t} \odot \tanh(c_{t})"]
    args += ["--function", r"L = \sum_{t=1}^{2} \frac12\|h_t - y_t\|^2",
             "--define", r"\epsilon_2 = h_2 - y_2",
             "--define", r"\gamma_2 = \epsilon_2 \odot o_2 \odot (1 - \tanh(c_2) \odot \tanh(c_2))",
             "--define", r"\epsilon_1 = h_1 - y_1 + U_i^\top(\gamma_2 \odot g_2 \odot i_2 \odot (1 - i_2)) "
                         r"+ U_f^\top(\gamma_2 \odot c_1 \odot f_2 \odot (1 - f_2)) "
                         r"+ U_g^\top(\gamma_2 \odot i_2 \odot (1 - g_2 \odot g_2)) "
                         r"+ U_o^\top(\epsilon_2 \odot \tanh(c_2) \odot o_2 \odot (1 - o_2))",
             "--define", r"\gamma_1 = \epsilon_1 \odot o_1 \odot (1 - \tanh(c_1) \odot \tanh(c_1))"
                         + (r" + \gamma_2 \odot f_2" if carried else "")]
    return args + ["--wrt", "W_i", "--claimed", r"\sum_{t=1}^{2} (\gamma_t \odot g_t \odot i_t \odot (1 - i_t)) x_t^\top"]


def test_an_lstm_typed_with_its_gates_right_and_with_the_cell_states_carried_path_missing(capsys):
    code, out, _ = run(capsys, "check", *lstm_args(carried=True))
    assert code == 0, out
    code, out, _ = run(capsys, "check", *lstm_args(carried=False))
    assert code == 1
    assert "diagnosis: cell state path missing" in out and "carried to the next cell state" in out


def test_the_right_claim_agrees_with_torch_nn_rnn():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rnn = torch.nn.RNN(2, 3, bias=False, nonlinearity="tanh", dtype=torch.float64)
    V = torch.randn(2, 3, dtype=torch.float64)
    xs, ys, h0 = torch.randn(T, 1, 2, dtype=torch.float64), torch.randn(T, 2, dtype=torch.float64), torch.randn(1, 1, 3, dtype=torch.float64)
    out, _ = rnn(xs, h0)
    loss = 0.5 * ((out[:, 0, :] @ V.T - ys) ** 2).sum()
    loss.backward()
    values = {"W": rnn.weight_hh_l0.detach().numpy(), "U": rnn.weight_ih_l0.detach().numpy(), "V": V.numpy(),
              "h_{0}": h0[0, 0].numpy()[:, None]}
    for t in range(T):
        values[f"x_{{{t + 1}}}"], values[f"y_{{{t + 1}}}"] = xs[t, 0].numpy()[:, None], ys[t].numpy()[:, None]
    claim = ns.check(LOSS, RIGHT_DW, "W", SHAPES, definitions=DEFINITIONS).expressions[1]
    assert np.allclose(evaluate(claim, values), rnn.weight_hh_l0.grad.numpy(), rtol=1e-10, atol=1e-12)
    gradient = derive(LOSS, "U", SHAPES, definitions=DEFINITIONS)
    assert np.allclose(evaluate(gradient.expression, values), rnn.weight_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_derive_prints_with_the_defined_names(capsys):
    code, out, _ = run(capsys, "derive", *rnn_args())
    assert code == 0
    assert "h_{2}" in out and "h_{1}" in out and "\\tanh\\left(" not in out.splitlines()[0]  # h_t printed, not expanded


def test_a_single_step_has_no_recursion(capsys):
    """T = 1: the sum has one term; the diagnoses that need two steps stay silent, the verdict still decides."""
    args = rnn_args(definitions=["T = 1", STATES[0], r"\delta_1 = V^\top(V h_1 - y_1)"])
    right = r"\sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) h_{t-1}^\top"
    assert run(capsys, "check", *args, "--claimed", right)[0] == 0
    code, out, _ = run(capsys, "check", *args, "--claimed", right.replace("h_{t-1}", "h_t"))
    assert code == 1 and "h_t where" not in out


def test_the_unicode_minus_and_a_step_written_with_constants(capsys):
    claim = RIGHT_DW.replace("h_{t-1}", "h_{t\u22121}")
    assert run(capsys, "check", *rnn_args(), "--claimed", claim)[0] == 0
    last = r"(\delta_T \odot (1 - h_T \odot h_T)) h_{T-1}^\top"
    code, out, _ = run(capsys, "check", *rnn_args(), "--claimed", last)
    assert code == 1 and "not summed over time" in out


# ----- bad input: exit 2, one line naming the position ---------------------------------------------------

@pytest.mark.parametrize("argv, said", [
    (rnn_args() + ["--claimed", r"\sum_{t=1}^{T} (\delta_{t+1} \odot (1 - h_t \odot h_t)) h_{t-1}^\top"],
     "\\delta_{4}, a step that does not exist (\\delta has steps 1 to 3)"),
    (rnn_args(definitions=DEFINITIONS[1:]) + ["--claimed", RIGHT_DW], "T is not defined"),
    (rnn_args(loss=r"L = \sum_{t=1}^{T} \frac12\|V h_{t+1} - y_t\|^2") + ["--claimed", RIGHT_DW],
     "h_{4}, a step that does not exist"),
    (rnn_args(shapes={**SHAPES, "x": "2"}) + ["--claimed", r"\sum_{t=1}^{T} x_t^\top x_t W"],
     "an index is for steps or for entries, not both"),
    (rnn_args(definitions=["T = 3", STATES[1], STATES[0], STATES[2]]) + ["--claimed", RIGHT_DW],
     "uses h_{1}, which is defined after it"),
    (rnn_args(definitions=["T = 3", STATES[0], STATES[0]]) + ["--claimed", RIGHT_DW], "h_{1} is defined twice"),
    (rnn_args(definitions=["T = 3", r"h_1 = \tanh(W h_1 + U x_1)"]) + ["--claimed", RIGHT_DW],
     "h_{1} is defined by itself"),
    (rnn_args(wrt="h_1") + ["--claimed", RIGHT_DW], "h_{1} is defined"),
    (rnn_args(loss=r"L = \sum_{t=1}^{T} \frac12\|V h_t - y_t\|^2 + \frac12\|h_t\|^2") + ["--claimed", RIGHT_DW],
     "h_{t}: no sum over t encloses it"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, said):
    code, out, err = run(capsys, "check", *argv)
    assert code == 2 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and said in err, err


def test_a_product_under_a_hadamard_in_a_sum_says_why_its_shapes_do_not_fit(capsys):
    # juxtaposition binds tighter than o: delta_t o ((1 - h_t o h_t) h_{t-1}^T), a 3x1 o 3x3
    claim = r"\sum_{t=1}^{T} \delta_t \odot (1 - h_t \odot h_t) h_{t-1}^\top"
    code, out, _ = run(capsys, "check", *rnn_args(), "--claimed", claim)
    assert code == 1 and "a product binds tighter than \\odot" in out and "with the whole term in parentheses" in out


def test_an_error_names_the_column(capsys):
    claim = r"\sum_{t=1}^{T} (\delta_{t+1} \odot h_t) h_{t-1}^\top"
    code, _, err = run(capsys, "check", *rnn_args(), "--claimed", claim)
    assert code == 2 and f"col {claim.index(chr(92) + 'delta') + 1}:" in err


# ----- nnsym lint: a document checked step by step --------------------------------------------------------

DOCUMENT = r"""
% nnsym: --shape W=3x3 --shape U=3x2 --shape V=2x3 --shape h_0=3 --shape x_t=2 --shape y_t=2 --define 'T = 3'
\begin{align*}
h_1 &= \tanh(W h_0 + U x_1) \\
h_2 &= \tanh(W h_1 + U x_2) \\
h_3 &= \tanh(W h_2 + U x_3) \\
L &= \sum_{t=1}^{T} \frac12 \|V h_t - y_t\|^2 \\
\delta_3 &= \frac{\partial L}{\partial h_3} = V^\top (V h_3 - y_3) \\
\delta_2 &= \frac{\partial L}{\partial h_2} = V^\top (V h_2 - y_2) + W^\top (\delta_3 \odot (1 - h_3 \odot h_3)) \\
\delta_1 &= \frac{\partial L}{\partial h_1} = V^\top (V h_1 - y_1) + W^\top (\delta_2 \odot (1 - h_2 \odot h_2)) \\
\frac{\partial L}{\partial W} &= \sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) h_{t-1}^\top \\
\frac{\partial L}{\partial U} &= \sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) x_t^\top
\end{align*}
"""


def test_lint_checks_a_bptt_derivation_step_by_step():
    report = lint_text(DOCUMENT, "tex")
    assert (report.right, report.wrong, report.not_read) == (12, 0, 0), "\n".join(report.lines(True))
    slipped = lint_text(DOCUMENT.replace(r"h_3 \odot h_3)) \\" + "\n" + r"\delta_1", r"h_2 \odot h_2)) \\" + "\n" + r"\delta_1"), "tex")
    # delta_2's row is the first wrong step (the rows that use delta_2 are wrong too, as lint says)
    assert slipped.first_wrong.line == 9 and slipped.first_wrong.lhs == r"\frac{\partial L}{\partial h_2}"
    wrong = lint_text(DOCUMENT.replace(r"h_{t-1}^\top", r"h_t^\top"), "tex")
    assert wrong.wrong == 1 and "h_t where h_{t-1} belongs" in wrong.first_wrong.diagnosis


def test_lint_from_the_command_line(tmp_path):
    path = tmp_path / "bptt.tex"
    path.write_text(DOCUMENT.replace(r"h_{t-1}^\top", r"h_t^\top"))
    done = subprocess.run([sys.executable, "-m", "nnsym.present.cli", "lint", str(path)], capture_output=True, text=True)
    assert done.returncode == 1 and "h_t where h_{t-1} belongs" in done.stdout


# ----- nnsym export of a typed recurrence -------------------------------------------------------------

def test_export_takes_the_definitions_and_its_module_matches_finite_differences(capsys, tmp_path):
    from nnsym.emit.standalone import load
    from nnsym.declare.names import identifier
    target = tmp_path / "rnn.py"
    code, _, err = run(capsys, "export", *rnn_args(definitions=["T = 3"] + STATES), "--wrt", "U", "-o", str(target))
    assert code == 0 and err == ""
    module = load(target.read_text())
    values = point(5)
    gradients = module.gradients(**{identifier(k): v for k, v in values.items()})
    for name in ("W", "U"):
        assert np.allclose(gradients[name], by_hand(values, name), rtol=1e-6, atol=1e-8)
    assert module.self_test() < 1e-6


def test_export_refuses_definitions_without_a_function(capsys):
    code, _, err = run(capsys, "export", "--define", "T = 3")
    assert code == 2 and "--define" in err and "--function" in err
