"""Recurrent networks unrolled over a concrete number of steps: the Elman RNN, LSTM and GRU.

Each model is built from the primitives nnsym already has (matrix products, sigma, tanh, Hadamard
products, sums), one step after another, with every intermediate named as in the textbook
(h_{t}, c_{t}, the gates i_{t}, f_{t}, g_{t}, o_{t} and their arguments a^{(i)}_{t}, ...). The weights are the same symbols at
every step, so reverse mode sums their gradients over time by itself: backpropagation through time
is reverse mode on the unrolled graph, and needs no rule of its own. `nnsym.derive.bptt` reads the
recursion for a symbolic t off an interior step.

Gates follow PyTorch (nn.RNN, nn.LSTM, nn.GRU with one layer): per gate an input weight W, a hidden
weight U and a bias b (torch's ``weight_ih`` is the gates' W stacked, ``weight_hh`` their U, and
``bias_ih + bias_hh`` their b, except the GRU's candidate, whose hidden bias b_{hn} sits inside the
reset gate's product). With a batch, x_{t} is n_x x B (examples as columns) and biases broadcast as
b 1^T. Each step's output is the logits W_{y} h_{t} + b_{y}; the loss is summed over the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Named, Symbol, as_size
from nnsym.declare.functions import apply
from nnsym.declare.layers import mean_over_batch, softmax_cross_entropy, squared_error
from nnsym.errors import InputError

CELLS = ("rnn", "lstm", "gru")
LOSSES = ("softmax_cross_entropy", "squared_error")
MAX_STEPS = 64  # the unrolled graph grows linearly; deriving and checking 64 steps takes seconds


@dataclass(frozen=True)
class Unrolled:
    """A recurrent network unrolled over ``steps``: the summed loss and every named intermediate."""

    cell: str
    steps: int
    loss: Expr
    parameters: Tuple[Symbol, ...]
    inputs: Tuple[Symbol, ...]  # x_{1} ... x_{T}
    targets: Tuple[Symbol, ...]  # y_{1} ... y_{T}
    initial: Tuple[Symbol, ...]  # h_{0} (and c_{0})
    hidden: Tuple[Named, ...]  # h_{1} ... h_{T}
    cells: Tuple[Named, ...]  # c_{1} ... c_{T} (LSTM)
    logits: Tuple[Named, ...]  # \hat{y}_{1} ...
    intermediates: Dict[str, Tuple[Named, ...]]  # by letter: z (RNN), i f g o (LSTM), r z n (GRU)
    sizes: tuple = ()  # (inputs, hidden, outputs, batch) as given
    loss_name: str = "softmax_cross_entropy"
    mean: bool = False

    @property
    def symbols(self) -> Tuple[Symbol, ...]:
        return self.parameters + self.initial + self.inputs + self.targets


def _at(letter: str, t) -> str:
    return f"{letter}_{{{t}}}"


class _Names:
    """Names a step's intermediates (i_{t}, a^{(i)}_{t}, ...) and keeps them by letter."""

    def __init__(self):
        self.named: Dict[str, list] = {}

    def name(self, letter, t, definition):
        node = E.name(_at(letter, t), definition)
        self.named.setdefault(letter, []).append(node)
        return node


class _Builder(_Names):
    def __init__(self, n_in, n_hidden, n_out, batch):
        super().__init__()
        self.n_in, self.n_hidden, self.n_out = as_size(n_in), as_size(n_hidden), as_size(n_out)
        self.columns = 1 if batch is None else as_size(batch)
        self.batch = batch
        self.parameters = []

    def state(self, name, rows):
        return E.vector(name, rows) if self.batch is None else E.matrix(name, rows, self.columns)

    def weight(self, name, rows, cols):
        w = E.matrix(name, rows, cols)
        self.parameters.append(w)
        return w

    def bias(self, name, rows):
        b = E.vector(name, rows)
        self.parameters.append(b)
        return b if self.batch is None else E.matmul(b, E.transpose(E.Ones(self.columns, 1)))


def _rnn_step(p, x, h, t, B: _Builder):
    z = B.name("z", t, E.add(E.matmul(p["W_{hh}"], h), E.matmul(p["W_{xh}"], x), p["b_{h}"]))
    return B.name("h", t, apply("tanh", z)), None


def _lstm_step(p, x, state, t, B: _Names):
    h, c = state

    def gate(letter, function):
        pre = E.add(E.matmul(p[f"W_{{{letter}}}"], x), E.matmul(p[f"U_{{{letter}}}"], h), p[f"b_{{{letter}}}"])
        return B.name(letter, t, apply(function, B.name(f"a^{{({letter})}}", t, pre)))

    i, f, g, o = gate("i", "sigmoid"), gate("f", "sigmoid"), gate("g", "tanh"), gate("o", "sigmoid")
    c_new = B.name("c", t, E.add(E.hadamard(f, c), E.hadamard(i, g)))
    return B.name("h", t, E.hadamard(o, apply("tanh", c_new))), c_new


def _gru_step(p, x, h, t, B: _Names):
    def gate(letter):
        pre = E.add(E.matmul(p[f"W_{{{letter}}}"], x), E.matmul(p[f"U_{{{letter}}}"], h), p[f"b_{{{letter}}}"])
        return B.name(letter, t, apply("sigmoid", B.name(f"a^{{({letter})}}", t, pre)))

    r, z = gate("r"), gate("z")
    inner = E.add(E.matmul(p["U_{n}"], h), p["b_{hn}"])
    pre = B.name("a^{(n)}", t, E.add(E.matmul(p["W_{n}"], x), p["b_{n}"], E.hadamard(r, inner)))
    n = B.name("n", t, apply("tanh", pre))
    one_minus_z = E.add(E.Ones(*z.shape), E.neg(z))
    return B.name("h", t, E.add(E.hadamard(one_minus_z, n), E.hadamard(z, h))), None


def unroll(cell: str, inputs, hidden, outputs, steps: int, batch=None, loss: str = "softmax_cross_entropy",
           mean: bool = False) -> Unrolled:
    """The ``cell`` ("rnn", "lstm" or "gru") network over ``steps`` concrete steps (``inputs``,
    ``hidden``, ``outputs`` are sizes; ``batch`` examples as columns)."""
    if cell not in CELLS:
        raise InputError(f"unknown recurrent cell {cell!r}; known: {', '.join(CELLS)}")
    if loss not in LOSSES:
        raise InputError(f"unknown loss {loss!r} for a recurrent network; known: {', '.join(LOSSES)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise InputError(f"steps must be a whole number from 1 to {MAX_STEPS} (the network is unrolled), not {steps!r}")
    B = _Builder(inputs, hidden, outputs, batch)
    nx, nh, ny = B.n_in, B.n_hidden, B.n_out
    p: Dict[str, Expr] = {}
    if cell == "rnn":
        p["W_{hh}"], p["W_{xh}"], p["b_{h}"] = B.weight("W_{hh}", nh, nh), B.weight("W_{xh}", nh, nx), B.bias("b_{h}", nh)
        step = _rnn_step
    elif cell == "lstm":
        for letter in "ifgo":
            p[f"W_{{{letter}}}"] = B.weight(f"W_{{{letter}}}", nh, nx)
            p[f"U_{{{letter}}}"] = B.weight(f"U_{{{letter}}}", nh, nh)
            p[f"b_{{{letter}}}"] = B.bias(f"b_{{{letter}}}", nh)
        step = _lstm_step
    else:
        for letter in "rzn":
            p[f"W_{{{letter}}}"] = B.weight(f"W_{{{letter}}}", nh, nx)
            p[f"U_{{{letter}}}"] = B.weight(f"U_{{{letter}}}", nh, nh)
            p[f"b_{{{letter}}}"] = B.bias(f"b_{{{letter}}}", nh)
        p["b_{hn}"] = B.bias("b_{hn}", nh)
        step = _gru_step
    W_y, b_y = B.weight("W_{y}", ny, nh), B.bias("b_{y}", ny)
    h0 = B.state(_at("h", 0), nh)
    initial = (h0,)
    state = h0
    if cell == "lstm":
        c0 = B.state(_at("c", 0), nh)
        initial = (h0, c0)
        state = (h0, c0)
    xs, ys, hs, cs, logits, losses = [], [], [], [], [], []
    target_assume = "probability" if loss == "softmax_cross_entropy" else None
    for t in range(1, steps + 1):
        x = B.state(_at("x", t), nx)
        y = E.vector(_at("y", t), ny, assume=target_assume) if batch is None else E.matrix(_at("y", t), ny, B.columns, assume=target_assume)
        h, c = step(p, x, state, t, B)
        state = (h, c) if cell == "lstm" else h
        logit = E.name(_at(r"\hat{y}", t), E.add(E.matmul(W_y, h), b_y))
        losses.append(softmax_cross_entropy(logit, y) if loss == "softmax_cross_entropy" else squared_error(logit, y))
        xs.append(x), ys.append(y), hs.append(h), logits.append(logit)
        if c is not None:
            cs.append(c)
    total = E.add(*losses)
    if mean and batch is not None:
        total = mean_over_batch(total, B.columns)
    named = {k: tuple(v) for k, v in B.named.items() if k not in ("h", "c")}
    return Unrolled(cell, steps, total, tuple(B.parameters), tuple(xs), tuple(ys), initial, tuple(hs), tuple(cs),
                    tuple(logits), named, (inputs, hidden, outputs, batch), loss, mean)


def rnn(inputs, hidden, outputs, steps, batch=None, loss="softmax_cross_entropy", mean=False) -> Unrolled:
    """h_{t} = tanh(W_{hh} h_{t-1} + W_{xh} x_{t} + b_{h}), logits W_{y} h_{t} + b_{y}, loss summed over t."""
    return unroll("rnn", inputs, hidden, outputs, steps, batch, loss, mean)


def lstm(inputs, hidden, outputs, steps, batch=None, loss="softmax_cross_entropy", mean=False) -> Unrolled:
    """c_{t} = f_{t} o c_{t-1} + i_{t} o g_{t}, h_{t} = o_{t} o tanh(c_{t}) (torch's gate order i, f, g, o)."""
    return unroll("lstm", inputs, hidden, outputs, steps, batch, loss, mean)


def gru(inputs, hidden, outputs, steps, batch=None, loss="softmax_cross_entropy", mean=False) -> Unrolled:
    """h_{t} = (1 - z_{t}) o n_{t} + z_{t} o h_{t-1}, n_{t} = tanh(W_{n} x_{t} + b_{n} + r_{t} o (U_{n} h_{t-1} + b_{hn}))."""
    return unroll("gru", inputs, hidden, outputs, steps, batch, loss, mean)


# ----- one step of a cell, on the caller's expressions (issue 15) -----

def _gate_parameters(cell, letters, W, U, b, x):
    """{"W_{i}": W[0], ...} in torch's gate order; a bias vector broadcasts over x's columns as b 1^T."""
    for label, given in (("W", W), ("U", U), ("b", b)):
        if not isinstance(given, (tuple, list)) or len(given) != len(letters) or not all(isinstance(e, Expr) for e in given):
            raise InputError(f"{cell}_cell: {label} must be {len(letters)} nnsym expressions, one per gate "
                             f"in torch's order ({', '.join(letters)}), not {given!r}")
    p: Dict[str, Expr] = {}
    for letter, w, u, bias in zip(letters, W, U, b):
        p[f"W_{{{letter}}}"], p[f"U_{{{letter}}}"], p[f"b_{{{letter}}}"] = w, u, _broadcast(bias, x)
    return p


def _broadcast(bias: Expr, x: Expr) -> Expr:
    columns = x.shape[1]
    if columns != 1 and bias.shape[1] == 1:
        return E.matmul(bias, E.transpose(E.Ones(columns, 1)))
    return bias


def lstm_cell(x: Expr, h: Expr, c: Expr, W, U, b, t="t") -> Tuple[Named, Named]:
    """One LSTM step: (h_{t}, c_{t}) from x_{t}, h_{t-1}, c_{t-1}. ``W``, ``U``, ``b`` are the gates'
    input weights, hidden weights and biases in torch's order (i, f, g, o): torch's ``weight_ih`` is W
    stacked, ``weight_hh`` U stacked, ``bias_ih + bias_hh`` b stacked. Intermediates are named with ``t``."""
    p = _gate_parameters("lstm", "ifgo", W, U, b, x)
    return _lstm_step(p, x, (h, c), t, _Names())


def gru_cell(x: Expr, h: Expr, W, U, b, b_hn: Expr, t="t") -> Named:
    """One GRU step: h_{t} from x_{t}, h_{t-1}. ``W``, ``U``, ``b`` per gate in torch's order (r, z, n)
    (``b`` is bias_ih + bias_hh for r and z, bias_ih for n); ``b_hn``, torch's hidden bias of n, sits
    inside the reset gate's product: n_{t} = tanh(W_{n} x_{t} + b_{n} + r_{t} o (U_{n} h_{t-1} + b_{hn}))."""
    if not isinstance(b_hn, Expr):
        raise InputError(f"gru_cell: b_hn must be an nnsym expression, not {b_hn!r}")
    p = _gate_parameters("gru", "rzn", W, U, b, x)
    p["b_{hn}"] = _broadcast(b_hn, x)
    return _gru_step(p, x, h, t, _Names())[0]
