"""Softmax regression: K classes, a batch of examples as columns, the loss and its gradients."""

import numpy as np

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error


def _by_hand(W, b, X, Y):
    """(softmax(W X + b 1^T) - Y) X^T / N, written out in NumPy."""
    Z = W @ X + b[:, None]
    P = np.exp(Z - Z.max(axis=0))
    P /= P.sum(axis=0)
    return (P - Y) @ X.T / X.shape[1]


def note() -> Note:
    """10: softmax regression."""
    K, d, N = "K", "d", "N"
    W, b = ns.matrix("W", K, d), ns.vector("b", K)
    X, Y = ns.matrix("X", d, N), ns.matrix("Y", K, N, assume="probability")
    Z = W @ X + b @ ns.transpose(ns.ones(N))
    loss = ns.mean_over_batch(ns.softmax_cross_entropy(Z, Y), N)
    # The mean negative log-likelihood written from the definition of the softmax, column by column.
    E = ns.exp(Z)
    P = ns.hadamard_div(E, ns.ones(K) @ (ns.transpose(ns.ones(K)) @ E))
    likelihood = ns.mean_over_batch(-ns.sum_entries(ns.hadamard(Y, ns.log(P))), N)
    found = ns.gradients(loss, [W, b])
    # A worked gradient at a seeded point: 3 classes, 2 features, 5 examples.
    rng = np.random.default_rng(10)
    W0, b0, X0 = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((2, 5))
    Y0 = np.eye(3)[:, rng.integers(0, 3, 5)]
    G0 = found[W].to_numpy()(W=W0, b=b0, X=X0, Y=Y0)
    return Note(10, "softmax-regression", "Softmax regression", (
        Text("Softmax regression generalises logistic regression to $K$ classes. With the examples as the "
             "columns of $X$ ($d \\times N$), the scores are $Z = W X + b\\mathbf{1}^\\top$ ($K \\times N$) and "
             "the predicted class probabilities of example $j$ are $\\operatorname{softmax}(z_j)$. For one-hot "
             "targets $Y$ (or any columns of probabilities) the loss is the mean categorical cross-entropy:"),
        Formula(loss, "L", reference=likelihood),
        Text("(the reference is the negative log-likelihood with the softmax written out as "
             "$e^{z_{kj}} / \\sum_i e^{z_{ij}}$). Its gradients, step by step:"),
        steps(loss, [W, b], "L"),
        Formula(found[W].expression, r"\nabla_W L",
                reference=ns.mean_over_batch((ns.softmax(Z) - Y) @ ns.transpose(X), N),
                derivative_of=(likelihood, W)),
        Formula(found[b].expression, r"\nabla_b L", derivative_of=(likelihood, b)),
        Text("The error $\\operatorname{softmax}(Z) - Y$ times the inputs, averaged over the batch; the bias sums "
             "the errors over the examples. For $K = 2$ this is logistic regression: "
             "$\\operatorname{softmax}((z, 0))_1 = \\sigma(z)$."),
        Text("A worked gradient, three classes, two features, five one-hot examples, from the exported NumPy "
             "function:"),
        Display(rf"\nabla_W L = {array_latex(G0)}",
                lambda: ("against (softmax(Z) - Y) X^T / N written out in NumPy",
                         relative_error(G0, _by_hand(W0, b0, X0, Y0)))),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
