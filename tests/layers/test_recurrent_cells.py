"""ns.lstm_cell / ns.gru_cell, one step on the caller's expressions (issue 15): the gradients of a
scalar of the new state w.r.t. every weight, the previous states and the input, against
torch.nn.LSTMCell / GRUCell autograd and against central finite differences written here."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.errors import InputError
from nnsym.verify.evaluate import evaluate

N_IN, N_HIDDEN, B = 3, 4, 2


def finite_differences(f, values, name, eps=1e-6):
    grad = np.zeros_like(values[name])
    for index in np.ndindex(*grad.shape):
        up, down = dict(values), dict(values)
        up[name], down[name] = values[name].copy(), values[name].copy()
        up[name][index] += eps
        down[name][index] -= eps
        grad[index] = (f(up) - f(down)) / (2 * eps)
    return grad


def gates(letters):
    W = [ns.matrix(f"W_{{{g}}}", N_HIDDEN, N_IN) for g in letters]
    U = [ns.matrix(f"U_{{{g}}}", N_HIDDEN, N_HIDDEN) for g in letters]
    b = [ns.vector(f"b_{{{g}}}", N_HIDDEN) for g in letters]
    return W, U, b


def lstm_problem():
    x, h, c = (ns.matrix(n, r, B) for n, r in (("x_{t}", N_IN), ("h_{t-1}", N_HIDDEN), ("c_{t-1}", N_HIDDEN)))
    W, U, b = gates("ifgo")
    G, P = ns.matrix("G", N_HIDDEN, B), ns.matrix("P", N_HIDDEN, B)  # fixed weights of the loss
    h_new, c_new = ns.lstm_cell(x, h, c, W, U, b)
    loss = ns.sum_entries(ns.hadamard(G, h_new)) + ns.sum_entries(ns.hadamard(P, c_new))
    return loss, W + U + b + [h, c, x], (G, P)


def gru_problem():
    x, h = ns.matrix("x_{t}", N_IN, B), ns.matrix("h_{t-1}", N_HIDDEN, B)
    W, U, b = gates("rzn")
    b_hn = ns.vector("b_{hn}", N_HIDDEN)
    G = ns.matrix("G", N_HIDDEN, B)
    h_new = ns.gru_cell(x, h, W, U, b, b_hn)
    return ns.sum_entries(ns.hadamard(G, h_new)), W + U + b + [b_hn, h, x], (G,)


def torch_gradients(cell, values, torch):
    """The same step with torch.nn.LSTMCell / GRUCell, nnsym's values copied into its parameters."""
    v = {k: torch.tensor(a, requires_grad=True) for k, a in values.items()}
    letters = "ifgo" if cell == "lstm" else "rzn"
    module = (torch.nn.LSTMCell if cell == "lstm" else torch.nn.GRUCell)(N_IN, N_HIDDEN).double()
    zero = torch.zeros(N_HIDDEN, dtype=torch.float64)
    params = {"weight_ih": torch.cat([v[f"W_{{{g}}}"] for g in letters]),
              "weight_hh": torch.cat([v[f"U_{{{g}}}"] for g in letters]),
              "bias_ih": torch.cat([v[f"b_{{{g}}}"][:, 0] for g in letters]),
              "bias_hh": torch.cat([zero] * len(letters) if cell == "lstm" else [zero, zero, v["b_{hn}"][:, 0]])}
    x, h = v["x_{t}"].T, v["h_{t-1}"].T  # torch: examples as rows
    if cell == "lstm":
        h_new, c_new = torch.func.functional_call(module, params, args=(x, (h, v["c_{t-1}"].T)))
        loss = (v["G"].T * h_new).sum() + (v["P"].T * c_new).sum()
    else:
        h_new = torch.func.functional_call(module, params, args=(x, h))
        loss = (v["G"].T * h_new).sum()
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in v.items() if t.grad is not None}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cell_gradients_match_torch_and_finite_differences(cell):
    torch = pytest.importorskip("torch")
    loss, wrt, fixed = lstm_problem() if cell == "lstm" else gru_problem()
    grads = ns.gradients(loss, wrt)  # nnsym's own checks run before they are handed out
    rng = np.random.default_rng(7)
    values = {s.name: rng.normal(scale=0.7, size=(s.rows, s.cols)) for s in wrt + list(fixed)}
    expected_loss, expected = torch_gradients(cell, values, torch)
    f = lambda vals: evaluate(loss, vals)[0, 0]  # noqa: E731
    assert np.isclose(f(values), expected_loss, rtol=1e-12)
    for s in wrt:
        got = evaluate(grads[s].expression, values)
        np.testing.assert_allclose(got, expected[s.name], rtol=1e-9, atol=1e-12, err_msg=s.name)
        np.testing.assert_allclose(got, finite_differences(f, values, s.name), rtol=1e-6, atol=1e-8, err_msg=s.name)


def test_cell_without_batch_and_bad_gate_lists():
    x, h, c = ns.vector("x", N_IN), ns.vector("h", N_HIDDEN), ns.vector("c", N_HIDDEN)
    W, U, b = gates("ifgo")
    h_new, c_new = ns.lstm_cell(x, h, c, W, U, b)
    assert h_new.shape == c_new.shape == (N_HIDDEN, 1)
    with pytest.raises(InputError, match="one per gate"):
        ns.lstm_cell(x, h, c, W[:3], U, b)
    Wr, Ur, br = gates("rzn")
    with pytest.raises(InputError, match="b_hn"):
        ns.gru_cell(x, h, Wr, Ur, br, "b")
