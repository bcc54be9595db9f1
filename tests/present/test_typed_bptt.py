"""Issue 15i: a typed recurrent network derives to the BPTT equations a lecturer writes (delta_3, delta_2,
delta_1, the gradient per step, and the lines for a symbolic t), not a nested expansion.

The printed lines are read back with nnsym's reader (with the network's definitions and the printed
deltas as definitions) and their values compared with central differences of a forward pass written
here in NumPy; the symbolic-t lines are put back at each step by hand (t -> k in the text) and compared
by value with that step's delta, and with `ns.bptt(ns.rnn(...))`'s for the same cell.
"""

import json
import re

import numpy as np

import nnsym as ns
from nnsym.declare.definitions import Definitions
from nnsym.present.cli import main
from nnsym.verify.evaluate import evaluate

T = 3
SHAPES = {"W": (3, 3), "U": (3, 2), "V": (2, 3), "h_0": 3, "x_t": 2, "y_t": 2}
LOSS = r"L = \sum_{t=1}^{T} \frac12\|V h_t - y_t\|^2"


def rnn_definitions(state="h"):
    return ["T = 3"] + [rf"{state}_{k} = \tanh(W {state}_{k - 1} + U x_{k})" for k in range(1, T + 1)]


def cli_args(shapes, definitions, loss, wrt, assumptions=()):
    args = []
    for name, shape in shapes.items():
        spec = f"{shape[0]}x{shape[1]}" if isinstance(shape, tuple) else str(shape)
        args += ["--shape", f"{name}={spec}"]
    for name, kind in assumptions:
        args += ["--assume", f"{name}={kind}"]
    for definition in definitions:
        args += ["--define", definition]
    return args + ["--function", loss, "--wrt", wrt]


def derive_output(capsys, *args):
    assert main(["derive", *args]) == 0
    return capsys.readouterr().out.splitlines()


def split(lines):
    """(concrete equations, symbolic-t equations): the lines before and after the '% at every step' comment."""
    equations = [line for line in lines if not line.startswith("%")]
    at = next((k for k, line in enumerate(lines) if line.startswith("% at every step t")), len(lines))
    symbolic = [line for line in lines[at + 1:] if not line.startswith("%")]
    return equations[:len(equations) - len(symbolic)], symbolic


def right_side(line):
    return line.partition(" = ")[2]


# ----- a forward pass written here, and its central differences ---------------------------------------

def values(seed=0, state="h"):
    rng = np.random.default_rng(seed)
    point = {"W": rng.normal(size=(3, 3)) * 0.6, "U": rng.normal(size=(3, 2)), "V": rng.normal(size=(2, 3)),
             f"{state}_{{0}}": rng.normal(size=(3, 1))}
    for k in range(1, T + 1):
        point[f"x_{{{k}}}"] = rng.normal(size=(2, 1))
        point[f"y_{{{k}}}"] = rng.normal(size=(2, 1))
    return point


def forward(p, state="h"):
    h, loss = p[f"{state}_{{0}}"], 0.0
    for k in range(1, T + 1):
        h = np.tanh(p["W"] @ h + p["U"] @ p[f"x_{{{k}}}"])
        loss += 0.5 * float(np.sum((p["V"] @ h - p[f"y_{{{k}}}"]) ** 2))
    return loss


def central_differences(p, wrt, state="h", eps=1e-6):
    out = np.zeros_like(p[wrt])
    for index in np.ndindex(*out.shape):
        up, down = dict(p), dict(p)
        up[wrt] = p[wrt].copy()
        down[wrt] = p[wrt].copy()
        up[wrt][index] += eps
        down[wrt][index] -= eps
        out[index] = (forward(up, state) - forward(down, state)) / (2 * eps)
    return out


def read_back(definitions, deltas, formula, shapes=SHAPES, assumptions=None):
    """``formula`` read with the network's definitions and the printed deltas as definitions."""
    return Definitions(definitions + deltas, shapes, assumptions).formula(formula)


def at_step(text, k):
    """A symbolic-t line put back at step k, by hand: h_{t-1} -> h_{k-1}, \\delta_{t+1} -> \\delta_{k+1}."""
    return re.sub(r"_\{t([+-]\d+)?\}", lambda m: f"_{{{k + int(m.group(1) or 0)}}}", text)


# ----- the typed RNN ----------------------------------------------------------------------------------

def test_typed_rnn_derives_to_deltas_and_sums_equal_to_finite_differences(capsys):
    definitions = rnn_definitions()
    lines = derive_output(capsys, *cli_args(SHAPES, definitions, LOSS, "W"))
    concrete, symbolic = split(lines)
    assert [line.partition(" = ")[0] for line in concrete] == [
        r"\delta_{3}", r"\delta_{2}", r"\delta_{1}", r"\frac{\partial L}{\partial W}"]
    assert [line.partition(" = ")[0] for line in symbolic] == [r"\delta_{t}", r"\frac{\partial L}{\partial W}"]
    # not the nested expansion: each delta names the next one instead of repeating it
    assert r"\delta_{3}" in concrete[1] and r"\delta_{2}" in concrete[2] and r"\tanh'" in concrete[2]
    assert concrete[3].count(r"\delta_") == 3 and r"V h_{3}" not in concrete[3]
    assert right_side(symbolic[1]).startswith(r"\sum_{t=1}^{T} ")
    deltas = concrete[:3]
    p = values()
    expected = central_differences(p, "W")
    concrete_value = evaluate(read_back(definitions, deltas, right_side(concrete[3])), p, {})
    summed_value = evaluate(read_back(definitions, deltas, right_side(symbolic[1])), p, {})
    assert np.allclose(concrete_value, expected, atol=1e-7)
    assert np.allclose(summed_value, expected, atol=1e-7)
    # delta_t = ..., put back at each step with a successor, is that step's delta (by value)
    for k in (1, 2):
        printed = evaluate(read_back(definitions, deltas, rf"\delta_{k}"), p, {})
        recursion = evaluate(read_back(definitions, deltas, at_step(right_side(symbolic[0]), k)), p, {})
        assert np.allclose(recursion, printed, atol=1e-12)
    # and delta_T is the recursion with \delta_{T+1} = 0, as the comment says
    assert r"\delta_{T+1} = 0" in next(line for line in lines if line.startswith("% at every step t"))


def test_typed_rnn_json_carries_the_lines(capsys):
    assert main(["derive", *cli_args(SHAPES, rnn_definitions(), LOSS, "U"), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["steps"][0].startswith(r"\delta_{3} = ")
    assert any(line.startswith(r"\frac{\partial L}{\partial U} = \sum_{t=1}^{T}") and r"x_{t}^\top" in line
               for line in found["steps"])
    p = values(seed=3)
    expected = central_differences(p, "U")
    deltas = found["steps"][:3]
    gradient = right_side(found["steps"][3])
    assert np.allclose(evaluate(read_back(rnn_definitions(), deltas, gradient), p, {}), expected, atol=1e-7)


def test_other_letters_than_h(capsys):
    definitions = rnn_definitions("s")
    shapes = {**{k: v for k, v in SHAPES.items() if k != "h_0"}, "s_0": 3}
    lines = derive_output(capsys, *cli_args(shapes, definitions, LOSS.replace("h_t", "s_t"), "W"))
    concrete, symbolic = split(lines)
    assert concrete[0].startswith(r"\delta_{3} = ") and symbolic[1].endswith(r"s_{t-1}^\top")
    p = values(seed=5, state="s")
    value = evaluate(read_back(definitions, concrete[:3], right_side(symbolic[1]), shapes), p, {})
    assert np.allclose(value, central_differences(p, "W", state="s"), atol=1e-7)


def test_symbolic_lines_equal_those_of_ns_bptt_for_the_same_cell(capsys):
    """The cell of ns.rnn typed in LaTeX (its names: z_t, \\hat{y}_t, W_{hh}, ...) gives ns.bptt's lines."""
    shapes = {"W_{hh}": (3, 3), "W_{xh}": (3, 2), "b_h": 3, "W_y": (2, 3), "b_y": 2, "h_0": 3, "x_t": 2, "y_t": 2}
    definitions = ["T = 3"]
    for k in range(1, T + 1):
        definitions += [rf"z_{k} = W_{{hh}} h_{k - 1} + W_{{xh}} x_{k} + b_h", rf"h_{k} = \tanh(z_{k})",
                        rf"\hat{{y}}_{k} = W_y h_{k} + b_y"]
    loss = r"L = -\sum_{t=1}^{T} y_t^\top \log\operatorname{softmax}(\hat{y}_t)"
    model = dict(ns.bptt(ns.rnn(2, 3, 2, 3)).recursion)
    for wrt in ("W_{hh}", "W_{xh}"):
        lines = derive_output(capsys, *cli_args(shapes, definitions, loss, wrt, [("y_t", "probability")]))
        _, symbolic = split(lines)
        left = rf"\frac{{\partial L}}{{\partial {wrt}}}"
        delta = model[r"\delta_{t}"]
        assert symbolic == [r"\delta_{t} = " + delta, f"{left} = {model[left]}"]
    # the bias: a Hadamard product under the sum, without brackets (the sum covers it, both ways), and it
    # reads back to its value
    lines = derive_output(capsys, *cli_args(shapes, definitions, loss, "b_h", [("y_t", "probability")]))
    concrete, symbolic = split(lines)
    assert symbolic[-1] == r"\frac{\partial L}{\partial b_{h}} = " + model[r"\frac{\partial L}{\partial b_{h}}"]
    assert right_side(symbolic[-1]) == r"\sum_{t=1}^{T} \delta_{t} \odot \tanh'\left(z_{t}\right)"
    rng = np.random.default_rng(2)
    read = read_back(definitions, concrete[:3], right_side(symbolic[-1]), shapes, {"y_t": "probability"})
    point = {s.name: rng.normal(size=s.shape) for s in read.free_symbols()}
    for k in range(1, T + 1):
        point[f"y_{{{k}}}"] = rng.dirichlet(np.ones(2)).reshape(2, 1)
    gradient = ns.grad(Definitions(definitions, shapes, {"y_t": "probability"}).formula(loss), ns.vector("b_{h}", 3))
    assert np.allclose(evaluate(read, point, {}), evaluate(gradient.expression, point, {}))


def test_typed_lstm_with_gates_gives_both_deltas(capsys):
    shapes = {"V": (2, 3), "h_0": 3, "c_0": 3, "x_t": 2, "y_t": 2}
    for gate in "fiog":
        shapes.update({f"W_{gate}": (3, 2), f"U_{gate}": (3, 3)})
    definitions = ["T = 3"]
    for k in range(1, T + 1):
        for gate in "fiog":
            function = r"\tanh" if gate == "g" else r"\sigma"
            definitions.append(rf"{gate}_{k} = {function}(W_{gate} x_{k} + U_{gate} h_{k - 1})")
        definitions += [rf"c_{k} = f_{k} \odot c_{k - 1} + i_{k} \odot g_{k}", rf"h_{k} = o_{k} \odot \tanh(c_{k})"]
    gradient = ns.grad(Definitions(definitions, shapes).formula(LOSS), ns.matrix("U_{f}", 3, 3))
    lines = list(gradient.lines())
    concrete, symbolic = split(lines)
    names = [line.partition(" = ")[0] for line in concrete]
    assert names == [r"\delta_{3}", r"\delta^{(c)}_{3}", r"\delta_{2}", r"\delta^{(c)}_{2}", r"\delta_{1}",
                     r"\delta^{(c)}_{1}", r"\frac{\partial f}{\partial U_{f}}"]
    assert [line.partition(" = ")[0] for line in symbolic] == [
        r"\delta_{t}", r"\delta^{(c)}_{t}", r"\frac{\partial f}{\partial U_{f}}"]
    # the cell state's two paths: carried to c_{t+1} and through h_t
    assert right_side(symbolic[1]) == (r"\delta^{(c)}_{t+1} \odot f_{t+1} + \delta_{t} \odot o_{t} \odot "
                                       r"\tanh'\left(c_{t}\right)")
    assert str(gradient).splitlines() == lines
    # the printed lines read back to the verified gradient's value
    p = values(seed=7)
    rng = np.random.default_rng(8)
    p.update({"c_{0}": rng.normal(size=(3, 1))})
    for gate in "fiog":
        p.update({f"W_{{{gate}}}": rng.normal(size=(3, 2)), f"U_{{{gate}}}": rng.normal(size=(3, 3))})
    expected = evaluate(gradient.expression, p, {})
    for line in (concrete[-1], symbolic[-1]):
        assert np.allclose(evaluate(read_back(definitions, concrete[:-1], right_side(line), shapes), p, {}), expected)


def test_wrong_claim_shows_the_gradient_in_delta_form(capsys):
    claim = r"\sum_{t=1}^{T} (V^\top(V h_t - y_t) \odot (1 - h_t \odot h_t)) h_{t-1}^\top"  # no recursion term
    assert main(["check", *cli_args(SHAPES, rnn_definitions(), LOSS, "W"), "--claimed", claim]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^gradient: .*\\delta_\{1\}.*h_\{0\}\^\\top", out, re.M)
    assert re.search(r"^  where \\delta_\{3\} = V\^\\top", out, re.M)
    assert r"\delta_{2} = V^\top \left(V h_{2} - y_{2}\right) + W^\top \left(\delta_{3}" in out


def test_no_family_output_unchanged(capsys):
    lines = derive_output(capsys, "--shape", "W=2x3", "--shape", "x=3", "--shape", "y=2",
                          "--function", r"L = \frac12\|\tanh(Wx) - y\|^2", "--wrt", "W")
    assert lines[0].startswith(r"\frac{\partial L}{\partial W} = ") and r"\delta" not in "\n".join(lines)
    assert lines[1].startswith("% denominator layout")
    # named steps without a recurrence (no step formed from an earlier one): no deltas either
    lines = derive_output(capsys, "--shape", "W=2x3", "--shape", "x_t=3", "--shape", "y_t=2",
                          "--define", "T = 2", "--define", r"a_1 = \tanh(W x_1)", "--define", r"a_2 = \tanh(W x_2)",
                          "--function", r"L = \sum_{t=1}^{T} \frac12\|a_t - y_t\|^2", "--wrt", "W")
    assert len([line for line in lines if not line.startswith("%")]) == 1 and r"\delta" not in lines[0]
    assert main(["derive", "--shape", "W=2x3", "--shape", "x=3", "--function", r"\|Wx\|^2", "--wrt", "W",
                 "--json"]) == 0
    assert "steps" not in json.loads(capsys.readouterr().out)


def test_loss_at_the_last_step_only_gives_delta_T_on_its_own(capsys):
    shapes = {**SHAPES, "y": 2}
    del shapes["y_t"]
    definitions = rnn_definitions()
    lines = derive_output(capsys, *cli_args(shapes, definitions, r"L = \frac12\|V h_3 - y\|^2", "W"))
    concrete, symbolic = split(lines)
    assert [line.partition(" = ")[0] for line in symbolic] == [
        r"\delta_{T}", r"\delta_{t}", r"\frac{\partial L}{\partial W}"]
    assert "t < T" in next(line for line in lines if line.startswith("% at every step t"))
    p = values(seed=9)
    p["y"] = p.pop("y_{3}")
    read = read_back(definitions, concrete[:3], right_side(symbolic[0]), shapes)  # h_{T} is h_3 (T = 3)
    assert np.allclose(evaluate(read, p, {}), evaluate(read_back(definitions, concrete[:3], r"\delta_3", shapes), p, {}))
    # dL/dW against central differences of the last step's loss, written here
    def last_loss(q):
        h = q["h_{0}"]
        for k in range(1, T + 1):
            h = np.tanh(q["W"] @ h + q["U"] @ q[f"x_{{{k}}}"])
        return 0.5 * float(np.sum((q["V"] @ h - q["y"]) ** 2))
    expected = np.zeros((3, 3))
    for index in np.ndindex(3, 3):
        up, down = dict(p), dict(p)
        up["W"], down["W"] = p["W"].copy(), p["W"].copy()
        up["W"][index] += 1e-6
        down["W"][index] -= 1e-6
        expected[index] = (last_loss(up) - last_loss(down)) / 2e-6
    summed_value = evaluate(read_back(definitions, concrete[:3], right_side(symbolic[-1]), shapes), p, {})
    assert np.allclose(summed_value, expected, atol=1e-7)


def test_output_weights_get_the_sum_over_steps_without_deltas(capsys):
    lines = derive_output(capsys, *cli_args(SHAPES, rnn_definitions(), LOSS, "V"))
    concrete, symbolic = split(lines)
    assert symbolic == [r"\frac{\partial L}{\partial V} = \sum_{t=1}^{T} \left(V h_{t} - y_{t}\right) h_{t}^\top"]
    p = values(seed=4)
    expected = central_differences(p, "V")
    assert np.allclose(evaluate(read_back(rnn_definitions(), [], right_side(symbolic[0])), p, {}), expected, atol=1e-7)


def test_layers_typed_as_a_family_keep_the_layers_delta_form(capsys):
    """a_1 = sigma(W_1 x), a_2 = sigma(W_2 a_1): steps of a family, but no weight shared between them, so not
    a recurrence: derive prints the gradient as before, check the layers' z^{(l)}, delta^{(l)} form."""
    args = ["--shape", "W_1=3x2", "--shape", "W_2=2x3", "--shape", "x=2", "--shape", "y=2",
            "--define", r"a_1 = \sigma(W_1 x)", "--define", r"a_2 = \sigma(W_2 a_1)",
            "--function", r"L = \frac12\|a_2 - y\|^2", "--wrt", "W_1"]
    lines = derive_output(capsys, *args)
    assert len([line for line in lines if not line.startswith("%")]) == 1 and r"\delta" not in lines[0]
    assert main(["check", *args, "--claimed", "W_1"]) == 1
    out = capsys.readouterr().out
    assert r"gradient: \delta^{(1)} x^\top" in out and r"\delta_{" not in out
