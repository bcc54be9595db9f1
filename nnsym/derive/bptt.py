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
from nnsym.declare.recurrent import Unrolled
from nnsym.derive.reverse import cotangents

_INDEX = re.compile(r"_\{(\d+)\}$")


def delta_name(state: Named) -> str:
    """h_{3} -> \\delta_{3}; c_{3} -> \\delta^{(c)}_{3}"""
    index = _INDEX.search(state.name).group(1)
    return rf"\delta_{{{index}}}" if state.name.startswith("h_") else rf"\delta^{{(c)}}_{{{index}}}"


@dataclass(frozen=True)
class BpttEquations:
    model: Unrolled
    deltas: Tuple[Tuple[Named, Expr], ...]  # in the order formed: t = T down to 1
    gradients: Dict[Symbol, Expr]


def bptt(model: Unrolled, wrt=None) -> BpttEquations:
    states = set(model.hidden) | set(model.cells)
    deltas = []

    def name_delta(node, G):
        if node not in states:
            return G
        delta = Named(delta_name(node), G)
        deltas.append((delta, G))
        return delta

    variables = list(model.parameters) if wrt is None else list(wrt)
    gradients = cotangents(model.loss, variables, hook=name_delta)
    return BpttEquations(model, tuple(deltas), gradients)


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
    refers to, not what it expands to."""
    done: Dict[Expr, Expr] = {}
    for node in post_order([expr]):
        if isinstance(node, Named) and node is not expr:
            kind = "vector" if node.cols == 1 else "matrix"
            done[node] = Symbol(node.name, node.rows, node.cols, kind)
        else:
            done[node] = node.rebuilt([done[child] for child in node.args])
    return done[expr]


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
        indices = {index_of(n.name) for n in post_order([opaque(term)]) if isinstance(n, Symbol)} - {None}
        if indices and max(indices) == at:
            terms.append(term)
    return E.add(*terms) if terms else None
