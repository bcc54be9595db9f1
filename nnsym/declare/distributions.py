"""Probability and information theory as nnsym expressions: log-likelihoods, entropies, divergences.

Every constructor here composes existing nodes (log, softmax, log-softmax, trace, log det, inverse,
quadratic forms), so the rules table derives their gradients, the printers write them as a lecturer
does, the reader reads them back and the exporters write their code, with no node of their own.

Conventions (as in the rest of nnsym): vectors are columns, a batch has its examples as columns (a
d x N data matrix X), a probability vector is a column whose entries sum to one. The log is natural.

Covariance matrices: Sigma is declared ``spd`` (``--assume Sigma=spd``). Its gradient is taken as written,
every entry an independent variable (the unconstrained gradient, evaluated at a symmetric matrix):
d log det Sigma / d Sigma = Sigma^{-T} = Sigma^{-1}. The gradient constrained to symmetric matrices (the
off-diagonal pair Sigma_ij = Sigma_ji moved together) is G + G^T - diag(G) of it; both vanish together, so
the maximum-likelihood estimates are the same.
"""

from __future__ import annotations

import sympy

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Apply, Expr, Softmax
from nnsym.declare.functions import log
from nnsym.declare.layers import binary_cross_entropy
from nnsym.errors import ShapeError



def _log_2pi() -> Expr:
    return log(E.Constant(2 * sympy.pi))


def _log(p: Expr) -> Expr:
    """log p; for p = softmax(z) the log-softmax, which stays finite where a probability underflows."""
    if isinstance(p, Softmax):
        return E.log_softmax(p.args[0])
    return log(p)


def _need_column(what: str, v: Expr) -> None:
    if v.cols != 1 or v.is_scalar:
        raise ShapeError(f"{what} needs a column vector, got {E.show_shape(v.shape)}")


def _need_same(what: str, a: Expr, b: Expr) -> None:
    if a.shape != b.shape:
        raise ShapeError(f"{what}: shapes {E.show_shape(a.shape)} and {E.show_shape(b.shape)} do not match")


def _inner(a: Expr, b: Expr) -> Expr:
    """sum_i a_i b_i: a^T b for columns, 1^T (A o B) 1 for matrices."""
    if a.cols == 1:
        return E.matmul(E.transpose(a), b)
    return E.sum_entries(E.hadamard(a, b))


# ----- discrete distributions -----


def bernoulli_log_likelihood(y: Expr, p: Expr) -> Expr:
    """log prod_i p_i^{y_i} (1 - p_i)^{1 - y_i} = y^T log p + (1 - y)^T log(1 - p), y in {0, 1}.
    For p = sigma(z) it is minus the binary cross-entropy from the logits, finite at z = +-800, where
    log(1 - sigma(z)) would be log 0."""
    _need_same("Bernoulli log-likelihood", y, p)
    if isinstance(p, Apply) and p.function.name == "sigmoid":
        return E.neg(binary_cross_entropy(p.args[0], y))
    return E.add(_inner(y, log(p)), _inner(E.add(1, E.neg(y)), log(E.add(1, E.neg(p)))))


def bernoulli_nll(y: Expr, p: Expr) -> Expr:
    """The negative log-likelihood of targets y under Bernoulli probabilities p."""
    return E.neg(bernoulli_log_likelihood(y, p))


def categorical_log_likelihood(y: Expr, p: Expr) -> Expr:
    """log prod_k p_k^{y_k} = y^T log p for a one-hot (or probability) y; summed over the columns of a batch."""
    _need_same("categorical log-likelihood", y, p)
    return _inner(y, _log(p))


def categorical_nll(y: Expr, p: Expr) -> Expr:
    """-y^T log p; with p = softmax(z) it is the softmax cross-entropy, through log-softmax."""
    return E.neg(categorical_log_likelihood(y, p))


# ----- Gaussians -----


def gaussian_log_density(x: Expr, mu: Expr, sigma: Expr) -> Expr:
    """log N(x; mu, sigma^2) = -1/2 log(2 pi sigma^2) - (x - mu)^2 / (2 sigma^2), all scalars."""
    for what, v in (("x", x), ("the mean", mu), ("the standard deviation", sigma)):
        if not E.lift(v).is_scalar:
            raise ShapeError(f"univariate Gaussian: {what} must be a scalar, got {E.show_shape(E.lift(v).shape)}")
    r = E.add(x, E.neg(mu))
    variance = E.power(sigma, 2)
    return E.add(E.scale(sympy.Rational(-1, 2), log(E.scale(2 * sympy.pi, variance))),
                 E.neg(E.scale(E.power(E.scale(2, variance), -1), E.power(r, 2))))


def _residual(X: Expr, mu: Expr) -> Expr:
    """X - mu 1^T: each example (column) minus the mean; X - M for a mean per example (predictions)."""
    if mu.shape == X.shape:
        return E.add(X, E.neg(mu))
    _need_column("the mean", mu)
    if X.rows != mu.rows:
        raise ShapeError(f"Gaussian: the data have {X.rows} rows but the mean has {mu.rows}")
    if X.cols == 1:
        return E.add(X, E.neg(mu))
    return E.add(X, E.neg(E.matmul(mu, E.transpose(E.Ones(X.cols, 1)))))


def mvn_log_density(x: Expr, mu: Expr, Sigma: Expr) -> Expr:
    """log N(x; mu, Sigma) = -d/2 log 2 pi - 1/2 log det Sigma - 1/2 (x - mu)^T Sigma^{-1} (x - mu)."""
    _need_column("multivariate Gaussian: x", x)
    nll = mvn_nll(x, mu, Sigma)
    return E.add(*[E.neg(term) for term in nll.args])


def mvn_nll(X: Expr, mu: Expr, Sigma: Expr) -> Expr:
    """-sum_n log N(x_n; mu, Sigma) over the columns x_n of X (d x N):
    N/2 log det Sigma + 1/2 tr((X - mu 1^T)^T Sigma^{-1} (X - mu 1^T)) + N d/2 log 2 pi."""
    R = _residual(X, mu)
    if Sigma.shape != (X.rows, X.rows):
        raise ShapeError(f"Gaussian: the covariance must be {X.rows}x{X.rows}, got {E.show_shape(Sigma.shape)}")
    n, d = E.Constant(X.cols), E.Constant(X.rows)
    half = sympy.Rational(1, 2)
    return E.add(E.scale(E.scale(half, n), E.logdet(Sigma)),
                 E.scale(half, E.trace(E.matmul(E.matmul(E.transpose(R), E.inv(Sigma)), R))),
                 E.scale(E.scale(half, E.scale(n, d)), _log_2pi()))


def isotropic_nll(X: Expr, mu: Expr, sigma: Expr) -> Expr:
    """The Gaussian NLL with Sigma = sigma^2 I:  ||X - mu 1^T||^2 / (2 sigma^2) + N d/2 log(2 pi sigma^2).
    For fixed sigma it is the squared error 1/2 ||y - y_hat||^2 / sigma^2 plus a constant."""
    sigma = E.lift(sigma)
    if not sigma.is_scalar:
        raise ShapeError(f"isotropic Gaussian: sigma must be a scalar, got {E.show_shape(sigma.shape)}")
    R = _residual(X, mu)
    variance = E.power(sigma, 2)
    count = E.scale(E.Constant(X.cols), E.Constant(X.rows))
    return E.add(E.scale(E.power(E.scale(2, variance), -1), E.norm(R, squared=True)),
                 E.scale(E.scale(sympy.Rational(1, 2), count), log(E.scale(2 * sympy.pi, variance))))


# ----- information theory -----


def entropy(p: Expr) -> Expr:
    """H(p) = -p^T log p (nats)."""
    _need_column("entropy", p)
    return E.neg(_inner(p, _log(p)))


def cross_entropy(p: Expr, q: Expr) -> Expr:
    """H(p, q) = -p^T log q."""
    _need_column("cross-entropy", p)
    _need_same("cross-entropy", p, q)
    return E.neg(_inner(p, _log(q)))


def kl_divergence(p: Expr, q: Expr) -> Expr:
    """KL(p || q) = p^T (log p - log q) = H(p, q) - H(p)."""
    _need_column("KL divergence", p)
    _need_same("KL divergence", p, q)
    return _inner(p, E.add(_log(p), E.neg(_log(q))))


def gaussian_kl(mu0: Expr, Sigma0: Expr, mu1: Expr, Sigma1: Expr) -> Expr:
    """KL(N(mu0, Sigma0) || N(mu1, Sigma1))
    = 1/2 [tr(Sigma1^{-1} Sigma0) + (mu1 - mu0)^T Sigma1^{-1} (mu1 - mu0) - d + log det Sigma1 - log det Sigma0]."""
    _need_column("Gaussian KL: mu0", mu0)
    _need_same("Gaussian KL: the means", mu0, mu1)
    for S in (Sigma0, Sigma1):
        if S.shape != (mu0.rows, mu0.rows):
            raise ShapeError(f"Gaussian KL: a covariance must be {mu0.rows}x{mu0.rows}, got {E.show_shape(S.shape)}")
    r = E.add(mu1, E.neg(mu0))
    P = E.inv(Sigma1)
    inside = E.add(E.trace(E.matmul(P, Sigma0)), E.matmul(E.matmul(E.transpose(r), P), r),
                   E.neg(E.Constant(mu0.rows)), E.logdet(Sigma1), E.neg(E.logdet(Sigma0)))
    return E.scale(sympy.Rational(1, 2), inside)


# ----- Bayes' rule -----


def evidence(likelihood: Expr, prior: Expr) -> Expr:
    """p(x) = sum_k p(x | k) p(k) = l^T pi: the normaliser of Bayes' rule."""
    _need_column("evidence", prior)
    _need_same("evidence", likelihood, prior)
    return E.matmul(E.transpose(likelihood), prior)


def bayes_posterior(likelihood: Expr, prior: Expr) -> Expr:
    """p(k | x) = p(x | k) p(k) / sum_j p(x | j) p(j):  (l o pi) / (l^T pi)."""
    return E.scale(E.power(evidence(likelihood, prior), -1), E.hadamard(likelihood, prior))
