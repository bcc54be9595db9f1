"""Single-channel correlation as typed, Y = X \\star_p K (issue 15e): the rules dK = X \\star_p G and
dX = G \\star_{k-1-p} rot180(K) against central differences written here, PyTorch autograd of
F.conv2d / F.conv1d, and the elementwise oracle; paddings 0, 1, full and larger than the kernel (the
input gradient's padding is then negative, a crop); non-square kernels and images, column signals,
1x1 kernels and kernels as large as the image."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.correlation import Correlate, Rot180
from nnsym.errors import InputError, ShapeError
from nnsym.verify.elementwise import check_elementwise
from nnsym.verify.evaluate import evaluate
from differences import central_differences


def correlate_by_loops(x, k, ph, pw):
    """The definition: zero-pad by (ph, pw), then sum each window times the kernel."""
    x = np.pad(x, ((ph, ph), (pw, pw)))
    rows, cols = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    return np.array([[np.sum(x[i:i + k.shape[0], j:j + k.shape[1]] * k) for j in range(cols)] for i in range(rows)])


# (image, kernel, padding as passed, padding as a pair)
CASES = [
    ((5, 5), (3, 3), 0, (0, 0)),
    ((5, 5), (3, 3), 1, (1, 1)),
    ((5, 5), (3, 3), "full", (2, 2)),
    ((6, 4), (2, 3), 0, (0, 0)),
    ((6, 4), (2, 3), (1, 2), (1, 2)),
    ((6, 4), (2, 3), "full", (1, 2)),
    ((4, 5), (2, 2), 3, (3, 3)),  # padding larger than k - 1: dX's padding is -2, a crop
    ((12, 10), (2, 3), 1, (1, 1)),  # a small kernel over a larger output: NumPy's slice-per-entry path
    ((4, 4), (4, 4), 0, (0, 0)),  # the kernel as large as the image: a 1x1 output
    ((3, 5), (1, 1), 0, (0, 0)),  # a 1x1 kernel: X \star k = k X
    ((7, 1), (3, 1), 1, (1, 0)),  # a column signal: padded along its length only
    ((1, 7), (1, 2), "full", (0, 1)),  # a row signal
]


def gradients_of_pairing(image, kernel, padding):
    """f = sum(C o (X \\star_p K)): the rules' gradients for the upstream gradient C (not verified
    here: this file is the check)."""
    X, K = ns.matrix("X", *image), ns.matrix("K", *kernel)
    Y = ns.correlate(X, K, padding)
    C = ns.matrix("C", *Y.shape)
    f = ns.sum_entries(ns.hadamard(C, Y))
    found = ns.gradients(f, [X, K], verify=False)
    return f, X, K, C, found


@pytest.mark.parametrize("image, kernel, padding, pair", CASES)
def test_rules_against_central_differences_of_the_definition(image, kernel, padding, pair):
    f, X, K, C, found = gradients_of_pairing(image, kernel, padding)
    assert ns.correlate(X, K, padding).padding == pair
    rng = np.random.default_rng(sum(image) + sum(kernel))
    x, k = rng.standard_normal(image), rng.standard_normal(kernel)
    c = rng.standard_normal(tuple(int(s) for s in C.shape))
    values = {"X": x, "K": k, "C": c}
    assert np.allclose(evaluate(ns.correlate(X, K, padding), values, {}), correlate_by_loops(x, k, *pair))
    dx = central_differences(lambda v: np.sum(c * correlate_by_loops(v, k, *pair)), x)
    dk = central_differences(lambda v: np.sum(c * correlate_by_loops(x, v, *pair)), k)
    assert np.allclose(evaluate(found[X].expression, values, {}), dx, rtol=1e-7, atol=1e-8)
    assert np.allclose(evaluate(found[K].expression, values, {}), dk, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("image, kernel, padding, pair", CASES)
def test_rules_against_torch_autograd(image, kernel, padding, pair):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    f, X, K, C, found = gradients_of_pairing(image, kernel, padding)
    rng = np.random.default_rng(7)
    x, k = rng.standard_normal(image), rng.standard_normal(kernel)
    c = rng.standard_normal(tuple(int(s) for s in C.shape))
    tx = torch.tensor(x, requires_grad=True)
    tk = torch.tensor(k, requires_grad=True)
    if image[1] == 1 and kernel[1] == 1:  # a column signal: torch's conv1d over its length
        y = F.conv1d(tx.T[None], tk.T[None], padding=pair[0])[0].T
    else:
        y = F.conv2d(tx[None, None], tk[None, None], padding=pair)[0, 0]
    (torch.tensor(c) * y).sum().backward()
    values = {"X": x, "K": k, "C": c}
    assert np.allclose(evaluate(found[X].expression, values, {}), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(evaluate(found[K].expression, values, {}), tk.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_the_printed_rules_are_the_lecturers():
    _, X, K, _, found = gradients_of_pairing((5, 5), (3, 3), 0)
    assert ns.latex(found[K].expression) == r"X \star C"
    assert ns.latex(found[X].expression) == r"C \star_{\mathrm{full}} \operatorname{rot180}\left(K\right)"
    _, X, K, _, found = gradients_of_pairing((5, 5), (3, 3), 1)
    assert ns.latex(found[X].expression) == r"C \star_{p=1} \operatorname{rot180}\left(K\right)"
    _, X, K, _, found = gradients_of_pairing((4, 5), (2, 2), 3)
    assert ns.latex(found[X].expression) == r"C \star_{p=-2} \operatorname{rot180}\left(K\right)"


@pytest.mark.parametrize("image, kernel, padding", [((4, 4), (3, 3), 0), ((4, 3), (2, 2), "full"), ((5, 1), (2, 1), 1)])
def test_rules_against_the_elementwise_oracle(image, kernel, padding):
    X, K = ns.matrix("X", *image), ns.matrix("K", *kernel)
    Y = ns.correlate(X, K, padding)
    T = ns.matrix("T", *Y.shape)
    f = ns.norm(ns.tanh(Y) - T, squared=True)
    found = ns.gradients(f, [X, K], verify=False)
    report = check_elementwise(f, {v: found[v].expression for v in (X, K)})
    assert report.ok and report.max_abs_error < 1e-9, report


def test_rot180_is_self_adjoint_and_an_involution():
    K = ns.matrix("K", 2, 3)
    assert ns.rot180(ns.rot180(K)) == K
    k = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(evaluate(ns.rot180(K), {"K": k}, {}), k[::-1, ::-1])
    G = ns.matrix("G", 2, 3)
    found = ns.gradients(ns.sum_entries(ns.hadamard(G, ns.rot180(K))), [K], verify=False)
    assert isinstance(found[K].expression, Rot180) and found[K].expression.args[0] == G


def test_extreme_values_keep_their_relative_accuracy():
    X, K = ns.matrix("X", 6, 6), ns.matrix("K", 3, 3)
    f, _, _, C, found = gradients_of_pairing((6, 6), (3, 3), 1)
    rng = np.random.default_rng(3)
    for scale in (1e-150, 1e150):
        x, k, c = scale * rng.standard_normal((6, 6)), rng.standard_normal((3, 3)), rng.standard_normal((6, 6))
        got = evaluate(found[X].expression, {"X": x, "K": k, "C": c}, {})
        want = correlate_by_loops(c, k[::-1, ::-1], 1, 1)
        assert np.allclose(got, want, rtol=1e-13)
        dk = evaluate(found[K].expression, {"X": x, "K": k, "C": c}, {})
        assert np.allclose(dk, correlate_by_loops(x, c, 1, 1), rtol=1e-12, atol=0)
        assert np.all(np.isfinite(dk))


def test_shape_errors_name_the_operation_and_both_shapes():
    with pytest.raises(ShapeError, match=r"correlation 3x3 \\star 5x5.*full correlation"):
        ns.correlate(ns.matrix("G", 3, 3), ns.matrix("X", 5, 5))
    with pytest.raises(ShapeError, match="scalar"):
        ns.correlate(ns.scalar("c"), ns.matrix("K", 3, 3))
    with pytest.raises(InputError, match="padding"):
        ns.correlate(ns.matrix("X", 5, 5), ns.matrix("K", 3, 3), padding="same")
    with pytest.raises(InputError, match="concrete"):
        ns.correlate(ns.matrix("X", "n", "n"), ns.matrix("K", 3, 3))
    with pytest.raises(InputError):
        ns.correlate(np.ones((3, 3)), ns.matrix("K", 3, 3))
