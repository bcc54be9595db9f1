"""The one simplification applied to derived results: collecting a common factor of a sum.

Reverse mode hands back sums such as A^T x + A x; a lecturer writes (A^T + A) x. Terms sharing their
rightmost (or leftmost) matrix factor are collected, and so is a number every term carries
(2 W x - 2 y -> 2 (W x - y)). Nothing is expanded and nothing else changes, so results stay in the
shape the rules produced. Named intermediates (delta^{(l)}) are left whole.
"""

from __future__ import annotations

from functools import reduce
from typing import Dict, List

import sympy

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Add, Apply, Expr, MatMul, Named, Power, Scale, Symbol, Transpose

_REBUILD = {
    MatMul: lambda node, a, b: E.matmul(a, b),
    Add: lambda node, *terms: E.add(*terms),
    Scale: lambda node, c, a: E.scale(c, a),
    Transpose: lambda node, a: E.fold_symmetric_transpose(a),  # X^T = X in a result (issue 9)
    Power: lambda node, a: E.power(a, node.exponent),
    Apply: lambda node, a: Apply(node.function, a),
}


def _split(term: Expr, side: int):
    """term = coefficient * rest, with ``rest`` a product: (coefficient, outer factor, remainder)."""
    coefficient = E.ONE
    if isinstance(term, Scale):
        coefficient, term = term.args
    if not isinstance(term, MatMul):
        return None
    factors = _factors(term)
    if side == 1:
        outer, inner = factors[-1], factors[:-1]
    else:
        outer, inner = factors[0], factors[1:]
    remainder = inner[0]
    for f in inner[1:]:
        remainder = E.matmul(remainder, f)
    return coefficient, outer, remainder


def _factors(node: Expr) -> List[Expr]:
    if isinstance(node, MatMul):
        return _factors(node.args[0]) + _factors(node.args[1])
    return [node]


def _collect(terms: List[Expr], side: int) -> List[Expr]:
    groups: Dict[Expr, List] = {}
    order: List = []
    for term in terms:
        parts = _split(term, side)
        key = parts[1] if parts else ("alone", len(order))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((term, parts))
    out = []
    for key in order:
        members = groups[key]
        if len(members) < 2:
            out.append(members[0][0])
            continue
        inner = E.add(*[E.scale(c, rest) for _, (c, _, rest) in members])
        out.append(E.matmul(inner, key) if side == 1 else E.matmul(key, inner))
    return out


def _common_number(terms: List[Expr]) -> Expr:
    """2 W x - 2 y -> 2 (W x - y): the largest positive rational dividing every term's exact number.
    Floats are left as written (no factor is invented from 0.2 and 0.4), and so is a sum whose
    numbers share no factor but 1."""
    numbers = [E.split_coefficient(term)[0] for term in terms]
    if not all(isinstance(n, sympy.Rational) for n in numbers):
        return E.add(*terms)
    common = abs(reduce(sympy.gcd, numbers))
    if all(n < 0 for n in numbers):
        common = -common  # -2 W x - 2 y -> -2 (W x + y)
    if common in (0, 1, -1):
        return E.add(*terms)
    return E.scale(E.constant(common), E.add(*[E.scale(E.constant(1 / common), term) for term in terms]))


def collect_common_factors(expr: Expr) -> Expr:
    memo: Dict[Expr, Expr] = {}

    def visit(node: Expr) -> Expr:
        if node in memo:
            return memo[node]
        if isinstance(node, (Symbol, Named)) or not node.args:
            result = node
        else:
            children = [visit(c) for c in node.args]
            rebuild = _REBUILD.get(type(node))
            if rebuild is not None:
                result = rebuild(node, *children)
            elif children == list(node.args):
                result = node
            else:
                # The node's own data (an epsilon, a column range) stays; only its children change.
                result = node.rebuilt(children)
            if isinstance(result, Add):
                terms = _collect(list(result.args), side=1)
                terms = _collect(terms, side=0)
                result = _common_number(terms) if len(terms) > 1 else terms[0]
        memo[node] = result
        return result

    return visit(expr)
