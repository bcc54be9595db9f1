"""RNN, LSTM and GRU unrolled (issue 15): gradients against PyTorch's nn.RNN/LSTM/GRU autograd, the
BPTT recursion for a symbolic t, and finite differences written here."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.verify.evaluate import evaluate

N_IN, N_HIDDEN, N_OUT, T, B = 3, 4, 2, 3, 2


def values_for(model, rng):
    values = {s.name: rng.normal(scale=0.5, size=(s.rows, s.cols)) for s in model.symbols}
    for y in model.targets:  # one-hot targets, one per example
        values[y.name] = np.eye(N_OUT)[:, rng.integers(0, N_OUT, size=B)]
    return values


def torch_loss(model, values, torch):
    """The same network in torch (nn.RNN/LSTM/GRU with the gates' weights stacked)."""
    v = {k: torch.tensor(a, requires_grad=True) for k, a in values.items()}
    stack = lambda names: torch.cat([v[n] for n in names], 0)  # noqa: E731
    xs = torch.stack([v[x.name].T for x in model.inputs])  # T x B x n_x
    h0 = v["h_{0}"].T[None]
    cell = model.cell
    if cell == "rnn":
        module = torch.nn.RNN(N_IN, N_HIDDEN, nonlinearity="tanh").double()
        weights = {"weight_ih_l0": v["W_{xh}"], "weight_hh_l0": v["W_{hh}"], "bias_ih_l0": v["b_{h}"][:, 0],
                   "bias_hh_l0": torch.zeros(N_HIDDEN, dtype=torch.float64)}
    elif cell == "lstm":
        module = torch.nn.LSTM(N_IN, N_HIDDEN).double()
        weights = {"weight_ih_l0": stack([f"W_{{{g}}}" for g in "ifgo"]), "weight_hh_l0": stack([f"U_{{{g}}}" for g in "ifgo"]),
                   "bias_ih_l0": stack([f"b_{{{g}}}" for g in "ifgo"])[:, 0], "bias_hh_l0": torch.zeros(4 * N_HIDDEN, dtype=torch.float64)}
    else:
        module = torch.nn.GRU(N_IN, N_HIDDEN).double()
        zero = torch.zeros(N_HIDDEN, dtype=torch.float64)
        weights = {"weight_ih_l0": stack([f"W_{{{g}}}" for g in "rzn"]), "weight_hh_l0": stack([f"U_{{{g}}}" for g in "rzn"]),
                   "bias_ih_l0": torch.cat([v["b_{r}"][:, 0], v["b_{z}"][:, 0], v["b_{n}"][:, 0]]),
                   "bias_hh_l0": torch.cat([zero, zero, v["b_{hn}"][:, 0]])}
    outputs, _ = torch.func.functional_call(module, weights, args=call_args(cell, xs, h0, v))
    logits = outputs @ v["W_{y}"].T + v["b_{y}"][:, 0]  # T x B x n_out
    targets = torch.stack([v[y.name].T for y in model.targets])
    loss = -(targets * torch.log_softmax(logits, dim=-1)).sum()
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in v.items() if t.grad is not None}


def call_args(cell, xs, h0, v):
    if cell == "lstm":
        return (xs, (h0, v["c_{0}"].T[None]))
    return (xs, h0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_match_torch(cell):
    torch = pytest.importorskip("torch")
    model = ns.rnn(N_IN, N_HIDDEN, N_OUT, T, batch=B) if cell == "rnn" else getattr(ns, cell)(N_IN, N_HIDDEN, N_OUT, T, batch=B)
    result = ns.bptt(model)  # checked by finite differences before it is handed out
    assert all(r.ok for r in result.reports)
    values = values_for(model, np.random.default_rng(1))
    expected_loss, expected = torch_loss(model, values, torch)
    assert np.isclose(evaluate(model.loss, values)[0, 0], expected_loss, rtol=1e-12)
    for p in model.parameters:
        np.testing.assert_allclose(evaluate(result.equations.gradients[p], values), expected[p.name],
                                   rtol=1e-9, atol=1e-12, err_msg=p.name)


def test_rnn_recursion_reads_as_on_the_board():
    result = ns.bptt(ns.rnn(N_IN, N_HIDDEN, N_OUT, T))
    rows = dict(result.recursion)
    assert rows[r"\delta_{t}"] == (r"W_{y}^\top \left(\operatorname{softmax}\left(\hat{y}_{t}\right) - y_{t}\right) + "
                                   r"W_{hh}^\top \left(\delta_{t+1} \odot \tanh'\left(z_{t+1}\right)\right)")
    assert rows[r"\frac{\partial L}{\partial W_{hh}}"] == (
        r"\sum_{t=1}^{T} \left(\delta_{t} \odot \tanh'\left(z_{t}\right)\right) h_{t-1}^\top")


def test_lstm_cell_state_has_both_paths():
    rows = dict(ns.bptt(ns.lstm(2, 2, 2, 2)).recursion)
    assert rows[r"\delta^{(c)}_{t}"] == (r"\delta^{(c)}_{t+1} \odot f_{t+1} + \delta_{t} \odot o_{t} "
                                         r"\odot \tanh'\left(c_{t}\right)")


def test_weight_gradient_is_summed_over_time_by_finite_differences():
    model = ns.rnn(2, 3, 2, 4, loss="squared_error")
    W = model.parameters[0]
    gradient = ns.bptt(model, verify=False).equations.gradients[W]
    rng = np.random.default_rng(5)
    values = {s.name: rng.normal(size=(s.rows, s.cols)) for s in model.symbols}

    def loss(w):
        return evaluate(model.loss, {**values, W.name: w})[0, 0]

    fd = np.zeros_like(values[W.name])
    for index in np.ndindex(*fd.shape):
        step = np.zeros_like(fd)
        step[index] = 1e-6
        fd[index] = (loss(values[W.name] + step) - loss(values[W.name] - step)) / 2e-6
    np.testing.assert_allclose(evaluate(gradient, values), fd, rtol=1e-6, atol=1e-8)


def test_bad_input():
    with pytest.raises(ns.InputError):
        ns.rnn(2, 3, 2, 0)
    with pytest.raises(ns.InputError):
        ns.lstm(2, 3, 2, 3, loss="hinge")
    with pytest.raises(ns.InputError):
        ns.bptt("rnn")
