"""Recurrent networks and backpropagation through time: the Elman RNN unrolled, the recursion for
delta_t = dL/dh_t, weight gradients summed over time, and vanishing and exploding gradients."""

import numpy as np

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.functions import apply
from nnsym.derive import bptt as derive
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main
from nnsym.present.typed_derivation import typed
from nnsym.verify.formulas import against, relative_error

T_PLOT, N_PLOT = 20, 4
SCALES = (0.6, 1.0, 1.4)


def _aligned(rows) -> str:
    return r"\begin{aligned} " + r" \\ ".join(rf"{lhs} &= {rhs}" for lhs, rhs in rows) + r" \end{aligned}"


def _chain(T: int, n: int):
    """h_t = tanh(W h_{t-1} + x_t), L = g^T h_T: the loss at the last step only, so that dL/dx_t =
    dL/dz_t shows how far a gradient travels back in time."""
    W, g = ns.matrix("W", n, n), ns.vector("g", n)
    h, xs = ns.vector("h_{0}", n), []
    for t in range(1, T + 1):
        xs.append(ns.vector(f"x_{{{t}}}", n))
        h = E.name(f"h_{{{t}}}", ns.tanh(W @ h + xs[-1]))
    return ns.transpose(g) @ h, xs


def _norms_by_hand(W, g, xs):
    """||dL/dz_t|| for t = 1..T by the recursion in NumPy: forward, then dz_t = tanh'(z_t) o W^T dz_{t+1}."""
    h, zs = np.zeros(len(g)), []
    for x in xs:
        zs.append(W @ h + x)
        h = np.tanh(zs[-1])
    norms, upstream = [], g
    for z in reversed(zs):
        dz = upstream * (1 - np.tanh(z) ** 2)
        norms.append(np.linalg.norm(dz))
        upstream = W.T @ dz
    return np.array(norms[::-1])


# ----- issue 15: the derivation as a student types it, read and checked by nnsym lint and nnsym check -----
TYPED_DECLARATIONS = ("--shape", "W=3x3", "--shape", "U=3x2", "--shape", "V=2x3", "--shape", "h_0=3",
                      "--shape", "x_t=2", "--shape", "y_t=2", "--define", "T = 3")
TYPED_STATES = [(f"h_{t}", rf"\tanh(W h_{t - 1} + U x_{t})") for t in (1, 2, 3)]
TYPED_LOSS = ("L", r"\sum_{t=1}^{T} \frac12 \|V h_t - y_t\|^2")
TYPED_DELTAS = [(r"\delta_3", r"V^\top (V h_3 - y_3)")] + [
    (rf"\delta_{t}", rf"V^\top (V h_{t} - y_{t}) + W^\top (\delta_{t + 1} \odot (1 - h_{t + 1} \odot h_{t + 1}))")
    for t in (2, 1)]
TYPED_DW = r"\sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) h_{t-1}^\top"
TYPED_DU = r"\sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) x_t^\top"
TYPED_MISTAKES = (
    (r"\sum_{t=1}^{T} (\delta_t \odot (1 - h_t \odot h_t)) h_t^\top", "h_t where h_{t-1} belongs"),
    (r"(\delta_3 \odot (1 - h_3 \odot h_3)) h_2^\top", "not summed over time"),
)


def _typed_rows():
    rows = TYPED_STATES + [TYPED_LOSS]
    rows += [(name, rf"\frac{{\partial L}}{{\partial h_{name[-1]}}} = {value}") for name, value in TYPED_DELTAS]
    return rows + [(r"\frac{\partial L}{\partial W}", TYPED_DW), (r"\frac{\partial L}{\partial U}", TYPED_DU)]


def _typed_mistakes():
    """nnsym check's diagnosis of each classic mistake typed as a claim (the notes are not built if one is missed)."""
    words = list(TYPED_DECLARATIONS)
    shapes = dict(w.split("=") for w, flag in zip(words[1::2], words[0::2]) if flag == "--shape")
    definitions = ["T = 3"] + [f"{a} = {b}" for a, b in TYPED_STATES + TYPED_DELTAS]
    function = " = ".join(TYPED_LOSS)
    assert ns.check(function, TYPED_DW, "W", shapes, definitions=definitions).ok
    for claim, expected in TYPED_MISTAKES:
        verdict = ns.check(function, claim, "W", shapes, definitions=definitions)
        if verdict.ok or not (verdict.diagnosis or "").startswith(expected):
            raise ns.VerificationError(f"nnsym check missed the mistake in {claim}: {verdict.diagnosis}")


def _textbook_check(model, equations):
    """Each delta_t and dL/dW_hh of the unrolled network against the textbook recursion built here
    term by term: delta_t = W_y^T (softmax(yhat_t) - y_t) + W_hh^T (delta_{t+1} o tanh'(z_{t+1})),
    dL/dW_hh = sum_t (delta_t o tanh'(z_t)) h_{t-1}^T."""
    W_hh, W_y = model.parameters[0], model.parameters[3]
    z, h = model.intermediates["z"], (model.initial[0],) + model.hidden
    deltas = {derive.index_of(d.name): (d, G) for d, G in equations.deltas}
    worst = 0.0
    for t in range(model.steps, 0, -1):
        reference = ns.transpose(W_y) @ (ns.softmax(model.logits[t - 1]) - model.targets[t - 1])
        if t < model.steps:
            reference = reference + ns.transpose(W_hh) @ E.hadamard(deltas[t + 1][0], apply("tanh_prime", z[t]))
        worst = max(worst, against(deltas[t][1], reference, seed=t))
    summed = E.add(*[E.hadamard(deltas[t][0], apply("tanh_prime", z[t - 1])) @ ns.transpose(h[t - 1])
                     for t in range(1, model.steps + 1)])
    worst = max(worst, against(equations.gradients[W_hh], summed, seed=17))
    return "each term against the textbook recursion built term by term", worst


def note() -> Note:
    """17: recurrent networks and BPTT."""
    model = ns.rnn("d", "n", "k", steps=3)
    result = ns.bptt(model)
    equations = result.equations
    W_hh, W_xh, b_h, W_y, b_y = model.parameters
    z, h, yhat = model.intermediates["z"], model.hidden, model.logits
    textbook = _textbook_check(model, equations)
    _typed_mistakes()

    # Two classic mistakes, measured against the right dL/dW_hh at random points.
    terms = [derive.step_term(equations.gradients[W_hh], t) for t in (1, 2, 3)]
    wrong_state = E.add(*[E.matmul(term.args[0], E.transpose(h[t])) for t, term in enumerate(terms)])
    last_only = terms[2]
    err_state = against(wrong_state, equations.gradients[W_hh], seed=17)
    err_last = against(last_only, equations.gradients[W_hh], seed=17)

    # Vanishing and exploding: one exported gradient per step, evaluated for W = s Q (Q orthogonal).
    loss, xs = _chain(T_PLOT, N_PLOT)
    grads = ns.gradients(loss, xs, oracle=False)
    functions = [grads[x].to_numpy() for x in xs]
    rng = np.random.default_rng(17)
    Q = np.linalg.qr(rng.standard_normal((N_PLOT, N_PLOT)))[0]
    g0 = rng.standard_normal(N_PLOT)
    g0 /= np.linalg.norm(g0)
    x0 = [1e-4 * rng.standard_normal(N_PLOT) for _ in range(T_PLOT)]  # small inputs: tanh' near 1
    values = {f"x_{{{t + 1}}}": x for t, x in enumerate(x0)}
    norms = {}
    for s in SCALES:
        arguments = dict(values, W=s * Q, g=g0, **{"h_{0}": np.zeros(N_PLOT)})
        norms[s] = np.array([np.linalg.norm(f(**{k: v for k, v in arguments.items() if k in f.arguments}))
                             for f in functions])

    def norms_check():
        worst = max(relative_error(norms[s], _norms_by_hand(s * Q, g0, x0)) for s in SCALES)
        return ("exported gradients against the recursion written in NumPy, for every s", worst)

    def draw(axes):
        steps_back = T_PLOT - np.arange(1, T_PLOT + 1)
        for s in SCALES:
            axes.semilogy(steps_back, norms[s], marker="o", markersize=3, label=f"$W = {s}\\,Q$")
        axes.set_xlabel(r"steps back from the loss, $T - t$")
        axes.set_ylabel(r"$\|\partial L / \partial z_t\|$")
        axes.set_xticks(range(0, T_PLOT, 2))
        axes.set_title(r"gradient norms over time ($T = 20$, $L = g^\top h_T$)")
        axes.legend()

    table = r" \\ ".join(rf"{s} & {array_latex(norms[s][0], 3)} & {array_latex(s ** (T_PLOT - 1), 3)}" for s in SCALES)

    return Note(17, "recurrent-bptt", "Recurrent networks and backpropagation through time", (
        Text("A recurrent network reads a sequence $x_1, \\dots, x_T$ one step at a time and carries a hidden "
             "state $h_t$ from step to step, with the **same weights at every step**. The Elman network "
             "(PyTorch's `nn.RNN` with a $\\tanh$): starting from $h_0$, for $t = 1, \\dots, T$,"),
        Formula(derive.shifted(z[1].definition, 2), "z_{t}"),
        Formula(derive.opaque(derive.shifted(h[1].definition, 2)), "h_{t}"),
        Formula(derive.opaque(derive.shifted(yhat[1].definition, 2)), r"\hat{y}_{t}"),
        Text("and the loss is summed over the steps, "
             "$L = \\sum_{t=1}^{T} \\operatorname{CE}(\\operatorname{softmax}(\\hat{y}_t), y_t)$. nnsym unrolls "
             "the network over a concrete $T$ and differentiates the unrolled graph in reverse mode: "
             "**backpropagation through time** is nothing but the chain rule on the unrolled network. Naming "
             "$\\delta_t = \\partial L / \\partial h_t$ where reverse mode forms it, for $T = 3$:"),
        Display(_aligned(result.lines()[:3]),
                lambda: textbook,
                summary=r"\delta_{3}, \delta_{2}, \delta_{1}"),
        Text("$h_t$ reaches the loss along two paths: through its own output $\\hat{y}_t$, and through the next "
             "step's $z_{t+1}$. The weights are used at every step, so their gradients are **sums over time**; "
             "each term pairs a step's error with that step's input, and for $W_{hh}$ that input is "
             "$h_{t-1}$:"),
        Formula(equations.gradients[W_hh], r"\frac{\partial L}{\partial W_{hh}}", derivative_of=(model.loss, W_hh)),
        Formula(equations.gradients[W_xh], r"\frac{\partial L}{\partial W_{xh}}", derivative_of=(model.loss, W_xh)),
        Formula(equations.gradients[b_h], r"\frac{\partial L}{\partial b_{h}}", derivative_of=(model.loss, b_h)),
        Text("Each is checked by central finite differences of the unrolled loss. Reading the pattern off an "
             "interior step gives the recursion lecturers write for a symbolic $t$ (`ns.bptt` reads it off "
             "step 2 of a four-step unrolling and hands it out only if the same formula, moved to step 3, is "
             "exactly step 3's; $\\delta_{T+1} = 0$ ends it):"),
        Display(_aligned(result.recursion),
                lambda: ("ns.bptt: the same formula at every interior step; at T = 3 " + textbook[0],
                         textbook[1]),
                summary=r"\delta_{t}, \frac{\partial L}{\partial W_{hh}}, \dots"),
        Text(f"**The classic mistakes.** Writing $h_t$ where $h_{{t-1}}$ belongs in $\\partial L / \\partial W_{{hh}}$ "
             f"is off by a relative error of {err_state:.2f} at random points; keeping only the last step's term "
             f"(not summing over time) by {err_last:.2f}."),
        Text("**Typed by hand, checked step by step.** A student's derivation for a small network ($h_t = "
             "\\tanh(W h_{t-1} + U x_t)$, $L = \\sum_t \\frac12\\|V h_t - y_t\\|^2$, $T = 3$, $h_t$ of size 3, "
             "$x_t$ and $y_t$ of size 2), written as it would be on paper: the states step by step, the loss as a "
             "sum over time, $\\delta_t = \\partial L / \\partial h_t$ from the last step back, and the weight "
             "gradients as sums over time. `nnsym lint` reads it (its hidden declarations give the family "
             "$x_1, \\dots, x_T$ one shape and define $T = 3$), unrolls each $\\sum_{t=1}^{T}$ into its terms and "
             "checks every row against nnsym's gradient:"),
        typed(_typed_rows(), TYPED_DECLARATIONS, r"h_t, L, \delta_t, \frac{\partial L}{\partial W}, \frac{\partial L}{\partial U}"),
        Text("The same rows go to `nnsym check` as definitions and a claim. With $h_t$ written where $h_{t-1}$ "
             "belongs, its diagnosis says just that; with only the last step's term "
             "$(\\delta_3 \\odot (1 - h_3 \\odot h_3)) h_2^\\top$ it says *not summed over time* (both decided by "
             "value at random points, whatever the letters)."),
        Text("**Vanishing and exploding gradients.** Put the whole loss at the last step, $L = g^\\top h_T$, and "
             "unroll $h_t = \\tanh(W h_{t-1} + x_t)$ over $T = 20$ steps. Then "
             "$\\partial L / \\partial z_t = \\tanh'(z_t) \\odot W^\\top \\partial L / \\partial z_{t+1}$: the "
             "gradient is multiplied by $W^\\top$ and by $\\tanh' \\le 1$ at every step back. With "
             "$W = sQ$ ($Q$ orthogonal), tiny inputs (so $\\tanh' \\approx 1$) and $h_0 = 0$, its norm goes "
             "as $s^{T-t}$: it vanishes for $s < 1$ and explodes for $s > 1$. The figure is computed from the "
             "20 exported NumPy gradients $\\partial L / \\partial x_t$ (equal to $\\partial L / \\partial z_t$ "
             "here), checked against the recursion written in NumPy. At $t = 1$, against $s^{19}$:"),
        Display(r"\begin{array}{ccc} s & \|\partial L / \partial z_1\| & s^{19} \\ \hline " + table
                + r" \end{array}", norms_check,
                summary=r"\|\partial L / \partial z_1\| \text{ for } s = 0.6, 1, 1.4"),
        Plot("gradient-norms", "gradient norms against the steps back from the loss, for W = sQ", draw),
        Text("With larger inputs the $\\tanh$ saturates, $\\tanh'$ falls towards 0 and the gradient vanishes even "
             "for $s > 1$. Clipping the gradient's norm tames the explosion; the vanishing is what the gated "
             "cells of the next note address."),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
