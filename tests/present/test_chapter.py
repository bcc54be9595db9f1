"""The key formulas of each lecture note, against references written here in plain NumPy (textbook
identities, central differences of hand-written functions), at random points. Independent of the checks
the notes run on themselves."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from nnsym.present.notes import Formula, Steps, load_note, topics
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import random_point, small_sizes, symbols_of


@lru_cache(maxsize=None)
def chapter_note(stem):
    return load_note(topics()[stem])


def formula(stem, lhs, occurrence=0):
    found = [b for b in chapter_note(stem).blocks if isinstance(b, Formula) and b.lhs == lhs]
    return found[occurrence]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def differences(f, x, h=1e-6):
    """Central differences of a hand-written f at x: the gradient (scalar f) or the Jacobian."""
    x = np.asarray(x, float)
    columns = []
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        columns.append((np.asarray(f(up), float) - np.asarray(f(down), float)) / (2 * h))
    out = np.array(columns)
    return out.reshape(x.shape) if out.ndim == 1 else out.reshape(x.size, -1).T


def _x(v):
    return v["x"].reshape(-1)


SPECS = [
    # (topic, left side, occurrence, reference from the values by name)
    ("01-linear-equations", r"\nabla_x f", 0, lambda v: v["A"].T @ (v["A"] @ v["x"] - v["b"])),
    ("02-vectors-and-matrices", r"\left(A B\right)^\top", 0, lambda v: (v["A"] @ v["B"]).T),
    ("02-vectors-and-matrices", r"\left\|A\right\|_F^{2}", 0, lambda v: np.sum(v["A"] ** 2)),
    ("02-vectors-and-matrices", r"\nabla_x \left(x^\top A x\right)", 0,
     lambda v: differences(lambda x: x @ v["A"] @ x, _x(v))[:, None]),
    ("03-derivatives-and-chain-rule", r"\frac{d}{dx} \log\left(1 + e^{x}\right)", 0, lambda v: sigmoid(v["x"])),
    ("03-derivatives-and-chain-rule", r"\frac{\partial a}{\partial w}", 0,
     lambda v: differences(lambda w: sigmoid(w * v["x"] + v["b"]), v["w"])),
    ("03-derivatives-and-chain-rule", r"\frac{\partial y}{\partial x}", 0,
     lambda v: differences(lambda x: sigmoid(v["W"] @ x), _x(v))),
    ("04-activation-functions", r"\frac{d}{dz}\sigma\left(z\right)", 0,
     lambda v: sigmoid(v["z"]) * (1 - sigmoid(v["z"]))),
    ("04-activation-functions", r"\frac{d}{dz}\tanh\left(z\right)", 0, lambda v: 1 - np.tanh(v["z"]) ** 2),
    ("04-activation-functions", r"\frac{d}{dz}\operatorname{ReLU}\left(z\right)", 0, lambda v: (v["z"] > 0) * 1.0),
    ("04-activation-functions", r"\frac{d}{dz}\operatorname{softplus}\left(z\right)", 0, lambda v: sigmoid(v["z"])),
    ("04-activation-functions", r"\frac{d}{dz}\operatorname{GELU}\left(z\right)", 0,
     lambda v: np.vectorize(lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))
                            + t * math.exp(-t * t / 2) / math.sqrt(2 * math.pi))(v["z"])),
    ("04-activation-functions", r"\frac{\partial \operatorname{softmax}\left(z\right)}{\partial z}", 0,
     lambda v: np.diag(softmax(v["z"]).ravel()) - softmax(v["z"]) @ softmax(v["z"]).T),
    ("05-cost-functions", r"\nabla_{\hat{y}} L", 0, lambda v: v[r"\hat{y}"] - v["y"]),
    ("05-cost-functions", r"\nabla_{\hat{y}} \left(-\log p\left(y \mid \hat{y}\right)\right)", 0,
     lambda v: differences(lambda t: -np.sum(np.log(np.exp(-(v["y"].ravel() - t) ** 2 / (2 * v["s"] ** 2))
                                                    / np.sqrt(2 * np.pi * v["s"] ** 2))),
                           v[r"\hat{y}"].ravel())[:, None]),
    ("05-cost-functions", r"\nabla_z L", 0, lambda v: sigmoid(v["z"]) - v["y"]),
    ("05-cost-functions", r"\nabla_z L", 2, lambda v: softmax(v["z"]) - v["y"]),
    ("06-gradient-descent", r"\nabla_w L", 0, lambda v: v["X"].T @ (v["X"] @ v["w"] - v["y"])),
    ("09-logistic-regression", r"\nabla_w L", 0,
     lambda v: v["X"].T @ (sigmoid(v["X"] @ v["w"] + v["b"]) - v["y"])),
    ("09-logistic-regression", r"\nabla_w^2 L", 0,
     lambda v: v["X"].T @ np.diag((sigmoid(v["X"] @ v["w"]) * (1 - sigmoid(v["X"] @ v["w"]))).ravel()) @ v["X"]),
    ("10-softmax-regression", r"\nabla_W L", 0,
     lambda v: (softmax(v["W"] @ v["X"] + v["b"]) - v["Y"]) @ v["X"].T / v["X"].shape[1]),
    ("10-softmax-regression", r"\nabla_b L", 0,
     lambda v: (softmax(v["W"] @ v["X"] + v["b"]) - v["Y"]).sum(axis=1, keepdims=True) / v["X"].shape[1]),
]


@pytest.mark.parametrize("stem, lhs, occurrence, reference", SPECS, ids=[f"{s[0][:2]}:{s[1]}" for s in SPECS])
def test_key_formula_against_an_independent_reference(stem, lhs, occurrence, reference):
    expr = formula(stem, lhs, occurrence).expr
    symbols = symbols_of(expr)
    sizes = small_sizes(symbols)
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = random_point([expr], symbols, sizes, rng)
        got = evaluate(expr, values, sizes)
        want = np.asarray(reference(values), float).reshape(got.shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_backprop_note_agrees_with_hand_written_backprop():
    """The two-layer steps of note 07, evaluated, against backpropagation written out in NumPy."""
    steps = next(b for b in chapter_note("07-backpropagation").blocks if isinstance(b, Steps))
    lines = {getattr(line.node, "name", None): line.cotangent for line in steps.derivation.lines("result")}
    rng = np.random.default_rng(0)
    n0, n1, n2 = 3, 4, 2
    v = {"x": rng.standard_normal((n0, 1)), "y": rng.standard_normal((n2, 1)),
         "W^{(1)}": rng.standard_normal((n1, n0)), "b^{(1)}": rng.standard_normal((n1, 1)),
         "W^{(2)}": rng.standard_normal((n2, n1)), "b^{(2)}": rng.standard_normal((n2, 1))}
    a1 = sigmoid(v["W^{(1)}"] @ v["x"] + v["b^{(1)}"])
    a2 = sigmoid(v["W^{(2)}"] @ a1 + v["b^{(2)}"])
    d2 = (a2 - v["y"]) * a2 * (1 - a2)
    d1 = (v["W^{(2)}"].T @ d2) * a1 * (1 - a1)
    want = {"W^{(1)}": d1 @ v["x"].T, "b^{(1)}": d1, "W^{(2)}": d2 @ a1.T, "b^{(2)}": d2}
    for name, value in want.items():
        np.testing.assert_allclose(evaluate(lines[name], v), value, rtol=1e-12, atol=1e-14)


def test_worked_examples_are_computed():
    """Numbers shown in the notes come from the computation: the linear system's solution, XOR's outputs."""
    note = chapter_note("01-linear-equations")
    shown = [b.latex for b in note.blocks if hasattr(b, "check")]
    assert r"x_{1} = \frac{7}{9}, \quad x_{2} = \frac{19}{9}, \quad x_{3} = \frac{14}{9}" in shown
    np.testing.assert_allclose(np.linalg.solve([[2, -1, 1], [1, 3, -2], [3, 1, 1]], [1, 4, 6]), [7 / 9, 19 / 9, 14 / 9])
    xor = chapter_note("08-xor-network")
    table = [b.latex for b in xor.blocks if hasattr(b, "check") and b.latex.startswith(r"\operatorname{round}")]
    assert table == [r"\operatorname{round}\left(a^{(2)}\right) = \begin{bmatrix} 0 & 1 & 1 & 0 \end{bmatrix} = Y"]
