"""Derivatives, partial derivatives and the chain rule, for scalars and for vectors."""

import nnsym as ns
from nnsym.present.notes import Formula, Note, Text, script_main, steps


def note() -> Note:
    """03: derivatives, partial derivatives and the chain rule."""
    x, y, w, b = ns.scalar("x"), ns.scalar("y"), ns.scalar("w"), ns.scalar("b")
    softplus = ns.log(1 + ns.exp(x))
    neuron = ns.sigmoid(w * x + b)
    two = x ** 2 * y + 3 * x * y
    W, v = ns.matrix("W", "m", "n"), ns.vector("x", "n")
    layer = ns.sigmoid(W @ v)
    half = ns.norm(layer, squared=True) / 2
    return Note(3, "derivatives-and-chain-rule", "Derivatives, partial derivatives and the chain rule", (
        Text("The derivative $f'(x) = \\lim_{h \\to 0} (f(x + h) - f(x))/h$ is the slope of $f$ at $x$. Every "
             "formula below is checked against central differences $(f(x + h) - f(x - h))/2h$ at random points. "
             "The derivative of $\\log(1 + e^x)$, by the chain rule for $\\log$ and $\\exp$:"),
        Formula(ns.grad(softplus, x).expression, r"\frac{d}{dx} \log\left(1 + e^{x}\right)",
                reference=ns.sigmoid(x), derivative_of=(softplus, x)),
        Text("which is the logistic sigmoid $\\sigma(x) = 1/(1 + e^{-x})$: the reference it is checked against."),
        Text("**Partial derivatives.** A function of several variables has one derivative per variable, the others "
             "held fixed. For $f(x, y) = x^2 y + 3 x y$:"),
        Formula(ns.grad(two, x).expression, r"\frac{\partial f}{\partial x}", reference=2 * x * y + 3 * y,
                derivative_of=(two, x)),
        Formula(ns.grad(two, y).expression, r"\frac{\partial f}{\partial y}", reference=x ** 2 + 3 * x,
                derivative_of=(two, y)),
        Text("**The chain rule.** For $f(g(x))$, $\\frac{df}{dx} = f'(g(x))\\, g'(x)$. A single neuron "
             "$a = \\sigma(w x + b)$ is a composition; its derivative in $x$ is taken in steps, each naming the "
             "rule it uses and the shape of what it differentiates:"),
        steps(neuron, [x, w, b], "a"),
        Formula(ns.grad(neuron, w).expression, r"\frac{\partial a}{\partial w}",
                reference=x * ns.sigmoid(w * x + b) * (1 - ns.sigmoid(w * x + b)), derivative_of=(neuron, w)),
        Text("with $\\sigma'(z) = \\sigma(z)(1 - \\sigma(z))$ (the reference above is written that way)."),
        Text("**Vectors.** For $y = \\sigma(W x)$, with $W$ an $m \\times n$ matrix, the Jacobian "
             "$\\partial y / \\partial x$ (numerator layout: $m \\times n$) is a diagonal matrix times $W$: "
             "the elementwise function contributes $\\operatorname{diag}(\\sigma'(Wx))$, the linear map $W$."),
        Formula(ns.jacobian(layer, v).expression, r"\frac{\partial y}{\partial x}",
                reference=ns.diag(ns.hadamard(layer, 1 - layer)) @ W,
                derivative_of=(layer, v)),
        Text("For a scalar function of a matrix the gradient has the matrix's shape (denominator layout). The "
             "chain rule through $\\frac{1}{2}\\|\\sigma(W x)\\|^2$:"),
        steps(half, [W]),
        Formula(ns.grad(half, W).expression, r"\frac{\partial f}{\partial W}", derivative_of=(half, W)),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
