"""The XOR network: a 2-2-1 sigmoid network trained by gradient descent with nnsym's exported backprop."""

import importlib.util
from pathlib import Path

import numpy as np

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, backprop_steps, script_main
from nnsym.verify.evaluate import evaluate
from nnsym.verify.formulas import relative_error

INPUTS = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])  # one example per column
TARGETS = np.array([[0.0, 1.0, 1.0, 0.0]])
RATE, EPOCHS, SEED = 2.0, 2000, 0


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _forward(p, X):
    """Hand-written NumPy, independent of nnsym: the outputs of the 2-2-1 network."""
    a1 = _sigmoid(p["W^{(1)}"] @ X + p["b^{(1)}"])
    return a1, _sigmoid(p["W^{(2)}"] @ a1 + p["b^{(2)}"])


def _loss(p):
    """Mean binary cross-entropy, hand-written."""
    _, out = _forward(p, INPUTS)
    return float(-np.mean(TARGETS * np.log(out) + (1 - TARGETS) * np.log(1 - out)))


def _backprop_by_hand(p):
    """The delta-form equations written out in NumPy, to check the exported code against."""
    a1, out = _forward(p, INPUTS)
    d2 = (out - TARGETS) / INPUTS.shape[1]
    d1 = (p["W^{(2)}"].T @ d2) * a1 * (1 - a1)
    return {"W^{(1)}": d1 @ INPUTS.T, "b^{(1)}": d1.sum(axis=1, keepdims=True),
            "W^{(2)}": d2 @ a1.T, "b^{(2)}": d2.sum(axis=1, keepdims=True)}


def train(gradients, epochs=EPOCHS, rate=RATE, seed=SEED):
    """Full-batch gradient descent from a seeded start; returns the parameters and the loss per epoch."""
    rng = np.random.default_rng(seed)
    p = {"W^{(1)}": rng.standard_normal((2, 2)), "b^{(1)}": np.zeros((2, 1)),
         "W^{(2)}": rng.standard_normal((1, 2)), "b^{(2)}": np.zeros((1, 1))}
    start = {k: v.copy() for k, v in p.items()}
    history = []
    for _ in range(epochs):
        history.append(_loss(p))
        g = gradients(X=INPUTS, Y=TARGETS, **p)
        p = {k: v - rate * np.reshape(g[k], v.shape) for k, v in p.items()}
    return start, p, history


# The training script beside this one (derivations/xor_training.py) trains from nnsym's exported
# module; when it is there the note shows its run, otherwise this file's own loop.
TRAINING_SCRIPT = Path(__file__).resolve().parent / "xor_training.py"
LATEX_NAMES = {"W_1": "W^{(1)}", "b_1": "b^{(1)}", "W_2": "W^{(2)}", "b_2": "b^{(2)}"}


def _run(gradients):
    """(start, trained parameters by LaTeX name, loss per epoch, how it was trained)."""
    if TRAINING_SCRIPT.exists():
        spec = importlib.util.spec_from_file_location("xor_training", TRAINING_SCRIPT)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        run = script.train(seed=SEED, steps=EPOCHS, rate=RATE)
        start = {LATEX_NAMES[k]: v for k, v in script.initial_parameters(SEED).items()}
        trained = {LATEX_NAMES[k]: np.asarray(v, float) for k, v in run.parameters.items()}
        return start, trained, list(run.losses), "the module `nnsym export` writes (derivations/xor_training.py)"
    start, trained, history = train(gradients)
    return start, trained, history, "the gradient function of `Backprop.to_numpy()`"


def note() -> Note:
    """08: the XOR network."""
    net = ns.network([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy", batch=4, mean=True)
    result = ns.backprop(net)  # checked by central differences and the oracle; every step below too
    gradients = result.to_numpy()
    forward = result.forward
    start, trained, history, how = _run(gradients)
    exported = gradients(X=INPUTS, Y=TARGETS, **start)
    by_hand = _backprop_by_hand(start)
    _, outputs = _forward(trained, INPUTS)
    values = {"X": INPUTS, "Y": TARGETS, **trained}
    by_nnsym = evaluate(forward.output, values)

    def gradients_agree():
        return ("the exported NumPy gradients against the delta equations written by hand, at the start",
                max(relative_error(np.reshape(exported[k], by_hand[k].shape), by_hand[k]) for k in by_hand))

    def draw(axes):
        axes.plot(history)
        axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_ylabel("mean cross-entropy")
        axes.set_title("XOR: training curve")

    return Note(8, "xor-network", "The XOR network", (
        Text("XOR is 1 when exactly one of two bits is 1. No single neuron computes it: the four points "
             "$(0,0), (1,1)$ (output 0) and $(0,1), (1,0)$ (output 1) cannot be separated by one line. "
             "A hidden layer of two sigmoid units can: it maps the points to a space where they can."),
        Text("The network: $X$ holds the four inputs as columns, the output unit is a sigmoid and the loss the "
             "mean binary cross-entropy over the four examples, computed from the logits $z^{(2)}$:"),
        Formula(forward.loss, "L"),
        Text("Its backpropagation, step by step:"),
        backprop_steps(forward),
        Text("nnsym exports these equations as a NumPy function (checked here against the same equations "
             "written out by hand):"),
        Display(r"\frac{\partial L}{\partial W^{(1)}}\Big|_{\text{start}} = "
                + array_latex(np.reshape(exported["W^{(1)}"], (2, 2))), gradients_agree),
        Text(f"Training by full-batch gradient descent, $\\eta = {RATE}$, {EPOCHS} epochs, from a seeded random "
             f"start, every gradient from {how}:"),
        Plot("training-curve", "mean cross-entropy per epoch", draw),
        Text("Not every start succeeds: a 2-2-1 network can settle in a local minimum where one input pattern "
             "gets output 1/2. The check on the rounded outputs below would then stop this note from being built."),
        Text("After training, the network's outputs for the inputs $(0,0), (0,1), (1,0), (1,1)$:"),
        Display(r"a^{(2)} = " + array_latex(outputs, 3),
                lambda: ("nnsym's evaluation of the network against the hand-written forward pass",
                         relative_error(by_nnsym, outputs))),
        Display(r"\operatorname{round}\left(a^{(2)}\right) = " + array_latex(np.round(outputs)) + " = Y",
                lambda: ("rounded outputs equal the XOR targets (0 when all four do)",
                         float(np.any(np.round(outputs) != TARGETS)))),
        Text("The hidden layer's weights after training:"),
        Display(rf"W^{{(1)}} = {array_latex(trained['W^{(1)}'], 3)}, \quad b^{{(1)}} = "
                rf"{array_latex(trained['b^{(1)}'], 3)}",
                lambda: ("the final loss is below 0.05 (0 when so)", float(history[-1] >= 0.05))),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
