"""Every derivative identity of the Matrix Cookbook (sections 2.4-2.5) that the notation can express,
and the deep-learning set, each checked three ways:

1. central finite differences of the function (independent of every rule);
2. the elementwise SymPy derivation at small sizes (independent of the closed-form engine);
3. where the textbook gives the closed form, that formula written out here in NumPy.

The table drives the tests (one spec per identity, JAX style); no test body special-cases a spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest

import nnsym as ns
from nnsym.derive.reverse import cotangents
from nnsym.verify.elementwise import check_elementwise
from nnsym.verify.evaluate import evaluate
from nnsym.verify.finite_differences import check_gradients
from nnsym.verify.points import random_point, small_sizes, symbols_of


@dataclass(frozen=True)
class Spec:
    name: str
    build: Callable  # () -> (f, [variables])
    textbook: Optional[Callable] = None  # (values dict) -> dL/d(first variable), in NumPy
    oracle: bool = True


def inv(a):
    return np.linalg.inv(a)


a, b = ns.vector("a", "n"), ns.vector("b", "n")
c, d = ns.vector("c", "m"), ns.vector("d", "m")
x, s = ns.vector("x", "n"), ns.vector("s", "n")
X = ns.matrix("X", "n", "n")
Xr = ns.matrix("X", "m", "n")  # rectangular
A, B, C = ns.matrix("A", "n", "n"), ns.matrix("B", "n", "n"), ns.matrix("C", "n", "n")
Ar = ns.matrix("A", "m", "n")
Wsym = ns.matrix("W", "n", "n", assume="symmetric")
P = ns.matrix("X", "n", "n", assume="positive-determinant")
S = ns.matrix("X", "n", "n", assume="spd")
u = ns.vector("u", "n")


COOKBOOK = [
    # 2.4.1 first order
    Spec("d(x^T a)/dx = a", lambda: (x.T @ a, [x]), lambda v: v["a"]),
    Spec("d(a^T x)/dx = a", lambda: (a.T @ x, [x]), lambda v: v["a"]),
    Spec("d(a^T X b)/dX = a b^T", lambda: (c.T @ Xr @ a, [Xr]), lambda v: v["c"] @ v["a"].T),
    Spec("d(a^T X^T b)/dX = b a^T", lambda: (a.T @ Xr.T @ c, [Xr]), lambda v: v["c"] @ v["a"].T),
    Spec("d(a^T X a)/dX = a a^T", lambda: (a.T @ X @ a, [X]), lambda v: v["a"] @ v["a"].T),
    # 2.4.2 second order
    Spec("d(b^T X^T X c)/dX = X(b c^T + c b^T)", lambda: (a.T @ Xr.T @ Xr @ b, [Xr]),
         lambda v: v["X"] @ (v["a"] @ v["b"].T + v["b"] @ v["a"].T)),
    Spec("d(x^T B x)/dx = (B + B^T) x", lambda: (x.T @ B @ x, [x]), lambda v: (v["B"] + v["B"].T) @ v["x"]),
    Spec("d(b^T X^T D X c)/dX = D^T X b c^T + D X c b^T", lambda: (a.T @ X.T @ B @ X @ b, [X]),
         lambda v: v["B"].T @ v["X"] @ v["a"] @ v["b"].T + v["B"] @ v["X"] @ v["b"] @ v["a"].T),
    Spec("d((Xb + c)^T D (Xb + c))/dX = (D + D^T)(Xb + c) b^T", lambda: ((X @ a + b).T @ B @ (X @ a + b), [X]),
         lambda v: (v["B"] + v["B"].T) @ (v["X"] @ v["a"] + v["b"]) @ v["a"].T),
    Spec("d((x - s)^T W (x - s))/dx = 2 W (x - s), W symmetric", lambda: ((x - s).T @ Wsym @ (x - s), [x]),
         lambda v: 2 * v["W"] @ (v["x"] - v["s"])),
    Spec("d((x - s)^T W (x - s))/ds = -2 W (x - s), W symmetric", lambda: ((x - s).T @ Wsym @ (x - s), [s]),
         lambda v: -2 * v["W"] @ (v["x"] - v["s"])),
    Spec("d((x - As)^T W (x - As))/dA = -2 W (x - As) s^T", lambda: ((x - A @ s).T @ Wsym @ (x - A @ s), [A]),
         lambda v: -2 * v["W"] @ (v["x"] - v["A"] @ v["s"]) @ v["s"].T),
    Spec("d(||Ax - c||^2)/dx = 2 A^T (Ax - c)", lambda: (ns.norm(Ar @ x - c, squared=True), [x]),
         lambda v: 2 * v["A"].T @ (v["A"] @ v["x"] - v["c"])),
    # 2.5 traces
    Spec("d tr(X)/dX = I", lambda: (ns.trace(X), [X]), lambda v: np.eye(len(v["X"]))),
    Spec("d tr(XA)/dX = A^T", lambda: (ns.trace(X @ A), [X]), lambda v: v["A"].T),
    Spec("d tr(AXB)/dX = A^T B^T", lambda: (ns.trace(A @ X @ B), [X]), lambda v: v["A"].T @ v["B"].T),
    Spec("d tr(AX^T B)/dX = B A", lambda: (ns.trace(A @ X.T @ B), [X]), lambda v: v["B"] @ v["A"]),
    Spec("d tr(X^T A)/dX = A", lambda: (ns.trace(X.T @ A), [X]), lambda v: v["A"]),
    Spec("d tr(A X^T)/dX = A", lambda: (ns.trace(A @ X.T), [X]), lambda v: v["A"]),
    Spec("d tr(X^2)/dX = 2 X^T", lambda: (ns.trace(X @ X), [X]), lambda v: 2 * v["X"].T),
    Spec("d tr(X^T B X)/dX = B X + B^T X", lambda: (ns.trace(X.T @ B @ X), [X]), lambda v: (v["B"] + v["B"].T) @ v["X"]),
    Spec("d tr(X B X^T)/dX = X B^T + X B", lambda: (ns.trace(X @ B @ X.T), [X]), lambda v: v["X"] @ (v["B"] + v["B"].T)),
    Spec("d tr(A X B X)/dX = A^T X^T B^T + B^T X^T A^T", lambda: (ns.trace(A @ X @ B @ X), [X]),
         lambda v: v["A"].T @ v["X"].T @ v["B"].T + v["B"].T @ v["X"].T @ v["A"].T),
    Spec("d tr(X^T X)/dX = 2X", lambda: (ns.trace(X.T @ X), [X]), lambda v: 2 * v["X"]),
    Spec("d ||X||_F^2/dX = 2X", lambda: (ns.norm(Xr, squared=True), [Xr]), lambda v: 2 * v["X"]),
    # inverse
    Spec("d(a^T X^{-1} b)/dX = -X^{-T} a b^T X^{-T}", lambda: (a.T @ ns.inv(X) @ b, [X]),
         lambda v: -inv(v["X"]).T @ v["a"] @ v["b"].T @ inv(v["X"]).T),
    Spec("d tr(A X^{-1} B)/dX = -(X^{-1} B A X^{-1})^T", lambda: (ns.trace(A @ ns.inv(X) @ B), [X]),
         lambda v: -(inv(v["X"]) @ v["B"] @ v["A"] @ inv(v["X"])).T),
    Spec("d tr(X^{-1})/dX = -X^{-2T}", lambda: (ns.trace(ns.inv(X)), [X]), lambda v: -(inv(v["X"]) @ inv(v["X"])).T),
    # determinants
    Spec("d det(X)/dX = det(X) X^{-T}", lambda: (ns.det(X), [X]), lambda v: np.linalg.det(v["X"]) * inv(v["X"]).T),
    Spec("d log det(X)/dX = X^{-T}", lambda: (ns.logdet(P), [P]), lambda v: inv(v["X"]).T),
    Spec("d log det(X)/dX = X^{-1}, X spd", lambda: (ns.logdet(S), [S]), lambda v: inv(v["X"])),
    Spec("d det(AXB)/dX = det(AXB) X^{-T}", lambda: (ns.det(A @ X @ B), [X]),
         lambda v: np.linalg.det(v["A"] @ v["X"] @ v["B"]) * inv(v["X"]).T),
    # norms and Hadamard forms
    Spec("d ||x||/dx = x / ||x||", lambda: (ns.norm(x), [x]), lambda v: v["x"] / np.linalg.norm(v["x"])),
    Spec("d ||x||^2/dx = 2x", lambda: (ns.norm(x, squared=True), [x]), lambda v: 2 * v["x"]),
    Spec("d a^T(x o u)/dx = a o u", lambda: (a.T @ ns.hadamard(x, u), [x]), lambda v: v["a"] * v["u"]),
    Spec("d a^T(x o u)/du = a o x", lambda: (a.T @ ns.hadamard(x, u), [u]), lambda v: v["a"] * v["x"]),
    Spec("d 1^T(x o x)/dx = 2x", lambda: (ns.sum_entries(ns.hadamard(x, x)), [x]), lambda v: 2 * v["x"]),
    Spec("d a^T(x / u)/du = -a o x / u^2", lambda: (a.T @ ns.hadamard_div(x, ns.exp(u)), [u]),
         lambda v: -v["a"] * v["x"] / np.exp(v["u"])),
    Spec("d a^T diag(x) b/dx = a o b", lambda: (a.T @ ns.diag(x) @ b, [x]), lambda v: v["a"] * v["b"]),
    Spec("d logsumexp(x)/dx = softmax(x)", lambda: (ns.logsumexp(x), [x]),
         lambda v: np.exp(v["x"]) / np.exp(v["x"]).sum()),
]

# Deep-learning set: sizes N (examples), d (features), k (classes), h (hidden).
Xd = ns.matrix("X", "N", "d")
w = ns.vector("w", "d")
yN = ns.vector("y", "N")
Wk = ns.matrix("W", "k", "d")
xk = ns.vector("x", "d")
yk = ns.vector("y", "k", assume="probability")
bk = ns.vector("b", "k")
lam = ns.scalar(r"\lambda")


def sig(z):
    return 1 / (1 + np.exp(-z))


def softmax_np(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def dense_spec(activation):
    W1, b1, x1, y1 = ns.matrix("W", "h", "d"), ns.vector("b", "h"), ns.vector("x", "d"), ns.vector("y", "h")
    act = getattr(ns, activation)
    return Spec(f"dense layer with {activation}: d 1/2||f(Wx+b) - y||^2 / dW",
                lambda: (ns.squared_error(act(W1 @ x1 + b1), y1), [W1, b1]))


DEEP = [
    Spec("linear regression: d ||Xw - y||^2 / 2N dw = X^T(Xw - y)/N",
         lambda: (ns.norm(Xd @ w - yN, squared=True) / (2 * ns.scalar("N_0")), [w])),
    Spec("linear regression: d 1/2||Xw - y||^2 dw = X^T(Xw - y)", lambda: (ns.squared_error(Xd @ w, yN), [w]),
         lambda v: v["X"].T @ (v["X"] @ v["w"] - v["y"])),
    Spec("logistic regression: d BCE(Xw, y)/dw = X^T(sigma(Xw) - y)",
         lambda: (ns.binary_cross_entropy(Xd @ w, yN), [w]), lambda v: v["X"].T @ (sig(v["X"] @ v["w"]) - v["y"])),
    Spec("softmax regression: d CE/dW = (softmax(Wx + b) - y) x^T",
         lambda: (ns.softmax_cross_entropy(Wk @ xk + bk, yk), [Wk, bk]),
         lambda v: (softmax_np(v["W"] @ v["x"] + v["b"]) - v["y"]) @ v["x"].T),
    Spec("softmax regression written out: -y^T log softmax(Wx)", lambda: (-(yk.T @ ns.log(ns.softmax(Wk @ xk))), [Wk]),
         lambda v: (softmax_np(v["W"] @ v["x"]) - v["y"]) @ v["x"].T),
    Spec("weight decay: d (1/2||Wx - y||^2 + lambda/2 ||W||^2)/dW",
         lambda: (ns.squared_error(Wk @ xk, yk) + lam / 2 * ns.norm(Wk, squared=True), [Wk, lam]),
         lambda v: (v["W"] @ v["x"] - v["y"]) @ v["x"].T + v[r"\lambda"] * v["W"]),
    *[dense_spec(a) for a in ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "gelu")],
]


def network_spec(sizes, **options):
    def build():
        forward = ns.network(sizes, **options).forward()
        return forward.loss, list(forward.parameters)

    return Spec(f"network {sizes} {options}", build)


NETWORKS = [
    network_spec([2, 2, 1]),
    network_spec([3, 4, 2], activation="tanh", loss="softmax_cross_entropy"),
    network_spec(["n_0", "n_1", "n_2"], activation="relu", loss="binary_cross_entropy"),
    network_spec([2, 3, 3, 2], activation="sigmoid"),
    network_spec([2, 3, 3, 2], activation="tanh", loss="softmax_cross_entropy", batch="B", mean=True),
    network_spec([2, 3, 2], loss="binary_cross_entropy", batch=3, weight_decay=True),
    network_spec(["n_0", "n_1", "n_2", "n_3"], activation="softplus", batch="B"),
]

ALL = COOKBOOK + DEEP + NETWORKS


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_matches_finite_differences(spec):
    f, variables = spec.build()
    report = check_gradients(f, cotangents(f, variables))
    assert report.ok, report


@pytest.mark.parametrize("spec", [s for s in ALL if s.oracle], ids=lambda s: s.name)
def test_matches_elementwise_sympy(spec):
    f, variables = spec.build()
    report = check_elementwise(f, cotangents(f, variables), points=1)
    assert report.ok, report


@pytest.mark.parametrize("spec", [s for s in ALL if s.textbook], ids=lambda s: s.name)
def test_matches_textbook_formula(spec):
    f, variables = spec.build()
    closed = cotangents(f, variables)[variables[0]]
    symbols = symbols_of(f, closed)
    sizes = small_sizes(symbols)
    values = random_point([f, closed], symbols, sizes, np.random.default_rng(7))
    expected = spec.textbook(values)
    np.testing.assert_allclose(evaluate(closed, values, sizes), expected, rtol=1e-10, atol=1e-12)


def test_every_spec_is_distinct():
    assert len({s.name for s in ALL}) == len(ALL)
