"""SymPy matrix expressions out: ``expr.to_sympy()`` of every nnsym expression and result.

A visitor, one ``_print_<Node>`` method per node, each given its children already printed (the walk
is `post_order`, so deep networks need no recursion). The result is a SymPy matrix expression of the
same value: `MatrixSymbol`s, `MatMul`, `Transpose`, `Trace`, ..., elementwise functions as
``applyfunc`` of a `Lambda` holding the function's own scalar definition, so ``sympy.latex``,
``.subs({X: Matrix(...)}).doit()`` and SymPy's other printers work on it. A 1 x 1 node prints as a
SymPy scalar (a 1 x 1 matrix product inside a trace), so it can scale a matrix as in nnsym.
"""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from nnsym.declare.expressions import Expr, post_order
from nnsym.declare.functions import Function, scalar_definition
from nnsym.declare.names import canonical_name
from nnsym.emit import spatial_sympy
from nnsym.errors import InputError, MissingRuleError


def _scalar(value):
    """A printed 1 x 1 node as a SymPy scalar."""
    return sympy.Trace(value) if isinstance(value, MatrixExpr) else value


def _elementwise(formula, operand):
    """``formula(z)`` applied to each entry: applyfunc of a Lambda (a plain scalar when 1 x 1)."""
    if not isinstance(operand, MatrixExpr):
        return formula(operand)
    z = sympy.Dummy("z", real=True)
    return operand.applyfunc(sympy.Lambda(z, formula(z)))


def _sigmoid(v):
    return scalar_definition(Function("sigmoid"), v)


def _sum_entries(a, rows, cols):
    """The sum of the entries of a printed rows x cols matrix, as a SymPy Sum."""
    if not isinstance(a, MatrixExpr):
        return a
    i, j = sympy.Dummy("i", integer=True), sympy.Dummy("j", integer=True)
    return sympy.Sum(a[i, j], (i, 0, rows - 1), (j, 0, cols - 1))


def _ones(rows, cols):
    """The all-ones matrix. At concrete sizes an explicit matrix: SymPy 1.14's ``doit`` of a product
    with `OneMatrix` is wrong (``(OneMatrix(1, 3) * M).doit()`` gives ``1*M``)."""
    rows, cols = sympy.Integer(rows) if isinstance(rows, int) else rows, sympy.Integer(cols) if isinstance(cols, int) else cols
    if rows.is_Integer and cols.is_Integer:
        return sympy.ImmutableMatrix.ones(int(rows), int(cols))
    return sympy.OneMatrix(rows, cols)


def _column_total(a, rows):
    """The sum of a printed column's entries, a SymPy scalar."""
    i = sympy.Dummy("i", integer=True)
    return sympy.Sum(a[i, 0], (i, 0, rows - 1))


def _column_sums(a, rows):
    """1^T A: the row of a printed matrix's column sums."""
    return sympy.MatMul(_ones(sympy.Integer(1), rows), a)


def _log_sum_exp(z, rows, cols):
    """log 1^T exp(Z): a scalar for a column, the row of each column's value for a matrix."""
    if not isinstance(z, MatrixExpr):
        return z
    exps = _elementwise(sympy.exp, z)
    if cols == 1:
        return sympy.log(_column_total(exps, rows))
    return _elementwise(sympy.log, _column_sums(exps, rows))


def _log_softmax(z, rows, cols):
    if not isinstance(z, MatrixExpr):
        return sympy.Integer(0)
    lse = _log_sum_exp(z, rows, cols)
    spread = lse * _ones(rows, sympy.Integer(1)) if cols == 1 else sympy.MatMul(_ones(rows, sympy.Integer(1)), lse)
    return sympy.MatAdd(z, -spread)


class SympyPrinter:
    """nnsym `Expr` -> SymPy expression of the same value."""

    def __init__(self, symbols=()):
        self.memo = {}
        # The user's own SymPy symbols, by the nnsym name they read as (W_1 is nnsym's W_{1}).
        self.symbols = {canonical_name(s.name): s for s in symbols
                        if isinstance(s, (sympy.Symbol, sympy.MatrixSymbol))}

    def __call__(self, root: Expr):
        for node in post_order([root], self.memo):
            method = getattr(self, "_print_" + type(node).__name__, None)
            if method is None:
                raise MissingRuleError(f"no SymPy rule for {type(node).__name__}: to_sympy cannot print it")
            printed = method(node, *[self.memo[child] for child in node.args])
            self.memo[node] = _scalar(printed) if node.is_scalar else printed
        return self.memo[root]

    # ----- leaves -----
    def _print_Symbol(self, node):
        return self.symbols.get(node.name, node.sympy)

    def _print_Constant(self, node):
        return node.value

    def _print_Identity(self, node):
        return sympy.Integer(1) if node.is_scalar else sympy.Identity(node.rows)

    def _print_Ones(self, node):
        return sympy.Integer(1) if node.is_scalar else _ones(*node.shape)

    def _print_Zero(self, node):
        return sympy.Integer(0) if node.is_scalar else sympy.ZeroMatrix(*node.shape)

    def _print_Named(self, node, definition):
        return definition

    # ----- linear algebra -----
    def _print_MatMul(self, node, a, b):
        if isinstance(a, MatrixExpr) and isinstance(b, MatrixExpr):
            return sympy.MatMul(a, b)
        return a * b

    def _print_Add(self, node, *terms):
        return sympy.Add(*terms) if node.is_scalar else sympy.MatAdd(*terms)

    def _print_Scale(self, node, factor, operand):
        return factor * operand

    def _print_Transpose(self, node, a):
        return a.T if isinstance(a, MatrixExpr) else a

    def _print_Trace(self, node, a):
        return sympy.Trace(a) if isinstance(a, MatrixExpr) else a

    def _print_Det(self, node, a):
        return sympy.Determinant(a) if isinstance(a, MatrixExpr) else a

    def _print_LogDet(self, node, a):
        # nnsym's log det is log |det A| (equal to log det A where it is used: det A > 0).
        return sympy.log(sympy.Abs(self._print_Det(node, a)))

    def _print_Inverse(self, node, a):
        return sympy.Inverse(a) if isinstance(a, MatrixExpr) else 1 / a

    def _print_Kronecker(self, node, a, b):
        return sympy.KroneckerProduct(a, b)

    def _print_Diag(self, node, v):
        return DiagMatrix(v) if isinstance(v, MatrixExpr) else v

    def _print_DiagPart(self, node, a):
        if not isinstance(a, MatrixExpr):
            return a
        # (A o I) 1, not DiagonalOf(A): SymPy 1.14 cannot write DiagonalOf of an explicit matrix out.
        n = node.rows
        return sympy.MatMul(sympy.HadamardProduct(a, sympy.Identity(n)), _ones(n, sympy.Integer(1)))

    def _print_Sum(self, node, a):
        return _sum_entries(a, *node.args[0].shape)

    def _print_NormSq(self, node, a):
        return sympy.Trace(sympy.MatMul(a.T, a)) if isinstance(a, MatrixExpr) else a ** 2

    def _print_Norm(self, node, a):
        return sympy.sqrt(self._print_NormSq(node, a))

    # ----- elementwise -----
    def _print_Hadamard(self, node, a, b):
        return a * b if node.is_scalar else sympy.HadamardProduct(a, b)

    def _print_HadamardDiv(self, node, a, b):
        return a / b if node.is_scalar else sympy.HadamardProduct(a, sympy.HadamardPower(b, -1))

    def _print_Power(self, node, a):
        return a ** node.exponent if node.is_scalar else sympy.HadamardPower(a, node.exponent)

    def _print_Apply(self, node, a):
        function = node.function
        return _elementwise(lambda z: scalar_definition(function, z), a)

    # ----- softmax family, column by column -----
    def _print_Softmax(self, node, z):
        if not isinstance(z, MatrixExpr):
            return sympy.Integer(1)
        exps = _elementwise(sympy.exp, z)
        if node.cols == 1:
            return exps / _column_total(exps, node.rows)
        spread = sympy.MatMul(_ones(node.rows, sympy.Integer(1)), _column_sums(exps, node.rows))
        return sympy.HadamardProduct(exps, sympy.HadamardPower(spread, -1))

    def _print_LogSoftmax(self, node, z):
        return _log_softmax(z, *node.shape)

    def _print_LogSumExp(self, node, z):
        return _log_sum_exp(z, *node.args[0].shape)

    def _print_SoftmaxCrossEntropy(self, node, z, y):
        logits = node.args[0]
        if not isinstance(z, MatrixExpr):
            return sympy.Integer(0) * y
        return -_sum_entries(sympy.HadamardProduct(y, _log_softmax(z, *logits.shape)), *logits.shape)

    def _print_BinaryCrossEntropy(self, node, z, y):
        logits = node.args[0]
        if not isinstance(z, MatrixExpr):
            return -(y * sympy.log(_sigmoid(z)) + (1 - y) * sympy.log(1 - _sigmoid(z)))
        log_p = _elementwise(lambda v: sympy.log(_sigmoid(v)), z)
        log_q = _elementwise(lambda v: sympy.log(1 - _sigmoid(v)), z)
        rest = sympy.MatAdd(_ones(*logits.shape), -y)
        total = sympy.MatAdd(sympy.HadamardProduct(y, log_p), sympy.HadamardProduct(rest, log_q))
        return -_sum_entries(total, *logits.shape)

    # ----- layers (batch/layer norm, attention): their nodes written with the same matrix algebra -----
    def _print_Composite(self, node, definition, *inputs):
        return definition

    def _print_ColumnBlock(self, node, a):
        return a[:, node.start:node.stop]

    def _print_PadColumns(self, node, g):
        rows = node.rows
        blocks = [sympy.ZeroMatrix(rows, node.start)] if node.start else []
        blocks.append(g)
        if node.total - node.stop:
            blocks.append(sympy.ZeroMatrix(rows, node.total - node.stop))
        return sympy.BlockMatrix([blocks]) if len(blocks) > 1 else g

    def _print_RowSoftmax(self, node, s):
        rows, cols = node.shape
        exps = _elementwise(sympy.exp, s)
        if node.causal:  # only the entries on or left of the diagonal count
            if not (rows.is_Integer and cols.is_Integer):
                raise MissingRuleError("no SymPy rule for a causal RowSoftmax of symbolic size")
            mask = sympy.ImmutableMatrix(int(rows), int(cols), lambda i, j: 1 if j <= i else 0)
            exps = sympy.HadamardProduct(exps, mask)
        sums = sympy.MatMul(exps, _ones(cols, sympy.Integer(1)))
        spread = sympy.MatMul(sums, _ones(sympy.Integer(1), cols))
        return sympy.HadamardProduct(exps, sympy.HadamardPower(spread, -1))

    @staticmethod
    def standardized(node, z):
        """(Z - mean) and sqrt(biased variance + eps), per row (over the batch) or column (features)."""
        rows, cols = node.args[0].shape
        if node.over == "batch":
            count, mean = cols, sympy.MatMul(z, _ones(cols, sympy.Integer(1))) / cols
            centred = sympy.MatAdd(z, -sympy.MatMul(mean, _ones(sympy.Integer(1), cols)))
            variance = sympy.MatMul(sympy.HadamardPower(centred, 2), _ones(cols, sympy.Integer(1))) / count
            std = sympy.HadamardPower(sympy.MatAdd(variance, node.eps * _ones(rows, sympy.Integer(1))), sympy.S.Half)
            return centred, std, sympy.MatMul(std, _ones(sympy.Integer(1), cols))
        count, mean = rows, sympy.MatMul(_ones(sympy.Integer(1), rows), z) / rows
        centred = sympy.MatAdd(z, -sympy.MatMul(_ones(rows, sympy.Integer(1)), mean))
        variance = sympy.MatMul(_ones(sympy.Integer(1), rows), sympy.HadamardPower(centred, 2)) / count
        std = sympy.HadamardPower(sympy.MatAdd(variance, node.eps * _ones(sympy.Integer(1), cols)), sympy.S.Half)
        return centred, std, sympy.MatMul(_ones(rows, sympy.Integer(1)), std)

    def _print_Normalize(self, node, z):
        centred, _, spread = self.standardized(node, z)
        return sympy.HadamardProduct(centred, sympy.HadamardPower(spread, -1))

    def _print_StdDev(self, node, z):
        return self.standardized(node, z)[1]

    # ----- convolution, pooling and correlation (issue 15): concrete geometry, so entry by entry -----
    @staticmethod
    def spatial(build, node, *operands):
        # a 1 x 1 operand was printed as a SymPy scalar (a pooled 2x2 image): the builders index it
        operands = [o if isinstance(o, MatrixExpr) else sympy.ImmutableMatrix([[o]]) for o in operands]
        return sympy.ImmutableMatrix(build(node, *operands, (int(node.rows), int(node.cols))))

    def _print_Im2col(self, node, a):
        return self.spatial(spatial_sympy.im2col, node, a)

    def _print_Col2im(self, node, a):
        return self.spatial(spatial_sympy.col2im, node, a)

    def _print_MaxPool(self, node, a):
        return self.spatial(spatial_sympy.max_pool, node, a)

    def _print_AvgPool(self, node, a):
        return self.spatial(spatial_sympy.avg_pool, node, a)

    def _print_MaxMask(self, node, a):
        return self.spatial(spatial_sympy.max_mask, node, a)

    def _print_Upsample(self, node, a):
        return self.spatial(spatial_sympy.upsample, node, a)

    def _print_Correlate(self, node, x, k):
        return self.spatial(spatial_sympy.correlate, node, x, k)

    def _print_Rot180(self, node, k):
        return self.spatial(spatial_sympy.rot180, node, k)


def to_sympy(expr: Expr, symbols=()):
    """A SymPy matrix expression (a SymPy scalar when 1 x 1) of the same value as ``expr``.

    ``symbols``: SymPy symbols to print nnsym's symbols as, matched by name (pass the ones an
    expression was read from, so ``W_1`` comes back as ``W_1`` and not as nnsym's ``W_{1}``)."""
    if not isinstance(expr, Expr):
        raise InputError(f"to_sympy takes an nnsym expression, not {type(expr).__name__}")
    return SympyPrinter(symbols)(expr)

