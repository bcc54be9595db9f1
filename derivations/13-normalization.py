"""Batch normalization and layer normalization: the forward pass, the compact backward pass, and the
classic mistake of treating the mean and the variance as constants."""

import numpy as np

import nnsym as ns
from nnsym.declare.normalization import normalize, std
from nnsym.derive.steps import substitute
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error

EPS = 1e-5


def _explicit_batch_norm(Z, gamma, beta, B):
    """BN written from its definition with ordinary nodes only: mu = Z 1 / B, C = Z - mu 1^T,
    sigma^2 = (C o C) 1 / B, x-hat = C / (sqrt(sigma^2 + eps) 1^T). Independent of the BN rule."""
    ones_B = ns.ones(B)
    mu = ns.mean_over_batch(Z @ ones_B, B)
    C = Z - mu @ ns.transpose(ones_B)
    sigma = ns.sqrt(ns.mean_over_batch(ns.hadamard(C, C) @ ones_B, B) + EPS * ns.ones(Z.rows))
    x_hat = ns.hadamard_div(C, sigma @ ns.transpose(ones_B))
    return ns.hadamard(gamma @ ns.transpose(ones_B), x_hat) + beta @ ns.transpose(ones_B)


def _cs231n_backward(Z, gamma, dY):
    """batchnorm_backward_alt of CS231n assignment 2, written out in NumPy with examples as columns."""
    B = Z.shape[1]
    mu = Z.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(((Z - mu) ** 2).mean(axis=1, keepdims=True) + EPS)
    x_hat = (Z - mu) * inv
    dx_hat = dY * gamma
    return inv / B * (B * dx_hat - dx_hat.sum(axis=1, keepdims=True)
                      - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True))


def _short(expr, Z, over, extra=()):
    """The formula with x-hat written \\hat{Z} and sqrt(var + eps) written s (names the text defines),
    and any (node, name) of ``extra`` named: the board form, short enough for a line."""
    replacements = [(normalize(Z, over), r"\hat{Z}"), (std(Z, over), "s"), *extra]
    for node, name in replacements:
        expr = substitute(expr, node, ns.declare.expressions.name(name, node))
    return expr


def note() -> Note:
    """13: batch and layer normalization."""
    n, B = "n", "B"
    Z, R = ns.matrix("Z", n, B), ns.matrix("R", n, B)
    gamma, beta = ns.vector(r"\gamma", n), ns.vector(r"\beta", n)
    Y = ns.batch_norm(Z, gamma, beta)
    # A loss whose upstream gradient dL/dY is R: the gradients below are the layer's backward pass.
    loss = ns.sum_entries(ns.hadamard(Y, R))
    explicit = ns.sum_entries(ns.hadamard(_explicit_batch_norm(Z, gamma, beta, B), R))
    found = ns.gradients(loss, [Z, gamma, beta], oracle=False)
    ln_loss = ns.sum_entries(ns.hadamard(ns.layer_norm(Z, gamma, beta), R))
    ln_found = ns.gradients(ln_loss, [Z, gamma], oracle=False)

    rng = np.random.default_rng(13)
    Z0, g0, b0, R0 = rng.standard_normal((3, 5)) * 2 + 1, rng.random(3) + 0.5, rng.standard_normal(3), \
        rng.standard_normal((3, 5))
    f_numpy = found[Z].to_numpy()
    dZ0 = f_numpy(Z=Z0, R=R0, **{r"\gamma": g0})
    verdict = ns.check(r"\mathbf{1}^\top (\operatorname{BN}(Z, \gamma, \beta) \odot R) \mathbf{1}",
                       r"R \odot (\gamma \oslash \operatorname{std}_{\mathrm{BN}}(Z)) \mathbf{1}^\top", "Z",
                       {"Z": "3x4", "R": "3x4", r"\gamma": "3", r"\beta": "3"})
    Zs = rng.standard_normal((2, 200)) * np.array([[3.0], [0.3]]) + np.array([[4.0], [-1.0]])
    hat = (Zs - Zs.mean(axis=1, keepdims=True)) / np.sqrt(Zs.var(axis=1, keepdims=True) + EPS)

    def draw(axes):
        axes.scatter(Zs[0], Zs[1], s=6, label="Z (two features)")
        axes.scatter(hat[0], hat[1], s=6, label="BN(Z): each feature mean 0, variance 1")
        axes.set_xlabel("feature 1")
        axes.set_ylabel("feature 2")
        axes.legend()

    return Note(13, "normalization", "Batch and layer normalization", (
        Text("**Batch normalization** (Ioffe and Szegedy, 2015) normalises each feature over the batch. With the "
             "examples as the columns of $Z$ ($n \\times B$), row $i$ has the mean $\\mu_i$ and the biased variance "
             "$\\sigma_i^2$ over its $B$ entries; with $\\sigma = \\sqrt{\\sigma^2 + \\epsilon}$ "
             "(written $\\operatorname{std}_{\\mathrm{BN}}(Z)$, an $n$-vector) the layer is "
             "$\\hat{Z} = (Z - \\mu\\mathbf{1}^\\top) \\oslash (\\sigma\\mathbf{1}^\\top)$, written "
             "$\\operatorname{BN}(Z)$, followed by a scale and a shift per feature:"),
        Formula(Y, "Y", reference=_explicit_batch_norm(Z, gamma, beta, B)),
        Text("(the reference builds the mean, the centred values and the variance from sums and products). "
             "Take a loss $L$ with $\\partial L / \\partial Y = R$, so that what follows is the layer's backward "
             "pass for any upstream gradient $R$. Step by step, for the scale and the shift:"),
        steps(loss, [gamma, beta], "L"),
        Text("For $Z$ the chain passes through $\\hat{Z}$, whose cotangent is $R \\odot \\gamma\\mathbf{1}^\\top$, "
             "and then through the batch-norm rule. Writing $\\hat{Z} = \\operatorname{BN}(Z)$ and "
             "$s = \\operatorname{std}_{\\mathrm{BN}}(Z)$, the result is the compact form of the textbooks "
             "(CS231n's `batchnorm_backward_alt`): the scale $\\gamma / s$ of each feature times $B\\,dY$ minus "
             "the row sums $dY\\mathbf{1}\\mathbf{1}^\\top$ (the mean's dependence on $Z$) minus $\\hat{Z}$ times "
             "the row sums of $dY \\odot \\hat{Z}$ (the variance's):"),
        Formula(_short(found[Z].expression, Z, "batch"), r"\frac{\partial L}{\partial Z}", derivative_of=(explicit, Z)),
        Formula(_short(found[gamma].expression, Z, "batch"), r"\frac{\partial L}{\partial \gamma}",
                derivative_of=(explicit, gamma)),
        Formula(found[beta].expression, r"\frac{\partial L}{\partial \beta}", derivative_of=(explicit, beta)),
        Text("Each is checked against central finite differences of the loss built from the explicit definition, "
             "which shares nothing with the batch-norm rule. A worked backward pass, three features and five "
             "examples, from the exported NumPy function, against CS231n's formula written out by hand:"),
        Display(rf"\frac{{\partial L}}{{\partial Z}} = {array_latex(dZ0, 3)}",
                lambda: ("against batchnorm_backward_alt in hand-written NumPy",
                         relative_error(dZ0, _cs231n_backward(Z0, g0[:, None], R0)))),
        Text("**The classic mistake** treats $\\mu$ and $\\sigma^2$ as constants and writes "
             "$dZ = dY \\odot (\\gamma \\oslash \\sigma)\\mathbf{1}^\\top$. `nnsym check` recognises it:"),
        Display(r"\text{claimed } R \odot \left(\gamma \oslash \operatorname{std}_{\mathrm{BN}}\left(Z\right)\right) "
                r"\mathbf{1}^\top \text{ is wrong}",
                lambda: ("nnsym check names the mistake (0 when it does): " + str(verdict.diagnosis)[:60],
                         float(verdict.ok or "statistics held constant" not in (verdict.diagnosis or "")))),
        Text("**Layer normalization** (Ba et al., 2016) normalises each example over its $n$ features instead: "
             "the statistics are per column ($\\hat{Z} = \\operatorname{LayerNorm}(Z)$, and "
             "$s = \\operatorname{std}_{\\mathrm{LN}}(Z)$ is $1 \\times B$), the scale and shift still per feature. "
             "The same derivation with the sums taken over the features, through the cotangent of $\\hat{Z}$:"),
        Formula(ns.hadamard(R, gamma @ ns.transpose(ns.ones(B))), r"\frac{\partial L}{\partial \hat{Z}} = \bar{Z}"),
        Formula(_short(ln_found[Z].expression, Z, "features",
                       [(ns.hadamard(R, gamma @ ns.transpose(ns.ones(B))), r"\bar{Z}")]),
                r"\frac{\partial L}{\partial Z}", derivative_of=(ln_loss, Z)),
        Formula(_short(ln_found[gamma].expression, Z, "features"), r"\frac{\partial L}{\partial \gamma}",
                derivative_of=(ln_loss, gamma)),
        Text("Here $\\gamma$ varies along the normalised axis, so it cannot be taken out of the sums: "
             "$dY \\odot \\gamma\\mathbf{1}^\\top$ stays inside. What batch norm does to a batch:"),
        Plot("batch-norm", "two features before and after batch normalization", draw),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
