"""Index notation: ``\\sum_k W_{ik} x_k``, ``[Wx]_i``, ``\\delta_{ij}``, read into matrix form.

The reader (`nnsym.declare.reading`) keeps its stages and calls this module at three small hooks: the scanner
hands ``\\sum`` and a subscript after a bracket (``(Wx)_i``, ``[Wx]_i``) here; the builder asks here
whether a subscripted name is an entry (`named_entry`). The nodes made here (`Entry`,
`KroneckerDelta`, `IndexSum`) are scalars holding their indices; they never leave the reader:
`to_matrix` turns a formula that holds them into the matrix expression it means, given the order of
its free indices (``(i, j)`` for ``\\frac{\\partial L}{\\partial W_{ij}} = ...``), so that everything
downstream (derivatives, evaluation, printing) sees only matrix nodes.

**A name or an entry?** A subscript on a declared non-scalar symbol (``W`` declared 3x2, ``x``
declared 3) is an entry when the subscript is made of index letters (``W_{ij}``, ``W_{i,j}``,
``x_k``) and ``W_{ij}`` itself is not declared; anything else is part of a name (``b_1``, ``W_2``,
``x_{i}`` when x is not declared with a shape). ``\\delta_{ij}`` (two index letters, ``\\delta`` not
declared) is the Kronecker delta. An index is summed where a ``\\sum`` names it and free otherwise;
a repeated index without ``\\sum`` is *not* summed (no Einstein convention): ``A_{ik} x_k`` is the
entry (i, k) of ``A \\operatorname{diag}(x)``.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

import sympy

from nnsym.declare import functions
from nnsym.declare.expressions import (
    Add, Apply, Constant, Expr, Ones, Power, Scale, add, diag, hadamard, hadamard_div, identity, matmul,
    ones, post_order, scale, show_shape, transpose,
)
from nnsym.declare.reading import time_steps
from nnsym.errors import ParseError, ShapeError

_INDEX = re.compile(r"[a-z]")
_ENTRY_NAME = re.compile(r"^(.+?)_\{([^{}]*)\}$")


# ----- the nodes (scalars, inside the reader only) ------------------------------------------------------

class Entry(Expr):
    """The entry of a matrix or vector at its indices: ``W_{ij}``, ``[Wx]_i``."""

    __slots__ = ()

    def __init__(self, operand: Expr, indices: Tuple[str, ...]):
        super().__init__((operand,), tuple(indices), (1, 1))


class KroneckerDelta(Expr):
    """``\\delta_{ij}``: 1 where i = j, else 0."""

    __slots__ = ()

    def __init__(self, first: str, second: str):
        super().__init__((), (first, second), (1, 1))


class IndexSum(Expr):
    """``\\sum_{k}`` (or ``\\sum_{i,j}``) of its operand over the named indices."""

    __slots__ = ()

    def __init__(self, operand: Expr, indices: Tuple[str, ...]):
        super().__init__((operand,), tuple(indices), (1, 1))


INDEX_NODES = (Entry, KroneckerDelta, IndexSum)


def has_indices(expr: Expr) -> bool:
    return any(isinstance(node, INDEX_NODES) for node in post_order([expr]))


# ----- reader hooks ---------------------------------------------------------------------------------

def indices_of(text: str) -> Optional[Tuple[str, ...]]:
    """``ij``, ``i,j``, ``i`` -> the index letters, or None when the subscript is not made of them."""
    text = text.replace(" ", "")
    letters = text.split(",") if "," in text else list(text)
    if letters and all(_INDEX.fullmatch(letter) for letter in letters) and len(letters) <= 2:
        return tuple(letters)
    return None


def named_entry(name: str, symbols: Dict[str, Expr]) -> Optional[Expr]:
    """The entry (or Kronecker delta) a subscripted name stands for, or None when it is a name."""
    match = _ENTRY_NAME.match(name)
    if not match or name in symbols:
        return None
    base, indices = match.group(1), indices_of(match.group(2))
    if indices is None:
        return None
    if base == "\\delta" and base not in symbols and len(indices) == 2 and indices[0] != indices[1]:
        return KroneckerDelta(*indices)
    operand = symbols.get(base)
    if operand is None or operand.is_scalar:
        return None
    if len(indices) == 1 and operand.cols != 1 and operand.rows != 1:
        raise ParseError(f"col 1: {name}: {base} is a {show_shape(operand.shape)} matrix; an entry needs two indices")
    return Entry(operand, indices)


def entry_variable(name: str, shapes) -> Tuple[str, Optional[Tuple[str, ...]]]:
    """``W_{ij}`` -> ("W", ("i", "j")) when W is declared non-scalar (``shapes`` maps names to shapes
    or symbols) and ``W_{ij}`` is not; any other name -> (name, None)."""
    match = _ENTRY_NAME.match(name)
    if not match or name in shapes:
        return name, None
    base, indices = match.group(1), indices_of(match.group(2))
    shape = shapes.get(base)
    shape = getattr(shape, "shape", shape)
    if indices is None or shape is None or tuple(shape) == (1, 1) or len(set(indices)) != len(indices):
        return name, None
    return base, indices


def summation_indices(scanner, start: int) -> Tuple[str, ...]:
    """After ``\\sum``: its subscript (``_i``, ``_{i,j}``, ``_{i=1}``) and an optional superscript
    (``^{n}``), read from the scanner's text; returns the summed indices."""
    text, i = scanner.text, scanner.skip_spaces(scanner.i)
    if i >= len(text) or text[i] != "_":
        raise scanner.error(start + 1, "\\sum needs its index as a subscript: \\sum_i, \\sum_{i=1}^{n}, \\sum_{i,j}")
    content, _, _, i = scanner.argument(i + 1)
    indices = indices_of(content.split("=")[0])
    if indices is None:
        raise scanner.error(start + 1, f"\\sum_{{{content}}}: the index must be a letter (\\sum_i, \\sum_{{i=1}}^{{n}})")
    refusal = None
    if "=" in content and content.split("=")[1].strip() not in ("1", "0"):
        refusal = (start + 1, f"\\sum_{{{content}}}: a sum runs over all entries, from 1 (or 0) to the size")
    j = scanner.skip_spaces(i)
    upper = None
    if j < len(text) and text[j] == "^":
        upper, _, _, i = scanner.argument(j + 1)  # the upper limit is the size of the index: the shapes say it
    scanner.i = i
    # issue 15: the limits are kept for a sum over time steps (time_steps.prepare decides which sums are)
    lower = content.split("=")[1].strip() if "=" in content else None
    return time_steps.Summed(indices, lower, upper, start + 1, refusal)


def subscript_indices(scanner, start: int) -> Tuple[str, ...]:
    """``_i`` or ``_{ij}`` after a closing bracket (``[Wx]_i``, ``(Wx)_i``)."""
    content, _, _, scanner.i = scanner.argument(start + 1)
    indices = indices_of(content)
    if indices is None:
        raise scanner.error(start + 1, f"an entry's subscript must be index letters: [Wx]_i, (AB)_{{ij}}, not _{{{content}}}")
    return indices


def bracket_entry(operand: Expr, indices: Tuple[str, ...]) -> Expr:
    if operand.is_scalar:
        raise ShapeError(f"an entry of a scalar: ({show_shape(operand.shape)})_{''.join(indices)}")
    if len(indices) == 1 and operand.cols != 1 and operand.rows != 1:
        raise ShapeError(f"an entry of a {show_shape(operand.shape)} matrix needs two indices")
    return Entry(operand, indices)


def summation(operand: Expr, indices: Tuple[str, ...]) -> Expr:
    return IndexSum(operand, indices)


# ----- to matrix form -------------------------------------------------------------------------------

class _Indexed:
    """A matrix M and the indices of its rows and columns (None: a dimension of size 1): the value
    at index values (r, c) is M[r, c]."""

    __slots__ = ("matrix", "rows", "cols")

    def __init__(self, matrix: Expr, rows: Optional[str], cols: Optional[str]):
        self.matrix, self.rows, self.cols = matrix, rows, cols

    @property
    def indices(self) -> set:
        return {i for i in (self.rows, self.cols) if i is not None}


class _Converter:
    def __init__(self, root: Expr, free: Sequence[str], sizes: Dict[str, object]):
        self.sizes = dict(sizes)
        self.seen: Dict[str, str] = {}  # index -> the symbol that fixed its range
        for node in post_order([root]):
            if isinstance(node, Entry):
                operand = node.args[0]
                dims = (operand.rows, operand.cols) if len(node.params) == 2 else (
                    (operand.rows,) if operand.cols == 1 else (operand.cols,))
                where = getattr(operand, "name", "an entry")
                for index, size in zip(node.params, dims):
                    if self.sizes.setdefault(index, size) != size:
                        seen = f" ({self.seen[index]})" if index in self.seen else ""
                        raise ShapeError(f"index {index} runs over {self.sizes[index]}{seen} and over {size} ({where})")
                    self.seen.setdefault(index, where)
        self.free = tuple(free)
        self.memo: Dict[Expr, _Indexed] = {}

    def size(self, index: str):
        if index not in self.sizes:
            raise ParseError(f"cannot tell the range of index {index}: use it on a declared vector or matrix")
        return self.sizes[index]

    # ----- aligning -----
    def align(self, value: _Indexed, rows: Optional[str], cols: Optional[str]) -> Expr:
        """value's matrix arranged as (rows, cols), broadcast (times a ones vector) along a missing index."""
        m, have = value.matrix, (value.rows, value.cols)
        if have == (cols, rows) and rows != cols:
            m, have = transpose(m), (rows, cols)
        elif have == (cols, None) and cols is not None:
            m, have = transpose(m), (None, cols)
        elif have == (None, rows) and rows is not None:
            m, have = transpose(m), (rows, None)
        if have[0] not in (None, rows) or have[1] not in (None, cols):
            raise ShapeError(f"cannot arrange indices {have} as {(rows, cols)}")
        if have[0] is None and rows is not None:
            m = matmul(ones(self.size(rows), 1), m)
        if have[1] is None and cols is not None:
            m = matmul(m, ones(1, self.size(cols)))
        return m

    def target(self, values: Sequence[_Indexed]) -> Tuple[Optional[str], Optional[str]]:
        order: List[str] = []
        for value in values:
            for index in (value.rows, value.cols):
                if index is not None and index not in order:
                    order.append(index)
        if len(order) > 2:
            raise ShapeError(f"indices {', '.join(order)} at once: more than a matrix holds")
        return (order + [None, None])[0], (order + [None, None])[1]

    # ----- products and sums -----
    def product(self, a: _Indexed, b: _Indexed) -> _Indexed:
        if not a.indices:
            return _Indexed(scale(a.matrix, b.matrix), b.rows, b.cols)
        if not b.indices:
            return _Indexed(scale(b.matrix, a.matrix), a.rows, a.cols)
        if a.indices & b.indices:
            if len(a.indices) == 1 and len(b.indices) == 2 or len(a.indices) == 2 and len(b.indices) == 1:
                scaled = self.diagonal_product(a, b) if len(a.indices) == 2 else self.diagonal_product(b, a)
                if scaled is not None:
                    return scaled
            rows, cols = self.target([a, b])
            return _Indexed(hadamard(self.align(a, rows, cols), self.align(b, rows, cols)), rows, cols)
        if len(a.indices) == 1 and len(b.indices) == 1:  # x_i y_j: the outer product
            (i,), (j,) = a.indices, b.indices
            return _Indexed(matmul(self.align(a, i, None), self.align(b, None, j)), i, j)
        raise ShapeError(f"a product with indices {', '.join(sorted(a.indices | b.indices))}: more than a matrix holds")

    def diagonal_product(self, matrix: _Indexed, vector: _Indexed) -> Optional[_Indexed]:
        """A_{ij} x_j is A diag(x); x_i A_{ij} is diag(x) A."""
        (k,) = vector.indices
        column = self.align(vector, k, None)
        if matrix.cols == k:
            return _Indexed(matmul(matrix.matrix, diag(column)), matrix.rows, k)
        if matrix.rows == k:
            return _Indexed(matmul(diag(column), matrix.matrix), k, matrix.cols)
        return None

    def contract(self, a: _Indexed, b: _Indexed, k: str) -> _Indexed:
        """sum over k of a * b, both holding k: a matrix product."""
        other_a = next(iter(a.indices - {k}), None)
        other_b = next(iter(b.indices - {k}), None)
        if other_a is not None and other_a == other_b:
            return self.sum_out(self.product(a, b), k)
        return _Indexed(matmul(self.align(a, other_a, k), self.align(b, k, other_b)), other_a, other_b)

    def sum_out(self, value: _Indexed, k: str) -> _Indexed:
        if value.rows == k:
            return _Indexed(matmul(ones(1, self.size(k)), value.matrix), None, value.cols)
        if value.cols == k:
            return _Indexed(matmul(value.matrix, ones(self.size(k), 1)), value.rows, None)
        return _Indexed(scale(Constant(self.size(k)), value.matrix), value.rows, value.cols)

    def summed(self, bound: List[str], factors: List[Expr]) -> _Indexed:
        """The sum over ``bound`` of the product of ``factors``: Kronecker deltas on a summed index are
        eliminated (sum_p f_p delta_{pi} = f_i), then each summed index is contracted by a matrix product
        (sum_k A_{ik} B_{kj} = (AB)_{ij}) or summed out with a ones vector."""
        bound, factors = _eliminate_deltas(list(bound), list(factors))
        # the product rule leaves sums of terms with deltas: sum_j A_{ij} (delta_{ik} x_j + x_i delta_{jk})
        # is distributed, so that each term's deltas are summed away on their own
        split = next((n for n, f in enumerate(factors) if isinstance(f, Add) and bound and _has_delta(f)), None)
        if split is not None:
            others = factors[:split] + factors[split + 1:]
            results = []
            for term in factors[split].args:
                inner_bound, inner = _term(term, set().union(*(_index_names(f) for f in others), bound))
                results.append(self.summed(bound + inner_bound, others + inner))
            rows, cols = self.target(results)
            return _Indexed(add(*[self.align(r, rows, cols) for r in results]), rows, cols)
        factors = [self.value(f) for f in factors] or [_Indexed(Constant(1), None, None)]
        for k in bound:
            holding = [f for f in factors if k in f.indices]
            rest = [f for f in factors if k not in f.indices]
            while len(holding) > 2:
                holding = [self.product(holding[0], holding[1])] + holding[2:]
            if len(holding) == 2:
                holding = [self.contract(holding[0], holding[1], k)]
            elif len(holding) == 1:
                holding = [self.sum_out(holding[0], k)]
            else:  # nothing depends on k: the sum is size(k) times the term
                holding = [_Indexed(Constant(self.size(k)), None, None)]
            factors = rest + holding
        result = factors[0]
        for f in factors[1:]:
            result = self.product(result, f)
        return result

    def value(self, node: Expr) -> _Indexed:
        """The node's value as an indexed matrix; a sum converts its factors itself, so that
        W_{ik} x_k under \\sum_k becomes W x, not a broadcast product."""
        if node not in self.memo:
            self.memo[node] = self.node(node)
        return self.memo[node]

    def convert(self, root: Expr) -> Expr:
        value = self.value(root)
        if value.indices != set(self.free):
            free = ", ".join(sorted(value.indices)) or "none"
            wanted = ", ".join(self.free) or "none"
            raise ShapeError(f"the free indices are {free}, but the left side has {wanted}")
        rows, cols = (tuple(self.free) + (None, None))[:2]
        return self.align(value, rows, cols)

    def node(self, node: Expr) -> _Indexed:
        if isinstance(node, Entry):
            operand, indices = node.args[0], node.params
            if len(indices) == 2:
                if indices[0] == indices[1]:  # A_{kk}: the diagonal
                    return _Indexed(diag(operand), indices[0], None)
                return _Indexed(operand, indices[0], indices[1])
            return _Indexed(operand, indices[0], None) if operand.cols == 1 else _Indexed(operand, None, indices[0])
        if isinstance(node, KroneckerDelta):
            i, j = node.params
            return _Indexed(identity(self.size(i) if i in self.sizes else self.size(j)), i, j)
        if isinstance(node, IndexSum) or isinstance(node, Scale) and node.is_scalar and has_indices(node):
            bound, factors = _term(node)
            if bound or any(isinstance(f, KroneckerDelta) for f in factors):
                return self.summed(bound, factors)
        children = [self.value(c) for c in node.args]
        if not any(c.indices for c in children):
            return _Indexed(node.rebuilt([c.matrix for c in children]) if children else node, None, None)
        if isinstance(node, Scale):
            return self.product(children[0], children[1])
        if isinstance(node, Add):
            rows, cols = self.target(children)
            return _Indexed(add(*[self.align(c, rows, cols) for c in children]), rows, cols)
        (child,) = children if len(children) == 1 else (None,)
        if child is None:
            raise ShapeError(f"{type(node).__name__} of entries is not read in index notation")
        if isinstance(node, Apply):
            return _Indexed(functions.apply(node.function.name, child.matrix, *_parameter(node)), child.rows, child.cols)
        if isinstance(node, Power):
            return _Indexed(_entrywise_power(child.matrix, node.exponent), child.rows, child.cols)
        raise ShapeError(f"{type(node).__name__} of entries is not read in index notation")


def _parameter(node: Apply):
    parameter = getattr(node.function, "parameter", None)
    return () if parameter is None else (parameter,)


def _entrywise_power(m: Expr, exponent) -> Expr:
    if exponent == -1:
        return hadamard_div(Ones(*m.shape), m)
    if exponent == sympy.Rational(1, 2):
        return functions.sqrt(m)
    if exponent.is_Integer and 2 <= exponent <= 4:
        out = m
        for _ in range(int(exponent) - 1):
            out = hadamard(out, m)
        return out
    raise ShapeError(f"the power {exponent} of an entry is not read in index notation")


def _term(node: Expr, taken: Optional[set] = None) -> Tuple[List[str], List[Expr]]:
    """(summed indices, factors) of a product of scalars and sums: a A_{ik} \\sum_j B_{kj} is the sum
    over j of the factors a, A_{ik}, B_{kj}. An inner sum's index that is used elsewhere is renamed."""
    taken = set() if taken is None else taken
    if isinstance(node, Scale) and node.is_scalar:
        bound_a, factors_a = _term(node.args[0], taken)
        bound_b, factors_b = _term(node.args[1], taken)
        return bound_a + bound_b, factors_a + factors_b
    if isinstance(node, IndexSum):
        body = node.args[0]
        bound = []
        for k in node.params:
            if k in taken:
                fresh = next(f"{k}{n}" for n in range(1, 100) if f"{k}{n}" not in taken)
                body, k = _renamed(body, k, fresh), fresh
            taken.add(k)
            bound.append(k)
        inner_bound, factors = _term(body, taken)
        return bound + inner_bound, factors
    taken |= _index_names(node)
    return [], [node]


def _has_delta(node: Expr) -> bool:
    return any(isinstance(n, KroneckerDelta) for n in post_order([node]))


def _index_names(node: Expr) -> set:
    return {i for n in post_order([node]) if isinstance(n, INDEX_NODES) for i in n.params}


def _renamed(node: Expr, old: str, new: str) -> Expr:
    """``node`` with index ``old`` renamed ``new`` (not inside a sum that binds ``old`` itself)."""
    if isinstance(node, IndexSum) and old in node.params:
        return node
    args = [_renamed(a, old, new) for a in node.args]
    if isinstance(node, INDEX_NODES):
        params = tuple(new if p == old else p for p in node.params)
        clone = object.__new__(type(node))
        Expr.__init__(clone, args, params, node.shape)
        return clone
    return node.rebuilt(args)


def _eliminate_deltas(bound: List[str], factors: List[Expr]) -> Tuple[List[str], List[Expr]]:
    """sum_p f_p delta_{pi} = f_i: each Kronecker delta on a summed index goes, renaming the index."""
    changed = True
    while changed:
        changed = False
        for n, factor in enumerate(factors):
            if not isinstance(factor, KroneckerDelta):
                continue
            a, b = factor.params
            if a in bound or b in bound:
                old, new = (a, b) if a in bound else (b, a)
                rest = factors[:n] + factors[n + 1:]
                factors = [_renamed(f, old, new) for f in rest]
                bound = [k for k in bound if k != old]
                changed = True
                break
    return bound, factors


def to_matrix(expr: Expr, free=()) -> Expr:
    """The matrix expression an index-notation formula means. ``free`` orders its free indices (rows,
    then columns); as a dict it also gives their ranges (``{"i": m, "j": n}`` for W_{ij}, W m x n)."""
    if not has_indices(expr):
        return expr
    sizes = dict(free) if isinstance(free, dict) else {}
    return _Converter(expr, tuple(free), sizes).convert(expr)


def index_ranges(variable: Expr, indices: Sequence[str]) -> Dict[str, object]:
    """{index: range} for the entry ``variable_{indices}`` (one index of a vector runs over its length)."""
    if len(indices) == 2:
        return {indices[0]: variable.rows, indices[1]: variable.cols}
    return {indices[0]: variable.rows if variable.cols == 1 else variable.cols}
