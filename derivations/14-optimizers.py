"""Optimizers: SGD, momentum, RMSProp and Adam with bias correction as update formulas, weight decay
against an L2 penalty, each checked against a hand-written step, and their loss curves."""

import numpy as np

import nnsym as ns
from nnsym.declare.names import canonical_name
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main
from nnsym.verify.evaluate import evaluate
from nnsym.verify.formulas import relative_error

RATES = {r"\eta": 0.1, r"\mu": 0.9, r"\rho": 0.9, r"\epsilon": 1e-8, r"\beta_1": 0.9, r"\beta_2": 0.999,
         r"\lambda": 0.01}


def _values(**extra):
    return {canonical_name(k): v for k, v in {**RATES, **extra}.items()}


def _problem():
    """Logistic regression on 40 points in 2-D with an ill-conditioned feature scale."""
    rng = np.random.default_rng(14)
    X = rng.standard_normal((40, 2)) * np.array([1.0, 8.0])
    y = (X @ np.array([1.5, -0.2]) + 0.5 * rng.standard_normal(40) > 0).astype(float)
    return X, y


def _train(update, gradient, X, y, steps=150):
    """Run one optimizer with nnsym's update formula and exported gradient; the loss after each step."""
    theta = np.zeros(2)
    state = {name: np.zeros(2) for name in ("b_{t-1}", "s_{t-1}", "m_{t-1}", "v_{t-1}")}
    losses = []
    for t in range(1, steps + 1):
        g = gradient(X=X, w=theta, y=y).reshape(-1)
        step = update(t)
        values = _values(**{r"\theta_{t-1}": theta, "g_t": g, **state})
        new = {s.name: evaluate(s, values)[:, 0] for s in step.steps}
        theta = new[r"\theta_{t}"]
        for name in state:
            state[name] = new.get(name.replace("_{t-1}", "_{t}"), state[name])
        z = X @ theta
        losses.append(float(np.mean(np.logaddexp(0, z) - y * z)))
    return losses


def _adam_by_hand(theta, g, m, v, t, eta=0.1, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return theta - eta * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)


def note() -> Note:
    """14: optimizers."""
    sgd, momentum, rmsprop = (ns.optimizer_update(name) for name in ("sgd", "momentum", "rmsprop"))
    adam = ns.optimizer_update("adam", t=3)
    adam_l2, adamw = ns.optimizer_update("adam", 3, 3, "l2"), ns.optimizer_update("adam", 3, 3, "decoupled")
    theta, lam = ns.vector(r"\theta", "n"), ns.scalar(r"\lambda")
    penalty = ns.grad(lam / 2 * ns.norm(theta, squared=True), theta)

    rng = np.random.default_rng(3)
    th, g, m, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3), rng.random(3)
    ours = evaluate(ns.optimizer_update("adam", 3, 3).parameter,
                    _values(**{r"\theta_{t-1}": th, "g_t": g, "m_{t-1}": m, "v_{t-1}": v}))[:, 0]
    l2 = evaluate(adam_l2.parameter, _values(**{r"\theta_{t-1}": th, "g_t": g, "m_{t-1}": m, "v_{t-1}": v}))[:, 0]
    decoupled = evaluate(adamw.parameter, _values(**{r"\theta_{t-1}": th, "g_t": g, "m_{t-1}": m, "v_{t-1}": v}))[:, 0]

    X_, w_, y_ = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    gradient = ns.grad(ns.mean_over_batch(ns.binary_cross_entropy(X_ @ w_, y_), "N"), w_).to_numpy()
    X, y = _problem()
    curves = {name: _train(lambda t, name=name: ns.optimizer_update(name, 2, t), gradient, X, y)
              for name in ("sgd", "momentum", "rmsprop", "adam")}

    def draw(axes):
        for name, losses in curves.items():
            axes.plot(losses, label=name)
        axes.set_xlabel("step")
        axes.set_ylabel("mean cross-entropy")
        axes.set_yscale("log")
        axes.set_title("feature scales 1 and 8")
        axes.legend()

    def lines(update):
        return [Formula(s.definition, s.name) for s in update.steps]

    return Note(14, "optimizers", "Optimizers", (
        Text("Gradient descent moves against the gradient $g_t = \\nabla L(\\theta_{t-1})$ with a fixed step "
             "$\\eta$. The optimizers of chapter 3 change the step; each is written below as the update it "
             "performs (the conventions of PyTorch's `torch.optim`, against which the tests check several steps "
             "of each). **SGD**:"),
        *lines(sgd),
        Text("**Momentum** keeps a running sum of past gradients, which damps oscillation across a narrow "
             "valley and speeds travel along it:"),
        *lines(momentum),
        Text("**RMSProp** divides by the root of a running mean of squared gradients, one scale per coordinate:"),
        *lines(rmsprop),
        Text("**Adam** (Kingma and Ba, 2015) combines the two. Both moments start at zero, so their early "
             "averages are biased towards zero; dividing by $1 - \\beta^t$ corrects that (here at step $t = 3$):"),
        *lines(adam),
        Display(rf"\theta_{{3}} = {array_latex(ours[:, None])}",
                lambda: ("against Adam's step written out in NumPy", relative_error(ours, _adam_by_hand(th, g, m, v, 3)))),
        Text("**Weight decay against an L2 penalty.** Adding $\\frac{\\lambda}{2}\\|\\theta\\|^2$ to the loss adds "
             "its gradient to $g$:"),
        Formula(penalty.expression, r"\nabla_\theta \frac{\lambda}{2}\|\theta\|^2", derivative_of=(lam / 2 * ns.norm(theta, squared=True), theta)),
        Text("For SGD that is the same as shrinking $\\theta$ by $1 - \\eta\\lambda$ each step (weight decay). For "
             "Adam it is not: the penalty's gradient passes through the moments and is divided by "
             "$\\sqrt{\\hat{v}_t}$. Decoupled weight decay (AdamW, Loshchilov and Hutter, 2019) subtracts "
             "$\\eta\\lambda\\theta$ outside the adaptive step instead:"),
        *lines(adam_l2)[:1],
        *lines(adamw)[-1:],
        Display(rf"\theta_{{3}}^{{\mathrm{{L2}}}} - \theta_{{3}}^{{\mathrm{{AdamW}}}} = {array_latex((l2 - decoupled)[:, None])}",
                lambda: ("the two differ (0 when they do)", float(np.max(np.abs(l2 - decoupled)) < 1e-6))),
        Text("**Loss curves.** Logistic regression on a problem whose two features differ in scale by a factor 8, "
             "every optimizer driven by nnsym's update formulas and the exported gradient "
             "$\\frac{1}{N} X^\\top(\\sigma(Xw) - y)$, $\\eta = 0.1$ for all:"),
        Plot("loss-curves", "SGD, momentum, RMSProp and Adam on ill-conditioned logistic regression", draw),
        Display(rf"L_{{150}}:\ \mathrm{{SGD}}\ {curves['sgd'][-1]:.4f},\ \mathrm{{momentum}}\ {curves['momentum'][-1]:.4f},"
                rf"\ \mathrm{{Adam}}\ {curves['adam'][-1]:.4f}",
                lambda: ("every optimizer lowered the loss from log 2 (0 when all did)",
                         float(any(c[-1] >= np.log(2) for c in curves.values())))),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
