"""SymPy matrix expressions in: `from_sympy` turns a SymPy expression into nnsym's nodes.

A SymPy user writes ``(W*x - y).T*(W*x - y)`` with `MatrixSymbol`s; nnsym derives it. One visitor
method per SymPy class (``_MatMul``, ``_Trace``, ...), dispatched along the class's MRO the way
SymPy's printers are. A class without a method is refused with an `InputError` naming it: never a
guess. Two SymPy idioms need more than a one-to-one map:

- ``x.applyfunc(f)`` holds a `Lambda`; its body is read with the Lambda's variable standing for the
  whole matrix, so every scalar operation in it becomes the elementwise one (``z**2`` the Hadamard
  power, ``z*y`` the Hadamard product). ``1/(1 + exp(-z))`` is read as sigma, ``log(1 + exp(z))`` as
  softplus and ``Max(0, z)`` as ReLU, so they print and differentiate as a lecturer's sigma, softplus
  and ReLU.
- A sum written out entry by entry, ``exp(w[0, 0]) + exp(w[1, 0]) + ...``, is the same body over every
  entry; it is read as the sum of the entries of the elementwise body, and ``log`` of a sum of
  ``exp`` of a vector's entries is log-sum-exp.

A 1 x 1 matrix is a scalar, as everywhere in nnsym.
"""

from __future__ import annotations

from collections import defaultdict
from functools import reduce

import sympy
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, as_size
from nnsym.declare.functions import apply
from nnsym.errors import InputError, refuse_deep_nesting

_u = sympy.Wild("u")
# Scalar formulas read as one elementwise function, so they print and differentiate as its name.
_RECOGNISED = (
    (1 / (1 + sympy.exp(-_u)), "sigmoid"),
    (sympy.log(1 + sympy.exp(_u)), "softplus"),
)


def _describe(expr) -> str:
    text = str(expr)
    return f"{type(expr).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


class FromSympy:
    """SymPy expression -> nnsym `Expr`. ``bound`` maps a Lambda's variable (or an entry's stand-in)
    to the nnsym matrix it stands for."""

    def __init__(self):
        self.bound = {}
        self.originals = {}  # nnsym symbol name -> the SymPy symbol it was read from

    def remember(self, expr, node):
        """Two SymPy symbols that nnsym spells alike (W_1 and W_{1}) would silently be one."""
        other = self.originals.setdefault(node.name, expr)
        if other != expr:
            raise InputError(f"from_sympy: the SymPy symbols {other} and {expr} are both nnsym's {node.name}; "
                             "rename one")
        return node

    def __call__(self, expr) -> Expr:
        if not isinstance(expr, sympy.Basic):
            raise InputError(f"from_sympy takes a SymPy expression, not {type(expr).__name__} {expr!r:.60}")
        if isinstance(expr, sympy.Expr) and not isinstance(expr, MatrixExpr) and expr.is_number:
            if not expr.is_finite or not expr.is_real:
                raise InputError(f"from_sympy: the number {expr} is not a finite real number")
            return E.lift(expr)
        for cls in type(expr).__mro__:
            method = getattr(self, "_" + cls.__name__, None)
            if method is not None and cls not in (sympy.Basic, sympy.Expr):
                return method(expr)
        raise InputError(f"from_sympy: nnsym does not read SymPy's {type(expr).__name__} "
                         f"(in {_describe(expr)}); see nnsym.from_sympy for what it reads")

    # ---- leaves -------------------------------------------------------------------------------
    def _Symbol(self, expr):
        if expr in self.bound:
            return self.bound[expr]
        return self.remember(expr, E.scalar(expr.name))

    def _MatrixSymbol(self, expr):
        rows, cols = expr.shape
        if rows == 1 and cols == 1:
            return self.remember(expr, E.scalar(expr.name))
        if cols == 1:
            return self.remember(expr, E.vector(expr.name, as_size(rows)))
        return self.remember(expr, E.matrix(expr.name, as_size(rows), as_size(cols)))

    def _Identity(self, expr):
        return E.Identity(as_size(expr.rows))

    def _OneMatrix(self, expr):
        return E.Ones(as_size(expr.rows), as_size(expr.cols))

    def _ZeroMatrix(self, expr):
        return E.Zero(as_size(expr.rows), as_size(expr.cols))

    # ---- matrix operations --------------------------------------------------------------------
    def _MatMul(self, expr):
        # SymPy keeps scalar coefficients among the factors: they scale, the matrices multiply.
        scalars = [self(arg) for arg in expr.args if not isinstance(arg, MatrixExpr)]
        matrices = [self(arg) for arg in expr.args if isinstance(arg, MatrixExpr)]
        return reduce(lambda out, factor: E.multiply(factor, out), scalars, reduce(E.matmul, matrices))

    def _MatAdd(self, expr):
        terms = [self(arg) for arg in _minus_last(expr.args)]
        if expr.rows == 1 and expr.cols != 1:
            # SymPy distributes (W x - y)^T into x^T W^T - y^T; a lecturer keeps the column and its
            # transpose, and so the derivation sees the same residual twice, not two sums.
            return E.transpose(E.add(*[E.transpose(t) for t in terms]))
        return E.add(*terms)

    def _Transpose(self, expr):
        return E.transpose(self(expr.arg))

    def _Inverse(self, expr):
        return E.inv(self(expr.arg))

    def _MatPow(self, expr):
        base, exponent = self(expr.base), expr.exp
        if not (isinstance(exponent, sympy.Expr) and exponent.is_number):
            raise InputError(f"from_sympy: MatPow needs a number as exponent, got {exponent} (in {_describe(expr)})")
        if base.is_scalar:
            return E.power(base, exponent)
        if not exponent.is_Integer:
            raise InputError(f"from_sympy: a matrix power needs an integer exponent, got {exponent} "
                             f"(in {_describe(expr)})")
        if exponent == 0:
            return E.Identity(base.rows)
        if exponent < 0:
            return E.inv(base) ** int(-exponent)
        return base ** int(exponent)

    def _Trace(self, expr):
        return E.trace(self(expr.arg))

    def _Determinant(self, expr):
        return E.det(self(expr.arg))

    def _HadamardProduct(self, expr):
        return reduce(E.hadamard, [self(arg) for arg in expr.args])

    def _HadamardPower(self, expr):
        base, exponent = expr.args
        if not exponent.is_number:
            raise InputError(f"from_sympy: HadamardPower needs a number as exponent, got {exponent}")
        return E.power(self(base), exponent)

    def _ElementwiseApplyFunction(self, expr):
        operand = self(expr.expr)
        function = expr.function
        if not isinstance(function, sympy.Lambda):  # x.applyfunc(exp) keeps the class; wrap it
            z = sympy.Dummy("z")
            function = sympy.Lambda(z, function(z))
        return self.elementwise(function, operand)

    def elementwise(self, function: sympy.Lambda, operand: Expr) -> Expr:
        """The body of a one-variable Lambda with its variable standing for ``operand``."""
        if len(function.variables) != 1:
            raise InputError(f"from_sympy: applyfunc needs a function of one variable, got {function}")
        variable = function.variables[0]
        saved = self.bound.get(variable)
        self.bound[variable] = operand
        try:
            return self(function.expr)
        finally:
            if saved is None:
                del self.bound[variable]
            else:
                self.bound[variable] = saved

    def _MatrixElement(self, expr):
        matrix = self(expr.parent)
        if matrix.is_scalar:
            return matrix
        raise InputError(f"from_sympy: a single entry {expr} of a {expr.parent.rows}x{expr.parent.cols} matrix "
                         "is read only inside a sum over all entries (w[0, 0] + w[1, 0] + ...); "
                         "write the matrix expression instead")

    # ---- scalar operations (also elementwise, inside an applyfunc body or a sum over entries) ----
    def _Add(self, expr):
        terms, entry_terms = [], []
        for arg in _minus_last(expr.args):
            # A term of a sum written out entry by entry reads entries of one position (i, j) only;
            # log(exp(w[0, 0]) + ...) reads several and is read as a whole.
            positions = {(e.i, e.j) for e in _entries(arg)}
            (entry_terms if len(positions) == 1 else terms).append(arg)
        nodes = [self(arg) for arg in terms] + self.sums_over_entries(entry_terms, expr)
        return E.add(*nodes)

    def _Mul(self, expr):
        def times(a, b):
            # Two non-scalars meet in a scalar product only inside an elementwise body.
            return E.hadamard(a, b) if not a.is_scalar and not b.is_scalar else E.multiply(a, b)

        return reduce(times, [self(arg) for arg in expr.args])

    def _Pow(self, expr):
        recognised = self.recognised(expr)
        if recognised is not None:
            return recognised
        if not expr.exp.is_number:
            raise InputError(f"from_sympy: a power needs a number as exponent, got {expr.exp} (in {_describe(expr)})")
        if expr.base == sympy.E:
            return apply("exp", self(expr.exp))
        return E.power(self(expr.base), expr.exp)

    def _exp(self, expr):
        return apply("exp", self(expr.args[0]))

    def _log(self, expr):
        if len(expr.args) != 1:
            raise InputError(f"from_sympy: log with a base is not read (in {_describe(expr)}); divide by log(base)")
        recognised = self.recognised(expr)
        if recognised is not None:
            return recognised
        if isinstance(expr.args[0], sympy.Determinant):
            return E.logdet(self(expr.args[0].arg))
        inner = self(expr.args[0])
        # log of the sum of exp of a vector's entries: log-sum-exp, stable at any size of entry.
        if (isinstance(inner, E.Sum) and isinstance(inner.args[0], E.Apply)
                and inner.args[0].function.name == "exp" and inner.args[0].args[0].cols == 1):
            return E.logsumexp(inner.args[0].args[0])
        return apply("log", inner)

    def _tanh(self, expr):
        return apply("tanh", self(expr.args[0]))

    def _Max(self, expr):
        if len(expr.args) == 2 and sympy.S.Zero in expr.args:
            other = [a for a in expr.args if a != 0][0]
            return apply("relu", self(other))
        raise InputError(f"from_sympy: only Max(0, z) (ReLU) is read, not {_describe(expr)}")

    def recognised(self, expr):
        for pattern, name in _RECOGNISED:
            match = expr.match(pattern)
            if match and _u in match and match[_u] != 0:
                return apply(name, self(match[_u]))
        return None

    # ---- sums over all entries -----------------------------------------------------------------
    def sums_over_entries(self, terms, whole) -> list:
        """Terms such as exp(w[0,0]), exp(w[1,0]), ... grouped by their body (entries replaced by
        stand-ins); each group must visit every entry once and becomes the sum of the entries."""
        groups = defaultdict(list)
        stand_ins = {}
        for term in terms:
            elements = _entries(term)
            indices = {(e.i, e.j) for e in elements}
            if len(indices) != 1 or not all(int(i) == i for i in next(iter(indices))):
                raise InputError(f"from_sympy: the term {term} of {_describe(whole)} mixes different entries; "
                                 "a sum over entries is read when every term has the same form in one entry")
            replace = {}
            for e in elements:
                parent = e.parent
                stand_ins.setdefault(parent, sympy.Dummy(f"{parent.name}_entry"))
                replace[e] = stand_ins[parent]
            groups[term.xreplace(replace)].append(next(iter(indices)))
        out = []
        for body, indices in groups.items():
            parents = [p for p, d in stand_ins.items() if d in body.free_symbols]
            shapes = {p.shape for p in parents}
            rows, cols = next(iter(shapes))
            if len(shapes) != 1 or not (rows.is_Integer and cols.is_Integer):
                raise InputError(f"from_sympy: a sum over entries needs matrices of one concrete shape, "
                                 f"got {sorted(str(s) for s in shapes)} in {_describe(whole)}")
            if sorted(indices) != [(i, j) for i in range(rows) for j in range(cols)]:
                raise InputError(f"from_sympy: the terms {body} of {_describe(whole)} do not visit every entry of "
                                 f"{', '.join(p.name for p in parents)} exactly once; only a sum over all entries "
                                 "is read")
            saved = dict(self.bound)
            self.bound.update({stand_ins[p]: self(p) for p in parents})
            try:
                out.append(E.sum_entries(self(body)))
            finally:
                self.bound = saved
        return out


def _minus_last(terms):
    """SymPy orders -y before W x; a lecturer writes W x - y."""
    return sorted(terms, key=lambda t: t.could_extract_minus_sign())


def _entries(expr) -> set:
    """The entries M[i, j] of matrices larger than 1 x 1 that ``expr`` reads."""
    return {e for e in expr.atoms(MatrixElement) if not (e.parent.rows == 1 and e.parent.cols == 1)}


@refuse_deep_nesting
def from_sympy(expr) -> Expr:
    """A SymPy expression as an nnsym expression of the same value.

    Reads `Symbol`, `MatrixSymbol` (n x 1 is a vector, 1 x 1 a scalar), `MatMul`, `MatAdd`, `MatPow`
    (integer), `Transpose`, `Inverse`, `Trace`, `Determinant`, `log` (of a determinant: log det),
    `HadamardProduct`, `HadamardPower`, `Identity`, `OneMatrix`, `ZeroMatrix`, numbers and scalar
    factors, `applyfunc` (`ElementwiseApplyFunction`) of exp, log, tanh, ``1/(1 + exp(-z))`` (sigma),
    ``Max(0, z)`` (ReLU) or any body of these, and sums over all entries of a matrix
    (``log(exp(w[0, 0]) + exp(w[1, 0]) + ...)`` is log-sum-exp). Anything else is an `InputError`
    naming the SymPy class.
    """
    return FromSympy()(expr)
