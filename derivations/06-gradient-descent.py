"""Gradient descent: the update rule and a worked step, on least squares."""

import numpy as np

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error

RATE = 0.05
STEPS = 400


def _data():
    """A small regression problem, the same every time: y = X w_true + noise."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((6, 2)) + np.array([[0.0, 1.0]])
    y = X @ np.array([2.0, -1.0]) + 0.1 * rng.standard_normal(6)
    return X, y


def _loss(X, y, w):
    """Hand-written NumPy, independent of nnsym: 1/2 ||X w - y||^2."""
    r = X @ w - y
    return 0.5 * float(r @ r)


def note() -> Note:
    """06: gradient descent."""
    X_, w_, y_ = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    loss = ns.norm(X_ @ w_ - y_, squared=True) / 2
    gradient = ns.grad(loss, w_)
    g_fn = gradient.to_numpy()
    X, y = _data()
    w0 = np.zeros(2)
    g0 = g_fn(X=X, w=w0, y=y).reshape(-1)
    w1 = w0 - RATE * g0
    history, w = [], w0.copy()
    for _ in range(STEPS):
        history.append(_loss(X, y, w))
        w = w - RATE * g_fn(X=X, w=w, y=y).reshape(-1)
    least_squares = np.linalg.lstsq(X, y, rcond=None)[0]

    def draw(axes):
        axes.semilogy(np.array(history) - _loss(X, y, least_squares) + 1e-16)
        axes.set_xlabel("step")
        axes.set_ylabel("L(w) - min L")
        axes.set_title("gradient descent on least squares")

    return Note(6, "gradient-descent", "Gradient descent", (
        Text("To minimise a differentiable cost $L(\\theta)$, gradient descent repeats the update "
             "$\\theta \\leftarrow \\theta - \\eta \\nabla_\\theta L(\\theta)$ with a small learning rate "
             "$\\eta > 0$. The gradient points where $L$ grows fastest, so a small step against it decreases "
             "$L$: $L(\\theta - \\eta g) = L(\\theta) - \\eta \\|g\\|^2 + O(\\eta^2)$."),
        Text("**Least squares.** With data $X$ ($N \\times d$, one example per row), targets $y$ and "
             "$L(w) = \\frac{1}{2}\\|X w - y\\|^2$, the gradient, step by step:"),
        steps(loss, [w_], "L"),
        Formula(gradient.expression, r"\nabla_w L", reference=ns.transpose(X_) @ X_ @ w_ - ns.transpose(X_) @ y_,
                derivative_of=(loss, w_)),
        Text(f"**A worked step.** Six examples with two features, $w$ starting at zero, $\\eta = {RATE}$. "
             "The gradient below is computed by the NumPy function nnsym exported for the formula above, and "
             "checked against $X^\\top(X w - y)$ written by hand:"),
        Display(rf"X = {array_latex(X, 3)}, \quad y = {array_latex(y[:, None], 3)}",
                lambda: ("rank of X is 2 (0 when so): w* below is unique", float(np.linalg.matrix_rank(X) != 2))),
        Display(rf"\nabla_w L\left(w_0\right) = {array_latex(g0[:, None])}, \quad "
                rf"w_1 = w_0 - \eta \nabla_w L\left(w_0\right) = {array_latex(w1[:, None])}",
                lambda: ("against X^T (X w - y) in hand-written NumPy",
                         relative_error(g0, X.T @ (X @ w0 - y)))),
        Display(rf"L\left(w_0\right) = {array_latex(_loss(X, y, w0))} \;\to\; L\left(w_1\right) = "
                rf"{array_latex(_loss(X, y, w1))}",
                lambda: ("the step decreased L (0 when it did, 1 when not)",
                         float(_loss(X, y, w1) >= _loss(X, y, w0)))),
        Text(f"**Convergence.** Repeating the step {STEPS} times, the loss falls geometrically (the rate is set "
             "by the condition number of $X^\\top X$) and $w$ reaches the least-squares solution "
             "$w^* = (X^\\top X)^{-1} X^\\top y$ where the gradient vanishes:"),
        Plot("training-curve", "the loss minus its minimum, per step", draw),
        Display(rf"w_{{{STEPS}}} = {array_latex(w[:, None], 6)}, \quad w^* = {array_latex(least_squares[:, None], 6)}",
                lambda: ("against numpy.linalg.lstsq", relative_error(w, least_squares))),
        Text("The step size matters: on least squares the iteration converges exactly when "
             "$\\eta < 2/\\lambda_{\\max}(X^\\top X)$; beyond that it diverges. Here"),
        Display(rf"\lambda_{{\max}}\left(X^\top X\right) = {array_latex(np.linalg.eigvalsh(X.T @ X)[-1])}, "
                rf"\quad \frac{{2}}{{\lambda_{{\max}}}} = {array_latex(2 / np.linalg.eigvalsh(X.T @ X)[-1])} "
                rf"> \eta = {RATE}",
                lambda: ("against the largest singular value of X, squared, and eta below the bound",
                         max(relative_error(np.linalg.eigvalsh(X.T @ X)[-1], np.linalg.svd(X)[1][0] ** 2),
                             float(RATE >= 2 / np.linalg.eigvalsh(X.T @ X)[-1])))),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
