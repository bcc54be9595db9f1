"""`nnsym check` diagnoses for the classic slips of convolution and recurrent networks (issue 15b):
each wrong claim is a hand-written NumPy backward pass that makes the slip, decided by value against
the candidate; the right hand-written pass gets no diagnosis."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare import convolution as C


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ----- convolution: the kernel not flipped for dX -----------------------------------------------------

def _conv_dx(X, K, flipped, c_in=2, c_out=2, k=3, side=5, p=1):
    x = X.reshape(c_in, side, side)
    kern = K.reshape(c_out, c_in, k, k)
    padded = np.pad(x, ((0, 0), (p, p), (p, p)))
    y = np.zeros((c_out, side, side))
    for o in range(c_out):
        for i in range(side):
            for j in range(side):
                y[o, i, j] = np.sum(kern[o] * padded[:, i:i + k, j:j + k])
    dy = 1 - np.tanh(y) ** 2
    dx = np.zeros((c_in, side, side))
    for c in range(c_in):
        for i in range(side):
            for j in range(side):
                for o in range(c_out):
                    for u in range(k):
                        for v in range(k):
                            # true: dY at (i - u + p); the slip reads the kernel the other way round
                            a, b = (i - u + p, j - v + p) if flipped else (i + u - p, j + v - p)
                            if 0 <= a < side and 0 <= b < side:
                                dx[c, i, j] += kern[o, c, u, v] * dy[o, a, b]
    return dx.reshape(c_in, -1)


def _conv_function():
    X, K = ns.matrix("X", 2, 25), ns.matrix("K", 2, 18)
    return ns.sum_entries(ns.tanh(C.conv2d(X, K, (5, 5), padding=1)))


def test_kernel_not_flipped_is_diagnosed():
    verdict = ns.check_function(_conv_function(), "X", lambda X, K: _conv_dx(X, K, flipped=False))
    assert not verdict.ok
    assert verdict.diagnosis.startswith("kernel not flipped"), verdict.diagnosis
    right = ns.check_function(_conv_function(), "X", lambda X, K: _conv_dx(X, K, flipped=True))
    assert right.ok and not right.diagnosis


# ----- the Elman RNN: h_t for h_{t-1}, and one step's term only ----------------------------------------

T = 3


def _rnn_dwhh(mistake=None, **a):
    hs = [a["h_0"]]
    for t in range(1, T + 1):
        hs.append(np.tanh(a["W_hh"] @ hs[-1] + a["W_xh"] @ a[f"x_{t}"] + a["b_h"]))
    grad, dh_next = np.zeros_like(a["W_hh"]), 0
    for t in range(T, 0, -1):
        z = a["W_y"] @ hs[t] + a["b_y"]
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        y = a[f"y_{t}"]
        dh = a["W_y"].T @ (p * y.sum() - y) + dh_next
        da = dh * (1 - hs[t] ** 2)
        term = da @ (hs[t] if mistake == "h_t" else hs[t - 1]).T
        if mistake != "last only" or t == T:
            grad += term
        dh_next = a["W_hh"].T @ da
    return grad


@pytest.mark.parametrize("mistake, expected", [("h_t", "h_t where h_{t-1} belongs"),
                                               ("last only", "not summed over time")])
def test_rnn_slips_are_diagnosed(mistake, expected):
    model = ns.rnn(2, 3, 2, T)
    verdict = ns.check_function(model.loss, "W_{hh}", lambda **a: _rnn_dwhh(mistake, **a))
    assert not verdict.ok
    assert verdict.diagnosis and verdict.diagnosis.startswith(expected), verdict.diagnosis


def test_right_rnn_bptt_gets_no_diagnosis():
    verdict = ns.check_function(ns.rnn(2, 3, 2, T).loss, "W_{hh}", lambda **a: _rnn_dwhh(None, **a))
    assert verdict.ok and not verdict.diagnosis


# ----- LSTM: the cell state's carried path dropped ---------------------------------------------------

def _lstm_duf(drop_carried, **a):
    hs, cs, gates = [a["h_0"]], [a["c_0"]], []
    for t in range(1, T + 1):
        pre = {k: a[f"W_{k}"] @ a[f"x_{t}"] + a[f"U_{k}"] @ hs[-1] + a[f"b_{k}"] for k in "ifgo"}
        i, f, g, o = sigmoid(pre["i"]), sigmoid(pre["f"]), np.tanh(pre["g"]), sigmoid(pre["o"])
        cs.append(f * cs[-1] + i * g)
        hs.append(o * np.tanh(cs[-1]))
        gates.append((i, f, g, o))
    grad, dh_next, dc_next = np.zeros_like(a["U_f"]), 0, 0
    for t in range(T, 0, -1):
        i, f, g, o = gates[t - 1]
        z = a["W_y"] @ hs[t] + a["b_y"]
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        y = a[f"y_{t}"]
        dh = a["W_y"].T @ (p * y.sum() - y) + dh_next
        dc = dh * o * (1 - np.tanh(cs[t]) ** 2) + (0 if drop_carried else dc_next)
        da = {"i": dc * g * i * (1 - i), "f": dc * cs[t - 1] * f * (1 - f), "g": dc * i * (1 - g ** 2),
              "o": dh * np.tanh(cs[t]) * o * (1 - o)}
        grad += da["f"] @ hs[t - 1].T
        dh_next = sum(a[f"U_{k}"].T @ da[k] for k in "ifgo")
        dc_next = dc * f
    return grad


def test_lstm_cell_state_path_missing_is_diagnosed():
    model = ns.lstm(2, 3, 2, T)
    verdict = ns.check_function(model.loss, "U_{f}", lambda **a: _lstm_duf(True, **a))
    assert not verdict.ok
    assert verdict.diagnosis and verdict.diagnosis.startswith("cell state path missing"), verdict.diagnosis
    assert "carried" in verdict.diagnosis
    right = ns.check_function(model.loss, "U_{f}", lambda **a: _lstm_duf(False, **a))
    assert right.ok and not right.diagnosis
