"""Probability and information theory: Bayes' rule, the distributions, maximum likelihood, entropy and
divergences, and the losses they give."""

import numpy as np
import sympy

import nnsym as ns
from nnsym.declare.expressions import Constant, name
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main, steps
from nnsym.verify.evaluate import evaluate

# The worked example of Bayes' rule: a test for a condition that 1 in 100 people have.
PREVALENCE, SENSITIVITY, FALSE_POSITIVE = 0.01, 0.99, 0.05


def _bayes_numbers():
    """The posterior by nnsym's expression (l o rho) / (l^T rho), and by hand."""
    l, prior = ns.vector("l", 2), ns.vector(r"\rho", 2)
    likelihood = np.array([[SENSITIVITY], [FALSE_POSITIVE]])
    pi = np.array([[PREVALENCE], [1 - PREVALENCE]])
    posterior = evaluate(ns.bayes_posterior(l, prior), {"l": likelihood, r"\rho": pi})
    evidence = SENSITIVITY * PREVALENCE + FALSE_POSITIVE * (1 - PREVALENCE)
    by_hand = SENSITIVITY * PREVALENCE / evidence
    return posterior, evidence, by_hand


def _bayes_check():
    posterior, evidence, by_hand = _bayes_numbers()
    error = max(abs(posterior[0, 0] - by_hand) / by_hand, abs(posterior.sum() - 1))
    return "nnsym's (l o rho) / (l^T rho) against the hand computation 0.99 * 0.01 / p(+); entries sum to 1", error


def _bayes_display():
    posterior, evidence, _ = _bayes_numbers()
    return (rf"p(+) = {SENSITIVITY} \cdot {PREVALENCE} + {FALSE_POSITIVE} \cdot {1 - PREVALENCE:g} = "
            rf"{array_latex(evidence)}, \qquad p(\text{{ill}} \mid +) = \frac{{{SENSITIVITY} \cdot {PREVALENCE}}}"
            rf"{{{array_latex(evidence)}}} = {array_latex(posterior[0, 0])}")


def _density_plot(axes):
    x, m, s = ns.scalar("x"), ns.scalar("m"), ns.scalar("s", assume="positive")
    density = ns.exp(ns.gaussian_log_density(x, m, s))
    grid = np.linspace(-5, 5, 201)
    for mean, deviation in ((0.0, 1.0), (0.0, 0.5), (1.5, 2.0)):
        values = [evaluate(density, {"x": t, "m": mean, "s": deviation})[0, 0] for t in grid]
        axes.plot(grid, values, label=f"N(x; {mean:g}, {deviation:g}²)")
    axes.set_xlabel("x")
    axes.set_title("Gaussian densities")
    axes.legend()


def _bernoulli_entropy_plot(axes):
    p = ns.vector("p", 2, assume="probability")
    H = ns.entropy(p)
    grid = np.linspace(0.001, 0.999, 199)
    values = [evaluate(H, {"p": np.array([[t], [1 - t]])})[0, 0] / np.log(2) for t in grid]
    axes.plot(grid, values)
    axes.set_xlabel("p")
    axes.set_ylabel("H in bits")
    axes.set_title("Entropy of a Bernoulli(p)")


def _kl_check():
    """KL(p || q) >= 0 at random points, 0 at p = q, and H(p, q) = H(p) + KL(p || q), by value."""
    p, q = ns.vector("p", 5, assume="probability"), ns.vector("q", 5, assume="probability")
    kl, h, cross = ns.kl_divergence(p, q), ns.entropy(p), ns.cross_entropy(p, q)
    rng = np.random.default_rng(11)
    worst, smallest = 0.0, np.inf
    for _ in range(200):
        a, b = np.exp(3 * rng.standard_normal((5, 1))), np.exp(3 * rng.standard_normal((5, 1)))
        a, b = a / a.sum(), b / b.sum()
        value = evaluate(kl, {"p": a, "q": b})[0, 0]
        smallest = min(smallest, value)
        worst = max(worst, abs(evaluate(kl, {"p": a, "q": a})[0, 0]),
                    abs(evaluate(cross, {"p": a, "q": b})[0, 0] - evaluate(h, {"p": a})[0, 0] - value) / abs(value))
    if smallest <= 0:
        worst = max(worst, 1.0)
    return "200 random pairs (p, q): KL > 0, KL(p || p) = 0 and H(p, q) = H(p) + KL(p || q) by value", worst


def _mle_numbers():
    X, mu = ns.matrix("X", 2, 6), ns.vector(r"\mu", 2)
    Sigma = ns.matrix(r"\Sigma", 2, 2, assume="spd")
    f = ns.mvn_nll(X, mu, Sigma)
    data = np.array([[1.0, 2.0, 0.5, 3.0, 1.5, 2.5], [0.0, 1.0, -1.0, 2.0, 0.5, 1.0]])
    mean = data.mean(axis=1, keepdims=True)
    cov = (data - mean) @ (data - mean).T / data.shape[1]
    values = {"X": data, r"\mu": mean, r"\Sigma": cov}
    g_mu = evaluate(ns.grad(f, mu).expression, values)
    g_S = evaluate(ns.grad(f, Sigma).expression, values)
    return data, mean, cov, g_mu, g_S


def _mle_check():
    data, mean, cov, g_mu, g_S = _mle_numbers()
    scale = np.max(np.abs(np.linalg.inv(cov))) * data.shape[1]
    return ("nnsym's gradients evaluated at the sample mean and the (1/N) sample covariance",
            max(np.max(np.abs(g_mu)), np.max(np.abs(g_S))) / scale)


def _mle_display():
    data, mean, cov, g_mu, g_S = _mle_numbers()
    return (rf"X = {array_latex(data)}, \quad \hat{{\mu}} = {array_latex(mean)}, \quad "
            rf"\hat{{\Sigma}} = {array_latex(cov)}, \quad "
            rf"\max \left|\nabla\right| = {array_latex(max(np.max(np.abs(g_mu)), np.max(np.abs(g_S))), 2)}")


def note() -> Note:
    """11: probability and information theory."""
    d, N, K = "d", "N", "K"
    x, mu = ns.vector("x", d), ns.vector(r"\mu", d)
    Sigma = ns.matrix(r"\Sigma", d, d, assume="spd")
    X = ns.matrix("X", d, N)
    sigma = ns.scalar("s", assume="positive")  # the standard deviation: \sigma is the sigmoid in nnsym's notation
    xs, ms = ns.scalar("x"), ns.scalar(r"\mu")
    p, q = ns.vector("p", K, assume="probability"), ns.vector("q", K, assume="probability")
    z, y = ns.vector("z", K), ns.vector("y", K, assume="onehot")
    t, r = ns.vector("y", K), ns.vector("p", K, assume="probability")
    l, prior = ns.vector("l", K), ns.vector(r"\rho", K, assume="probability")
    mu0, mu1 = ns.vector(r"\mu_0", d), ns.vector(r"\mu_1", d)
    S0, S1 = ns.matrix(r"\Sigma_0", d, d, assume="spd"), ns.matrix(r"\Sigma_1", d, d, assume="spd")
    Y, Yhat = ns.matrix("Y", K, N), ns.matrix(r"\hat{Y}", K, N)

    posterior = ns.bayes_posterior(l, prior)
    bernoulli = ns.bernoulli_log_likelihood(t, r)
    univariate = ns.gaussian_log_density(xs, ms, sigma)
    density = ns.mvn_log_density(x, mu, Sigma)
    nll = ns.mvn_nll(X, mu, Sigma)
    R = X - mu @ ns.transpose(ns.ones(N))
    # The same NLL with the residuals named R (short lines for the steps), checked equal to ns.mvn_nll.
    R_named = name("R", R)
    count = Constant(X.cols)
    nll_named = (count / 2 * ns.logdet(Sigma) + ns.trace(ns.transpose(R_named) @ ns.inv(Sigma) @ R_named) / 2
                 + count * Constant(X.rows) / 2 * ns.log(Constant(2 * sympy.pi)))
    g_mu, g_Sigma = ns.grad(nll_named, mu).expression, ns.grad(nll_named, Sigma).expression
    inverse = ns.inv(Sigma)
    H, cross, kl = ns.entropy(p), ns.cross_entropy(p, q), ns.kl_divergence(p, q)
    s = ns.softmax(z)
    # Named s on the page (short lines); ns.entropy(ns.softmax(z)) itself goes through log-softmax.
    s_named = name("s", s)
    H_softmax = ns.entropy(s_named)
    gauss_kl = ns.gaussian_kl(mu0, S0, mu1, S1)
    iso = ns.isotropic_nll(Y, Yhat, sigma)
    squared = ns.norm(Y - Yhat, squared=True) / (2 * sigma ** 2)
    cat = ns.categorical_nll(y, s)
    sce = ns.softmax_cross_entropy(z, y)
    half = sympy.Rational(1, 2)
    return Note(11, "probability-information", "Probability and information theory", (
        Text("Networks are trained by maximising a likelihood, and the losses of the earlier topics are negative "
             "log-likelihoods. This topic collects the probability behind them: events and conditional "
             "probability, Bayes' rule, the Bernoulli, categorical and Gaussian distributions, maximum-likelihood "
             "estimation, and the information-theoretic quantities (entropy, cross-entropy, KL divergence). Every "
             "formula is derived by nnsym and checked by value; every gradient by central differences."),
        Text("**Sets and conditional probability.** A probability assigns to each event $A$ (a set of outcomes "
             "of a sample space $\\Omega$) a number $P(A) \\in [0, 1]$ with $P(\\Omega) = 1$ and "
             "$P(A \\cup B) = P(A) + P(B)$ for disjoint $A, B$; in general "
             "$P(A \\cup B) = P(A) + P(B) - P(A \\cap B)$. The probability of $A$ given that $B$ happened is "
             "$P(A \\mid B) = P(A \\cap B) / P(B)$ for $P(B) > 0$, so $P(A \\cap B) = P(A \\mid B) P(B)$ (the "
             "product rule). If $B_1, \\dots, B_K$ split $\\Omega$ into disjoint pieces, "
             "$P(A) = \\sum_k P(A \\mid B_k) P(B_k)$ (total probability). $A$ and $B$ are independent when "
             "$P(A \\cap B) = P(A) P(B)$."),
        Text("**Bayes' rule.** Writing the product rule both ways, $P(B_k \\mid A) P(A) = P(A \\mid B_k) P(B_k)$, "
             "gives Bayes' rule. For a discrete variable with $K$ values, a prior vector $\\rho$ "
             "($\\rho_k = p(k)$) and the likelihoods $l_k = p(x \\mid k)$ of an observation $x$, the posterior "
             "vector is the elementwise product normalised by the evidence $p(x) = l^\\top \\rho$:"),
        Formula(posterior, r"p\left(k \mid x\right)",
                reference=ns.hadamard_div(ns.hadamard(l, prior), (ns.transpose(l) @ prior) * ns.ones(K))),
        Text(f"*Worked example.* A condition affects {PREVALENCE:.0%} of people. A test detects it with "
             f"probability {SENSITIVITY} and gives a false positive with probability {FALSE_POSITIVE}. With "
             "$\\rho = (0.01, 0.99)$ and $l = (0.99, 0.05)$ for a positive result, nnsym's formula gives"),
        Display(_bayes_display(), _bayes_check),
        Text("so only one positive in six is ill: the prior is small, and the false positives of the many "
             "healthy people outnumber the true positives."),
        Text("**Bernoulli.** A variable in $\\{0, 1\\}$ that is 1 with probability $p$ has "
             "$P(y) = p^y (1 - p)^{1 - y}$. For independent targets $y_i$ with probabilities $p_i$ the "
             "log-likelihood is"),
        Formula(bernoulli, r"\log P\left(y \mid p\right)"),
        Text("with the gradient in the probabilities (entrywise $y_i / p_i - (1 - y_i) / (1 - p_i)$):"),
        Formula(ns.grad(bernoulli, r).expression, r"\nabla_{p} \log P", derivative_of=(bernoulli, r)),
        Text("Its entropy $H = -p \\log p - (1 - p) \\log(1 - p)$ is largest, one bit, at $p = 1/2$ and zero "
             "when the outcome is certain:"),
        Plot("bernoulli-entropy", "entropy of a Bernoulli(p) in bits against p", _bernoulli_entropy_plot),
        Text("**Categorical.** A variable with $K$ values and probabilities $p$ (entries summing to one), the "
             "observed value written as a one-hot vector $y$, has $\\log P(y) = y^\\top \\log p$:"),
        Formula(ns.categorical_log_likelihood(y, p), r"\log P\left(y \mid p\right)"),
        Text("**Gaussian.** The univariate normal density with mean $\\mu$ and standard deviation $s$ "
             "(often written $\\sigma$, which nnsym's notation keeps for the sigmoid), "
             "$\\mathcal{N}(x; \\mu, s^2) = \\exp(-(x - \\mu)^2 / (2s^2)) / \\sqrt{2\\pi s^2}$, "
             "has the log-density"),
        Formula(univariate, r"\log \mathcal{N}\left(x; \mu, s^{2}\right)"),
        Plot("gaussian-densities", "Gaussian densities for three means and standard deviations", _density_plot),
        Text("In $d$ dimensions the mean is a vector $\\mu$ and the covariance $\\Sigma$ a symmetric positive "
             "definite matrix. With the quadratic form $q = (x - \\mu)^\\top \\Sigma^{-1} (x - \\mu)$ "
             "the density is $(2\\pi)^{-d/2} (\\det \\Sigma)^{-1/2} e^{-q/2}$, so"),
        Formula(density, r"\log \mathcal{N}\left(x; \mu, \Sigma\right)"),
        Text("**Maximum likelihood for a Gaussian.** For $N$ independent examples, the columns of the "
             "$d \\times N$ matrix $X$, the negative log-likelihood is a sum over the columns; the quadratic "
             "forms add up to a trace:"),
        Formula(nll, r"L = -\log p\left(X \mid \mu, \Sigma\right)"),
        Text("With the residuals $R = X - \\mu \\mathbf{1}^\\top$ (column $n$ is $x_n - \\mu$) named:"),
        Formula(nll_named, "L", reference=nll),
        Text("Its gradient in the mean, step by step:"),
        steps(nll_named, [mu], "L"),
        Formula(g_mu, r"\nabla_{\mu} L", derivative_of=(nll, mu)),
        Text("A convention for the covariance: nnsym differentiates the function as written, every entry of "
             "$\\Sigma$ an independent variable, so $\\nabla_\\Sigma \\log\\det \\Sigma = \\Sigma^{-\\top} = "
             "\\Sigma^{-1}$ at a symmetric $\\Sigma$. (Some texts take the gradient over symmetric matrices, "
             "$G + G^\\top - \\operatorname{diag}(G)$ of this $G$; it vanishes at the same points.)"),
        Formula(g_Sigma, r"\nabla_{\Sigma} L", derivative_of=(nll, Sigma),
                reference=half * (inverse @ (count * Sigma - R @ ns.transpose(R)) @ inverse)),
        Text("It equals $\\frac{1}{2}\\Sigma^{-1}(N\\Sigma - R R^\\top)\\Sigma^{-1}$, the reference it is checked against. Setting the gradients to zero: "
             "$\\Sigma^{-1}(X - \\mu\\mathbf{1}^\\top)\\mathbf{1} = 0$ gives $X\\mathbf{1} = N\\mu$, the sample "
             "mean $\\hat{\\mu} = \\frac{1}{N} X \\mathbf{1}$; then $N\\Sigma = (X - \\hat{\\mu}\\mathbf{1}^\\top)"
             "(X - \\hat{\\mu}\\mathbf{1}^\\top)^\\top$ gives the sample covariance $\\hat{\\Sigma} = \\frac{1}{N}"
             "\\sum_n (x_n - \\hat{\\mu})(x_n - \\hat{\\mu})^\\top$ (with $1/N$, not the unbiased $1/(N - 1)$). "
             "Checked numerically: for six points in the plane both gradients vanish at these estimates, to "
             "rounding (the error column is relative to $N \\|\\hat{\\Sigma}^{-1}\\|$):"),
        Display(_mle_display(), _mle_check),
        Text("**Entropy, cross-entropy and KL divergence.** For probability vectors $p, q$ (in nats: natural "
             "logarithms), the entropy $H(p)$ measures the uncertainty of $p$; the cross-entropy $H(p, q)$ is "
             "the expected code length when events from $p$ are coded for $q$; the Kullback-Leibler divergence "
             "is the excess:"),
        Formula(H, r"H\left(p\right)"),
        Formula(cross, r"H\left(p, q\right)", reference=H + kl),
        Text("That is the identity $H(p, q) = H(p) + \\operatorname{KL}(p \\| q)$, checked against"),
        Formula(kl, r"\operatorname{KL}\left(p \| q\right)", reference=cross - H),
        Text("By Gibbs' inequality $\\operatorname{KL}(p \\| q) \\ge 0$, with equality only at $p = q$; here it "
             "is checked at random points, not proved:"),
        Display(r"\operatorname{KL}\left(p \| q\right) \geq 0, \quad \operatorname{KL}\left(p \| p\right) = 0",
                _kl_check),
        Text("Its gradient in $q$ is the cross-entropy's, $-p \\oslash q$ (entrywise $-p_k / q_k$):"),
        Formula(ns.grad(kl, q).expression, r"\nabla_{q} \operatorname{KL}\left(p \| q\right)",
                derivative_of=(kl, q), reference=-ns.hadamard_div(p, q)),
        Text("The entropy of the softmax of logits $z$, with $s = \\operatorname{softmax}(z)$, is "
             "$H = -s^\\top \\log s$. (Evaluated and exported, $\\log s$ is computed as "
             "$\\log\\operatorname{softmax}(z)$, finite at logits of $\\pm 800$.) Its gradient, through the "
             "softmax Jacobian $\\operatorname{diag}(s) - s s^\\top$:"),
        Formula(ns.grad(H_softmax, z).expression, r"\nabla_{z} H", derivative_of=(H_softmax, z)),
        Text("Since $\\mathbf{1}^\\top s = 1$, the terms in $\\mathbf{1}$ cancel and the gradient is "
             "$-s \\odot \\log s + (s^\\top \\log s)\\, s$:"),
        Formula(-ns.hadamard(s_named, ns.log(s_named)) + (ns.transpose(s_named) @ ns.log(s_named)) * s_named,
                r"\nabla_{z} H", derivative_of=(H_softmax, z)),
        Text("**KL divergence of two Gaussians.** In closed form, with the trace, the quadratic form and the "
             "log-determinants:"),
        Formula(gauss_kl, r"\operatorname{KL}\left(\mathcal{N}_{0} \| \mathcal{N}_{1}\right)"),
        Formula(ns.grad(gauss_kl, mu0).expression, r"\nabla_{\mu_{0}} \operatorname{KL}", derivative_of=(gauss_kl, mu0)),
        Formula(ns.grad(gauss_kl, S0).expression, r"\nabla_{\Sigma_{0}} \operatorname{KL}",
                derivative_of=(gauss_kl, S0)),
        Formula(ns.grad(gauss_kl, S1).expression, r"\nabla_{\Sigma_{1}} \operatorname{KL}",
                derivative_of=(gauss_kl, S1)),
        Text("**Where the losses come from.** With the covariance fixed at $s^2 I$, the Gaussian negative "
             "log-likelihood of targets $Y$ around predictions $\\hat{Y}$ is the squared error divided by "
             "$s^2$ plus a constant, $\\frac{NK}{2}\\log(2\\pi s^2)$:"),
        Formula(iso, r"-\log p\left(Y \mid \hat{Y}, s^{2} I\right)",
                reference=squared + sympy.Rational(1, 2) * ns.trace(ns.identity(K)) * Constant(Y.cols) * ns.log(2 * sympy.pi * sigma ** 2)),
        Formula(ns.grad(iso, Yhat).expression, r"\nabla_{\hat{Y}} L", derivative_of=(iso, Yhat),
                reference=ns.grad(squared, Yhat).expression),
        Text("so minimising the squared error is maximising a Gaussian likelihood, whatever $s$. The "
             "categorical negative log-likelihood of $\\operatorname{softmax}(z)$ is the softmax cross-entropy, "
             "and its gradient in the logits is prediction minus target:"),
        Formula(cat, "L", reference=sce),
        steps(cat, [z], "L"),
        Formula(ns.grad(cat, z).expression, r"\nabla_{z} L", derivative_of=(cat, z), reference=s - y),
        Text("which is $\\operatorname{softmax}(z) - y$ because $\\mathbf{1}^\\top y = 1$ (the reference it is "
             "checked against)."),
        Text("For a one-hot $y$, $H(y) = 0$, so the cross-entropy $H(y, \\operatorname{softmax}(z))$ equals "
             "$\\operatorname{KL}(y \\| \\operatorname{softmax}(z))$: minimising the cross-entropy to targets is "
             "minimising the KL divergence to them, and for soft targets the two differ by the constant $H(y)$."),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
