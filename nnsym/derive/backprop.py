"""The backpropagation equations of a network in delta form.

Reverse mode over the network's forward expression, with one change: when the cotangent of a
pre-activation z^{(l)} is formed it is named delta^{(l)}, and everything upstream uses the name. The
textbook equations then fall out of the general rules rather than being written in by hand:
delta^{(L)} from the loss (softmax(z) - y for softmax cross-entropy), the recursion
delta^{(l)} = (W^{(l+1)T} delta^{(l+1)}) o f'(z^{(l)}), dL/dW^{(l)} = delta^{(l)} a^{(l-1)T} and
dL/db^{(l)} = delta^{(l)} (delta^{(l)} 1 for a batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from nnsym.declare.expressions import Expr, Named, Symbol
from nnsym.declare.layers import Forward
from nnsym.derive.reverse import cotangents


def delta_name(pre_activation: Named) -> str:
    """z^{(2)} -> \\delta^{(2)}"""
    return r"\delta" + pre_activation.name[1:]


@dataclass(frozen=True)
class BackpropEquations:
    forward: Forward
    deltas: Tuple[Tuple[Named, Expr], ...]  # (delta^{(l)} as a name, its definition), from l = L down
    gradients: Dict[Symbol, Expr]  # dL/dW^{(l)}, dL/db^{(l)} (and any other parameter)


def delta_hook(forward: Forward, record=None):
    """The cotangent hook that names dL/dz^{(l)} delta^{(l)} where reverse mode forms it;
    ``record(delta, definition)``, if given, sees each one."""
    named = set(forward.pre_activations)

    def name_delta(node, G):
        if node not in named:
            return G
        delta = Named(delta_name(node), G)
        if record is not None:
            record(delta, G)
        return delta

    return name_delta


def backprop(forward: Forward) -> BackpropEquations:
    deltas = []
    hook = delta_hook(forward, lambda delta, G: deltas.append((delta, G)))
    gradients = cotangents(forward.loss, forward.parameters, hook=hook)
    return BackpropEquations(forward, tuple(deltas), gradients)
