"""Cost functions: mean squared error and cross-entropy, and the likelihoods they come from."""

import sympy

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Text, script_main, steps, worked

_z, _y = sympy.symbols("z y", real=True)
_s = 1 / (1 + sympy.exp(-_z))


def _binary_derivation() -> Display:
    """dL/dz = sigma(z) - y for one entry, by the chain rule and sigma' = sigma (1 - sigma)."""
    loss = -(_y * sympy.log(_s) + (1 - _y) * sympy.log(1 - _s))
    ds = _s * (1 - _s)
    return worked(r"\frac{\partial L}{\partial z_i}", [
        (r"-\frac{\partial}{\partial z_i} \left[y_i \log \sigma(z_i) + (1 - y_i) \log\left(1 - \sigma(z_i)\right)\right]",
         sympy.Derivative(loss, _z), "one term of the sum depends on $z_i$"),
        (r"-\left[y_i \frac{\sigma'(z_i)}{\sigma(z_i)} - (1 - y_i) \frac{\sigma'(z_i)}{1 - \sigma(z_i)}\right]",
         -(_y * ds / _s - (1 - _y) * ds / (1 - _s)), "chain rule: $(\\log u)' = u'/u$"),
        (r"-\left[y_i \left(1 - \sigma(z_i)\right) - (1 - y_i)\, \sigma(z_i)\right]",
         -(_y * (1 - _s) - (1 - _y) * _s), "$\\sigma' = \\sigma (1 - \\sigma)$"),
        (r"\sigma(z_i) - y_i", _s - _y, "multiply out: $y_i \\sigma(z_i)$ cancels"),
    ], loss, _z, [{_z: t, _y: v} for t, v in ((-1.3, 0.0), (0.4, 1.0), (2.1, 0.3))])


def _categorical_derivation() -> Display:
    """dL/dz_k = softmax(z)_k - y_k, checked at K = 3, k = 1 with y summing to one."""
    z, y = sympy.symbols("z_1:4", real=True), (sympy.Rational(1, 5), sympy.Rational(1, 2), sympy.Rational(3, 10))
    total = sum(sympy.exp(v) for v in z)
    loss = -sum(y_i * (z_i - sympy.log(total)) for y_i, z_i in zip(y, z))
    k = 0
    return worked(r"\frac{\partial L}{\partial z_k}", [
        (r"-\frac{\partial}{\partial z_k} \sum_i y_i \left(z_i - \log \sum_j e^{z_j}\right)",
         sympy.Derivative(loss, z[k]), "$\\log \\operatorname{softmax}(z)_i = z_i - \\log \\sum_j e^{z_j}$"),
        (r"-\sum_i y_i \left(\delta_{ik} - \frac{e^{z_k}}{\sum_j e^{z_j}}\right)",
         -sum(y_i * ((1 if i == k else 0) - sympy.exp(z[k]) / total) for i, y_i in enumerate(y)),
         "chain rule; $\\partial z_i / \\partial z_k = \\delta_{ik}$"),
        (r"-y_k + \operatorname{softmax}(z)_k \sum_i y_i",
         -y[k] + sympy.exp(z[k]) / total * sum(y), "the sum over $i$ picks $y_k$"),
        (r"\operatorname{softmax}(z)_k - y_k", sympy.exp(z[k]) / total - y[k], "$\\sum_i y_i = 1$"),
    ], loss, z[k], [dict(zip(z, values)) for values in ((0.3, -1.2, 2.0), (-0.5, 0.1, 0.7))])


def note() -> Note:
    """05: cost functions."""
    n = "n"
    y_hat, y = ns.vector(r"\hat{y}", n), ns.vector("y", n)
    s = ns.scalar("s")
    z = ns.vector("z", n)
    p = ns.vector("y", n, assume="probability")
    squared = ns.norm(y_hat - y, squared=True) / 2
    # -log prod_i N(y_i; yhat_i, s^2), written from the density itself.
    r = y - y_hat
    density = ns.hadamard_div(ns.exp(-(1 / (2 * s ** 2)) * ns.hadamard(r, r)),
                              ns.sqrt(2 * sympy.pi * s ** 2) * ns.ones(n))
    gaussian = -ns.sum_entries(ns.log(density))
    # -log prod_i q_i^{y_i} (1 - q_i)^{1 - y_i} with q = sigma(z), written out.
    q = ns.sigmoid(z)
    bernoulli = -ns.sum_entries(ns.hadamard(y, ns.log(q)) + ns.hadamard(1 - y, ns.log(1 - q)))
    bce = ns.binary_cross_entropy(z, y)
    # -log prod_k softmax(z)_k^{y_k} with the softmax written as exp(z) / 1^T exp(z).
    probabilities = ns.exp(z) / ns.sum_entries(ns.exp(z))
    categorical = -(ns.transpose(p) @ ns.log(probabilities))
    sce = ns.softmax_cross_entropy(z, p)
    unfused = -(ns.transpose(p) @ ns.log_softmax(z))
    return Note(5, "cost-functions", "Cost functions and where they come from", (
        Text("A cost function measures how far the network's output $\\hat{y}$ is from the target $y$. The two "
             "standard ones are not arbitrary: each is the negative log-likelihood of the data under a "
             "probability model of the targets, so minimising it is maximum-likelihood estimation."),
        Text("**Mean squared error.** For one example, $L = \\frac{1}{2}\\|\\hat{y} - y\\|^2$ (the $\\frac{1}{2}$ "
             "cancels the 2 of the derivative; over a batch one takes the mean). Its gradient is the residual:"),
        Formula(ns.grad(squared, y_hat).expression, r"\nabla_{\hat{y}} L", reference=y_hat - y,
                derivative_of=(squared, y_hat)),
        Text("*Where it comes from.* If $y_i = \\hat{y}_i + \\varepsilon_i$ with independent Gaussian noise "
             "$\\varepsilon_i \\sim \\mathcal{N}(0, s^2)$, the negative log-likelihood is "
             "$-\\sum_i \\log \\mathcal{N}(y_i; \\hat{y}_i, s^2) = \\frac{1}{2s^2}\\|y - \\hat{y}\\|^2 + "
             "\\frac{n}{2}\\log(2\\pi s^2)$. The last term does not depend on $\\hat{y}$, so the gradient is the "
             "squared error's divided by $s^2$. Checked against central differences of the negative log of the "
             "Gaussian density itself, entry by entry:"),
        Formula(ns.grad(squared / s ** 2, y_hat).expression,
                r"\nabla_{\hat{y}} \left(-\log p\left(y \mid \hat{y}\right)\right)", derivative_of=(gaussian, y_hat)),
        Text("**Binary cross-entropy.** For targets $y_i \\in \\{0, 1\\}$ and a predicted probability "
             "$\\hat{y}_i = \\sigma(z_i)$ computed from the logits $z$, the Bernoulli likelihood is "
             "$\\prod_i \\hat{y}_i^{y_i} (1 - \\hat{y}_i)^{1 - y_i}$ and its negative log is the binary cross-entropy:"),
        Formula(bce, "L", reference=bernoulli),
        Text("Differentiated with respect to one logit $z_i$, the sigmoid's derivative cancels against the "
             "logarithms:"),
        _binary_derivation(),
        Text("So the gradient is prediction minus target. In matrix form, step by step (checked against "
             "differences of the written-out likelihood):"),
        steps(bce, [z], "L"),
        Formula(ns.grad(bce, z).expression, r"\nabla_z L", derivative_of=(bernoulli, z)),
        Text("**Categorical cross-entropy.** For $K$ classes with target probabilities $y$ (one-hot, or any "
             "distribution: entries summing to one) and the model's $\\operatorname{softmax}(z)$, the negative "
             "log-likelihood is $-y^\\top \\log \\operatorname{softmax}(z)$, which equals "
             "$\\operatorname{logsumexp}(z) - y^\\top z$ when $y$ sums to one:"),
        Formula(sce, "L", reference=ns.logsumexp(z) - ns.transpose(p) @ z),
        Text("Derived through the general rule for $\\log \\operatorname{softmax}$, the gradient first reads"),
        Formula(ns.grad(unfused, z).expression, r"\nabla_z L", derivative_of=(categorical, z)),
        Text("and since $\\mathbf{1}^\\top y = 1$ it is $\\operatorname{softmax}(z) - y$. Entry by entry, with "
             "$\\delta_{ik}$ the Kronecker delta:"),
        _categorical_derivation(),
        Text("nnsym applies that simplification as a rule of its own for the fused loss:"),
        steps(sce, [z], "L"),
        Formula(ns.grad(sce, z).expression, r"\nabla_z L", reference=ns.softmax(z) - p,
                derivative_of=(categorical, z)),
        Text("In both cases the error signal that backpropagation starts from is prediction minus target."),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
