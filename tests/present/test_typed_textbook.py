"""Issue 10's examples: typed losses derive to their textbook gradients (no more than twice the textbook
LaTeX's length), and the code generated for them is finite and accurate at the extreme points named
there (references: 50-digit mpmath of the loss written out entry by entry, PyTorch autograd)."""

import inspect
import json

import mp_reference as mp
import numpy as np
import pytest

import nnsym as ns
from nnsym.emit.standalone import load
from nnsym.present.claims import derive, gradient_json, read_function
from nnsym.present.cli import main

BCE = r"-y^\top \log\sigma(Xw) - (\mathbf{1}-y)^\top \log(\mathbf{1}-\sigma(Xw))"
CE = r"-y^\top \log\operatorname{softmax}(z)"
BATCH = r"-\frac{1}{N}\mathbf{1}^\top(Y\odot\log\operatorname{softmax}(WX))\mathbf{1}"

# (function, wrt, shapes, assumptions, the gradient nnsym must print, the textbook LaTeX it stands for)
EXAMPLES = [
    (CE, "z", {"y": "3", "z": "3"}, {"y": "onehot"},
     r"\operatorname{softmax}\left(z\right) - y", r"\operatorname{softmax}(z) - y"),
    (CE, "z", {"y": "3", "z": "3"}, {"y": "probability"},
     r"\operatorname{softmax}\left(z\right) - y", r"\operatorname{softmax}(z) - y"),
    (BCE, "w", {"X": "4x3", "w": "3", "y": "4"}, {},
     r"X^\top \left(\sigma\left(X w\right) - y\right)", r"X^\top(\sigma(Xw) - y)"),
    (r"\log(1+\exp(-w^\top x))", "w", {"w": "3", "x": "3"}, {},
     r"-\sigma\left(-w^\top x\right) x", r"-\sigma(-w^\top x) x"),
    (r"\log(\mathbf{1}^\top\exp(z))", "z", {"z": "3"}, {},
     r"\operatorname{softmax}\left(z\right)", r"\operatorname{softmax}(z)"),
    (BATCH, "W", {"W": "3x2", "X": "2xN", "Y": "3xN"}, {"Y": "onehot"},
     r"\frac{1}{N} \left(\operatorname{softmax}\left(W X\right) - Y\right) X^\top",
     r"\frac{1}{N}(\operatorname{softmax}(WX) - Y)X^\top"),
    (r"\mathbf{1}^\top(\mathbf{1}\oslash(\mathbf{1}+\exp(-Wx)))", "W", {"W": "3x2", "x": "2"}, {},
     r"\sigma'\left(W x\right) x^\top", r"\sigma'(Wx) x^\top"),
]


def _bare(latex):
    return latex.replace(r"\left", "").replace(r"\right", "").replace(" ", "")


@pytest.mark.parametrize("function, wrt, shapes, assume, printed, textbook", EXAMPLES)
def test_typed_loss_prints_its_textbook_gradient(function, wrt, shapes, assume, printed, textbook):
    gradient = derive(function, wrt, shapes, assume)
    assert gradient.latex() == printed
    # Lengths without the sizing commands \left, \right and spaces, which a lecturer's LaTeX may omit.
    assert len(_bare(gradient.latex())) <= 2 * len(_bare(textbook))


def test_the_short_form_says_what_makes_it_right(capsys):
    # A formula starting with "-" is the option's value, not an option.
    assert main(["derive", "--function", CE.replace(" ", ""), "--wrt", "z", "--shape", "y=3",
                 "--shape", "z=3", "--assume", "y=onehot"]) == 0
    out = capsys.readouterr().out
    assert r"\operatorname{softmax}\left(z\right) - y" in out
    assert r"\mathbf{1}^\top y = 1" in out and "onehot" in out
    # Without the assumption the gradient keeps 1^T y, and no such note is printed.
    gradient = derive(CE, "z", {"y": "3", "z": "3"})
    assert r"\mathbf{1}^\top y" in gradient.latex() and not gradient.assumptions_used


def _gradient_code(function, wrt, shapes, assume=None):
    namespace = {}
    exec(gradient_json(derive(function, wrt, shapes, assume))["numpy"], namespace)  # noqa: S102 - nnsym's own code
    return namespace["gradient"]


def test_cross_entropy_code_at_minus_800():
    torch = pytest.importorskip("torch")
    code = _gradient_code(CE, "z", {"y": "3", "z": "3"}, {"y": "onehot"})
    got = code(z=[0.0, 0.0, -800.0], y=[1.0, 0.0, 0.0])
    z = torch.tensor([0.0, 0.0, -800.0], dtype=torch.float64, requires_grad=True)
    (-(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64) * torch.log_softmax(z, 0)).sum()).backward()
    assert np.allclose(got.ravel(), z.grad.numpy(), rtol=1e-12, atol=1e-300)
    assert np.allclose(got.ravel(), [-0.5, 0.5, 0.0])


def _exported(function, wrt, shapes, values):
    module = load(ns.export(function, wrt, shapes=shapes))
    loss, grads = module.loss_and_gradients(**values)
    f, _ = read_function(function, wrt[0], shapes)
    reference = mp.reference(f, {k: np.asarray(v, float).reshape(-1, 1) if np.ndim(v) == 1 else np.asarray(v, float)
                                 for k, v in values.items()})
    assert mp.agrees(loss, reference), (function, loss, reference)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    return loss, grads


def test_binary_cross_entropy_export_at_40_5():
    torch = pytest.importorskip("torch")
    X = np.array([[40.5, 0.0, 0.0], [1.0, 2.0, 3.0], [-800.0, 1.0, 0.0], [0.0, 0.0, 1000.0]])
    w, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0])
    loss, grads = _exported(BCE, ["w"], {"X": "4x3", "w": "3", "y": "4"}, dict(X=X, w=w, y=y))
    tw = torch.tensor(w, requires_grad=True)
    logits = torch.tensor(X) @ tw
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y), reduction="sum").backward()
    assert np.allclose(grads["w"].ravel(), tw.grad.numpy(), rtol=1e-10)


def test_logsumexp_logistic_sigmoid_and_batch_exports_at_extreme_points():
    torch = pytest.importorskip("torch")
    loss, grads = _exported(r"\log(\mathbf{1}^\top\exp(z))", ["z"], {"z": "3"}, dict(z=[1000.0, 0.0, -1000.0]))
    assert np.allclose(grads["z"].ravel(), [1.0, 0.0, 0.0])
    X = np.array([[40.0, -30.0, 900.0], [-1.0, 2.0, -500.0]])
    w, y = np.array([1.0, 2.0, 1.0]), np.array([1.0, -1.0])
    loss, grads = _exported(r"\mathbf{1}^\top\log(\mathbf{1}+\exp(-y\odot(Xw)))", ["w"],
                            {"X": "2x3", "w": "3", "y": "2"}, dict(X=X, w=w, y=y))
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.softplus(-torch.tensor(y) * (torch.tensor(X) @ tw)).sum().backward()
    assert np.allclose(grads["w"].ravel(), tw.grad.numpy(), rtol=1e-10)
    _exported(r"\mathbf{1}^\top(\mathbf{1}\oslash(\mathbf{1}+\exp(-Wx)))", ["W"], {"W": "2x3", "x": "3"},
              dict(W=20 * X, x=[1.0, 1.0, 1.0]))
    W = np.array([[400.0, 0.0], [0.0, 400.0], [-400.0, -400.0]])
    Xb = np.array([[1.0, -1.0, 2.0, 0.0], [2.0, 0.0, -2.0, 1.0]])
    Y = np.eye(3)[:, [0, 1, 2, 0]]
    loss, grads = _exported(BATCH, ["W"], {"W": "3x2", "X": "2xN", "Y": "3xN"}, dict(W=W, X=Xb, Y=Y))
    tW = torch.tensor(W, requires_grad=True)
    (-(torch.tensor(Y) * torch.log_softmax(tW @ torch.tensor(Xb), 0)).sum() / 4).backward()
    assert np.allclose(grads["W"], tW.grad.numpy(), rtol=1e-10, atol=1e-300)


def test_a_size_in_the_formula_is_the_size_not_a_new_input():
    module = load(ns.export(BATCH, ["W"], shapes={"W": "3x2", "X": "2xN", "Y": "3xN"}))
    assert sorted(inspect.signature(module.loss_and_gradients).parameters) == ["W", "X", "Y"]
    loss, _ = module.loss_and_gradients(W=np.zeros((3, 2)), X=np.ones((2, 5)), Y=np.eye(3)[:, [0, 1, 2, 0, 1]])
    assert np.isclose(loss, np.log(3.0))  # the mean over N = 5 columns


def test_typed_two_layer_network_shows_a_short_gradient(capsys):
    code = main(["check", "--function", r"-y^\top\log\operatorname{softmax}(W_2\sigma(W_1x))", "--wrt", "W_1",
                 "--shape", "W_1=4x3", "--shape", "W_2=2x4", "--shape", "x=3", "--shape", "y=2",
                 "--assume", "y=onehot", "--claimed", r"((W_2^\top(\operatorname{softmax}(W_2\sigma(W_1x)) - y))"
                 r"\odot\sigma'(W_1x))x^\top", "--json"])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 0 and verdict["ok"]
    assert len(verdict["gradient"]) < 250
    # shown to a student in delta form, as backprop prints it
    assert verdict["gradient_steps"] == [
        r"z^{(1)} = W_{1} x", r"z^{(2)} = W_{2} \sigma\left(z^{(1)}\right)",
        r"\delta^{(2)} = \operatorname{softmax}\left(z^{(2)}\right) - y",
        r"\delta^{(1)} = \left(W_{2}^\top \delta^{(2)}\right) \odot \sigma'\left(z^{(1)}\right)",
        r"\delta^{(1)} x^\top"]
    assert main(["check", "--function", r"-y^\top\log\operatorname{softmax}(W_2\sigma(W_1x))", "--wrt", "W_1",
                 "--shape", "W_1=4x3", "--shape", "W_2=2x4", "--shape", "x=3", "--shape", "y=2",
                 "--assume", "y=onehot", "--claimed", r"(W_2^\top(\operatorname{softmax}(W_2\sigma(W_1x)) - y))x^\top"]) == 1
    shown = capsys.readouterr().out
    assert "gradient: \\delta^{(1)} x^\\top\n  where z^{(1)} = W_{1} x\n" in shown
