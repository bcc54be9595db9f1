"""Issue 15h: the exported code's speed-ups (stacked products, convolution kernels, max pooling's
one-pass adjoint, one-kernel activation adjoints) give the values the plain lowering gives, and
PyTorch autograd's; and they stay away from the shapes where they would not be exact or not pay."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare import convolution as C
from nnsym.declare import recurrent as R
from nnsym.emit import numpy_code
from nnsym.emit.standalone import load


def export_both(loss, wrt, target="numpy", monkeypatch=None):
    """(optimised module, module from the plain lowering) for the same loss."""
    fast = ns.export(loss, wrt=wrt, verify=False, target=target)
    with monkeypatch.context() as patch:
        patch.setattr(numpy_code, "stack_products", lambda roots: list(roots))
        patch.setattr(numpy_code, "lower_spatial", lambda roots, kernels: list(roots))
        plain = ns.export(loss, wrt=wrt, verify=False, target=target)
    return fast, plain


def recurrent_values(model, seed=0):
    rng = np.random.default_rng(seed)
    values = {s.name: rng.normal(scale=0.5, size=(int(s.rows), int(s.cols))) for s in model.symbols}
    for y in model.targets:
        values[y.name] = np.eye(int(y.rows))[:, rng.integers(0, int(y.rows), size=int(y.cols))]
    return values


def identifiers(values):
    from nnsym.declare.names import identifier
    return {identifier(k): v for k, v in values.items()}


def forward_of(source):
    return source.split("def forward", 1)[1].split("def gradients", 1)[0]


def as_numpy(gradients):
    return {k: np.asarray(v) for k, v in gradients.items()}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("target", ["numpy", "torch"])
def test_recurrent_cells_stacked_equal_the_plain_lowering(cell, target, monkeypatch):
    if target == "torch":
        torch = pytest.importorskip("torch")
    model = R.unroll(cell, 2, 3, 2, 3, batch=2)  # the benchmark's small twin
    fast, plain = export_both(model.loss, list(model.parameters), target, monkeypatch)
    # the optimisation is there: one product per step for all gates (and the bias), one per weight gradient
    assert "one product of stacked operands" in fast and "one product of stacked operands" not in plain
    values = identifiers(recurrent_values(model))
    if target == "torch":
        values = {k: torch.tensor(v) for k, v in values.items()}
    ours, reference = as_numpy(load(fast).gradients(**values)), as_numpy(load(plain).gradients(**values))
    assert ours.keys() == reference.keys()
    for key in reference:
        np.testing.assert_allclose(ours[key], reference[key], rtol=1e-12, atol=1e-13, err_msg=key)
    assert load(fast).self_test() < 1e-6


def test_lstm_stacked_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    n_in, hidden, steps, batch = 2, 3, 3, 2
    model = R.unroll("lstm", n_in, hidden, n_in, steps, batch=batch)
    values = recurrent_values(model, seed=1)
    module = load(ns.export(model.loss, wrt=list(model.parameters), verify=False, target="torch"))
    ours = module.gradients(**{k: torch.tensor(v) for k, v in identifiers(values).items()})
    lstm = torch.nn.LSTM(n_in, hidden).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(np.vstack([values[f"W_{{{g}}}"] for g in "ifgo"])))
        lstm.weight_hh_l0.copy_(torch.tensor(np.vstack([values[f"U_{{{g}}}"] for g in "ifgo"])))
        lstm.bias_ih_l0.copy_(torch.tensor(np.concatenate([values[f"b_{{{g}}}"][:, 0] for g in "ifgo"])))
        lstm.bias_hh_l0.zero_()
    W_y, b_y = torch.tensor(values["W_{y}"], requires_grad=True), torch.tensor(values["b_{y}"][:, 0], requires_grad=True)
    xs = torch.tensor(np.stack([values[x.name].T for x in model.inputs]))
    ys = torch.tensor(np.stack([values[y.name].T for y in model.targets]))
    state = (torch.tensor(values["h_{0}"].T[None]), torch.tensor(values["c_{0}"].T[None]))
    outputs, _ = lstm(xs, state)
    (-(ys * torch.log_softmax(outputs @ W_y.T + b_y, dim=-1)).sum()).backward()
    expected = {"W_y": W_y.grad, "b_y": b_y.grad[:, None], "W_i": lstm.weight_ih_l0.grad[:hidden],
                "U_o": lstm.weight_hh_l0.grad[3 * hidden:], "b_f": lstm.bias_ih_l0.grad[hidden:2 * hidden, None]}
    for key, value in expected.items():
        np.testing.assert_allclose(ours[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


def test_products_sharing_a_factor_with_a_symbolic_batch(monkeypatch):
    # W x_t for three steps whose batch B is read from the arguments: blocks at offsets t B
    W = ns.matrix("W", 4, 3)
    xs = [ns.matrix(f"x_{t}", 3, "B") for t in (1, 2, 3)]
    loss = ns.norm(ns.tanh(W @ xs[0]), squared=True) + ns.norm(ns.tanh(W @ xs[1]), squared=True) \
        + ns.norm(ns.tanh(W @ xs[2]), squared=True)
    fast, plain = export_both(loss, [W] + xs, "numpy", monkeypatch)
    assert "np.concatenate([x_1, x_2, x_3], axis=1)" in fast
    rng = np.random.default_rng(2)
    for batch in (1, 5):
        values = {"W": rng.normal(size=(4, 3)), **{f"x_{t}": rng.normal(size=(3, batch)) for t in (1, 2, 3)}}
        ours, reference = load(fast).gradients(**values), load(plain).gradients(**values)
        for key in reference:
            np.testing.assert_allclose(ours[key], reference[key], rtol=1e-12, atol=1e-14, err_msg=key)


def test_no_stacking_where_it_does_not_pay_or_is_not_plain_products(monkeypatch):
    # matrix-vector products of large matrices: stacking would copy the matrices, as costly as the products
    W_1, W_2 = ns.matrix("W_1", 300, 300), ns.matrix("W_2", 300, 300)
    x, y = ns.vector("x", 300), ns.vector("y", 300)
    big = ns.sum_entries(ns.tanh(W_1 @ x + W_2 @ y))
    fast, plain = export_both(big, [W_1, W_2, x, y], "numpy", monkeypatch)
    assert "concatenate([W_1, W_2]" not in fast and "concatenate([W_1.T, W_2.T]" not in fast
    assert "concatenate" not in forward_of(fast)
    # (the outer products d_W_1 = t x^T, d_W_2 = t y^T do share t: copying x and y is cheap, and done)
    assert "concatenate([x, y], axis=0)" in fast
    # a scaled product is no plain product: 2 A B + C D keeps its form (only one plain product)
    A, B, Cm, D = (ns.matrix(n, 3, 3) for n in "ABCD")
    scaled = ns.sum_entries(ns.tanh(2 * (A @ B) + Cm @ D))
    fast, plain = export_both(scaled, [A, B, Cm, D], "numpy", monkeypatch)
    assert "concatenate" not in forward_of(fast)  # (its gradients' products A^T G, C^T G do share G)
    rng = np.random.default_rng(3)
    values = {n: rng.normal(size=(3, 3)) for n in "ABCD"}
    for key, value in load(plain).gradients(**values).items():
        np.testing.assert_allclose(load(fast).gradients(**values)[key], value, rtol=1e-12, err_msg=key)


def test_products_with_a_scalar_factor_are_left_alone(monkeypatch):
    # a w x + b w y (w, a, b numbers): 1 x 1 factors are never stacked, and the values are right
    w, a, b = ns.scalar("w"), ns.scalar("a"), ns.scalar("b")
    x, y = ns.vector("x", 3), ns.vector("y", 3)
    loss = ns.norm(ns.tanh(x @ (a * w) + y @ (b * w)), squared=True)
    fast, plain = export_both(loss, [w, x, y], "numpy", monkeypatch)
    rng = np.random.default_rng(7)
    values = {"w": 0.7, "a": -1.3, "b": 0.4, "x": rng.normal(size=(3, 1)), "y": rng.normal(size=(3, 1))}
    for key, value in load(plain).gradients(**values).items():
        np.testing.assert_allclose(load(fast).gradients(**values)[key], value, rtol=1e-12, err_msg=key)
    assert load(fast).self_test() < 1e-6


def test_a_recurrence_is_not_stacked_over_its_own_steps(monkeypatch):
    # h_t = tanh(U h_{t-1}): U h_1 depends on U h_0, so the products of U cannot be one product over time
    U, h_0 = ns.matrix("U", 3, 3), ns.matrix("h_0", 3, 2)
    h = h_0
    for _ in range(3):
        h = ns.tanh(U @ h)
    loss = ns.norm(h, squared=True)
    fast, plain = export_both(loss, [U, h_0], "numpy", monkeypatch)
    assert "concatenate" not in forward_of(fast)
    rng = np.random.default_rng(4)
    values = {"U": rng.normal(size=(3, 3)), "h_0": rng.normal(size=(3, 2))}
    for key, value in load(plain).gradients(**values).items():
        np.testing.assert_allclose(load(fast).gradients(**values)[key], value, rtol=1e-12, err_msg=key)
    assert load(fast).self_test() < 1e-6


def images(a):
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1))


@pytest.mark.parametrize("kernel, side, padding", [((3, 3), (6, 5), 1), ((2, 3), (5, 7), 0), ((1, 3), (1, 9), 1)])
def test_torch_convolution_kernels_equal_unfold_and_autograd(kernel, side, padding, monkeypatch):
    torch = pytest.importorskip("torch")
    c_in, c_out, batch = 2, 3, 2
    X = ns.matrix("X", c_in, batch * side[0] * side[1])
    K = ns.matrix("K", c_out, c_in * kernel[0] * kernel[1])
    Y = C.conv2d(X, K, side, padding=padding, kernel=kernel)
    T = ns.matrix("T", c_out, Y.cols)
    loss = ns.sum_entries(ns.tanh(Y - T))
    fast, plain = export_both(loss, [X, K], "torch", monkeypatch)
    assert "channel_correlate(" in fast and "im2col(" not in fast.split("def forward", 1)[1]
    assert "im2col(" in plain
    # NumPy has no convolution kernels: its export keeps im2col
    assert "im2col(" in ns.export(loss, wrt=[X, K], verify=False)
    rng = np.random.default_rng(5)
    pad = (0 if side[0] == 1 else padding, padding)
    x, k = rng.normal(size=(batch, c_in, *side)), rng.normal(size=(c_out, c_in, *kernel))
    out_side = (side[0] + 2 * pad[0] - kernel[0] + 1, side[1] + 2 * pad[1] - kernel[1] + 1)
    t = rng.normal(size=(batch, c_out, *out_side))
    values = {"X": torch.tensor(images(x)), "K": torch.tensor(k.reshape(c_out, -1)), "T": torch.tensor(images(t))}
    ours, reference = load(fast).gradients(**values), load(plain).gradients(**values)
    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    torch.tanh(torch.nn.functional.conv2d(xt, kt, padding=pad) - torch.tensor(t)).sum().backward()
    for key, expected in (("X", images(xt.grad.numpy())), ("K", kt.grad.numpy().reshape(c_out, -1))):
        np.testing.assert_allclose(ours[key].numpy(), reference[key].numpy(), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(ours[key].numpy(), expected, rtol=1e-11, atol=1e-12)
    assert load(fast).self_test() < 1e-6


@pytest.mark.parametrize("target", ["numpy", "torch"])
def test_max_pool_adjoint_in_one_pass_with_and_without_ties(target, monkeypatch):
    torch = pytest.importorskip("torch")
    X = ns.matrix("X", 2, 3 * 4 * 6)
    P = C.max_pool2d(X, 2, (4, 6))
    T = ns.matrix("T", 2, P.cols)
    loss = ns.norm(P - T, squared=True) / 2
    fast, plain = export_both(loss, [X], target, monkeypatch)
    assert "max_pool_adjoint(" in fast and "max_pool_adjoint(" not in plain
    rng = np.random.default_rng(6)
    t = rng.normal(size=(3, 2, 2, 3))
    for x in (rng.normal(size=(3, 2, 4, 6)), rng.integers(0, 2, size=(3, 2, 4, 6)).astype(float)):  # the second: ties
        values = {"X": images(x), "T": images(t)}
        if target == "torch":
            values = {k: torch.tensor(v) for k, v in values.items()}
        ours, reference = as_numpy(load(fast).gradients(**values)), as_numpy(load(plain).gradients(**values))
        xt = torch.tensor(x, requires_grad=True)
        (0.5 * ((torch.nn.functional.max_pool2d(xt, 2) - torch.tensor(t)) ** 2).sum()).backward()
        np.testing.assert_array_equal(ours["X"], reference["X"])
        np.testing.assert_allclose(ours["X"], images(xt.grad.numpy()), rtol=1e-12, atol=1e-14)


def test_torch_tanh_prime_keeps_its_accuracy_at_extreme_points():
    torch = pytest.importorskip("torch")
    from nnsym.emit import stable, stable_torch
    z = np.array([0.0, 1e-8, -0.5, 3.0, -19.0, 25.0, -300.0, 354.0, 400.0, -800.0, 1e5])
    with monkeypatch_torch(stable_torch, torch):
        ours = stable_torch.tanh_prime(torch.tensor(z)).numpy()
    reference = stable.tanh_prime(z)  # 4 e^{-2|z|} / (1 + e^{-2|z|})^2
    normal = reference > 1e-300
    np.testing.assert_allclose(ours[normal], reference[normal], rtol=1e-14)
    assert np.all(np.abs(ours[~normal] - reference[~normal]) < 1e-300)


class monkeypatch_torch:
    """Bind the ``torch`` a copied-by-source helper module expects, for the duration of a block."""

    def __init__(self, module, torch):
        self.module, self.torch = module, torch

    def __enter__(self):
        self.saved, self.module.torch = self.module.torch, self.torch

    def __exit__(self, *exc):
        self.module.torch = self.saved


@pytest.mark.parametrize("target", ["numpy", "torch"])
def test_columns_that_do_not_sum_to_one_are_still_refused(target):
    if target == "torch":
        torch = pytest.importorskip("torch")
    z, y = ns.matrix("z", 3, 2), ns.matrix("y", 3, 2, assume="onehot")
    module = load(ns.export(ns.softmax_cross_entropy(z, y), wrt=[z], verify=False, target=target))
    convert = (lambda a: torch.tensor(a)) if target == "torch" else (lambda a: a)
    good = np.eye(3)[:, [0, 2]]
    module.gradients(z=convert(np.zeros((3, 2))), y=convert(good))
    for bad in (good * 0.5, np.where(good == 1, np.nan, 0.0), good + 1e-6):
        with pytest.raises(ValueError, match="sum to one"):
            module.gradients(z=convert(np.zeros((3, 2))), y=convert(bad))


def test_groups_that_need_each_other_end_and_equal_the_plain_lowering(monkeypatch):
    """((AB)(AB))(AB) under tanh (the fuzzer's seed 8120): products sharing A and products sharing AB
    need each other's stacks; the rewrite ended in a RecursionError. Now it ends, with the plain values."""
    A, B = ns.matrix("A", 4, 4), ns.matrix("B", 4, 4)
    P = A @ B
    loss = ns.trace(ns.sqrt(ns.sigmoid(ns.tanh((P @ P) @ P))))
    fast, plain = export_both(loss, [A, B], "numpy", monkeypatch)
    rng = np.random.default_rng(0)
    values = {"A": rng.normal(scale=0.5, size=(4, 4)), "B": rng.normal(scale=0.5, size=(4, 4))}
    ours, reference = as_numpy(load(fast).gradients(**values)), as_numpy(load(plain).gradients(**values))
    for key in reference:
        assert np.allclose(ours[key], reference[key], rtol=1e-12, atol=1e-14)
