"""Exporting convolution and pooling at full size with verification on (issue 15b): the formulas are
checked at full size by directional central differences (the shrunk-copy check cannot keep the image
geometry), and the exported gradients match PyTorch autograd and finite differences."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare import convolution as C
from nnsym.declare.networks import small_cnn
from nnsym.emit.standalone import load
from nnsym.present.results import gradients
from nnsym.verify.directional import check_directional


def images(a):
    """torch's (B, C, H, W) as nnsym's C x (B H W)."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1))


def conv2d_loss(c_in=3, c_out=16, k=3, side=32, batch=16):
    X, K = ns.matrix("X", c_in, batch * side * side), ns.matrix("K", c_out, c_in * k * k)
    Y = C.conv2d(X, K, (side, side), padding=k // 2)
    T = ns.matrix("T", c_out, Y.cols)
    return ns.sum_entries(ns.tanh(Y - T)), X, K


def test_issue_size_conv2d_exports_with_verification_and_matches_torch():
    loss, X, K = conv2d_loss()
    module = load(ns.export(loss, wrt=[X, K]))  # verify=True: the full-size check runs
    rng = np.random.default_rng(0)
    x, kern, t = rng.normal(size=(16, 3, 32, 32)), rng.normal(scale=0.3, size=(16, 3, 3, 3)), rng.normal(size=(16, 16, 32, 32))
    ours = module.gradients(X=images(x), K=kern.reshape(16, -1), T=images(t))
    # Finite differences of the exported loss itself at a few entries (independent of torch).
    values = {"X": images(x), "K": kern.reshape(16, -1), "T": images(t)}
    for name, index in (("X", (0, 0)), ("X", (2, 16383)), ("K", (5, 13))):
        h = 1e-6
        up, down = {k: v.copy() for k, v in values.items()}, {k: v.copy() for k, v in values.items()}
        up[name][index] += h
        down[name][index] -= h
        numeric = (module.loss_and_gradients(**up)[0] - module.loss_and_gradients(**down)[0]) / (2 * h)
        assert ours[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-7)
    torch = pytest.importorskip("torch")
    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(kern, requires_grad=True)
    torch.tanh(torch.nn.functional.conv2d(xt, kt, padding=1) - torch.tensor(t)).sum().backward()
    np.testing.assert_allclose(ours["X"], images(xt.grad.numpy()), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours["K"], kt.grad.numpy().reshape(16, -1), rtol=1e-9, atol=1e-10)


def test_small_cnn_at_a_realistic_size_exports_with_verification_and_matches_torch():
    torch = pytest.importorskip("torch")
    B, C_in, F, side, classes = 16, 3, 8, 32, 10
    net = small_cnn(channels=C_in, filters=F, image=side, classes=classes, batch=B)
    module = load(ns.export(net.loss, wrt=list(net.parameters)))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, C_in, side, side))
    kern, b_k = rng.normal(scale=0.3, size=(F, C_in, 3, 3)), rng.normal(scale=0.1, size=F)
    w, b = rng.normal(scale=0.3, size=(classes, F)), rng.normal(scale=0.1, size=classes)
    y = np.eye(classes)[:, rng.integers(0, classes, size=B)]
    ours = module.gradients(X=images(x), K=kern.reshape(F, -1), b_K=b_k, W=w, b=b, Y=y)
    tensors = [torch.tensor(a, requires_grad=True) for a in (kern, b_k, w, b)]
    kt, bkt, wt, bt = tensors
    a = torch.relu(torch.nn.functional.conv2d(torch.tensor(x), kt, bkt, padding=1))
    features = torch.nn.functional.max_pool2d(a, 2).mean(dim=(2, 3))  # B x F
    logits = features @ wt.T + bt
    (-(torch.tensor(y.T) * torch.log_softmax(logits, dim=1)).sum() / B).backward()
    expected = {"K": kt.grad.numpy().reshape(F, -1), "b_K": bkt.grad.numpy(), "W": wt.grad.numpy(), "b": bt.grad.numpy()}
    for name, value in expected.items():
        np.testing.assert_allclose(np.reshape(ours[name], value.shape), value, rtol=1e-8, atol=1e-11, err_msg=name)


def test_directional_check_fails_wrong_gradients_at_full_size():
    loss, X, K = conv2d_loss(c_in=2, c_out=4, side=16, batch=4)
    right = {v: g.expression for v, g in gradients(loss, [X, K], verify=False).items()}
    assert check_directional(loss, right).ok
    # 0.1% too large in one variable while the other is right: it fails.
    assert not check_directional(loss, {X: 1.001 * right[X], K: right[K]}).ok
    assert not check_directional(loss, {X: right[X], K: 0.999 * right[K]}).ok


def test_max_pooling_exports_at_full_size_with_verification():
    X = ns.matrix("X", 16, 16 * 32 * 32)
    P = C.max_pool2d(X, 2, (32, 32))
    T = ns.matrix("T", 16, P.cols)
    module = load(ns.export(ns.norm(P - T, squared=True) / 2, wrt=[X]))
    assert module.self_test() < 1e-6
