"""Evaluate an expression with NumPy, directly from the nodes (no generated code).

This is the reference the generated NumPy code is tested against, and what the LaTeX round trip
and the claim checker evaluate. Values are keyed by symbol name (its LaTeX) and given as arrays of
the symbol's shape (a vector may be passed flat); scalars may be floats.
"""

from __future__ import annotations

from typing import Dict, Mapping

import numpy as np

from nnsym.declare.expressions import Apply, Expr, Symbol, post_order, show_shape
from nnsym.emit import correlate_numpy, spatial, stable
from nnsym.errors import InputError, MissingRuleError


def _size(value, sizes):
    if value.is_Integer:
        return int(value)
    if value in sizes:
        return sizes[value]
    known = int(value.subs(sizes)) if value.free_symbols <= set(sizes) else None
    if known is None:
        raise InputError(f"size {value} is symbolic; give it a value (sizes={{'{value}': ...}})")
    return known


def concrete_shape(node: Expr, sizes: Mapping) -> tuple:
    return (_size(node.rows, sizes), _size(node.cols, sizes))


def _binding(symbol: Symbol, values: Mapping, sizes: dict):
    if symbol.name not in values:
        raise InputError(f"no value given for {symbol.name}")
    try:
        array = np.asarray(values[symbol.name], dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(f"the value of {symbol.name} is not an array of numbers: {error}") from None
    if symbol.kind == "scalar":
        if array.size != 1:
            raise InputError(f"{symbol.name} is a scalar, got an array of shape {array.shape}")
        return array.reshape(1, 1)
    if array.ndim == 1 and symbol.kind == "vector":
        array = array.reshape(-1, 1)
    # Symbolic sizes are learnt from the first value that fixes them.
    for size, actual in zip(symbol.shape, array.shape):
        if not size.is_Integer and size.is_Symbol and size not in sizes:
            sizes[size] = actual
    expected = concrete_shape(symbol, sizes) if array.ndim == 2 else None
    if expected != array.shape:
        raise InputError(f"{symbol.name} should be {show_shape(symbol.shape)}, got an array of shape {array.shape}")
    return array


_ELEMENTWISE = {
    "sigmoid": stable.sigmoid,
    "tanh": np.tanh,
    "relu": stable.relu,
    "leaky_relu": stable.leaky_relu,
    "softplus": stable.softplus,
    "elu": stable.elu,
    "gelu": stable.gelu,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sigmoid_prime": stable.sigmoid_prime,
    "tanh_prime": stable.tanh_prime,
    "heaviside": stable.heaviside,
    "leaky_relu_prime": stable.leaky_relu_prime,
    "elu_prime": stable.elu_prime,
    "step_nonpositive": stable.step_nonpositive,
    "gelu_prime": stable.gelu_prime,
    "normal_pdf": stable.normal_pdf,
    "log_sigmoid": stable.log_sigmoid,  # issue 10: a canonical form
}


class Evaluator:
    """One evaluation: memoised per node, so shared subexpressions are computed once."""

    def __init__(self, values: Mapping, sizes: Mapping | None = None):
        self.values = values
        self.sizes: Dict = dict(sizes or {})
        self.memo: Dict[Expr, np.ndarray] = {}

    def __call__(self, node: Expr) -> np.ndarray:
        for current in post_order([node], seen=self.memo):
            method = getattr(self, "_" + type(current).__name__, None)
            if method is None:
                raise MissingRuleError(f"no evaluation rule for {type(current).__name__}")
            args = [self.memo[child] for child in current.args]
            value = np.asarray(method(current, *args), dtype=float)
            self.memo[current] = value.reshape(1, 1) if value.ndim == 0 else value
        return self.memo[node]

    # ----- leaves -----
    def _Symbol(self, node):
        return _binding(node, self.values, self.sizes)

    def _Constant(self, node):
        # A constant may be a size (the 1/B of a batch mean): its value comes with the sizes.
        value = node.value
        return np.full((1, 1), float(value if value.is_number else value.subs(self.sizes)))

    def _Identity(self, node):
        return np.eye(_size(node.rows, self.sizes))

    def _Ones(self, node):
        return np.ones(concrete_shape(node, self.sizes))

    def _Zero(self, node):
        return np.zeros(concrete_shape(node, self.sizes))

    def _Named(self, node, value):
        return value

    # ----- algebra -----
    def _MatMul(self, node, a, b):
        return a @ b

    def _Add(self, node, *terms):
        return sum(terms[1:], terms[0])

    def _Scale(self, node, c, a):
        return c[0, 0] * a

    def _Transpose(self, node, a):
        return a.T

    def _Hadamard(self, node, a, b):
        return a * b

    def _HadamardDiv(self, node, a, b):
        return a / b

    def _Kronecker(self, node, a, b):
        return np.kron(a, b)

    def _Power(self, node, a):
        p = node.exponent
        return np.sqrt(a) if p == 0.5 else a ** float(p)

    def _Apply(self, node, a):
        function = node.function
        operand = node.args[0]
        # log sigma(z) as -logaddexp(0, -z), as generated code computes it: finite at z = -1000.
        if function.name == "log" and isinstance(operand, Apply) and operand.function.name == "sigmoid":
            return stable.log_sigmoid(self.memo[operand.args[0]])
        implementation = _ELEMENTWISE[function.name]
        if function.parameter is not None:
            return implementation(a, float(function.parameter))
        return implementation(a)

    # ----- softmax family -----
    def _Softmax(self, node, z):
        return stable.softmax(z)

    def _LogSoftmax(self, node, z):
        return stable.log_softmax(z)

    def _LogSumExp(self, node, z):
        return stable.logsumexp(z)

    def _SoftmaxCrossEntropy(self, node, z, y):
        return stable.softmax_cross_entropy(z, y)

    def _BinaryCrossEntropy(self, node, z, y):
        return stable.binary_cross_entropy(z, y)

    # ----- reductions and matrix functions -----
    def _Trace(self, node, a):
        return np.trace(a)

    def _Det(self, node, a):
        return np.linalg.det(a)

    def _LogDet(self, node, a):
        return stable.logdet(a)

    def _Inverse(self, node, a):
        return np.linalg.inv(a)

    def _Diag(self, node, v):
        return np.diag(v[:, 0])

    def _DiagPart(self, node, a):
        return np.diag(a).reshape(-1, 1)

    def _Sum(self, node, a):
        return np.sum(a)

    def _NormSq(self, node, a):
        return np.sum(a * a)

    def _Norm(self, node, a):
        return np.sqrt(np.sum(a * a))


    # ----- convolution and pooling (issue 15; nnsym.declare.convolution) -----
    def _Im2col(self, node, x):
        g = node.geometry
        return spatial.im2col(x, *g.kernel, *g.image, *g.padding)

    def _Col2im(self, node, columns):
        g = node.geometry
        return spatial.col2im(columns, *g.kernel, *g.image, *g.padding)

    def _MaxPool(self, node, x):
        return spatial.max_pool(x, *node.geometry.kernel, *node.geometry.image)

    def _AvgPool(self, node, x):
        return spatial.avg_pool(x, *node.geometry.kernel, *node.geometry.image)

    def _MaxMask(self, node, x):
        return spatial.max_mask(x, *node.geometry.kernel, *node.geometry.image)

    def _Upsample(self, node, g):
        return spatial.upsample(g, *node.geometry.kernel, *node.geometry.image)

    # ----- single-channel correlation as typed (issue 15e; nnsym.declare.correlation) -----
    def _Correlate(self, node, x, k):
        return correlate_numpy.correlate(x, k, *node.padding)

    def _Rot180(self, node, k):
        return k[::-1, ::-1]

    # ----- normalization and attention (issue 14) -----
    def _Normalize(self, node, z):
        return stable.standardize(z, 1 if node.over == "batch" else 0, float(node.eps))

    def _StdDev(self, node, z):
        return stable.std_dev(z, 1 if node.over == "batch" else 0, float(node.eps))

    def _RowSoftmax(self, node, s):
        return stable.causal_row_softmax(s) if node.causal else stable.row_softmax(s)

    def _ColumnBlock(self, node, a):
        return a[:, node.start:node.stop]

    def _PadColumns(self, node, g):
        return np.pad(g, ((0, 0), (node.start, node.total - node.stop)))

    def _Composite(self, node, value, *inputs):
        return value


def evaluate(expr: Expr, values: Mapping, sizes: Mapping | None = None) -> np.ndarray:
    """The value of ``expr`` as a 2-D array (a scalar as 1 x 1)."""
    return Evaluator(values, sizes)(expr)
