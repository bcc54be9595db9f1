"""The matrix expression nodes nnsym derives, prints and evaluates.

Nodes carry structure and shape only: derivative rules live in `nnsym.derive.rules`, printing in
`nnsym.emit`. Every value is a matrix; a column vector is n x 1 and a scalar is 1 x 1, so a 1 x 1
product such as ``r.T @ r / 2`` is a scalar with no conversion. Sizes are ints or SymPy symbols.

Construction goes through the small functions at the bottom of this module (`matmul`, `add`,
`scale`, ...), which check shapes and apply the few simplifications a lecturer makes without thinking
((A^T)^T = A, 1 A = A, A + A = 2A, pulling scalars out of products). Nothing is expanded.
"""

from __future__ import annotations

import fractions
import math
import numbers
from dataclasses import dataclass
from typing import Container, Iterable, Iterator, Tuple, Union

import sympy

from nnsym.declare.names import canonical_name
from nnsym.errors import InputError, ShapeError

Size = Union[int, sympy.Expr]
MAX_MATRIX_POWER = 100  # A^k is written as k - 1 matrix products
MAX_FOLDED_EXPONENT = 1000  # 2^k is computed exactly


def as_size(value) -> sympy.Expr:
    """An int or a name (``'m'``) or a SymPy expression, as a SymPy size."""
    if isinstance(value, bool):
        raise InputError(f"a size must be a positive integer or a name, not {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise InputError(f"a size must be a positive integer, not {value}")
        return sympy.Integer(value)
    if isinstance(value, str):
        if not value.isidentifier():
            raise InputError(f"a symbolic size must be a name such as 'n', not {value!r}")
        return sympy.Symbol(value, integer=True, positive=True)
    if isinstance(value, sympy.Expr):
        # A size's name reaches generated code; a SymPy symbol may be named anything ("n'; ...").
        bad = [s for s in value.free_symbols if not (str(s).isascii() and str(s).isidentifier())]
        if bad or (value.is_number and not (value.is_Integer and value > 0)):
            raise InputError(f"a size must be a positive integer or a name such as 'n', not {value!r}")
        return value
    raise InputError(f"a size must be a positive integer or a name, not {value!r}")


def show_shape(shape) -> str:
    return f"{shape[0]}x{shape[1]}"


# --------------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------------


class Expr:
    """A node of the expression DAG: its children in ``args``, its non-node data in ``params``.

    Equality is structural and the hash is cached, so equal subexpressions are one key in the
    derivation's memo tables however they were built.
    """

    __slots__ = ("args", "params", "shape", "_hash")

    def __init__(self, args: Tuple["Expr", ...], params: tuple, shape):
        self.args = tuple(args)
        self.params = tuple(params)
        # strict=True everywhere in nnsym: convert numbers, never parse a string (SymPy parses with eval).
        self.shape = (sympy.sympify(shape[0], strict=True), sympy.sympify(shape[1], strict=True))
        # The shape is part of identity: Ones(n, 1) and Ones(1, n) differ only there.
        self._hash = hash((type(self).__name__, self.params, self.args, self.shape))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        if self is other:
            return True
        if type(self) is not type(other) or self._hash != other._hash:
            return False
        # Iterative, each pair of nodes compared once: two equal DAGs built apart share no objects, and
        # comparing them child by child walked their written-out trees (12 rounds of f = sigma(f f + f):
        # 9 million comparisons, 13 s of a gradient check, for 36 distinct nodes).
        compared = set()
        stack = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b or (id(a), id(b)) in compared:
                continue
            if (type(a) is not type(b) or a._hash != b._hash or a.shape != b.shape or a.params != b.params
                    or len(a.args) != len(b.args)):
                return False
            compared.add((id(a), id(b)))
            stack.extend(zip(a.args, b.args))
        return True

    def __repr__(self):
        inner = ", ".join([repr(p) for p in self.params] + [repr(a) for a in self.args])
        return f"{type(self).__name__}({inner})"

    def rebuilt(self, args, shape=None) -> "Expr":
        """The same node over new children (and shape), without its constructor: the simplifications
        it made already ran, so the rebuilt node prints and evaluates like the original."""
        args, shape = tuple(args), self.shape if shape is None else tuple(shape)
        if args == self.args and shape == self.shape:
            return self
        clone = object.__new__(type(self))
        Expr.__init__(clone, args, self.params, shape)
        return clone

    # ---- shape predicates -------------------------------------------------------------------
    @property
    def rows(self):
        return self.shape[0]

    @property
    def cols(self):
        return self.shape[1]

    @property
    def is_scalar(self) -> bool:
        return self.shape == (1, 1)

    @property
    def is_column(self) -> bool:
        return self.shape[1] == 1 and not self.is_scalar

    @property
    def is_square(self) -> bool:
        return self.shape[0] == self.shape[1]

    def free_symbols(self) -> set:
        """The `Symbol` leaves this expression depends on."""
        out, seen, stack = set(), set(), [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, Symbol):
                out.add(node)
            stack.extend(node.args)
        return out

    def depends_on(self, symbol: "Symbol") -> bool:
        return symbol in self.free_symbols()

    # ---- operators (each checks shapes) -------------------------------------------------------
    def __matmul__(self, other):
        return matmul(self, lift(other))

    def __rmatmul__(self, other):
        return matmul(lift(other), self)

    def __add__(self, other):
        return add(self, lift(other))

    def __radd__(self, other):
        return add(lift(other), self)

    def __sub__(self, other):
        return add(self, neg(lift(other)))

    def __rsub__(self, other):
        return add(lift(other), neg(self))

    def __neg__(self):
        return neg(self)

    def __mul__(self, other):
        return multiply(self, lift(other))

    def __rmul__(self, other):
        return multiply(lift(other), self)

    def __truediv__(self, other):
        other = lift(other)
        if not other.is_scalar:
            raise ShapeError(
                f"division: the divisor must be a scalar, got {show_shape(other.shape)} "
                "(use nnsym.hadamard_div for elementwise division)"
            )
        return scale(power(other, -1), self)

    def __rtruediv__(self, other):
        return lift(other) / self

    # The user's handles on printing, which lives in emit, a stage above. Nodes carry structure only, so
    # the printers are imported when asked (they used to be attached by emit's modules, and a fresh
    # `import nnsym`, which loads modules lazily, left X.to_sympy() an AttributeError).
    def to_sympy(self, symbols=()):
        """A SymPy matrix expression (a SymPy scalar when 1 x 1) of the same value: `nnsym.to_sympy`."""
        from nnsym.emit.sympy_printer import to_sympy
        return to_sympy(self, symbols)

    def _repr_latex_(self) -> str:
        """Jupyter's display: the formula as nnsym prints it."""
        from nnsym.emit.latex import latex
        return f"$\\displaystyle {latex(self)}$"

    def __pow__(self, exponent):
        if self.is_scalar:
            return power(self, exponent)
        if self.is_square and isinstance(exponent, int) and exponent >= 1:
            if exponent > MAX_MATRIX_POWER:
                raise InputError(f"power: A^{exponent} would be a product of {exponent} factors "
                                 f"(at most {MAX_MATRIX_POWER})")
            out = self
            for _ in range(exponent - 1):
                out = matmul(out, self)
            return out
        raise ShapeError(
            f"power: only scalars and square matrices (positive integer powers) have powers, "
            f"got {show_shape(self.shape)} ** {exponent!r}"
        )

    def __rpow__(self, base):
        raise InputError(f"power: a number raised to an expression ({base!r} ** ...) is not supported; "
                         "write nnsym.exp(log(base) * x)")

    @property
    def T(self):
        return transpose(self)


class Symbol(Expr):
    """A declared variable: ``name`` is its LaTeX (``W^{(1)}``), ``kind`` scalar/vector/matrix."""

    __slots__ = ()

    def __init__(self, name: str, rows, cols, kind: str, assumptions: frozenset = frozenset()):
        super().__init__((), (name, kind, assumptions), (rows, cols))

    @property
    def name(self) -> str:
        return self.params[0]

    @property
    def kind(self) -> str:
        return self.params[1]

    @property
    def assumptions(self) -> frozenset:
        return self.params[2]

    @property
    def sympy(self):
        """The SymPy object this symbol stands for: a `Symbol` or a `MatrixSymbol`."""
        if self.kind == "scalar":
            return sympy.Symbol(self.name)
        return sympy.MatrixSymbol(self.name, *self.shape)

    def __repr__(self):
        return f"{self.kind}({self.name!r}, {show_shape(self.shape)})"


class Constant(Expr):
    """A scalar number (SymPy ``Rational``, ``Float``, ``E`` or ``pi``)."""

    __slots__ = ()

    def __init__(self, value):
        value = sympy.sympify(value, strict=True)
        # 1/0 and (-1)^{1/2} are no real numbers: refused here, once, instead of failing later in a float().
        if value.has(sympy.zoo, sympy.nan, sympy.oo, sympy.I) or value.is_real is False or value.is_finite is False:
            raise InputError(f"the number {value} is not a finite real number (a division by zero, or a "
                             "fractional power of a negative number)")
        super().__init__((), (value,), (1, 1))

    @property
    def value(self):
        return self.params[0]


class Identity(Expr):
    __slots__ = ()

    def __init__(self, n):
        super().__init__((), (), (n, n))


class Ones(Expr):
    """The all-ones matrix; ``Ones(n, 1)`` is the vector 1_n."""

    __slots__ = ()

    def __init__(self, rows, cols):
        super().__init__((), (), (rows, cols))


class Zero(Expr):
    __slots__ = ()

    def __init__(self, rows, cols):
        super().__init__((), (), (rows, cols))


class MatMul(Expr):
    __slots__ = ()

    def __init__(self, left, right):
        super().__init__((left, right), (), (left.rows, right.cols))


class Add(Expr):
    __slots__ = ()

    def __init__(self, *terms):
        super().__init__(terms, (), terms[0].shape)


class Scale(Expr):
    """A scalar (1 x 1 node) times anything."""

    __slots__ = ()

    def __init__(self, factor, operand):
        super().__init__((factor, operand), (), operand.shape)


class Transpose(Expr):
    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (operand.cols, operand.rows))


class Hadamard(Expr):
    __slots__ = ()

    def __init__(self, left, right):
        super().__init__((left, right), (), left.shape)


class HadamardDiv(Expr):
    __slots__ = ()

    def __init__(self, left, right):
        super().__init__((left, right), (), left.shape)


class Power(Expr):
    """Elementwise power with a constant exponent (a SymPy number)."""

    __slots__ = ()

    def __init__(self, base, exponent):
        super().__init__((base,), (sympy.sympify(exponent, strict=True),), base.shape)

    @property
    def exponent(self):
        return self.params[0]


class Apply(Expr):
    """An elementwise function from `nnsym.declare.functions` applied to a matrix."""

    __slots__ = ()

    def __init__(self, function, operand):
        super().__init__((operand,), (function,), operand.shape)

    @property
    def function(self):
        return self.params[0]


class Softmax(Expr):
    """Softmax of a column vector, or of each column of a matrix (examples as columns)."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), operand.shape)


class LogSoftmax(Expr):
    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), operand.shape)


class LogSumExp(Expr):
    """log sum exp of a column vector (a scalar), or of each column of a matrix (a row)."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, operand.cols))


class SoftmaxCrossEntropy(Expr):
    """-sum_j y_j^T log softmax(z_j) over the columns: the fused loss with its short gradient."""

    __slots__ = ()

    def __init__(self, logits, targets):
        super().__init__((logits, targets), (), (1, 1))


class BinaryCrossEntropy(Expr):
    """-sum [y log sigma(z) + (1 - y) log(1 - sigma(z))] over all entries, from the logits z."""

    __slots__ = ()

    def __init__(self, logits, targets):
        super().__init__((logits, targets), (), (1, 1))


class Kronecker(Expr):
    __slots__ = ()

    def __init__(self, left, right):
        super().__init__((left, right), (), (left.rows * right.rows, left.cols * right.cols))


class Trace(Expr):
    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, 1))


class Det(Expr):
    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, 1))


class LogDet(Expr):
    """log |det A| (log det A for the positive-determinant matrices it is used on)."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, 1))


class Inverse(Expr):
    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), operand.shape)


class Diag(Expr):
    """The diagonal matrix whose diagonal is a column vector."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (operand.rows, operand.rows))


class DiagPart(Expr):
    """The column vector of a square matrix's diagonal."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (operand.rows, 1))


class Sum(Expr):
    """The sum of all entries (1^T A 1)."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, 1))


class NormSq(Expr):
    """||A||^2: the squared Euclidean norm of a vector, the squared Frobenius norm of a matrix."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, 1))


class Norm(Expr):
    """||A||: the Euclidean norm of a vector, the Frobenius norm of a matrix."""

    __slots__ = ()

    def __init__(self, operand):
        super().__init__((operand,), (), (1, 1))


class Named(Expr):
    """An intermediate with a name (z^{(1)}, a^{(1)}, delta^{(2)}): evaluates as its definition,
    prints as its name."""

    __slots__ = ()

    def __init__(self, name: str, definition):
        super().__init__((definition,), (name,), definition.shape)

    @property
    def name(self) -> str:
        return self.params[0]

    @property
    def definition(self):
        return self.args[0]


def post_order(roots: Iterable[Expr], seen: Container = ()) -> Iterator[Expr]:
    """Each distinct node below ``roots`` once, children before parents. Iterative: the DAGs of deep
    networks and deeply nested input are deeper than Python's recursion. Nodes in ``seen`` (a memo
    the caller fills while iterating) are neither yielded nor entered."""
    visited = set()
    stack = [(root, False) for root in roots]
    while stack:
        node, ready = stack.pop()
        if node in visited or node in seen:
            continue
        if ready:
            visited.add(node)
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in node.args if child not in visited and child not in seen)


# --------------------------------------------------------------------------------------------------
# Declaring symbols
# --------------------------------------------------------------------------------------------------

ASSUMPTIONS = ("symmetric", "spd", "positive", "probability", "onehot", "positive-determinant")


def _assumptions(assume, kind, name):
    if assume is None:
        return frozenset()
    if not isinstance(assume, (str, list, tuple, set, frozenset)):
        raise InputError(f"the assumption of {name} is a name or a list of names, not {assume!r}")
    items = (assume,) if isinstance(assume, str) else tuple(assume)
    for item in items:
        if item not in ASSUMPTIONS:
            raise InputError(f"unknown assumption {item!r} for {name}; known: {', '.join(ASSUMPTIONS)}")
    if kind == "scalar":
        # A 1 x 1 matrix (--shape X=1x1) is a scalar: symmetric always, SPD or of positive
        # determinant exactly when positive.
        items = tuple(sorted({"positive" if i in ("spd", "positive-determinant") else i
                              for i in items if i != "symmetric"}))
    if {"symmetric", "spd", "positive-determinant"} & set(items) and kind != "matrix":
        raise InputError(f"{name}: '{items[0]}' needs a square matrix, but {name} is a {kind}")
    if {"probability", "onehot"} & set(items) and kind == "scalar":
        raise InputError(f"{name}: '{items[0]}' needs a vector or a matrix of columns")
    return frozenset(items)


def scalar(name: str, assume=None) -> Symbol:
    """A scalar symbol, e.g. ``scalar('b')`` or ``scalar(r'\\lambda')``."""
    name = canonical_name(name)
    return Symbol(name, 1, 1, "scalar", _assumptions(assume, "scalar", name))


def vector(name: str, n, assume=None) -> Symbol:
    """A column vector of length ``n`` (an int or a name such as ``'n'``)."""
    name = canonical_name(name)
    return Symbol(name, as_size(n), 1, "vector", _assumptions(assume, "vector", name))


def matrix(name: str, m, n, assume=None) -> Symbol:
    """An m x n matrix (ints or names)."""
    name = canonical_name(name)
    assumptions = _assumptions(assume, "matrix", name)
    if assumptions & {"symmetric", "spd", "positive-determinant"} and as_size(m) != as_size(n):
        raise InputError(f"{name}: {sorted(assumptions)[0]} needs a square matrix, got {m}x{n}")
    return Symbol(name, as_size(m), as_size(n), "matrix", assumptions)


# --------------------------------------------------------------------------------------------------
# Constructors: shape checks and the lecturer's obvious simplifications
# --------------------------------------------------------------------------------------------------


def lift(value) -> Expr:
    """Python and SymPy numbers become `Constant` nodes; nodes pass through."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, sympy.Basic)):
        value = _exact(value)  # int, float, Fraction, NumPy scalars
    if isinstance(value, (int, float, sympy.Number)) and not isinstance(value, bool):
        return Constant(value)
    if isinstance(value, sympy.Expr) and value.is_number:
        return Constant(value)
    raise InputError(f"cannot use {type(value).__name__} {value!r} in an nnsym expression")


def _exact(value):
    """A Python or NumPy number as an int or an exact SymPy Rational: 0.5 is 1/2 and 1/3 is 1/3 (the
    short fraction that is exactly that float), so s ** 0.5 prints as a square root, not s^{0.5}; any
    other float is the decimal it is written as (its shortest repr), never snapped to a "nice" number
    nearby (1.00000001 stays 1.00000001, 2.71828182 is not e)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Rational):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"numbers in an nnsym expression must be finite, not {value!r}")
        fraction = fractions.Fraction(value).limit_denominator(1000)
        if float(fraction) == value:
            return sympy.Rational(fraction.numerator, fraction.denominator)
        return sympy.Rational(repr(value))
    raise InputError(f"cannot use {type(value).__name__} {value!r} in an nnsym expression")


def number(node: Expr):
    """The SymPy number a node stands for, or None."""
    if isinstance(node, Constant):
        return node.value
    return None


def is_zero(node: Expr) -> bool:
    return isinstance(node, Zero) or number(node) == 0


def _need_same_shape(operation, left, right):
    if left.shape != right.shape:
        raise ShapeError(
            f"{operation}: shapes {show_shape(left.shape)} and {show_shape(right.shape)} do not match"
        )


def constant(value) -> Constant:
    return Constant(value)


ONE = Constant(1)


def transpose(a: Expr) -> Expr:
    """(A^T)^T = A, scalars and symmetric matrices are their own transposes, (AB)^T = B^T A^T."""
    if a.is_scalar and not isinstance(a, MatMul):
        return a
    if isinstance(a, Transpose):
        return a.args[0]
    # A symmetric symbol's transpose is kept as written (issue 9): folding X^T to X before differentiating
    # by X changes the function (tr(X^T A) would become tr(X A), whose gradient is A^T, not A). Derived
    # results fold it (`fold_symmetric_transpose`), where it is an identity of values.
    if isinstance(a, (Identity, Diag)):
        return a
    if isinstance(a, (Ones, Zero)):
        return type(a)(a.cols, a.rows)
    if isinstance(a, MatMul):
        return matmul(transpose(a.args[1]), transpose(a.args[0]))
    if isinstance(a, Scale):
        return scale(a.args[0], transpose(a.args[1]))
    return Transpose(a)


def fold_symmetric_transpose(a: Expr) -> Expr:
    """transpose(a), and X^T = X, (X^{-1})^T = X^{-1} for a symmetric or SPD symbol X: for derived results,
    where values, not the function differentiated, are at stake."""
    inner = a.args[0] if isinstance(a, Inverse) else a
    if isinstance(inner, Symbol) and inner.assumptions & {"symmetric", "spd"}:
        return a
    return transpose(a)


def matmul(a: Expr, b: Expr) -> Expr:
    if a.cols != b.rows:
        raise ShapeError(
            f"matrix product: {show_shape(a.shape)} times {show_shape(b.shape)} — "
            f"the left operand's {a.cols} columns must equal the right operand's {b.rows} rows"
        )
    if isinstance(a, Zero) or isinstance(b, Zero):
        return Zero(a.rows, b.cols)
    if isinstance(a, Identity):
        return b
    if isinstance(b, Identity):
        return a
    # 1^T softmax(z) = 1: each column of a softmax sums to one (issue 16: entropy of a softmax).
    if isinstance(a, Ones) and a.rows == 1 and isinstance(b, Softmax):
        return ONE if b.cols == 1 else Ones(1, b.cols)
    # A number is a scalar multiple, whatever side it stands on.
    if number(a) is not None:
        return scale(a, b)
    if number(b) is not None:
        return scale(b, a)
    # Pull scalar factors to the front: (cA)B = c(AB).
    if isinstance(a, Scale):
        return scale(a.args[0], matmul(a.args[1], b))
    if isinstance(b, Scale):
        return scale(b.args[0], matmul(a, b.args[1]))
    return MatMul(a, b)


def multiply(a: Expr, b: Expr) -> Expr:
    """``a * b``: a scalar times anything; two non-scalars must use @ or hadamard."""
    if a.is_scalar:
        return scale(a, b)
    if b.is_scalar:
        return scale(b, a)
    raise ShapeError(
        f"'*' between a {show_shape(a.shape)} and a {show_shape(b.shape)}: use @ for the matrix "
        "product or nnsym.hadamard for the elementwise product"
    )


def scale(factor: Expr, a: Expr) -> Expr:
    factor = lift(factor)
    if not factor.is_scalar:
        raise ShapeError(f"scalar multiple: the factor must be 1x1, got {show_shape(factor.shape)}")
    c = number(factor)
    if c == 1:
        return a
    if c == 0 or isinstance(a, Zero):
        return Zero(*a.shape)
    if a.is_scalar and number(a) is not None and c is not None:
        return Constant(c * number(a))
    if isinstance(a, Scale):
        inner, operand = a.args
        if c is not None and number(inner) is not None:
            return scale(Constant(c * number(inner)), operand)
        if a.is_scalar:
            return Scale(scale(factor, inner), operand)
    if a.is_scalar and c is None and number(a) is not None:
        return scale(a, factor)  # numbers first: 2x, not x 2
    if isinstance(factor, Scale) and number(factor.args[0]) is not None and not a.is_scalar:
        return scale(factor.args[0], scale(factor.args[1], a))
    return Scale(factor, a)


def neg(a: Expr) -> Expr:
    return scale(Constant(-1), a)


def split_coefficient(term: Expr):
    """term = number * base (2 W x -> (2, W x); a term without a number factor -> (1, term))."""
    if isinstance(term, Scale) and number(term.args[0]) is not None:
        return number(term.args[0]), term.args[1]
    if isinstance(term, Constant):
        return term.value, ONE
    return sympy.Integer(1), term


def add(*terms: Expr) -> Expr:
    """Sum with shape checks; a scalar added to a matrix means the scalar times the all-ones matrix.
    Equal terms are collected (A + A = 2A) and zeros dropped; order is kept otherwise."""
    terms = [lift(t) for t in terms]
    shape = next((t.shape for t in terms if not t.is_scalar), terms[0].shape)
    flat = []
    for term in terms:
        if term.shape != shape:
            if term.is_scalar:
                term = scale(term, Ones(*shape))
            else:
                raise ShapeError(
                    f"sum: shapes {show_shape(shape)} and {show_shape(term.shape)} do not match"
                )
        flat.extend(term.args if isinstance(term, Add) else [term])
    coefficients = {}
    for term in flat:
        c, base = split_coefficient(term)
        if c == 0 or isinstance(base, Zero):
            continue
        coefficients[base] = coefficients.get(base, 0) + c
    kept = [scale(Constant(c), base) for base, c in coefficients.items() if c != 0]
    if not kept:
        return Zero(*shape)
    if len(kept) == 1:
        return kept[0]
    return Add(*kept)


def hadamard(a: Expr, b: Expr) -> Expr:
    a, b = lift(a), lift(b)
    if a.is_scalar or b.is_scalar:
        return multiply(a, b)
    _need_same_shape("Hadamard product", a, b)
    if isinstance(a, Zero) or isinstance(b, Zero):
        return Zero(*a.shape)
    if isinstance(a, Ones):
        return b
    if isinstance(b, Ones):
        return a
    if isinstance(a, Scale):
        return scale(a.args[0], hadamard(a.args[1], b))
    if isinstance(b, Scale):
        return scale(b.args[0], hadamard(a, b.args[1]))
    # a o a^{o-1} = 1 wherever a^{o-1} is defined: the -log p - 1 of an entropy's gradient (issue 16).
    if any(isinstance(u, Power) and u.exponent == -1 and u.args[0] == v for u, v in ((a, b), (b, a))):
        return Ones(*a.shape)
    return Hadamard(a, b)


def kronecker(a: Expr, b: Expr) -> Expr:
    a, b = lift(a), lift(b)
    if a.is_scalar or b.is_scalar:
        return multiply(a, b)
    return Kronecker(a, b)


def hadamard_div(a: Expr, b: Expr) -> Expr:
    a, b = lift(a), lift(b)
    if b.is_scalar:
        return scale(power(b, -1), a)
    if a.is_scalar:
        a = scale(a, Ones(*b.shape))
    _need_same_shape("elementwise division", a, b)
    return HadamardDiv(a, b)


def power(a: Expr, exponent) -> Expr:
    # Checked before sympify: SymPy parses a string with eval, so "__import__('os')..." would run.
    if isinstance(exponent, bool) or not isinstance(exponent, (numbers.Number, sympy.Expr)):
        raise InputError(f"power: the exponent must be a number, got {type(exponent).__name__} {exponent!r}")
    if not isinstance(exponent, sympy.Basic):
        exponent = _exact(exponent)
    exponent = sympy.sympify(exponent, strict=True)
    if not exponent.is_number:
        raise InputError(f"power: the exponent must be a number, got {exponent}")
    if exponent == 1:
        return a
    if exponent == 0:
        return Ones(*a.shape) if not a.is_scalar else ONE
    if number(a) is not None:
        # Folding 2^{10^8} exactly would take minutes and a 30-million-digit number.
        if abs(exponent) > MAX_FOLDED_EXPONENT and abs(number(a)) not in (0, 1):
            raise InputError(f"power: {number(a)}^{exponent} is too large a number (exponents of numbers are "
                             f"at most {MAX_FOLDED_EXPONENT} in size)")
        if number(a) == 0 and exponent < 0:
            raise InputError(f"power: 0^{{{exponent}}} is a division by zero")
        if number(a) < 0 and not exponent.is_integer:
            raise InputError(f"power: ({number(a)})^{{{exponent}}} is not a real number")
        return Constant(number(a) ** exponent)
    if isinstance(a, Power) and _powers_merge(a, exponent):
        return power(a.args[0], a.exponent * exponent)
    return Power(a, exponent)


# ----- issue 9: (a^p)^q = a^{pq} only where it is an identity ------------------------------------------
# For real a it holds for an integer q, or for a > 0; (x^2)^{1/2} is |x|, not x.
POSITIVE_FUNCTIONS = ("exp", "sigmoid", "softplus")


def known_positive(a: Expr) -> bool:
    """Is ``a`` positive wherever it is defined, by its form or its declared assumptions?"""
    if isinstance(a, Symbol):
        return "positive" in a.assumptions
    if isinstance(a, Apply):
        return a.function.name in POSITIVE_FUNCTIONS
    if isinstance(a, Constant):
        return bool(a.value > 0)
    return isinstance(a, Softmax)


def _powers_merge(inner: "Power", exponent) -> bool:
    return bool(exponent.is_integer) or known_positive(inner.args[0])


def _need_square(operation, a):
    if not a.is_square:
        raise ShapeError(f"{operation} needs a square matrix, got {show_shape(a.shape)}")


def _need_column(operation, a):
    if a.cols != 1:
        raise ShapeError(f"{operation} needs a column vector, got {show_shape(a.shape)}")


def trace(a: Expr) -> Expr:
    _need_square("trace", a)
    if a.is_scalar:
        return a
    if isinstance(a, Identity):
        return Constant(a.rows)
    return Trace(a)


def det(a: Expr) -> Expr:
    _need_square("determinant", a)
    return Det(a)


def logdet(a: Expr) -> Expr:
    _need_square("log-determinant", a)
    return LogDet(a)


def inv(a: Expr) -> Expr:
    _need_square("inverse", a)
    if isinstance(a, Identity):
        return a
    if isinstance(a, Inverse):
        return a.args[0]
    if a.is_scalar:
        return power(a, -1)
    return Inverse(a)


def diag(v: Expr) -> Expr:
    """diag(v) of a column vector; of a square matrix, the column vector of its diagonal."""
    if v.cols == 1:
        return Diag(v)
    if v.is_square:
        return DiagPart(v)
    raise ShapeError(f"diag needs a column vector or a square matrix, got {show_shape(v.shape)}")


def ones(n, m=1) -> Ones:
    """The all-ones vector 1_n (or an n x m all-ones matrix)."""
    return Ones(as_size(n), as_size(m))


def identity(n) -> Identity:
    return Identity(as_size(n))


def sum_entries(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    return Sum(a)


def dot(a: Expr, b: Expr) -> Expr:
    _need_column("dot product", a)
    _need_column("dot product", b)
    _need_same_shape("dot product", a, b)
    return matmul(transpose(a), b)


def outer(a: Expr, b: Expr) -> Expr:
    _need_column("outer product", a)
    _need_column("outer product", b)
    return matmul(a, transpose(b))


def norm(a: Expr, squared: bool = False) -> Expr:
    """The Euclidean norm of a vector, the Frobenius norm of a matrix."""
    return NormSq(a) if squared else Norm(a)


def softmax(z: Expr) -> Expr:
    return Softmax(z)


def log_softmax(z: Expr) -> Expr:
    return LogSoftmax(z)


def logsumexp(z: Expr) -> Expr:
    return LogSumExp(z)


def name(label: str, definition: Expr) -> Named:
    return Named(canonical_name(label), definition)
