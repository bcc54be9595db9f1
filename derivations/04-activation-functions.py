"""Activation functions and their derivatives: sigma, tanh, ReLU, leaky ReLU, softplus, GELU, softmax."""

import numpy as np
import sympy

import nnsym as ns
from nnsym.declare.functions import apply
from nnsym.present.notes import Display, Formula, Note, Plot, Text, script_main
from nnsym.verify.evaluate import evaluate

SLOPE = sympy.Rational(1, 10)  # the leaky ReLU's slope for z < 0
GRID = np.linspace(-4.0, 4.0, 161)


def _curve(expr, z):
    """expr (a scalar function of the scalar z) at every point of the grid."""
    return np.array([evaluate(expr, {z.name: t})[0, 0] for t in GRID])


def _plot(title, pairs, z):
    def draw(axes):
        for index, (label, expr) in enumerate(pairs):
            # Functions solid, derivatives dashed; the second pair thinner so the first shows beneath.
            axes.plot(GRID, _curve(expr, z), label=label, linestyle="--" if index % 2 else "-",
                      linewidth=2.5 if index < 2 else 1.2)
        axes.axhline(0, color="grey", linewidth=0.5)
        axes.axvline(0, color="grey", linewidth=0.5)
        axes.set_xlabel("z")
        axes.set_title(title)
        axes.legend()
    return draw


def _leaky_check():
    """nnsym's LeakyReLU' against central differences of LeakyReLU and against the cases, on a grid
    that avoids the kink at 0."""
    z = ns.scalar("z")
    f = ns.leaky_relu(z, SLOPE)
    derivative = ns.grad(f, z).expression
    points = GRID[np.abs(GRID) > 1e-3]
    h = 1e-6
    exact, numeric_error = 0.0, 0.0
    for t in points:
        closed = evaluate(derivative, {"z": t})[0, 0]
        numeric = (evaluate(f, {"z": t + h})[0, 0] - evaluate(f, {"z": t - h})[0, 0]) / (2 * h)
        exact = max(exact, abs(closed - (1.0 if t > 0 else float(SLOPE))))
        numeric_error = max(numeric_error, abs(closed - numeric) / max(abs(numeric), 1e-8))
    # Differences carry rounding error (about 1e-10 here); beyond 1e-6 they would mean a wrong slope.
    error = exact if numeric_error <= 1e-6 else numeric_error
    return "nnsym's derivative equals the two cases and central differences at 160 points", error


def note() -> Note:
    """04: activation functions and their derivatives."""
    z = ns.scalar("z")
    s, t = ns.sigmoid(z), ns.tanh(z)
    relu, soft, gelu = ns.relu(z), ns.softplus(z), ns.gelu(z)
    leaky = ns.leaky_relu(z, SLOPE)
    phi = ns.exp(-(z ** 2) / 2) / sympy.sqrt(2 * sympy.pi)
    v = ns.vector("z", "n")
    p = ns.softmax(v)
    d = lambda f: ns.grad(f, z).expression  # noqa: E731 - the derivative, derived by nnsym
    return Note(4, "activation-functions", "Activation functions and their derivatives", (
        Text("An activation function is applied entry by entry to a layer's pre-activation $z$. Training needs "
             "its derivative: backpropagation multiplies by it, entry by entry ($\\odot$). Each derivative below "
             "is derived by nnsym, checked by central differences, and compared with the textbook identity."),
        Text("**Logistic sigmoid** $\\sigma(z) = 1/(1 + e^{-z})$, from $\\mathbb{R}$ to $(0, 1)$:"),
        Formula(d(s), r"\frac{d}{dz}\sigma\left(z\right)", reference=s * (1 - s), derivative_of=(s, z)),
        Text("and $\\sigma'(z) = \\sigma(z)(1 - \\sigma(z))$, at most $1/4$: the reference it is checked against."),
        Text("**Hyperbolic tangent** $\\tanh(z) = (e^z - e^{-z})/(e^z + e^{-z}) = 2\\sigma(2z) - 1$, zero-centred:"),
        Formula(d(t), r"\frac{d}{dz}\tanh\left(z\right)", reference=1 - t ** 2, derivative_of=(t, z)),
        Text("with $\\tanh'(z) = 1 - \\tanh^2(z)$."),
        Plot("sigmoid-tanh", "sigma, tanh and their derivatives",
             _plot("sigmoid and tanh", [("σ(z)", s), ("σ'(z)", d(s)), ("tanh(z)", t), ("tanh'(z)", d(t))], z)),
        Text("**ReLU** $\\operatorname{ReLU}(z) = \\max(0, z)$. Its derivative is the step $H(z)$: 1 for $z > 0$, "
             "0 for $z < 0$ (and taken as 0 at the kink $z = 0$):"),
        Formula(d(relu), r"\frac{d}{dz}\operatorname{ReLU}\left(z\right)", derivative_of=(relu, z)),
        Text("**Leaky ReLU** $\\max(\\alpha z, z)$ with a small slope $\\alpha$ (here $1/10$) keeps a gradient "
             "for $z < 0$:"),
        Display(r"\operatorname{LeakyReLU}_{\alpha}'(z) = \begin{cases} 1 & z > 0 \\ \alpha & z < 0 \end{cases}",
                _leaky_check),
        Plot("relu", "ReLU, leaky ReLU and their derivatives",
             _plot("ReLU and leaky ReLU", [("ReLU(z)", relu), ("ReLU'(z)", d(relu)),
                                           ("LeakyReLU(z)", leaky), ("LeakyReLU'(z)", d(leaky))], z)),
        Text("**Softplus** $\\log(1 + e^z)$ is a smooth ReLU, and its derivative is the sigmoid:"),
        Formula(d(soft), r"\frac{d}{dz}\operatorname{softplus}\left(z\right)",
                reference=(1 + ns.exp(-z)) ** -1, derivative_of=(soft, z)),
        Text("**GELU** $z\\,\\Phi(z)$, with $\\Phi$ the standard normal distribution function. By the product "
             "rule its derivative is $\\Phi(z) + z\\,\\varphi(z)$, with $\\varphi$ the normal density "
             "(the reference is written as $\\operatorname{GELU}(z)/z + z\\,\\varphi(z)$):"),
        Formula(d(gelu), r"\frac{d}{dz}\operatorname{GELU}\left(z\right)", reference=gelu / z + z * phi,
                derivative_of=(gelu, z)),
        Plot("softplus-gelu", "softplus, GELU and their derivatives",
             _plot("softplus and GELU", [("softplus(z)", soft), ("softplus'(z)", d(soft)),
                                         ("GELU(z)", gelu), ("GELU'(z)", d(gelu))], z)),
        Text("**Softmax** maps a vector $z \\in \\mathbb{R}^n$ to probabilities, "
             "$\\operatorname{softmax}(z)_i = e^{z_i} / \\sum_j e^{z_j}$. It is not elementwise: its Jacobian "
             "(numerator layout, $n \\times n$) is"),
        Formula(ns.jacobian(p, v).expression, r"\frac{\partial \operatorname{softmax}\left(z\right)}{\partial z}",
                derivative_of=(p, v)),
        Text("a diagonal part from $e^{z_i}$ and a rank-one part from the shared denominator. Its rows sum to zero, "
             "since the probabilities always sum to one."),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
