"""Backpropagation through time: reverse mode on the unrolled network, in delta form.

As `nnsym.derive.backprop` names dL/dz^{(l)}, this names the cotangent of each hidden state as it
is formed: delta_{t} = dL/dh_{t} (and delta^{(c)}_{t} = dL/dc_{t} for the LSTM's cell state), so the
equations come out as the recursion lecturers write, step by step for the concrete T:

    delta_{t} = W_{y}^T (softmax(yhat_{t}) - y_{t}) + W_{hh}^T (delta_{t+1} o tanh'(z_{t+1}))
    dL/dW_{hh} = sum_t (delta_{t} o tanh'(z_{t})) h_{t-1}^T

The recursion for a symbolic t is read off an interior step (t = 2 of T = 3): its formula with
every index k renamed t + (k - 2). Nothing is written by hand; `template_check` confirms that the
renamed formula, put back at each interior step of a longer unrolling, gives that step's delta.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Add, Expr, MatMul, Named, Symbol, post_order
from nnsym.declare.reading.time_steps import step_of
from nnsym.declare.recurrent import Unrolled
from nnsym.derive.reverse import cotangents

_INDEX = re.compile(r"_\{(\d+)\}$")


def _direct(node: Named, kind):
    """The nodes of ``kind`` a named step is formed from directly (not through another name)."""
    found, stack, seen = [], [node.definition], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if isinstance(current, kind):
            found.append(current)
        if not isinstance(current, Named):
            stack.extend(current.args)
    return found


def _shares_weights(steps: Dict[Named, Tuple[str, int]]) -> bool:
    """Whether two steps of one family are formed from a symbol they share (W in h_1 = tanh(W h_0 + U x_1)
    and h_2 = tanh(W h_1 + U x_2)): the same cell at every step. Layers typed as a family (a_1 = sigma(W_1 x),
    a_2 = sigma(W_2 a_1)) share none; their delta form is the layers' (`nnsym.derive.delta_form`)."""
    seen: Dict[Tuple[str, Symbol], int] = {}
    for node, (base, k) in steps.items():
        for symbol in _direct(node, Symbol):
            if seen.setdefault((base, symbol), k) != k:
                return True
    return False


def state_deltas(f: Expr) -> Dict[str, str]:
    """The delta of each step of the recurrent states of ``f``, by the step's name: {h_{3}: \\delta_{3},
    c_{3}: \\delta^{(c)}_{3}}; empty where ``f`` has no recurrent state.

    A recurrent state is a family of named steps (`time_steps.step_of`: h_{1}, h_{2}, ..., whatever the
    letter) one of whose steps a later named step is formed from directly: h_{k} in z_{k+1} = W h_{k} + ...,
    c_{k} in c_{k+1} = f_{k+1} o c_{k} + .... The gates and pre-activations of a step are formed from the
    states, not from themselves; and the steps share weights (`_shares_weights`). Of two states (the LSTM's h and c), the one formed from the other at the
    same step (h_{k} = o_{k} o tanh(c_{k})) is the state the output reads: its steps get \\delta_{k}, the
    other's \\delta^{(c)}_{k} (its own letter in the superscript)."""
    steps: Dict[Named, Tuple[str, int]] = {}
    for node in post_order([f]):
        if isinstance(node, Named) and step_of(node.name):
            steps[node] = step_of(node.name)
    states: list = []
    for node, (_, k) in steps.items():
        for earlier in _direct(node, Named):
            found = steps.get(earlier)
            if found and found[1] < k and found[0] not in states:
                states.append(found[0])
    if not states or not _shares_weights(steps):
        return {}
    at = {(base, k): node for node, (base, k) in steps.items()}
    inner = set()
    for (base, k), node in at.items():
        if base in states:
            below = set(post_order([node.definition]))
            inner |= {other for other in states if other != base and at.get((other, k)) in below}
    outer = [base for base in states if base not in inner] or states
    primary = outer[0]
    return {node.name: (rf"\delta_{{{k}}}" if base == primary else rf"\delta^{{({base})}}_{{{k}}}")
            for node, (base, k) in steps.items() if base in states}


@dataclass(frozen=True)
class BpttEquations:
    model: Optional[Unrolled]  # None for a typed function (`delta_equations`)
    deltas: Tuple[Tuple[Named, Expr], ...]  # in the order formed: t = T down to 1
    gradients: Dict[Symbol, Expr]


def delta_equations(f: Expr, variables, model: Optional[Unrolled] = None) -> Optional[BpttEquations]:
    """Reverse mode on ``f`` with the cotangent of each recurrent state's step named its delta
    (`state_deltas`), or None where ``f`` has no recurrent state."""
    names = state_deltas(f)
    if not names:
        return None
    deltas = []

    def name_delta(node, G):
        # by name: the hook sees the canonical form's nodes, whose definitions may be rewritten
        if not isinstance(node, Named) or node.name not in names:
            return G
        delta = Named(names[node.name], G)
        deltas.append((delta, G))
        return delta

    gradients = cotangents(f, list(variables), hook=name_delta)
    return BpttEquations(model, tuple(deltas), gradients)


def bptt(model: Unrolled, wrt=None) -> BpttEquations:
    variables = list(model.parameters) if wrt is None else list(wrt)
    return delta_equations(model.loss, variables, model)


def index_of(name: str) -> Optional[int]:
    found = _INDEX.search(name)
    return int(found.group(1)) if found else None


def shifted(expr: Expr, at: int, label: str = "t") -> Expr:
    """``expr`` with every name indexed k renamed label + (k - at): h_{1} -> h_{t-1} for at = 2."""

    def rename(name):
        k = index_of(name)
        if k is None:
            return name
        offset = k - at
        index = label if offset == 0 else f"{label}{offset:+d}"
        return _INDEX.sub(lambda _: f"_{{{index}}}", name)

    return renamed(expr, rename)


def renamed(expr: Expr, rename) -> Expr:
    """``expr`` with the names of its symbols and named intermediates mapped by ``rename``."""
    done: Dict[Expr, Expr] = {}
    for node in post_order([expr]):
        args = [done[child] for child in node.args]
        if isinstance(node, Symbol):
            done[node] = Symbol(rename(node.name), node.rows, node.cols, node.kind, node.assumptions)
        elif isinstance(node, Named):
            done[node] = Named(rename(node.name), args[0])
        else:
            done[node] = node.rebuilt(args)
    return done[expr]


def opaque(expr: Expr) -> Expr:
    """Named intermediates below the top as plain symbols of their names: what a recursion's formula
    refers to, not what it expands to. Their definitions are not entered (they hold the steps before)."""
    done: Dict[Expr, Expr] = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in done:
            continue
        if isinstance(node, Named) and node is not expr:
            kind = "vector" if node.cols == 1 else "matrix"
            done[node] = Symbol(node.name, node.rows, node.cols, kind)
        elif ready:
            done[node] = node.rebuilt([done[child] for child in node.args])
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in node.args if child not in done)
    return done[expr]


def _indices(term: Expr) -> set:
    """The step indices of the names a term shows (its symbols and its named intermediates, not inside them)."""
    return {index_of(n.name) for n in post_order([opaque(term)]) if isinstance(n, Symbol)} - {None}


def step_term(gradient: Expr, at: int) -> Optional[Expr]:
    """The terms of a gradient summed over time that belong to step ``at``: those whose largest
    index is ``at`` (its delta_{at}, its h_{at-1}); None when the gradient is not such a sum."""
    if isinstance(gradient, MatMul) and isinstance(gradient.args[0], Add):  # a bias: (sum_t ...) 1
        term = step_term(gradient.args[0], at)
        return None if term is None else E.matmul(term, gradient.args[1])
    if not isinstance(gradient, Add):
        return None
    terms = []
    for term in gradient.args:
        indices = _indices(term)
        if indices and max(indices) == at:
            terms.append(term)
    return E.add(*terms) if terms else None
