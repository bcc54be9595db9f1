"""Activation functions and their derivatives: sigma, tanh, ReLU, leaky ReLU, softplus, GELU, softmax."""

import numpy as np
import sympy

import nnsym as ns
from nnsym.declare.functions import apply
from nnsym.present.notes import Display, Formula, Note, Plot, Text, script_main, worked
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


_z = sympy.Symbol("z", real=True)
_POINTS = [{_z: t} for t in (-2.5, -0.7, 0.3, 1.9)]
_E = sympy.exp(-_z)


def _sigmoid_derivation() -> Display:
    """sigma' = sigma (1 - sigma), by the quotient and chain rules."""
    d = sympy.Derivative
    return worked(r"\sigma'(z)", [
        (r"\frac{d}{dz} \frac{1}{1 + e^{-z}}", d(1 / (1 + _E), _z), "definition of $\\sigma$"),
        (r"\frac{0 \cdot \left(1 + e^{-z}\right) - 1 \cdot \frac{d}{dz}\left(1 + e^{-z}\right)}{\left(1 + e^{-z}\right)^{2}}",
         -d(1 + _E, _z) / (1 + _E) ** 2, "quotient rule $(f/g)' = (f'g - fg')/g^{2}$"),
        (r"\frac{-\left(-e^{-z}\right)}{\left(1 + e^{-z}\right)^{2}}", _E / (1 + _E) ** 2,
         "chain rule: $(e^{-z})' = e^{-z} \\cdot (-1)$"),
        (r"\frac{1}{1 + e^{-z}} \cdot \frac{e^{-z}}{1 + e^{-z}}", 1 / (1 + _E) * (_E / (1 + _E)),
         "split the fraction"),
        (r"\frac{1}{1 + e^{-z}} \cdot \left(1 - \frac{1}{1 + e^{-z}}\right)", 1 / (1 + _E) * (1 - 1 / (1 + _E)),
         "$\\frac{e^{-z}}{1 + e^{-z}} = 1 - \\frac{1}{1 + e^{-z}}$"),
        (r"\sigma(z)\left(1 - \sigma(z)\right)", 1 / (1 + _E) * (1 - 1 / (1 + _E)), "definition of $\\sigma$"),
    ], 1 / (1 + _E), _z, _POINTS)


def _tanh_derivation() -> Display:
    """tanh' = 1 - tanh^2, by the quotient rule on sinh/cosh."""
    sinh, cosh = sympy.sinh(_z), sympy.cosh(_z)
    return worked(r"\tanh'(z)", [
        (r"\frac{d}{dz} \frac{\sinh z}{\cosh z}", sympy.Derivative(sinh / cosh, _z), "$\\tanh = \\sinh / \\cosh$"),
        (r"\frac{\cosh z \cdot \cosh z - \sinh z \cdot \sinh z}{\cosh^{2} z}", (cosh ** 2 - sinh ** 2) / cosh ** 2,
         "quotient rule, $\\sinh' = \\cosh$, $\\cosh' = \\sinh$"),
        (r"1 - \frac{\sinh^{2} z}{\cosh^{2} z}", 1 - sinh ** 2 / cosh ** 2, "divide through"),
        (r"1 - \tanh^{2} z", 1 - sympy.tanh(_z) ** 2, ""),
    ], sympy.tanh(_z), _z, _POINTS)


def _softplus_derivation() -> Display:
    """softplus' = sigma, by the chain rule."""
    e = sympy.exp(_z)
    return worked(r"\operatorname{softplus}'(z)", [
        (r"\frac{d}{dz} \log\left(1 + e^{z}\right)", sympy.Derivative(sympy.log(1 + e), _z), "definition"),
        (r"\frac{1}{1 + e^{z}} \cdot e^{z}", e / (1 + e), "chain rule: $(\\log u)' = u'/u$"),
        (r"\frac{1}{e^{-z} + 1}", 1 / (_E + 1), "divide above and below by $e^{z}$"),
        (r"\sigma(z)", 1 / (1 + _E), ""),
    ], sympy.log(1 + e), _z, _POINTS)


def _gelu_derivation() -> Display:
    """GELU' = Phi + z phi, by the product rule."""
    Phi = (1 + sympy.erf(_z / sympy.sqrt(2))) / 2
    phi = sympy.exp(-_z ** 2 / 2) / sympy.sqrt(2 * sympy.pi)
    return worked(r"\operatorname{GELU}'(z)", [
        (r"\frac{d}{dz} \left(z\, \Phi(z)\right)", sympy.Derivative(_z * Phi, _z), "definition"),
        (r"1 \cdot \Phi(z) + z\, \Phi'(z)", Phi + _z * sympy.Derivative(Phi, _z), "product rule"),
        (r"\Phi(z) + z\, \varphi(z)", Phi + _z * phi, "$\\Phi' = \\varphi$, the normal density"),
        (r"\Phi(z) + \frac{z}{\sqrt{2 \pi}} e^{-z^{2}/2}", Phi + _z * phi, ""),
    ], _z * Phi, _z, _POINTS)


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
             "is derived step by step; every line is checked against SymPy's derivative, and the curves "
             "are nnsym's own derivatives."),
        Text("**Logistic sigmoid** $\\sigma(z) = 1/(1 + e^{-z})$, from $\\mathbb{R}$ to $(0, 1)$. Its derivative "
             "follows from the quotient rule, with the chain rule for $e^{-z}$:"),
        _sigmoid_derivation(),
        Text("nnsym's own derivative agrees (checked at random points, and against central differences):"),
        Formula(s * (1 - s), r"\frac{d}{dz}\sigma\left(z\right)", reference=d(s), derivative_of=(s, z)),
        Text("So $\\sigma'(z)$ is at most $1/4$, reached at $z = 0$, and small wherever $\\sigma$ is close "
             "to 0 or 1."),
        Text("**Hyperbolic tangent** $\\tanh(z) = (e^z - e^{-z})/(e^z + e^{-z}) = 2\\sigma(2z) - 1$, zero-centred. "
             "Written as $\\sinh z / \\cosh z$, the quotient rule gives"),
        _tanh_derivation(),
        Formula(1 - t ** 2, r"\frac{d}{dz}\tanh\left(z\right)", reference=d(t), derivative_of=(t, z)),
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
        Text("**Softplus** $\\log(1 + e^z)$ is a smooth ReLU, and by the chain rule its derivative is the sigmoid:"),
        _softplus_derivation(),
        Formula((1 + ns.exp(-z)) ** -1, r"\frac{d}{dz}\operatorname{softplus}\left(z\right)", reference=d(soft),
                derivative_of=(soft, z)),
        Text("**GELU** $z\\,\\Phi(z)$, with $\\Phi$ the standard normal distribution function. The product "
             "rule gives its derivative:"),
        _gelu_derivation(),
        Text("With $\\Phi(z) = \\operatorname{GELU}(z)/z$ for $z \\neq 0$, in nnsym's notation:"),
        Formula(gelu / z + z * phi, r"\frac{d}{dz}\operatorname{GELU}\left(z\right)", reference=d(gelu),
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
