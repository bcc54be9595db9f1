"""Stacked products: many small matrix products computed as one (issue 15h: LSTM/GRU/RNN export speed).

An unrolled recurrent network is a long list of small products: four gates, each ``W x_t + U h_{t-1}``
at every step, their adjoints ``U^T abar_t`` summed into hbar_{t-1}, and every weight gradient a sum over
time ``sum_t abar_t x_t^T``. Each small product costs a library call whose overhead outweighs its
arithmetic; one product of stacked operands does the same arithmetic in one call. Three exact
identities, applied after the other lowerings:

| maths                                   | stacked                                   |
|-----------------------------------------|-------------------------------------------|
| A_1 B_1 + ... + A_k B_k  (in a sum)     | [A_1 ... A_k] [B_1; ...; B_k]             |
| A R_1, ..., A R_k  (one left factor)    | blocks of columns of A [R_1 ... R_k]      |
| L_1 B, ..., L_k B  (one right factor)   | blocks of rows of [L_1; ...; L_k] B       |

The second gathers the input products W x_1, ..., W x_T of every time step (none depends on another),
the third the four gates' W_g x_t (and U_g h_{t-1}) of one step; together the input side of an LSTM is
one product [W_i; W_f; W_g; W_o] [x_1 ... x_T]. A product joins a group only where its other factor does
not depend on any product of the group (U h_{t-1} depends on U h_{t-2}: those stay apart), so the
stacked product never depends on what it replaces. Stacking copies the operands: it is used only where
the copies are small against the products' arithmetic (not for the matrix-vector products of one large
matrix, where copying the matrix costs as much as the product). Blocks in a stack are ordered
canonically (leaves by name, x_1 before x_2 before x_10; other nodes by depth), so that the same stack
built in two places is one node and computed once. Values are unchanged up to the order in which the
library adds the products' terms (rounding).
"""

from __future__ import annotations

import re
from typing import Dict, List, Sequence

import sympy

from nnsym.declare.expressions import Add, Expr, MatMul, Ones, Symbol, Transpose, post_order
from nnsym.emit.lowering import Broadcast, RowSums


class Stacked(Expr):
    """[A_1; ...; A_k] (axis 0: blocks one above another) or [A_1 ... A_k] (axis 1: side by side)."""

    __slots__ = ()

    def __init__(self, axis: int, *blocks):
        if axis == 0:
            shape = (sum((b.rows for b in blocks), sympy.Integer(0)), blocks[0].cols)
        else:
            shape = (blocks[0].rows, sum((b.cols for b in blocks), sympy.Integer(0)))
        super().__init__(blocks, (axis,), shape)

    @property
    def axis(self) -> int:
        return self.params[0]


class Block(Expr):
    """Rows (axis 0) or columns (axis 1) ``start`` to ``stop - 1`` of A: one product of a stacked one."""

    __slots__ = ()

    def __init__(self, operand, axis: int, start, stop):
        start, stop = sympy.sympify(start, strict=True), sympy.sympify(stop, strict=True)
        shape = (stop - start, operand.cols) if axis == 0 else (operand.rows, stop - start)
        super().__init__((operand,), (axis, start, stop), shape)

    @property
    def axis(self) -> int:
        return self.params[0]

    @property
    def start(self):
        return self.params[1]

    @property
    def stop(self):
        return self.params[2]


def stack(axis: int, blocks: Sequence[Expr]) -> Expr:
    """[B_1; ...; B_k] of transposes is [B_1^T ... B_k^T]^T: stacked the other way, then transposed,
    so that x_1^T, ..., x_T^T stack into the transpose of the [x_1 ... x_T] the forward pass has."""
    if all(isinstance(b, Transpose) for b in blocks):
        return Transpose(Stacked(1 - axis, *[b.args[0] for b in blocks]))
    return Stacked(axis, *blocks)


# A size the code reads from an argument (a batch B) is taken as this many when weighing a stacking.
_NOMINAL_SIZE = 64
# Stacking is used when the operands it copies hold at most this many numbers (the call overhead
# saved dominates), or at most a quarter of the products' multiplications.
_SMALL_COPY = 4096
# Products larger than this (multiply-adds, on average) take long enough that a call more or less does
# not matter (attention's X W_Q, X W_K, X W_V at 128 x 256 x 256 each): not stacked, no copies.
_LARGE_PRODUCT = 2 ** 18


def _size(value) -> int:
    """A node's dimension (a SymPy integer or an expression of sizes) as a number."""
    return int(value.subs({s: _NOMINAL_SIZE for s in value.free_symbols})) if value.free_symbols else int(value)


def _entries(node: Expr) -> int:
    return _size(node.rows) * _size(node.cols)


def _worthwhile(products: Sequence[Expr], copied: Sequence[Expr]) -> bool:
    copies = sum(_entries(c) for c in copied)
    work = sum(_size(p.rows) * _size(p.args[0].cols) * _size(p.cols) for p in products)
    if work > _LARGE_PRODUCT * len(products):  # the call overhead saved is nothing against the products
        return False
    return copies <= _SMALL_COPY or 4 * copies <= work


def _stackable(node: Expr) -> bool:
    """A plain product of matrices (a 1 x 1 factor may be printed as a Python number, which has no
    place in a concatenation)."""
    return type(node) is MatMul and not any(a.is_scalar for a in node.args)


def _leaf_like(node: Expr) -> bool:
    return isinstance(node, Symbol) or (isinstance(node, Transpose) and isinstance(node.args[0], Symbol))


class _Order:
    """A canonical order of nodes: leaves by name (numbers in names compared as numbers), then by
    height above the leaves, then by position in one topological order."""

    def __init__(self, roots: Sequence[Expr]):
        self.height: Dict[Expr, int] = {}
        self.position: Dict[Expr, int] = {}
        for i, node in enumerate(post_order(roots)):
            self.position[node] = i
            self.height[node] = 1 + max((self.height[a] for a in node.args), default=-1)

    def key(self, node: Expr):
        core = node.args[0] if isinstance(node, Transpose) else node
        name = tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", core.name)) if isinstance(core, Symbol) else ()
        return (self.height.get(core, 0), name, self.position.get(core, -1))


def _rebuild(roots: Sequence[Expr], rewrite) -> List[Expr]:
    """The roots with ``rewrite(node, new_args)`` applied bottom-up (a node's children first)."""
    memo: Dict[Expr, Expr] = {}
    for node in post_order(roots):
        memo[node] = rewrite(node, tuple(memo[a] for a in node.args))
    return [memo[r] for r in roots]


def _sums_as_products(roots: Sequence[Expr]) -> List[Expr]:
    """sum_k A_k B_k (two or more plain products among a sum's terms) as [A_1 ... A_k] [B_1; ...; B_k]."""
    order = _Order(roots)

    def rewrite(node, args):
        if not isinstance(node, Add):
            return node.rebuilt(args)
        # (term as derived, term with its children rebuilt): the canonical order is the derived DAG's
        pairs = [(old, new) for old, new in zip(node.args, args) if _stackable(new)]
        products = [new for _, new in pairs]
        if len(products) < 2 or not _worthwhile(products, [f for p in products for f in p.args]):
            return node.rebuilt(args)
        # A bias b 1^T among them is one more product: [W U b] [x; h; 1^T] (the augmented form).
        biases = [new for new in args if isinstance(new, Broadcast) and new.args[0].cols == 1 and not new.args[0].is_scalar]
        pairs += [(b, MatMul(b.args[0], Ones(1, b.cols))) for b in biases]
        # Pairs in the order of the factors that are parameters (U_f^T, U_g^T, ... in every hbar_t,
        # so the stack is one matrix for all t), else of the right factors (x_1^T, ..., x_T^T).
        side = 0 if all(_leaf_like(new.args[0]) for _, new in pairs) else 1
        products = [new for _, new in sorted(pairs, key=lambda pair: order.key(_factor(pair, side)))]
        fused = MatMul(stack(1, [p.args[0] for p in products]), stack(0, [p.args[1] for p in products]))
        rest = [a for a in args if not _stackable(a) and not any(a is b for b in biases)]
        return Add(fused, *rest) if rest else fused

    return _rebuild(roots, rewrite)


def _factor(pair, side):
    """A factor of a sum's product term, in the derived DAG where there is one (the canonical order's)."""
    old, new = pair
    return old.args[side] if type(old) is MatMul else new.args[side]


def _reaches(start: Sequence[Expr], targets: set, memo: Dict[Expr, bool]) -> bool:
    """Whether any of ``start`` is or depends on a node of ``targets``."""
    for node in post_order(start, seen=memo):
        memo[node] = node in targets or any(memo[a] for a in node.args)
    return any(memo[s] for s in start)


def _shared_factor(roots: Sequence[Expr], shared: int) -> List[Expr]:
    """Plain products with one factor in common (the left one for ``shared`` = 0, the right for 1) as
    blocks of one product of the other factors stacked (side by side, or one above another)."""
    order = _Order(roots)
    groups: Dict[Expr, List[Expr]] = {}
    for node in order.position:
        if _stackable(node):
            groups.setdefault(node.args[shared], []).append(node)
    other, axis = 1 - shared, 1 - shared  # stacked: the right factors side by side, or the left ones on top
    replaced: Dict[Expr, Expr] = {}
    for factor, members in groups.items():
        if len(members) < 2:
            continue
        within, memo = set(members), {}
        free = [m for m in members if not _reaches([m.args[other]], within, memo)]
        if len(free) < 2 or not _worthwhile(free, [m.args[other] for m in free]):
            continue
        free.sort(key=lambda m: order.key(m.args[other]))
        replaced.update({m: (factor, free) for m in free})
    if not replaced:
        return list(roots)
    memo: Dict[Expr, Expr] = {}
    made: Dict[tuple, Expr] = {}
    # Stacks being built. Two groups can need each other (a member of one inside another's other factor,
    # and back: ((AB)(AB))(AB) from the fuzzer, seed 8120); a member met while its own stack is still being
    # built is computed as the plain product it is, so every stack is built once and the rebuild ends.
    building = set()

    def rebuilt(node):
        for current in post_order([node], seen=memo):
            memo[current] = rewrite(current, tuple(memo[a] for a in current.args))
        return memo[node]

    def rewrite(node, args):
        if node not in replaced:
            return node.rebuilt(args)
        factor, free = replaced[node]
        key = (factor, tuple(free))
        if key in building:
            return node.rebuilt(args)
        if key not in made:
            building.add(key)
            parts = [rebuilt(m.args[other]) for m in free]
            stacked = stack(axis, parts)
            made[key] = MatMul(rebuilt(factor), stacked) if shared == 0 else MatMul(stacked, rebuilt(factor))
            building.discard(key)
        start = sympy.Integer(0)
        for m in free:
            size = m.args[other].shape[axis]
            if m == node:
                return Block(made[key], axis, start, start + size)
            start += size
        raise AssertionError("a stacked product's member is missing")  # pragma: no cover

    return [rebuilt(r) for r in roots]


def _row_sums_of_stacks(roots: Sequence[Expr]) -> List[Expr]:
    """(A_1 + ... + A_k) 1 as [A_1 ... A_k] 1 where that stack is computed anyway (a bias's gradient
    sum_t abar_t 1 beside its weight's sum_t abar_t x_t^T): one row sum instead of k - 1 additions."""
    stacks = {}
    for node in post_order(roots):
        if isinstance(node, Stacked) and node.axis == 1 and len(set(node.args)) == len(node.args):
            stacks.setdefault(frozenset(node.args), node)

    def rewrite(node, args):
        if isinstance(node, RowSums) and isinstance(node.args[0], Add):
            terms = node.args[0].args
            found = stacks.get(frozenset(terms))
            if found is not None and len(set(terms)) == len(terms):
                return RowSums(found)
        return node.rebuilt(args)

    return _rebuild(roots, rewrite)


def stack_products(roots: Sequence[Expr]) -> List[Expr]:
    """The roots with sums of products, and products sharing a factor, computed as stacked products."""
    roots = _sums_as_products(roots)
    roots = _shared_factor(roots, 0)
    roots = _shared_factor(roots, 1)
    return _row_sums_of_stacks(roots)
