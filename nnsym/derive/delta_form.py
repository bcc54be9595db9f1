"""The delta form of a typed network's gradient: the layers found in a formula, as backprop names them.

A student types a two-layer network as one formula, ``-y^T log softmax(W_2 sigma(W_1 x))``; its
gradient written out in full repeats every inner layer. A textbook writes it with names:
z^{(1)} = W_1 x, z^{(2)} = W_2 sigma(z^{(1)}), delta^{(2)} = softmax(z^{(2)}) - y,
delta^{(1)} = (W_2^T delta^{(2)}) o sigma'(z^{(1)}), dL/dW_1 = delta^{(1)} x^T. Here the pre-activations
are found (the affine arguments W a (+ b) of the nonlinear steps, innermost first), named z^{(l)}, and
the derivation rerun with `backprop`'s hook naming each dL/dz^{(l)} delta^{(l)}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from nnsym.declare.expressions import (
    Add,
    Apply,
    BinaryCrossEntropy,
    Expr,
    LogSoftmax,
    LogSumExp,
    MatMul,
    Named,
    Softmax,
    SoftmaxCrossEntropy,
    Symbol,
    post_order,
)
from nnsym.derive.backprop import delta_name
from nnsym.derive.canonical import canonical
from nnsym.derive.reverse import cotangents

_NONLINEAR = (Apply, Softmax, LogSoftmax, LogSumExp, SoftmaxCrossEntropy, BinaryCrossEntropy)


@dataclass(frozen=True)
class DeltaForm:
    pre_activations: Tuple[Named, ...]  # z^{(1)}, z^{(2)}, ... with their definitions
    deltas: Tuple[Tuple[Named, Expr], ...]  # (delta^{(l)}, its definition), from the output layer down
    gradient: Expr  # in terms of the deltas


def _affine(node: Expr) -> bool:
    """W a, or W a + b: a product with a declared matrix on the left."""
    terms = node.args if isinstance(node, Add) else (node,)
    return any(isinstance(t, MatMul) and isinstance(t.args[0], Symbol) and t.args[0].kind == "matrix" for t in terms)


def delta_form(f: Expr, variable: Symbol) -> Optional[DeltaForm]:
    """The gradient of ``f`` with respect to ``variable`` in delta form, or None where ``f`` has fewer
    than two layers (then the plain form is the textbook one)."""
    g = canonical(f)
    found: List[Expr] = []
    for node in post_order([g]):
        if isinstance(node, _NONLINEAR):
            z = node.args[0]
            if _affine(z) and z.depends_on(variable) and z not in found:
                found.append(z)
    if len(found) < 2:
        return None
    names = {z: f"z^{{({layer})}}" for layer, z in enumerate(found, start=1)}
    memo = {}
    for node in post_order([g]):
        rebuilt = node.rebuilt([memo[child] for child in node.args]) if node.args else node
        memo[node] = Named(names[node], rebuilt) if node in names else rebuilt
    named = [memo[z] for z in found]
    deltas = []

    def name_delta(node, G):
        if isinstance(node, Named) and node in named:
            delta = Named(delta_name(node), G)
            deltas.append((delta, G))
            return delta
        return G

    gradient = cotangents(memo[g], [variable], hook=name_delta)[variable]
    return DeltaForm(tuple(named), tuple(deltas), gradient)
