"""Attention, multi-head attention, embeddings and the transformer block, tokens as rows.

Scaled dot-product attention (Vaswani et al. 2017) with Q (T x d), K (S x d), V (S x d_v):
S = Q K^T / sqrt(d), P = softmax of each row of S (entries above the diagonal left out when causal),
O = P V. The one new primitive is `RowSoftmax`; its rule dS = P o (dP - ((dP o P) 1) 1^T) and the
ordinary product rules give the textbook dV = P^T dO, dP = dO V^T, dQ = dS K / sqrt(d),
dK = dS^T Q / sqrt(d). Multi-head attention splits the columns of X W_Q, X W_K, X W_V into heads
(`ColumnBlock`) and concatenates the heads' outputs (a sum of `PadColumns`) before W_O.
"""

from __future__ import annotations

import sympy

from nnsym.declare import expressions as E
from nnsym.declare.composite import Composite
from nnsym.declare.expressions import Expr, Named, Ones, show_shape
from nnsym.declare.functions import apply
from nnsym.declare.normalization import DEFAULT_EPS, layer_norm
from nnsym.errors import InputError, ShapeError


class RowSoftmax(Expr):
    """softmax of each row; ``causal``: of each row's entries on or left of the diagonal (j <= i),
    the entries right of it being 0."""

    __slots__ = ()

    def __init__(self, operand, causal: bool = False):
        super().__init__((operand,), (bool(causal),), operand.shape)

    @property
    def causal(self) -> bool:
        return self.params[0]


class ColumnBlock(Expr):
    """Columns ``start`` to ``stop - 1`` (0-based, as in A[:, start:stop]) of A."""

    __slots__ = ()

    def __init__(self, operand, start: int, stop: int):
        super().__init__((operand,), (int(start), int(stop)), (operand.rows, stop - start))

    @property
    def start(self) -> int:
        return self.params[0]

    @property
    def stop(self) -> int:
        return self.params[1]


class PadColumns(Expr):
    """G placed at columns ``start`` onwards of a zero matrix with ``total`` columns (the adjoint of
    `ColumnBlock`, and one head's place in a concatenation)."""

    __slots__ = ()

    def __init__(self, operand, start: int, total: int):
        super().__init__((operand,), (int(start), int(total)), (operand.rows, total))

    @property
    def start(self) -> int:
        return self.params[0]

    @property
    def total(self) -> int:
        return self.params[1]

    @property
    def stop(self) -> int:
        return self.start + int(self.args[0].cols)


def row_softmax(S: Expr, causal: bool = False) -> Expr:
    if causal and S.rows.is_Integer and S.cols.is_Integer and S.rows > S.cols:
        raise ShapeError(f"causal softmax: row i keeps columns 0..i, so S needs at least as many columns as "
                         f"rows, got {show_shape(S.shape)}")
    return RowSoftmax(S, causal)


def _int(size, what) -> int:
    if not size.is_Integer:
        raise InputError(f"{what} must be a number here, not the symbol {size}")
    return int(size)


def column_block(A: Expr, start: int, stop: int) -> Expr:
    cols = _int(A.cols, "the number of columns split into blocks")
    if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop <= cols):
        raise InputError(f"columns {start}:{stop} are not a block of the {cols} columns of a {show_shape(A.shape)}")
    if start == 0 and stop == cols:
        return A
    return ColumnBlock(A, start, stop)


def pad_columns(G: Expr, start: int, total: int) -> Expr:
    width = _int(G.cols, "the width of a padded block")
    if not (isinstance(start, int) and isinstance(total, int) and 0 <= start and start + width <= total):
        raise InputError(f"a block of {width} columns does not fit at column {start} of {total}")
    if start == 0 and width == total:
        return G
    return PadColumns(G, start, total)


def scaled_scores(Q: Expr, K: Expr) -> Expr:
    """S = Q K^T / sqrt(d), d the number of columns of Q."""
    return E.scale(E.Constant(1 / sympy.sqrt(Q.cols)), E.matmul(Q, E.transpose(K)))


def attention(Q: Expr, K: Expr, V: Expr, causal: bool = False) -> Expr:
    """Attention(Q, K, V) = softmax_row(Q K^T / sqrt(d)) V; Q is T x d, K is S x d, V is S x d_v."""
    Q, K, V = E.lift(Q), E.lift(K), E.lift(V)
    if Q.cols != K.cols:
        raise ShapeError(f"attention: Q ({show_shape(Q.shape)}) and K ({show_shape(K.shape)}) need the same "
                         "number of columns d")
    if K.rows != V.rows:
        raise ShapeError(f"attention: K ({show_shape(K.shape)}) and V ({show_shape(V.shape)}) need one row per "
                         "key")
    P = row_softmax(scaled_scores(Q, K), causal)
    return Composite("Attention", bool(causal), E.matmul(P, V), Q, K, V)


def multi_head_attention(X: Expr, WQ: Expr, WK: Expr, WV: Expr, WO: Expr, heads: int = 1,
                         causal: bool = False) -> Expr:
    """MultiHead(X) = Concat(head_1, ..., head_h) W_O with head_i = Attention(X W_Q, X W_K, X W_V)
    restricted to the i-th block of columns (the heads split the columns)."""
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise InputError(f"heads must be a positive integer, not {heads!r}")
    Q, K, V = E.matmul(X, WQ), E.matmul(X, WK), E.matmul(X, WV)
    dk, dv = _int(Q.cols, "d_model"), _int(V.cols, "d_v")
    if K.cols != Q.cols or dk % heads or dv % heads:
        raise ShapeError(f"multi-head attention: {heads} heads must split the {dk} columns of X W_Q and X W_K "
                         f"and the {dv} of X W_V evenly")
    wk, wv = dk // heads, dv // heads
    outputs = []
    for h in range(heads):
        head = attention(column_block(Q, h * wk, (h + 1) * wk), column_block(K, h * wk, (h + 1) * wk),
                         column_block(V, h * wv, (h + 1) * wv), causal)
        outputs.append(pad_columns(head, h * wv, dv))
    out = E.matmul(E.add(*outputs), WO)
    return Composite("MultiHead", (heads, bool(causal)), out, X, WQ, WK, WV, WO)


def embedding(E_matrix: Expr, X: Expr) -> Expr:
    """E X: the columns of the embedding matrix E (d x V) picked by the one-hot columns of X (V x B)."""
    if E_matrix.cols != X.rows:
        raise ShapeError(f"embedding: E is {show_shape(E_matrix.shape)}, so the one-hot columns of X need "
                         f"{E_matrix.cols} rows, got {show_shape(X.shape)}")
    return E.matmul(E_matrix, X)


def row_bias(b: Expr, rows) -> Expr:
    """1 b^T: the bias vector b added to every row (tokens as rows)."""
    return E.matmul(Ones(rows, 1), E.transpose(b))


def token_layer_norm(H: Expr, gamma: Expr, beta: Expr, eps=DEFAULT_EPS) -> Expr:
    """Layer norm of each row (token) of H over its features: LayerNorm(H^T, gamma, beta)^T."""
    return E.transpose(layer_norm(E.transpose(H), gamma, beta, eps))


def transformer_block(X: Expr, WQ, WK, WV, WO, gamma1, beta1, W1, b1, W2, b2, gamma2, beta2, heads: int = 1,
                      causal: bool = False, activation: str = "relu", eps=DEFAULT_EPS) -> Expr:
    """The post-norm block of Vaswani et al.: H1 = X + MultiHead(X), Y1 = LayerNorm(H1),
    H2 = Y1 + f(Y1 W1 + 1 b1^T) W2 + 1 b2^T, output LayerNorm(H2); each token (row) normalised."""
    T = X.rows
    H1 = Named("H^{(1)}", E.add(X, multi_head_attention(X, WQ, WK, WV, WO, heads, causal)))
    Y1 = Named("Y^{(1)}", token_layer_norm(H1, gamma1, beta1, eps))
    hidden = apply(activation, E.add(E.matmul(Y1, W1), row_bias(b1, T)))
    H2 = Named("H^{(2)}", E.add(Y1, E.matmul(hidden, W2), row_bias(b2, T)))
    return token_layer_norm(H2, gamma2, beta2, eps)
