"""The book's small CNN and char-RNN (issue 15): exported modules pass their self-test, and training
with the exported gradients alone (seed fixed) brings the loss down."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.networks import char_rnn, small_cnn
from nnsym.emit.standalone import load


def images_and_labels(rng, batch, side):
    """Class 1: a bright top-left quadrant; class 0: a bright bottom-right one (plus noise)."""
    labels = rng.integers(0, 2, size=batch)
    images = rng.normal(scale=0.3, size=(batch, side, side))
    half = side // 2
    for n, label in enumerate(labels):
        if label:
            images[n, :half, :half] += 1.0
        else:
            images[n, half:, half:] += 1.0
    return images.reshape(1, -1), np.eye(2)[:, labels]


def test_small_cnn_trains_with_exported_code_only():
    net = small_cnn(channels=1, filters=3, image=6, classes=2, batch=8)
    module = load(ns.export(net.loss, wrt=list(net.parameters)))
    assert module.self_test() < 1e-6
    rng = np.random.default_rng(0)
    params = {"K": rng.normal(scale=0.5, size=(3, 9)), "b_K": np.zeros(3), "W": rng.normal(scale=0.5, size=(2, 3)),
              "b": np.zeros(2)}
    X, Y = images_and_labels(rng, 8, 6)
    losses = []
    for _ in range(30):
        loss, grads = module.loss_and_gradients(X=X, Y=Y, **params)
        losses.append(loss)
        params = {k: v - 0.5 * grads[k].reshape(np.shape(v)) for k, v in params.items()}
    assert losses[-1] < 0.7 * losses[0], losses


def test_char_rnn_trains_with_exported_code_only():
    text = "hello hello hello "
    vocabulary = sorted(set(text))
    V, T = len(vocabulary), 6
    model = char_rnn(V, 8, T)
    module = load(ns.export(model.loss, wrt=list(model.parameters)))
    assert module.self_test() < 1e-6
    one_hot = np.eye(V)[[vocabulary.index(ch) for ch in text]]
    rng = np.random.default_rng(0)
    params = {name: rng.normal(scale=0.3, size=shape) for name, shape, _ in module.INPUTS if name in module.PARAMETERS}
    data = {f"x_{t}": one_hot[t - 1] for t in range(1, T + 1)} | {f"y_{t}": one_hot[t] for t in range(1, T + 1)}
    data["h_0"] = np.zeros(8)
    losses = []
    for _ in range(40):
        loss, grads = module.loss_and_gradients(**data, **params)
        losses.append(loss)
        params = {k: v - 0.1 * grads[k].reshape(np.shape(v)) for k, v in params.items()}
    assert losses[-1] < 0.5 * losses[0], losses[::10]


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_other_targets_pass_their_self_test(target):
    pytest.importorskip(target)
    net = small_cnn(channels=1, filters=2, image=4, classes=2, batch=2)
    module = load(ns.export(net.loss, wrt=list(net.parameters), target=target))
    assert module.self_test() < (1e-6 if target == "torch" else 5e-2)  # JAX computes in float32 by default
