"""Backpropagation: a two-layer network in delta form, the general L-layer recursion, one example and a batch."""

import nnsym as ns
from nnsym.declare.functions import apply
from nnsym.present.notes import Display, Formula, Note, Text, backprop_steps, script_main
from nnsym.verify.formulas import against

RECURSION = (r"\begin{aligned} \delta^{(L)} &= \left(a^{(L)} - y\right) \odot \sigma'\left(z^{(L)}\right) \\ "
             r"\delta^{(l)} &= \left(W^{(l+1)\top} \delta^{(l+1)}\right) \odot \sigma'\left(z^{(l)}\right), "
             r"\quad l = L-1, \dots, 1 \\ "
             r"\frac{\partial L}{\partial W^{(l)}} &= \delta^{(l)} a^{(l-1)\top}, \quad "
             r"\frac{\partial L}{\partial b^{(l)}} = \delta^{(l)} \end{aligned}")


def _recursion_check(depth: int = 4):
    """The general recursion instantiated for ``depth`` layers, term by term, against nnsym's derivation
    (which ns.backprop checks by finite differences and the elementwise oracle before returning it)."""
    sizes = [f"n_{l}" for l in range(depth + 1)]
    result = ns.backprop(ns.network(sizes, activation="sigmoid", loss="squared_error"))
    forward, equations = result.forward, result.equations
    deltas = {int(d.name.split("(")[1].rstrip(")}")): (d, G) for d, G in equations.deltas}
    worst = 0.0
    for l in range(depth, 0, -1):
        z = forward.pre_activations[l - 1]
        if l == depth:
            upstream = forward.activations[depth] - forward.targets
        else:
            upstream = ns.transpose(forward.weights[l]) @ deltas[l + 1][0]
        reference = ns.hadamard(upstream, apply("sigmoid_prime", z))
        worst = max(worst, against(deltas[l][1], reference, seed=l))
        weight, bias = forward.weights[l - 1], forward.biases[l - 1]
        worst = max(worst, against(equations.gradients[weight],
                                   deltas[l][0] @ ns.transpose(forward.activations[l - 1]), seed=l),
                    against(equations.gradients[bias], deltas[l][0], seed=l))
    return (f"instantiated for L = {depth} and compared term by term with nnsym's derivation "
            "(checked by central differences)", worst)


def note() -> Note:
    """07: backpropagation."""
    two = ns.network(["n_0", "n_1", "n_2"], activation="sigmoid", loss="squared_error").forward()
    batch = ns.network(["n_0", "n_1", "n_2"], activation="sigmoid", loss="squared_error", batch="B",
                       mean=True).forward()
    softmax = ns.network(["n_0", "n_1", "n_2"], activation="tanh", loss="softmax_cross_entropy").forward()
    forward_formulas = []
    for z, a in zip(two.pre_activations, two.activations[1:]):
        forward_formulas.append(Formula(z.definition, ns.latex(z)))
        forward_formulas.append(Formula(a.definition, ns.latex(a)))
    return Note(7, "backpropagation", "Backpropagation", (
        Text("A network of dense layers computes, for $l = 1, \\dots, L$, the pre-activation "
             "$z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ and the activation $a^{(l)} = \\sigma(z^{(l)})$, starting from "
             "$a^{(0)} = x$. Backpropagation is the chain rule applied from the loss backwards, reusing at each "
             "layer what was computed for the layer above."),
        Text("**A two-layer network, one example.** The forward pass:"),
        *forward_formulas,
        Formula(two.loss, "L"),
        Text("Backwards, naming $\\delta^{(l)} = \\partial L / \\partial z^{(l)}$ where it is formed. Each line says "
             "which rule produced it and the shape of what is differentiated; each is checked on its own by "
             "central differences:"),
        backprop_steps(two),
        Text("The pattern: the error $\\delta$ of a layer is the error of the layer above, sent back through the "
             "transposed weights, times the slope of the activation; the weight gradient is the outer product of "
             "the error with the layer's input."),
        Text("**The general recursion.** For $L$ layers with the squared error:"),
        Display(RECURSION, _recursion_check),
        Text("With softmax outputs and the cross-entropy, the first step is shorter, "
             "$\\delta^{(L)} = \\operatorname{softmax}(z^{(L)}) - y$ (see the note on cost functions); the rest is "
             "unchanged. With $\\tanh$ hidden units:"),
        backprop_steps(softmax),
        Text("**A batch.** With $B$ examples as the columns of $X$ ($n_0 \\times B$) and the mean loss "
             "$L = \\frac{1}{2B}\\|a^{(2)} - Y\\|_F^2$, every quantity gains a column per example; the bias is "
             "broadcast as $b\\mathbf{1}^\\top$, so its gradient sums the errors over the batch, $\\delta\\mathbf{1}$:"),
        backprop_steps(batch),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
