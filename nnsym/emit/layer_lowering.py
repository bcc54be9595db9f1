"""Lowering of the normalization and attention nodes (issue 14) for array code.

Batch and layer norm are opened into their statistics so that x-hat and sigma, which the forward
pass and every gradient share, are computed once (common-subexpression elimination then gives each
its line): mu = mean(Z), C = Z - mu, sigma = sqrt(mean(C o C) + eps), x-hat = C / sigma. The variance
is the mean square of the centred values (two passes): E[z^2] - E[z]^2 would cancel to nothing when
the spread is small against the mean, and sigma = sqrt(var + eps) keeps 1/sigma accurate down to
var = 0 (eps > 0). Broadcast products (v 1^T) o X become ``v * X`` without forming v 1^T.

| maths                          | lowered                      | NumPy                         |
|--------------------------------|------------------------------|-------------------------------|
| mean over an axis              | Mean(A, axis)                | A.mean(axis=1, keepdims=True) |
| (v 1^T) o X, (1 r) o X         | BroadcastMul(X, v)           | X * v                         |
| 1 r as a term of a sum         | Broadcast(r)                 | A + r                         |
| pad(A_1) + ... + pad(A_k)      | Concatenate(A_1, ..., A_k)   | np.concatenate([...], axis=1) |
| a named layer                  | its definition               |                               |
"""

from __future__ import annotations

from typing import Optional

import sympy

from nnsym.declare.attention import PadColumns
from nnsym.declare.composite import Composite
from nnsym.declare.expressions import Add, Constant, Expr, Hadamard, HadamardDiv, MatMul, Ones, Power, Scale
from nnsym.declare.normalization import Normalize, StdDev


class Mean(Expr):
    """The mean of each row (axis 1, a column) or of each column (axis 0, a row)."""

    __slots__ = ()

    def __init__(self, operand, axis: int):
        super().__init__((operand,), (axis,), (operand.rows, 1) if axis == 1 else (1, operand.cols))

    @property
    def axis(self) -> int:
        return self.params[0]


class BroadcastMul(Expr):
    """X o (v 1^T) or X o (1 r): X times a column or a row, broadcast."""

    __slots__ = ()

    def __init__(self, operand, vector):
        super().__init__((operand, vector), (), operand.shape)


class Concatenate(Expr):
    """[A_1 A_2 ... A_k]: blocks side by side (a sum of `PadColumns` that tile the columns)."""

    __slots__ = ()

    def __init__(self, *blocks):
        super().__init__(blocks, (), (blocks[0].rows, sum(b.cols for b in blocks)))


def _broadcast_vector(node: Expr):
    """v for v 1^T (a column repeated), r for 1 r (a row repeated), else None."""
    if isinstance(node, MatMul):
        left, right = node.args
        if isinstance(right, Ones) and right.rows == 1 and left.cols == 1:
            return left
        if isinstance(left, Ones) and left.cols == 1 and right.rows == 1:
            return right
    return None


def _unscaled(node: Expr):
    """(c, A) for a term c A with a number c (-v 1^T in a sum), else (None, node)."""
    if isinstance(node, Scale) and isinstance(node.args[0], Constant):
        return node.args[0], node.args[1]
    return None, node


def _spread_term(term: Expr, memo, broadcast) -> Expr:
    c, spread = _unscaled(term)
    out = broadcast(memo[_broadcast_vector(spread)], spread.shape)
    return out if c is None else Scale(c, out)


def _statistics(Z: Expr, over: str, eps, broadcast) -> tuple:
    """(x-hat, sigma) from the lowered Z, as nodes the code printers know."""
    axis = 1 if over == "batch" else 0
    centred = Add(Z, Scale(Constant(-1), broadcast(Mean(Z, axis), Z.shape)))
    variance = Mean(Hadamard(centred, centred), axis)
    sigma = Power(Add(variance, Constant(eps)) if eps != 0 else variance, sympy.Rational(1, 2))
    return HadamardDiv(centred, broadcast(sigma, Z.shape)), sigma


def rewrite(node: Expr, args, memo, broadcast) -> Optional[Expr]:
    """The lowered form of ``node`` (its children ``args`` already lowered, every lowered node in
    ``memo``; ``broadcast(v, shape)`` makes lowering's broadcast term), or None when none of these
    rewrites applies."""
    if isinstance(node, Composite):
        return args[0]
    if isinstance(node, (Normalize, StdDev)):
        hat, sigma = _statistics(args[0], node.over, node.eps, broadcast)
        return hat if isinstance(node, Normalize) else sigma
    if isinstance(node, Hadamard) and not node.is_scalar:
        for i in (0, 1):
            vector = _broadcast_vector(node.args[i])
            if vector is not None:
                return BroadcastMul(args[1 - i], memo[vector])
    if isinstance(node, Add) and all(isinstance(a, PadColumns) for a in node.args):
        blocks = sorted(zip(node.args, args), key=lambda pair: pair[0].start)
        edges = [(a.start, a.stop) for a, _ in blocks]
        if edges[0][0] == 0 and edges[-1][1] == blocks[0][0].total and all(
                stop == start for (_, stop), (start, _) in zip(edges, edges[1:])):
            # the heads' outputs side by side: one concatenation, not a sum of zero-padded copies
            return Concatenate(*[lowered.args[0] for _, lowered in blocks])
    if isinstance(node, Add):
        # v 1^T and 1 r as terms of a sum with a full-shaped term to broadcast against
        spread = {a for a in node.args if _broadcast_vector(_unscaled(a)[1]) is not None}
        if spread and len(spread) < len(node.args):
            return node.rebuilt([_spread_term(a, memo, broadcast) if a in spread else lowered
                                 for a, lowered in zip(node.args, args)])
    return None
