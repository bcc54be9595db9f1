"""Numerically stable NumPy primitives, shared by the evaluator and by generated code.

Generated modules copy these functions' source (`inspect.getsource`), so each must be self-contained:
NumPy only, no globals but ``np``. The naive forms overflow: log sigma(-1000) = -inf, softmax of
[1000, 1000, 0] = nan, sigma'(-800) via e^{-z}/(1+e^{-z})^2 = nan. Each form here stays finite and
accurate for |z| <= 1000 (tests compare them with mpmath).
"""

import math

import numpy as np


def sigmoid(z):
    # 1 / (1 + e^{-z}) is accurate to a few ulps wherever e^{-z} is finite; clipping z at -708 keeps it
    # finite, and below that sigma(z) < 3.3e-308 is returned as 3.3e-308. Four array passes, against
    # eight for the where() of two branches (five times slower at 256 x 64).
    return 1.0 / (1.0 + np.exp(-np.maximum(z, -708.0)))


def sigmoid_prime(z):
    # sigma(z) sigma(-z) is symmetric and avoids 1 - sigma(z) cancelling to 0 for large z.
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


def log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def softplus(z):
    return np.logaddexp(0.0, z)


def tanh_prime(z):
    # 1 - tanh^2 loses everything past |z| ~ 19; 4 e^{-2|z|}/(1 + e^{-2|z|})^2 does not.
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def relu(z):
    return np.maximum(z, 0.0)


def heaviside(z):
    return (np.asarray(z) > 0).astype(float)


def step_nonpositive(z):
    return (np.asarray(z) <= 0).astype(float)


def leaky_relu(z, alpha):
    return np.where(z > 0, z, alpha * z)


def leaky_relu_prime(z, alpha):
    return np.where(z > 0, 1.0, alpha)


def elu(z, alpha):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_prime(z, alpha):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


def erf(z):
    # Elementwise math.erf: accurate to the last bit and needs no SciPy.
    return np.vectorize(math.erf, otypes=[float])(z)


def normal_pdf(z):
    return np.exp(-0.5 * np.square(z)) / math.sqrt(2.0 * math.pi)


def gelu(z):
    return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))


def gelu_prime(z):
    return 0.5 * (1.0 + erf(z / math.sqrt(2.0))) + z * normal_pdf(z)


def logsumexp(z):
    # Column-wise, shifted by the column maximum m. Each maximum contributes exactly e^0 = 1, so the
    # sum is 1 + rest and log1p(rest) keeps logsumexp([0, -40]) = 4.2e-18 (log of the rounded sum: 0).
    m = np.max(z, axis=0, keepdims=True)
    top = z == m
    rest = np.sum(np.where(top, 0.0, np.exp(z - m)), axis=0, keepdims=True) + (np.sum(top, axis=0, keepdims=True) - 1.0)
    return m + np.log1p(rest)


def softmax(z):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def log_softmax(z):
    # (z - m) - log1p(rest), not z - logsumexp(z): for the largest entry the two terms would cancel
    # (log_softmax([40, 0])[0] = -4.2e-18 would come out 0).
    m = np.max(z, axis=0, keepdims=True)
    top = z == m
    rest = np.sum(np.where(top, 0.0, np.exp(z - m)), axis=0, keepdims=True) + (np.sum(top, axis=0, keepdims=True) - 1.0)
    return (z - m) - np.log1p(rest)


def softmax_cross_entropy(z, y):
    # -sum y log softmax(z), through log-softmax: finite when a probability underflows to 0.
    return -np.sum(y * log_softmax(z))


def binary_cross_entropy(z, y):
    # From the logits: -[y log sigma(z) + (1 - y) log(1 - sigma(z))] = y softplus(-z) + (1 - y) softplus(z),
    # two non-negative terms (softplus(z) - y z would cancel to 0 at y = 1, z = 40).
    return np.sum(y * softplus(-z) + (1.0 - y) * softplus(z))


def logdet(a):
    sign, value = np.linalg.slogdet(a)
    return value
