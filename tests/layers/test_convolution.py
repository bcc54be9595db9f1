"""Convolution and pooling (issue 15): gradients against PyTorch autograd, finite differences written
here, the elementwise SymPy oracle, and the textbook identities of the im2col form."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare import convolution as C
from nnsym.declare.reading import read_latex
from nnsym.errors import InputError, ParseError, ShapeError
from nnsym.verify.elementwise import check_elementwise
from nnsym.verify.evaluate import evaluate


def as_matrix(images):
    """(B, C, H, W) -> C x (B H W), nnsym's image layout."""
    b, c, h, w = images.shape
    return np.ascontiguousarray(np.transpose(images, (1, 0, 2, 3)).reshape(c, b * h * w))


def finite_differences(f, value, eps=1e-6):
    grad = np.zeros_like(value)
    for index in np.ndindex(*value.shape):
        up, down = value.copy(), value.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (f(up) - f(down)) / (2 * eps)
    return grad


def conv_loss(c_in=2, c_out=3, k=3, image=(5, 4), batch=2, padding=1):
    X = ns.matrix("X", c_in, batch * image[0] * image[1])
    K = ns.matrix("K", c_out, c_in * k * k)
    b = ns.vector("b", c_out)
    columns = C.conv2d(X, K, image, padding).cols
    Y = C.conv2d(X, K, image, padding) + b @ ns.ones(columns).T
    T = ns.matrix("T", c_out, columns)
    return X, K, b, T, ns.norm(ns.tanh(Y) - T, squared=True) / 2


@pytest.mark.parametrize("padding", [0, 1, 2])
def test_conv2d_gradients_match_torch_autograd(padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(padding)
    X, K, b, T, L = conv_loss(padding=padding, image=(5, 4))
    grads = ns.gradients(L, [X, K, b])
    x = rng.normal(size=(2, 2, 5, 4))
    k = rng.normal(size=(3, 2, 3, 3))
    bias = rng.normal(size=3)
    xt, kt, bt = (torch.tensor(a, requires_grad=True) for a in (x, k, bias))
    y = torch.nn.functional.conv2d(xt, kt, bt, padding=padding)
    target = rng.normal(size=tuple(y.shape))
    loss = 0.5 * ((torch.tanh(y) - torch.tensor(target)) ** 2).sum()
    loss.backward()
    values = {"X": as_matrix(x), "K": k.reshape(3, -1), "b": bias, "T": as_matrix(target)}
    assert np.isclose(evaluate(L, values)[0, 0], loss.item(), rtol=1e-12)
    np.testing.assert_allclose(evaluate(grads[X].expression, values), as_matrix(xt.grad.numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(evaluate(grads[K].expression, values), kt.grad.numpy().reshape(3, -1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(evaluate(grads[b].expression, values)[:, 0], bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv1d_gradients_match_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    X, K = ns.matrix("X", 2, 3 * 7), ns.matrix("K", 4, 2 * 3)
    Y = C.conv1d(X, K, padding=1, length=7)
    T = ns.matrix("T", 4, Y.cols)
    L = ns.norm(ns.sigmoid(Y) - T, squared=True) / 2
    grads = ns.gradients(L, [X, K])
    x, k = rng.normal(size=(3, 2, 7)), rng.normal(size=(4, 2, 3))
    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    y = torch.nn.functional.conv1d(xt, kt, padding=1)
    target = rng.normal(size=tuple(y.shape))
    (0.5 * ((torch.sigmoid(y) - torch.tensor(target)) ** 2).sum()).backward()
    signal = lambda a: np.ascontiguousarray(np.transpose(a, (1, 0, 2)).reshape(a.shape[1], -1))  # noqa: E731
    values = {"X": signal(x), "K": k.reshape(4, -1), "T": signal(target)}
    np.testing.assert_allclose(evaluate(grads[X].expression, values), signal(xt.grad.numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(evaluate(grads[K].expression, values), kt.grad.numpy().reshape(4, -1), rtol=1e-10, atol=1e-12)
    # finite differences written here, independent of nnsym's own checker
    fd = finite_differences(lambda v: evaluate(L, {**values, "K": v})[0, 0], values["K"])
    np.testing.assert_allclose(evaluate(grads[K].expression, values), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_gradients_match_torch(pool):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    X = ns.matrix("X", 3, 2 * 4 * 6)
    P = (C.max_pool2d if pool == "max" else C.avg_pool2d)(X, 2, (4, 6))
    W = ns.matrix("W", 3, P.cols)
    L = ns.sum_entries(ns.hadamard(W, ns.tanh(P)))
    g = ns.grad(L, X)
    x, w = rng.normal(size=(2, 3, 4, 6)), rng.normal(size=(2, 3, 2, 3))
    xt = torch.tensor(x, requires_grad=True)
    torch_pool = torch.nn.functional.max_pool2d if pool == "max" else torch.nn.functional.avg_pool2d
    (torch.tensor(w) * torch.tanh(torch_pool(xt, 2))).sum().backward()
    values = {"X": as_matrix(x), "W": as_matrix(w)}
    np.testing.assert_allclose(evaluate(g.expression, values), as_matrix(xt.grad.numpy()), rtol=1e-10, atol=1e-12)


def test_max_pool_ties_route_to_the_first_maximum_as_torch():
    torch = pytest.importorskip("torch")
    X = ns.matrix("X", 1, 16)
    L = ns.sum_entries(C.max_pool2d(X, 2, (4, 4)))
    g = ns.grad(L, X, verify=False)
    x = np.zeros((1, 1, 4, 4))  # every window a four-way tie
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    np.testing.assert_array_equal(evaluate(g.expression, {"X": as_matrix(x)}), as_matrix(xt.grad.numpy()))


def test_oracle_agrees_at_small_sizes():
    X, K = ns.matrix("X", 1, 2 * 3 * 3), ns.matrix("K", 1, 4)
    Y = C.conv2d(X, K, (3, 3), padding=1)
    L = ns.sum_entries(C.max_pool2d(Y, 2, (4, 4)))
    found = ns.gradients(L, [X, K], oracle=False)
    report = check_elementwise(L, {X: found[X].expression, K: found[K].expression})
    assert report.ok, report
    A = ns.matrix("A", 2, 8)
    L2 = ns.norm(C.avg_pool2d(A, (2, 2), (2, 4)), squared=True)
    assert check_elementwise(L2, {A: ns.grad(L2, A).expression}).ok


def test_im2col_form_is_the_lecturers_correlation_with_the_flipped_kernel():
    """dX = col2im(K^T dY) is the full correlation of dY with the kernel rotated by 180 degrees
    (written here with loops), and dK = dY im2col(X)^T the valid correlation X * dY."""
    rng = np.random.default_rng(11)
    X, K = ns.matrix("X", 1, 25), ns.matrix("K", 1, 9)
    Y = C.conv2d(X, K, (5, 5))
    G = ns.matrix("G", 1, Y.cols)
    L = ns.sum_entries(ns.hadamard(G, Y))
    grads = ns.gradients(L, [X, K])
    x, k, g = rng.normal(size=(5, 5)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    values = {"X": x.reshape(1, -1), "K": k.reshape(1, -1), "G": g.reshape(1, -1)}
    padded = np.pad(g, 2)
    flipped = k[::-1, ::-1]
    full = np.array([[np.sum(padded[i:i + 3, j:j + 3] * flipped) for j in range(5)] for i in range(5)])
    valid = np.array([[np.sum(x[i:i + 3, j:j + 3] * g) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(evaluate(grads[X].expression, values).reshape(5, 5), full, rtol=1e-12)
    np.testing.assert_allclose(evaluate(grads[K].expression, values).reshape(3, 3), valid, rtol=1e-12)
    # unflipped, the full correlation is wrong (the classic mistake): it must not pass by accident
    unflipped = np.array([[np.sum(padded[i:i + 3, j:j + 3] * k) for j in range(5)] for i in range(5)])
    assert not np.allclose(unflipped, full)
    assert ns.latex(grads[X].expression) == r"\operatorname{col2im}_{3 \times 3,\ 5 \times 5}\left(K^\top G\right)"
    assert ns.latex(grads[K].expression) == r"G \operatorname{im2col}_{3 \times 3,\ 5 \times 5}\left(X\right)^\top"


def test_reader_reads_the_printed_operators():
    shapes = {"X": (2, 50), "K": (3, 18)}
    Y = read_latex(r"K \operatorname{im2col}_{3\times3,\,5\times5,\,p=1}(X)", shapes)
    assert Y == C.conv2d(ns.matrix("X", 2, 50), ns.matrix("K", 3, 18), (5, 5), 1)
    one_d = read_latex(r"\operatorname{im2col}_{3,\ 25}(X)", {"X": (2, 25)})
    assert one_d.shape == (6, 23)
    assert read_latex(r"\operatorname{maxpool}_{2 \times 2,\ 4 \times 4}(X)", {"X": (3, 32)}).shape == (3, 8)


@pytest.mark.parametrize("text, shapes", [
    (r"\operatorname{im2col}(X)", {"X": (2, 25)}),
    (r"\operatorname{im2col}_{3\times3}(X)", {"X": (2, 25)}),
    (r"\operatorname{im2col}_{3\times 3,\ 4\times 4}(X)", {"X": (2, 25)}),
    (r"\operatorname{maxpool}_{2\times 2,\ 5\times 5}(X)", {"X": (2, 25)}),
    (r"\operatorname{im2col}_{7\times 7,\ 5\times 5}(X)", {"X": (2, 25)}),
    (r"\operatorname{col2im}_{3\times 3,\ 5\times 5}(X)", {"X": (2, 25)}),
    (r"\operatorname{upsample}_{2\times 2,\ 4\times 4}(X)", {"X": (2, 5)}),
    (r"\operatorname{im2col}_{0\times 3,\ 5\times 5}(X)", {"X": (2, 25)}),
])
def test_bad_geometry_is_one_clear_error(text, shapes):
    with pytest.raises((ParseError, ShapeError, InputError)) as error:
        read_latex(text, shapes)
    assert "\n" not in str(error.value).strip() or str(error.value).startswith("col")


def test_constructor_errors():
    X = ns.matrix("X", 2, 25)
    with pytest.raises(ShapeError, match="columns"):
        C.conv2d(X, ns.matrix("K", 3, 7), (5, 5))
    with pytest.raises(ShapeError, match="tile"):
        C.max_pool2d(X, 2, (5, 5))
    with pytest.raises(InputError, match="concrete"):
        C.conv2d(ns.matrix("X", "c", 25), ns.matrix("K", 3, 18), (5, 5))
    with pytest.raises(InputError):
        C.conv2d(X, ns.matrix("K", 3, 18), (5, 5), padding=-1)
