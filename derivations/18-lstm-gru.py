"""LSTM and GRU: the gated cells, the LSTM cell state's two gradient paths, and the BPTT equations
for a symbolic t read off the unrolled derivation by ns.bptt."""

import numpy as np

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.functions import apply
from nnsym.derive import bptt as derive
from nnsym.present.notes import Display, Formula, Note, Plot, Text, script_main
from nnsym.present.typed_derivation import typed
from nnsym.verify.formulas import against, relative_error

LINE = 100  # LaTeX characters per displayed line before a long sum is broken


def _terms(rhs: str):
    """The top-level terms of a printed sum, split at ' + ' / ' - ' outside every bracket."""
    terms, depth, start, i = [], 0, 0, 0
    while i < len(rhs):
        if rhs.startswith(r"\left", i) or rhs[i] == "{":
            depth += 1
        elif rhs.startswith(r"\right", i) or rhs[i] == "}":
            depth -= 1
        elif depth == 0 and rhs.startswith((" + ", " - "), i) and i > start:
            terms.append(rhs[start:i])
            start = i + 1
        i += 1
    return terms + [rhs[start:]]


def _aligned(rows) -> str:
    """Rows (lhs, rhs) aligned at '=', a long right side broken before a '+' onto further lines."""
    lines = []
    for lhs, rhs in rows:
        current, first = "", True
        for term in _terms(rhs):
            if current and len(current) + len(term) > LINE:
                lines.append((rf"{lhs} &= " if first else r"&\quad ") + current)
                current, first = term.strip(), False
            else:
                current = f"{current} {term.strip()}" if current else term.strip()
        lines.append((rf"{lhs} &= " if first else r"&\quad ") + current)
    return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"


def _lstm_check(model, equations):
    """delta_t and delta^{(c)}_t of the unrolled LSTM against the textbook equations, term by term."""
    P = {p.name: p for p in model.parameters}
    I = model.intermediates
    d = {d.name: d for d, _ in equations.deltas}
    G = {d.name: g for d, g in equations.deltas}
    c = (model.initial[1],) + model.cells
    worst, T = 0.0, model.steps
    for t in range(T, 0, -1):
        k = t - 1  # 0-based position of step t
        own = ns.transpose(P["W_{y}"]) @ (ns.softmax(model.logits[k]) - model.targets[k])
        cell = E.hadamard(E.hadamard(d[rf"\delta_{{{t}}}"], I["o"][k]), apply("tanh_prime", c[t]))
        if t < T:
            dh, dc = d[rf"\delta_{{{t + 1}}}"], d[rf"\delta^{{(c)}}_{{{t + 1}}}"]

            def back(U, inner, gate, f):
                return ns.transpose(P[U]) @ E.hadamard(inner, apply(f, I[gate][t]))

            own = E.add(own,
                        back("U_{o}", E.hadamard(dh, ns.tanh(c[t + 1])), "a^{(o)}", "sigmoid_prime"),
                        back("U_{f}", E.hadamard(dc, c[t]), "a^{(f)}", "sigmoid_prime"),
                        back("U_{i}", E.hadamard(dc, I["g"][t]), "a^{(i)}", "sigmoid_prime"),
                        back("U_{g}", E.hadamard(dc, I["i"][t]), "a^{(g)}", "tanh_prime"))
            cell = E.add(E.hadamard(dc, I["f"][t]), cell)
        worst = max(worst, against(G[rf"\delta_{{{t}}}"], own, seed=t),
                    against(G[rf"\delta^{{(c)}}_{{{t}}}"], cell, seed=t))
    return "each delta against the textbook LSTM equations built term by term", worst


def _gru_check(model, equations):
    """delta_t of the unrolled GRU against the textbook equation, term by term."""
    P = {p.name: p for p in model.parameters}
    I = model.intermediates
    d = {d.name: d for d, _ in equations.deltas}
    G = {d.name: g for d, g in equations.deltas}
    h = (model.initial[0],) + model.hidden
    worst, T = 0.0, model.steps
    for t in range(T, 0, -1):
        k = t - 1
        own = ns.transpose(P["W_{y}"]) @ (ns.softmax(model.logits[k]) - model.targets[k])
        if t < T:
            dh = d[rf"\delta_{{{t + 1}}}"]
            z, n, r = I["z"][t], I["n"][t], I["r"][t]
            # through the candidate n_{t+1}: epsilon = delta o (1 - z) o tanh'(a^{(n)})
            eps = E.hadamard(E.hadamard(dh, E.Ones(*z.shape) - z), apply("tanh_prime", I["a^{(n)}"][t]))
            own = E.add(own,
                        E.hadamard(dh, z),
                        ns.transpose(P["U_{z}"]) @ E.hadamard(E.hadamard(dh, h[t] - n),
                                                               apply("sigmoid_prime", I["a^{(z)}"][t])),
                        ns.transpose(P["U_{n}"]) @ E.hadamard(eps, r),
                        ns.transpose(P["U_{r}"]) @ E.hadamard(E.hadamard(eps, P["U_{n}"] @ h[t] + P["b_{hn}"]),
                                                              apply("sigmoid_prime", I["a^{(r)}"][t])))
        worst = max(worst, against(G[rf"\delta_{{{t}}}"], own, seed=t))
    return "each delta against the textbook GRU equation built term by term", worst


def _weights_check(model, equations, errors):
    """dL/dU of each gate in ``errors`` (name -> the gate's error at step t, built here) against
    sum_t error_t h_{t-1}^T, the textbook sum over time."""
    P = {p.name: p for p in model.parameters}
    d = {d.name: d for d, _ in equations.deltas}
    h = (model.initial[0],) + model.hidden
    worst = 0.0
    for name, error in errors.items():
        summed = E.add(*[error(t, d) @ ns.transpose(h[t - 1]) for t in range(1, model.steps + 1)])
        worst = max(worst, against(equations.gradients[P[name]], summed, seed=18))
    return "each dL/dU against the sum over time of the gate's error times the previous hidden state, built term by term", worst


def _cell_path(forget: float, T: int = 30):
    """||dL/dc_t|| along the cell state alone (L = g^T c_T, gates held at constants): the exported
    gradient of c_t = f o c_{t-1} + i o g_t with f = forget, against forget^(T - t)."""
    f = ns.vector("f", 2)
    c, gs = ns.vector("c_{0}", 2), []
    for t in range(1, T + 1):
        gs.append(ns.vector(f"g_{{{t}}}", 2))
        c = E.name(f"c_{{{t}}}", E.hadamard(f, c) + gs[-1])
    g = ns.vector("w", 2)
    grads = ns.gradients(ns.transpose(g) @ c, gs, oracle=False)
    values = {"f": np.full(2, forget), "w": np.array([0.6, 0.8]), "c_{0}": np.zeros(2),
              **{x.name: np.ones(2) for x in gs}}
    norms = []
    for x in gs:
        function = grads[x].to_numpy()
        norms.append(np.linalg.norm(function(**{k: v for k, v in values.items() if k in function.arguments})))
    return np.array(norms)


# ----- issue 15: an LSTM derivation as a student types it, read and checked by nnsym lint and nnsym check -----
TYPED_STEPS = 2
TYPED_SHAPES = {"h_0": "2", "c_0": "2", "x_t": "2", "y_t": "2",
                **{f"{w}_{g}": "2x2" for g in "ifgo" for w in "WU"}}
TYPED_GATES = (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"), ("o", r"\sigma"))


def _typed_lstm(carried: bool = True):
    """(rows, definitions, function, gradients): the unrolled LSTM, its deltas (epsilon_t = dL/dh_t, gamma_t =
    dL/dc_t, eta^{(i)}_t ... the gates' errors) and three weight gradients as sums over time; ``carried=False``
    drops gamma_2 o f_2 from gamma_1 (a classic slip)."""
    rows = []
    for t in range(1, TYPED_STEPS + 1):
        rows += [(f"{g}_{t}", rf"{fn}(W_{g} x_{t} + U_{g} h_{t - 1})") for g, fn in TYPED_GATES]
        rows += [(f"c_{t}", rf"f_{t} \odot c_{t - 1} + i_{t} \odot g_{t}"), (f"h_{t}", rf"o_{t} \odot \tanh(c_{t})")]
    loss = ("L", r"\sum_{t=1}^{T} \frac12 \|h_t - y_t\|^2")

    def gate_errors(t):
        return [(rf"\eta^{{(i)}}_{t}", None, rf"\gamma_{t} \odot g_{t} \odot i_{t} \odot (1 - i_{t})"),
                (rf"\eta^{{(f)}}_{t}", None, rf"\gamma_{t} \odot c_{t - 1} \odot f_{t} \odot (1 - f_{t})"),
                (rf"\eta^{{(g)}}_{t}", None, rf"\gamma_{t} \odot i_{t} \odot (1 - g_{t} \odot g_{t})"),
                (rf"\eta^{{(o)}}_{t}", None, rf"\epsilon_{t} \odot \tanh(c_{t}) \odot o_{t} \odot (1 - o_{t})")]

    deltas = [
        (r"\epsilon_2", r"h_2", r"h_2 - y_2"),
        (r"\gamma_2", r"c_2", r"\epsilon_2 \odot o_2 \odot (1 - \tanh(c_2) \odot \tanh(c_2))"),
        *gate_errors(2),
        (r"\epsilon_1", r"h_1", r"h_1 - y_1 + U_i^\top \eta^{(i)}_2 + U_f^\top \eta^{(f)}_2 + U_g^\top \eta^{(g)}_2 "
                                r"+ U_o^\top \eta^{(o)}_2"),
        (r"\gamma_1", r"c_1", r"\epsilon_1 \odot o_1 \odot (1 - \tanh(c_1) \odot \tanh(c_1))"
                              + (r" + \gamma_2 \odot f_2" if carried else "")),
        *gate_errors(1),
    ]
    gradients = [
        ("W_i", r"\sum_{t=1}^{T} \eta^{(i)}_t x_t^\top"),
        ("W_f", r"\sum_{t=1}^{T} \eta^{(f)}_t x_t^\top"),
        ("U_o", r"\sum_{t=1}^{T} \eta^{(o)}_t h_{t-1}^\top"),
    ]
    definitions = [f"T = {TYPED_STEPS}"] + [f"{a} = {b}" for a, b in rows] + [f"{a} = {c}" for a, _, c in deltas]
    rows = rows + [loss] + [(a, c if b is None else rf"\frac{{\partial L}}{{\partial {b}}} = {c}") for a, b, c in deltas]
    rows += [(rf"\frac{{\partial L}}{{\partial {w}}}", claim) for w, claim in gradients]
    return rows, definitions, " = ".join(loss), gradients


def _typed_declarations():
    words = []
    for name, spec in TYPED_SHAPES.items():
        words += ["--shape", f"{name}={spec}"]
    return tuple(words + ["--define", f"T = {TYPED_STEPS}"])


def _typed_mistake():
    """nnsym check on dL/dW_i with gamma_1 missing its carried path: the notes are not built if it is not named."""
    _, definitions, function, gradients = _typed_lstm(carried=False)
    verdict = ns.check(function, gradients[0][1], "W_i", TYPED_SHAPES, definitions=definitions)
    if verdict.ok or not (verdict.diagnosis or "").startswith("cell state path missing"):
        raise ns.VerificationError(f"nnsym check missed the cell state's carried path: {verdict.diagnosis}")


def note() -> Note:
    """18: LSTM and GRU."""
    _typed_mistake()
    lstm = ns.lstm("d", "n", "k", steps=2)
    gru = ns.gru("d", "n", "k", steps=2)
    lstm_bptt, gru_bptt = ns.bptt(lstm), ns.bptt(gru)
    lstm_check = _lstm_check(lstm, lstm_bptt.equations)
    gru_check = _gru_check(gru, gru_bptt.equations)
    L, G_ = lstm.intermediates, gru.intermediates

    def at_t(node):  # step 2's definition, written for a symbolic t, names kept as names
        return derive.opaque(derive.shifted(node.definition, 2))

    lstm_rows = [(r"\delta_{t}", rhs) for lhs, rhs in lstm_bptt.recursion if lhs == r"\delta_{t}"]
    cell_rows = [row for row in lstm_bptt.recursion if row[0] == r"\delta^{(c)}_{t}"]
    lstm_weights = [row for row in lstm_bptt.recursion if row[0].endswith((" U_{f}}", " U_{i}}", " U_{o}}"))]
    gru_rows = [row for row in gru_bptt.recursion if row[0] == r"\delta_{t}"]
    gru_weights = [row for row in gru_bptt.recursion if row[0].endswith((" U_{z}}", " U_{n}}"))]
    P_l = {p.name: p for p in lstm.parameters}
    P_g = {p.name: p for p in gru.parameters}

    c = (lstm.initial[1],) + lstm.cells
    lstm_weights_check = _weights_check(lstm, lstm_bptt.equations, {
        "U_{f}": lambda t, d: E.hadamard(E.hadamard(d[rf"\delta^{{(c)}}_{{{t}}}"], c[t - 1]),
                                         apply("sigmoid_prime", L["a^{(f)}"][t - 1])),
        "U_{i}": lambda t, d: E.hadamard(E.hadamard(d[rf"\delta^{{(c)}}_{{{t}}}"], L["g"][t - 1]),
                                         apply("sigmoid_prime", L["a^{(i)}"][t - 1])),
        "U_{o}": lambda t, d: E.hadamard(E.hadamard(d[rf"\delta_{{{t}}}"], ns.tanh(c[t])),
                                         apply("sigmoid_prime", L["a^{(o)}"][t - 1]))})
    h_g = (gru.initial[0],) + gru.hidden
    gru_weights_check = _weights_check(gru, gru_bptt.equations, {
        "U_{z}": lambda t, d: E.hadamard(E.hadamard(d[rf"\delta_{{{t}}}"], h_g[t - 1] - G_["n"][t - 1]),
                                         apply("sigmoid_prime", G_["a^{(z)}"][t - 1])),
        "U_{n}": lambda t, d: E.hadamard(E.hadamard(E.hadamard(d[rf"\delta_{{{t}}}"], E.Ones(*h_g[t].shape) - G_["z"][t - 1]),
                                                    apply("tanh_prime", G_["a^{(n)}"][t - 1])), G_["r"][t - 1])})

    forgets = (0.5, 0.9, 1.0)
    paths = {f: _cell_path(f) for f in forgets}

    def path_check():
        T = len(paths[1.0])
        worst = max(relative_error(paths[f], forget_norm(f, T)) for f in forgets)
        return ("exported gradients against f to the power T - t (w has norm 1)", worst)

    def forget_norm(f, T):
        return f ** (T - np.arange(1, T + 1)) * 1.0  # ||w|| = 1

    def draw(axes):
        T = len(paths[1.0])
        for f in forgets:
            axes.semilogy(T - np.arange(1, T + 1), paths[f], marker="o", markersize=3, label=f"forget gate $f = {f}$")
        axes.set_xlabel(r"steps back from the loss, $T - t$")
        axes.set_ylabel(r"$\|\partial L / \partial c_t\|$ along the cell state")
        axes.set_title(r"the cell state's additive path ($T = 30$)")
        axes.legend()

    return Note(18, "lstm-gru", "LSTM and GRU", (
        Text("The plain recurrent network multiplies its gradient by $W_{hh}^\\top$ and by $\\tanh'$ at every step "
             "back, so it vanishes or explodes (previous note). The **LSTM** (Hochreiter and Schmidhuber, 1997) "
             "adds a cell state $c_t$ that is updated by addition, under gates. With PyTorch's conventions "
             "(gate order $i, f, g, o$; per gate an input weight $W$, a hidden weight $U$ and a bias $b$), "
             "at step $t$ the input, forget and output gates and the candidate are"),
        Formula(at_t(L["a^{(i)}"][1]), "a^{(i)}_{t}"),
        Formula(derive.shifted(L["i"][1].definition, 2), "i_{t}"),
        Text("and likewise $f_t = \\sigma(a^{(f)}_t)$, $o_t = \\sigma(a^{(o)}_t)$, $g_t = \\tanh(a^{(g)}_t)$ with "
             "their own $W$, $U$, $b$. The cell state and the hidden state:"),
        Formula(at_t(lstm.cells[1]), "c_{t}"),
        Formula(at_t(lstm.hidden[1]), "h_{t}"),
        Text("The output and the loss are as for the plain network: "
             "$\\hat{y}_t = W_y h_t + b_y$, $L = \\sum_t \\operatorname{CE}(\\operatorname{softmax}(\\hat{y}_t), "
             "y_t)$. Reverse mode on the unrolled network names $\\delta_t = \\partial L / \\partial h_t$ and "
             "$\\delta^{(c)}_t = \\partial L / \\partial c_t$. **The cell state has two gradient paths**: from "
             "the next cell state, through the forget gate only, and from its own hidden state, through "
             "$o_t$ and $\\tanh'$:"),
        Display(_aligned(cell_rows), lambda: lstm_check),
        Text("The first path is the point of the LSTM: along it the gradient is multiplied by $f_{t+1}$, a gate "
             "the network learns, and by no weight matrix and no $\\tanh'$, so with $f \\approx 1$ it survives many "
             "steps. The second path feeds $\\delta_t$, which gathers the output's error and what the four gates "
             "of step $t+1$ send back through their hidden weights $U$:"),
        Display(_aligned(lstm_rows), lambda: lstm_check, summary=r"\delta_{t} = \dots"),
        Text("The weight gradients are sums over time; each pairs a gate's error with the gate's input "
             "($h_{t-1}$ for $U$, $x_t$ for $W$):"),
        Display(_aligned(lstm_weights), lambda: lstm_weights_check,
                summary=r"\frac{\partial L}{\partial U_{i}}, \frac{\partial L}{\partial U_{f}}, \frac{\partial L}{\partial U_{o}}"),
        Text("All of these are read off the unrolled derivation by `ns.bptt` (the same formula at every interior "
             "step; the unrolled gradients checked by central finite differences) and compared here term by term "
             "with the textbook equations built independently. The unrolled gradient of a bias, for $T = 2$:"),
        Formula(lstm_bptt.equations.gradients[P_l["b_{f}"]], r"\frac{\partial L}{\partial b_{f}}",
                derivative_of=(lstm.loss, P_l["b_{f}"])),
        Text("**The cell state's additive path, measured.** Hold the gates at constants and keep only "
             "$c_t = f \\odot c_{t-1} + i \\odot g_t$ over 30 steps with $L = w^\\top c_T$ ($\\|w\\| = 1$). The "
             "figure is computed from the exported NumPy gradients $\\partial L / \\partial g_t$ (with $i = 1$, "
             "equal to $\\partial L / \\partial c_t$), which fall as $f^{T-t}$: a forget gate near 1 carries "
             "the gradient back unchanged, where the plain network's factor $W^\\top \\tanh'$ could not."),
        Display(r"\left\|\frac{\partial L}{\partial c_t}\right\| = f^{T-t}", path_check),
        Plot("cell-state-path", "gradient norm along the LSTM cell state for three forget gates", draw),
        Text("The **GRU** (Cho et al., 2014) has no separate cell state: an update gate $z_t$ interpolates "
             "between the previous hidden state and a candidate $n_t$, whose hidden part is scaled by a reset "
             "gate $r_t$ (PyTorch's convention: the hidden bias $b_{hn}$ sits inside the reset product):"),
        Formula(at_t(G_["a^{(n)}"][1]), "a^{(n)}_{t}"),
        Formula(at_t(gru.hidden[1]), "h_{t}"),
        Text("with $r_t = \\sigma(a^{(r)}_t)$, $z_t = \\sigma(a^{(z)}_t)$ and $n_t = \\tanh(a^{(n)}_t)$. Here the "
             "additive path is $\\delta_{t+1} \\odot z_{t+1}$: the update gate plays the forget gate's part. "
             "The recursion, from `ns.bptt`:"),
        Display(_aligned(gru_rows), lambda: gru_check, summary=r"\delta_{t} = \dots"),
        Display(_aligned(gru_weights), lambda: gru_weights_check,
                summary=r"\frac{\partial L}{\partial U_{z}}, \frac{\partial L}{\partial U_{n}}"),
        Formula(gru_bptt.equations.gradients[P_g["b_{z}"]], r"\frac{\partial L}{\partial b_{z}}",
                derivative_of=(gru.loss, P_g["b_{z}"])),
        Text("**The classic mistakes** here: dropping the first path of $\\delta^{(c)}_t$ (the cell state then "
             "behaves like a plain network's), using $c_t$ where $c_{t-1}$ belongs in the forget gate's error, "
             "and forgetting that $h_t$ also enters the next step's gates, not just the next cell state."),
        Text("**Typed by hand, checked step by step.** A student's LSTM derivation for $T = 2$ steps (no biases, "
             "$h_t$, $c_t$, $x_t$, $y_t$ of size 2, loss $\\sum_t \\frac12\\|h_t - y_t\\|^2$), with "
             "$\\epsilon_t = \\partial L / \\partial h_t$, $\\gamma_t = \\partial L / \\partial c_t$ and the "
             "gates' errors $\\eta^{(i)}_t$, ... (the derivatives by their arguments): the cell state's two paths "
             "are the two terms of $\\gamma_1$, and $h_1$ reaches the loss through all four gates of step 2. "
             "`nnsym lint` reads every row, unrolls each $\\sum_{t=1}^{T}$ and checks it:"),
        typed(_typed_lstm()[0], _typed_declarations(),
              r"i_t, f_t, g_t, o_t, c_t, h_t, \epsilon_t, \gamma_t, \frac{\partial L}{\partial W_i}, \dots"),
        Text("Drop the carried term $\\gamma_2 \\odot f_2$ from $\\gamma_1$ and `nnsym check` on "
             "$\\partial L / \\partial W_i$ says *cell state path missing* (decided by value: the claim equals "
             "the gradient with that path left out)."),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
