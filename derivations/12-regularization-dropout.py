"""Regularization and dropout: the L2 penalty and its gradient in a network, and inverted dropout
with a fixed mask, its expectation and its backward pass."""

import numpy as np

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, backprop_steps, script_main
from nnsym.verify.formulas import relative_error

KEEP = 0.8


def _dropout_backward(A, M, G, keep):
    """The textbook backward pass of tanh then dropout, in NumPy: dA = (dY o M / keep) o tanh'(A)."""
    return G * M / keep * (1 - np.tanh(A) ** 2)


def note() -> Note:
    """12: regularization and dropout."""
    net = ns.network([3, 4, 2], activation="tanh", loss="softmax_cross_entropy", batch="B", mean=True,
                     weight_decay=True)
    result = ns.backprop(net, oracle=False)
    W1 = result.forward.weights[0]

    A, M, G = ns.matrix("A", "n", "B"), ns.matrix("M", "n", "B"), ns.matrix("G", "n", "B")
    Y = ns.dropout(ns.tanh(A), M, KEEP)
    loss = ns.trace(ns.transpose(G) @ Y)
    dA = ns.grad(loss, A)
    rng = np.random.default_rng(12)
    A0, G0 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    M0 = (rng.random((3, 4)) < KEEP).astype(float)
    dA0 = dA.to_numpy()(A=A0, M=M0, G=G0)
    masks = (rng.random((20000, 3, 4)) < KEEP).astype(float)
    average = (np.tanh(A0) * masks / KEEP).mean(axis=0)
    dropped = ns.network([3, 4, 2], activation="tanh", loss="softmax_cross_entropy", batch="B", mean=True,
                         dropout_keep=KEEP)
    dropped_result = ns.backprop(dropped, oracle=False)
    keeps = np.linspace(0.1, 1.0, 10)
    spread = [float(np.std(np.tanh(A0[0, 0]) * (rng.random(20000) < k) / k)) for k in keeps]

    def draw(axes):
        axes.plot(keeps, spread, marker="o")
        axes.set_xlabel("keep probability p")
        axes.set_ylabel("std of one dropped unit")
        axes.set_title("inverted dropout: mean kept, noise grows as p falls")

    return Note(12, "regularization-dropout", "Regularization and dropout", (
        Text("**L2 regularization** adds $\\frac{\\lambda}{2}\\sum_l \\|W^{(l)}\\|_F^2$ to the loss, which pulls "
             "every weight towards zero by $\\lambda W^{(l)}$ in its gradient (the biases are not penalised). For "
             "a 3-4-2 tanh network with softmax cross-entropy, mean over a batch:"),
        Formula(result.forward.loss, "L"),
        Formula(result.equations.gradients[W1], r"\frac{\partial L}{\partial W^{(1)}}",
                derivative_of=(result.forward.loss, W1)),
        Text("With plain gradient descent the extra term is weight decay: "
             "$W \\leftarrow (1 - \\eta\\lambda) W - \\eta \\nabla_W L_0$ (note 14 shows where the two part ways)."),
        Text("**Dropout** (Srivastava et al., 2014) multiplies a layer's output by a random 0/1 mask $M$ during "
             "training, each entry kept with probability $p$. Inverted dropout also divides by $p$, so that the "
             "expected output is unchanged and nothing needs rescaling at test time. With the mask fixed, as it is "
             "for one forward and backward pass, the layer $(\\tanh(A) \\odot M)/p$ is linear in $\\tanh(A)$:"),
        Formula(Y, "Y"),
        Formula(dA.expression, r"\frac{\partial L}{\partial A}", derivative_of=(loss, A)),
        Text("The backward pass uses the same mask as the forward pass (a fresh one would be a different "
             "function) and the same $1/p$ (without it the gradient is $p$ times too small; `nnsym check` says "
             "so). A worked example with $p = 0.8$, from the exported NumPy function, against the textbook "
             "formula written out by hand:"),
        Display(rf"M = {array_latex(M0, 0)}, \quad \frac{{\partial L}}{{\partial A}} = {array_latex(dA0, 3)}",
                lambda: ("against (dY o M / p) o tanh'(A) in hand-written NumPy",
                         relative_error(dA0, _dropout_backward(A0, M0, G0, KEEP)))),
        Display(rf"\frac{{1}}{{20000}}\sum_k \frac{{\tanh(A) \odot M_k}}{{p}} = {array_latex(average, 3)}",
                lambda: ("within 2% of tanh(A), the expectation unchanged (0 when it is; Monte Carlo, 20000 masks)",
                         float(relative_error(average, np.tanh(A0)) > 0.02))),
        Text("In a network, dropout on the hidden activations puts the mask and the $1/p$ into the "
             "$\\delta$ of the layer below:"),
        backprop_steps(dropped_result.forward, "L"),
        Plot("dropout-noise", "the spread of one dropped unit against the keep probability", draw),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
