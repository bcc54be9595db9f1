"""Logistic regression: the model, its loss, gradient and Hessian, and Newton's method on a small problem."""

import numpy as np

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error


def _data():
    """Two overlapping classes in the plane, the same every time (not separable: the optimum is finite)."""
    rng = np.random.default_rng(9)
    X = np.vstack([rng.normal([-1.0, 0.0], 1.0, (10, 2)), rng.normal([1.0, 0.5], 1.0, (10, 2))])
    y = np.concatenate([np.zeros(10), np.ones(10)])
    return X, y


def note() -> Note:
    """09: logistic regression."""
    X, w, y = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    b = ns.scalar("b")
    z = X @ w + b * ns.ones("N")
    loss = ns.binary_cross_entropy(z, y)
    q = ns.sigmoid(z)
    likelihood = -ns.sum_entries(ns.hadamard(y, ns.log(q)) + ns.hadamard(1 - y, ns.log(1 - q)))
    gradients = ns.gradients(loss, [w, b])
    plain = ns.binary_cross_entropy(X @ w, y)
    hessian = ns.hessian(plain, w)
    # Newton's method on data, with the exported gradient and Hessian of the model without bias.
    data_X, data_y = _data()
    g_fn, h_fn = ns.grad(plain, w).to_numpy(), hessian.to_numpy()
    weights = np.zeros(2)
    for _ in range(12):
        weights = weights - np.linalg.solve(h_fn(X=data_X, w=weights), g_fn(X=data_X, w=weights, y=data_y).reshape(-1))
    final_gradient = g_fn(X=data_X, w=weights, y=data_y).reshape(-1)
    p = 1 / (1 + np.exp(-data_X @ weights))
    return Note(9, "logistic-regression", "Logistic regression", (
        Text("Logistic regression models the probability that example $i$ (row $i$ of $X$, $N \\times d$) is in "
             "class 1 as $\\sigma(x_i^\\top w + b)$. With targets $y_i \\in \\{0, 1\\}$ its loss is the negative "
             "Bernoulli log-likelihood, the binary cross-entropy of the logits $z = X w + b\\mathbf{1}$:"),
        Formula(loss, "L", reference=likelihood),
        Text("Its gradients, step by step, and checked against differences of the likelihood written out:"),
        steps(loss, [w, b], "L"),
        Formula(gradients[w].expression, r"\nabla_w L", reference=ns.transpose(X) @ (q - y),
                derivative_of=(likelihood, w)),
        Formula(gradients[b].expression, r"\frac{\partial L}{\partial b}", derivative_of=(likelihood, b)),
        Text("Prediction minus target, weighted by the inputs: the same form as least squares, "
             "$X^\\top(Xw - y)$, with the linear prediction replaced by $\\sigma(Xw)$. "
             "The Hessian (here without the bias) is"),
        Formula(hessian.expression, r"\nabla_w^2 L", derivative_of=(ns.grad(plain, w).expression, w)),
        Text("Since $\\sigma' > 0$ it is positive semi-definite: the loss is convex and every local minimum is "
             "global. That licenses Newton's method, $w \\leftarrow w - (\\nabla_w^2 L)^{-1} \\nabla_w L$, "
             "run here for 12 steps with the NumPy functions nnsym exported for the two formulas, on twenty points "
             "of two overlapping classes:"),
        Display(rf"w = {array_latex(weights[:, None], 5)}, \quad \nabla_w L(w) = "
                rf"{array_latex(final_gradient[:, None], 2)}",
                lambda: ("the gradient, recomputed as X^T (sigma(X w) - y) by hand, vanishes (max entry)",
                         float(np.max(np.abs(data_X.T @ (p - data_y)))))),
        Display(r"\lambda_{\min}\left(\nabla_w^2 L\right) = "
                + array_latex(np.linalg.eigvalsh(h_fn(X=data_X, w=weights))[0]) + " > 0",
                lambda: ("against X^T diag(p(1-p)) X by hand; and positive (error 1 if not)",
                         max(relative_error(h_fn(X=data_X, w=weights), data_X.T @ np.diag(p * (1 - p)) @ data_X),
                             float(np.linalg.eigvalsh(h_fn(X=data_X, w=weights))[0] <= 0)))),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
