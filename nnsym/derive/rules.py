"""The derivative rules: one vector-Jacobian product per node type, in one table.

A rule receives the node and its cotangent G (dL/d node in denominator layout: G has the node's
shape) and returns the cotangent of each child, in order (None for a child that takes none). Each
rule's docstring is the identity it encodes. Reverse mode (`nnsym.derive.reverse`) knows no node in
particular; a node type missing here is refused with `MissingRuleError`, never treated as zero.
"""

from __future__ import annotations

import sympy

from nnsym.declare import convolution as C
from nnsym.declare import expressions as E
from nnsym.declare.expressions import (
    Add,
    Apply,
    BinaryCrossEntropy,
    Constant,
    Det,
    Diag,
    DiagPart,
    Hadamard,
    HadamardDiv,
    Identity,
    Inverse,
    LogDet,
    LogSoftmax,
    LogSumExp,
    MatMul,
    Named,
    Norm,
    NormSq,
    Ones,
    Power,
    Scale,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    Symbol,
    Trace,
    Transpose,
    Zero,
)
from nnsym.declare.functions import sigmoid
from nnsym.declare.attention import ColumnBlock, PadColumns, RowSoftmax, column_block, pad_columns
from nnsym.declare.composite import Composite
from nnsym.declare.correlation import Correlate, Rot180, correlate, rot180
from nnsym.declare.normalization import Normalize, StdDev, std

VJP = {}


def vjp(*node_types):
    def register(function):
        for node_type in node_types:
            VJP[node_type] = function
        return function

    return register


def leaf_types():
    """Nodes with no children: they take cotangents but pass none on."""
    return (Symbol, Constant, Identity, Ones, Zero)


# ----- helpers for common rule shapes -----


def inner(G, A):
    """<G, A> = tr(G^T A), written the way a lecturer would for each shape."""
    if A.is_scalar:
        return E.scale(G, A)
    if A.cols == 1 or A.rows == 1:
        return E.matmul(E.transpose(G), A) if A.cols == 1 else E.matmul(A, E.transpose(G))
    return E.trace(E.matmul(E.transpose(G), A))


def ones_column(n):
    return Ones(n, 1)


def column_sums_spread(G, rows):
    """1 1^T G: each column's sum, repeated down the column (the batch form of 1^T g)."""
    if G.cols == 1:
        return E.scale(E.matmul(E.transpose(ones_column(rows)), G), ones_column(rows))
    return E.matmul(ones_column(rows), E.matmul(E.transpose(ones_column(rows)), G))


def column_total(Y):
    """1^T y: 1 where y is declared a probability vector or one-hot (columns summing to one)."""
    if isinstance(Y, Symbol) and Y.assumptions & {"probability", "onehot"}:
        return None
    return E.matmul(E.transpose(ones_column(Y.rows)), Y)


# ----- linear and bilinear -----


@vjp(Add)
def _add(node, G):
    """d(A + B) = dA + dB"""
    return [G] * len(node.args)


@vjp(Scale)
def _scale(node, G):
    """d(cA) = dc A + c dA"""
    c, A = node.args
    return [inner(G, A), E.scale(c, G)]


@vjp(MatMul)
def _matmul(node, G):
    """d(AB) = dA B + A dB"""
    A, B = node.args
    return [E.matmul(G, E.transpose(B)), E.matmul(E.transpose(A), G)]


@vjp(Transpose)
def _transpose(node, G):
    """d(A^T) = (dA)^T"""
    return [E.transpose(G)]


@vjp(Hadamard)
def _hadamard(node, G):
    """d(A o B) = dA o B + A o dB"""
    A, B = node.args
    return [E.hadamard(G, B), E.hadamard(G, A)]


@vjp(HadamardDiv)
def _hadamard_div(node, G):
    """d(A / B) = dA / B - (A / B^2) o dB"""
    A, B = node.args
    return [E.hadamard_div(G, B), E.neg(E.hadamard(G, E.hadamard_div(A, E.power(B, 2))))]


@vjp(Sum)
def _sum(node, G):
    """d(1^T A 1) = 1^T dA 1"""
    (A,) = node.args
    return [E.scale(G, Ones(*A.shape))]


@vjp(Trace)
def _trace(node, G):
    """d tr(A) = tr(dA)"""
    (A,) = node.args
    return [E.scale(G, Identity(A.rows))]


@vjp(Diag)
def _diag(node, G):
    """d diag(v) = diag(dv)"""
    return [E.diag(G)]


@vjp(DiagPart)
def _diag_part(node, G):
    """d diag(A) = diag(dA), the diagonal as a vector"""
    return [E.diag(G)]


@vjp(Named)
def _named(node, G):
    """A name is its definition."""
    return [G]


# ----- elementwise -----


@vjp(Apply)
def _apply(node, G):
    """d f(A) = f'(A) o dA, with f' from the table of elementwise functions"""
    (A,) = node.args
    return [E.hadamard(G, node.function.spec.derivative(A, node.function))]


@vjp(Power)
def _power(node, G):
    """d A^p = p A^(p-1) o dA"""
    (A,) = node.args
    p = node.exponent
    return [E.scale(Constant(p), E.hadamard(G, E.power(A, p - 1)))]


# ----- norms -----


@vjp(NormSq)
def _norm_sq(node, G):
    """d ||A||^2 = 2 <A, dA>"""
    (A,) = node.args
    return [E.scale(E.scale(2, G), A)]


@vjp(Norm)
def _norm(node, G):
    """d ||A|| = <A, dA> / ||A||"""
    (A,) = node.args
    return [E.scale(E.scale(G, E.power(node, -1)), A)]


# ----- matrix functions -----


@vjp(Inverse)
def _inverse(node, G):
    """d A^{-1} = -A^{-1} dA A^{-1}"""
    inverse_transpose = E.transpose(node)
    return [E.neg(E.matmul(E.matmul(inverse_transpose, G), inverse_transpose))]


@vjp(Det)
def _det(node, G):
    """d det A = det(A) tr(A^{-1} dA)"""
    (A,) = node.args
    return [E.scale(E.scale(G, node), E.transpose(E.inv(A)))]


@vjp(LogDet)
def _logdet(node, G):
    """d log det A = tr(A^{-1} dA)"""
    (A,) = node.args
    return [E.scale(G, E.transpose(E.inv(A)))]


# ----- softmax family (column-wise) -----


@vjp(Softmax)
def _softmax(node, G):
    """d softmax(z) = (diag(s) - s s^T) dz"""
    S = node
    SG = E.hadamard(S, G)
    if G.cols == 1:
        return [E.add(SG, E.neg(E.scale(E.matmul(E.transpose(S), G), S)))]
    return [E.add(SG, E.neg(E.hadamard(S, column_sums_spread(SG, S.rows))))]


@vjp(LogSoftmax)
def _log_softmax(node, G):
    """d log softmax(z) = (I - softmax(z) 1^T) dz"""
    (Z,) = node.args
    S = E.softmax(Z)
    if G.cols == 1:
        return [E.add(G, E.neg(E.scale(E.matmul(E.transpose(ones_column(Z.rows)), G), S)))]
    return [E.add(G, E.neg(E.hadamard(S, column_sums_spread(G, Z.rows))))]


@vjp(LogSumExp)
def _logsumexp(node, G):
    """d logsumexp(z) = softmax(z)^T dz"""
    (Z,) = node.args
    S = E.softmax(Z)
    if Z.cols == 1:
        return [E.scale(G, S)]
    return [E.hadamard(S, E.matmul(ones_column(Z.rows), G))]


@vjp(SoftmaxCrossEntropy)
def _softmax_cross_entropy(node, G):
    """d(-y^T log softmax(z)) = (softmax(z) 1^T y - y)^T dz; softmax(z) - y when y sums to one"""
    Z, Y = node.args
    S = E.softmax(Z)
    total = column_total(Y)
    if total is None:
        residual = E.add(S, E.neg(Y))
    elif Z.cols == 1:
        residual = E.add(E.scale(total, S), E.neg(Y))
    else:
        residual = E.add(E.matmul(S, E.diag(E.transpose(total))), E.neg(Y))
    return [E.scale(G, residual), E.neg(E.scale(G, E.log_softmax(Z)))]


@vjp(BinaryCrossEntropy)
def _binary_cross_entropy(node, G):
    """d(softplus(z) - y z) = (sigma(z) - y) o dz - z o dy"""
    Z, Y = node.args
    return [E.scale(G, E.add(sigmoid(Z), E.neg(Y))), E.neg(E.scale(G, Z))]


# ----- convolution and pooling (issue 15; nnsym.declare.convolution) -----
# Each node is linear or piecewise linear, so each rule is its adjoint; a convolution K im2col(X) is
# a matrix product and needs no rule of its own: dK = G im2col(X)^T, dX = col2im(K^T G).


@vjp(C.Im2col)
def _im2col(node, G):
    """d im2col(X) = im2col(dX); its adjoint col2im adds each patch back where it came from"""
    return [C.col2im(G, node.geometry)]


@vjp(C.Col2im)
def _col2im(node, G):
    """d col2im(P) = col2im(dP); its adjoint is im2col"""
    return [C.im2col(G, node.geometry)]


@vjp(C.MaxPool)
def _max_pool(node, G):
    """d maxpool(X) = maxpool'(X) dX: dX = maxmask(X) o upsample(G), the gradient at each window's arg-max"""
    (X,) = node.args
    return [E.hadamard(C.max_mask(X, node.geometry), C.upsample(G, node.geometry))]


@vjp(C.AvgPool)
def _avg_pool(node, G):
    """d avgpool(X) = avgpool(dX): dX = upsample(G) / (k_h k_w)"""
    return [E.scale(E.Constant(sympy.Rational(1, node.geometry.window)), C.upsample(G, node.geometry))]


@vjp(C.Upsample)
def _upsample(node, G):
    """d upsample(Y) = upsample(dY); its adjoint sums each window: k_h k_w avgpool(G)"""
    return [E.scale(E.Constant(node.geometry.window), C.AvgPool(G, node.geometry))]


@vjp(C.MaxMask)
def _max_mask(node, G):
    """d maxmask(X) = 0 wherever the arg-max is unique: the mask is piecewise constant (as H(z))"""
    return [E.Zero(*node.args[0].shape)]


# ----- single-channel correlation as typed (issue 15e; nnsym.declare.correlation) -----
# Y[i,j] = sum_ab Xpad[i+a, j+b] K[a,b] is bilinear in (X, K). Its adjoint in K is the correlation of the
# padded input with G; its adjoint in X sends G[i,j] K[a,b] back to X[i+a-p, j+b-p], which is G padded
# by k-1-p (cropped when p > k-1) correlated with K rotated by 180 degrees.


@vjp(Correlate)
def _correlate(node, G):
    """d(X star_p K) = dX star_p K + X star_p dK: dK = X star_p G, dX = G star_{k-1-p} rot180(K)"""
    X, K = node.args
    (kh, kw), (ph, pw) = (int(s) for s in K.shape), node.padding
    return [correlate(G, rot180(K), (kh - 1 - ph, kw - 1 - pw)), correlate(X, G, node.padding)]


@vjp(Rot180)
def _rot180(node, G):
    """d rot180(K) = rot180(dK); rot180 is a permutation that is its own inverse, so its adjoint is itself"""
    return [rot180(G)]


def rule_for(node):
    return VJP.get(type(node))


def describe_missing(node) -> str:
    name = type(node).__name__
    if isinstance(node, Apply):
        name = f"the elementwise function {node.function!r}"
    return name



# ==================================================================================================
# Normalization and attention (issue 14): the statistics of batch/layer norm, the row-wise softmax,
# column blocks of multi-head attention, and named layers (which differentiate as their definition).
# ==================================================================================================



def _spread(A, over):
    """A 1 1^T (each row's sum, across the row) over the batch; 1 1^T A over the features."""
    if over == "batch":
        return E.matmul(E.matmul(A, ones_column(A.cols)), E.transpose(ones_column(A.cols)))
    return E.matmul(ones_column(A.rows), E.matmul(E.transpose(ones_column(A.rows)), A))


def _broadcast(v, like, over):
    """v 1^T (a column per row) over the batch, 1 v (a row per column) over the features."""
    if over == "batch":
        return E.matmul(v, E.transpose(ones_column(like.cols)))
    return E.matmul(ones_column(like.rows), v)


def _per_statistic_factor(G, over):
    """G = (gamma 1^T) o G' with gamma constant along the normalised axis: (gamma, G'), else (None, G).
    gamma commutes with the rule's sums, so it is taken out as the textbooks write it."""
    if isinstance(G, Hadamard):
        for i, side in enumerate(G.args):
            if isinstance(side, MatMul) and isinstance(side.args[1 if over == "batch" else 0], Ones):
                v = side.args[0 if over == "batch" else 1]
                if (over == "batch" and v.cols == 1) or (over == "features" and v.rows == 1):
                    return v, G.args[1 - i]
    return None, G


@vjp(Normalize)
def _normalize(node, G):
    """d x-hat: dZ = (1/N) (1/sigma) o (N dX - dX 1 1^T - x-hat o ((dX o x-hat) 1 1^T)), sums over the N normalised values"""
    (Z,) = node.args
    N = E.Constant(node.count)
    sigma = std(Z, node.over, node.eps)
    gamma, G = _per_statistic_factor(G, node.over)
    factor = E.power(sigma, -1) if gamma is None else E.hadamard_div(gamma, sigma)
    inner = E.add(E.scale(N, G), E.neg(_spread(G, node.over)),
                  E.neg(E.hadamard(node, _spread(E.hadamard(G, node), node.over))))
    return [E.scale(E.power(N, -1), E.hadamard(_broadcast(factor, Z, node.over), inner))]


@vjp(StdDev)
def _std_dev(node, G):
    """d sqrt(var + eps) = (1/N) x-hat o dZ summed over the N normalised values"""
    (Z,) = node.args
    N = E.Constant(Z.cols if node.over == "batch" else Z.rows)
    return [E.scale(E.power(N, -1), E.hadamard(_broadcast(G, Z, node.over), Normalize(Z, node.over, node.eps)))]


@vjp(RowSoftmax)
def _row_softmax(node, G):
    """d softmax_row(S) = P o (dP - ((dP o P) 1) 1^T), P = softmax_row(S) (0 where masked, so dS is too)"""
    P = node
    return [E.hadamard(P, E.add(G, E.neg(_spread(E.hadamard(G, P), "batch"))))]


@vjp(ColumnBlock)
def _column_block(node, G):
    """d A[:, s:e] = the block dA[:, s:e] (the rest of A takes no cotangent)"""
    (A,) = node.args
    return [pad_columns(G, node.start, int(A.cols))]


@vjp(PadColumns)
def _pad_columns(node, G):
    """d pad(A) = pad(dA): A's columns of the cotangent"""
    return [column_block(G, node.start, node.stop)]


@vjp(Composite)
def _composite(node, G):
    """A named layer is its definition."""
    return [G] + [None] * len(node.inputs)
