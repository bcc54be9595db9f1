"""The elementwise oracle: write every matrix out as SymPy entries, differentiate entry by entry.

At small concrete sizes each symbol becomes a `sympy.Matrix` of scalar symbols, the function a SymPy
scalar, and dL/dW_ij = sympy.diff(L, W_ij). This shares nothing with the closed-form engine (no
rules table, no matrix identities), so agreement between the two is independent evidence. It grows
faster than n^4 (FINDINGS.md), so it is an oracle for n <= 8, never the engine.
"""

from __future__ import annotations

from typing import Dict, Mapping

import numpy as np
import sympy

from nnsym.declare.expressions import Expr, Symbol
from nnsym.declare.functions import scalar_definition
from nnsym.errors import InputError, MissingRuleError
from nnsym.verify.evaluate import concrete_shape
from nnsym.verify.finite_differences import Report
from nnsym.verify.points import random_point, small_sizes, symbols_of

MAX_ORACLE_ENTRIES = 64
ORACLE_SIZES = (3, 2)


def entry_symbols(symbol: Symbol, sizes: Mapping, prefix: str) -> sympy.Matrix:
    # Entries are named as Python identifiers (prefix_i_j, one prefix per symbol): lambdify replaces a
    # name that is not one (W^{(1)}[0,0]) by walking the whole unshared expression tree, which took
    # a 2-3-3 ELU network with a batch of 4 from seconds to 110 s.
    rows, cols = concrete_shape(symbol, sizes)
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{prefix}_{i}_{j}", real=True))


def _softmax_column(column):
    exps = column.applyfunc(sympy.exp)
    return exps / sum(exps)


def _standardized(z, over, eps):
    """(x-hat, sigma) written out: each row (over the batch) or column (over the features) centred and
    divided by sqrt(biased variance + eps)."""
    lines = [z[i, :] for i in range(z.rows)] if over == "batch" else [z[:, j] for j in range(z.cols)]
    hats, sigmas = [], []
    for line in lines:
        mean = sum(line) / len(line)
        sigma = sympy.sqrt(sum((v - mean) ** 2 for v in line) / len(line) + eps)
        hats.append(line.applyfunc(lambda v: (v - mean) / sigma))
        sigmas.append(sigma)
    if over == "batch":
        return sympy.Matrix.vstack(*hats), sympy.Matrix(sigmas)
    return sympy.Matrix.hstack(*hats), sympy.Matrix([sigmas])


class ToSympy:
    """Expression -> explicit `sympy.Matrix` of entries."""

    def __init__(self, sizes: Mapping, entries: Dict[Symbol, sympy.Matrix]):
        self.sizes = sizes
        self.entries = entries
        self.memo: Dict[Expr, sympy.Matrix] = {}

    def __call__(self, node: Expr) -> sympy.Matrix:
        if node not in self.memo:
            method = getattr(self, "_" + type(node).__name__, None)
            if method is None:
                raise MissingRuleError(f"the elementwise oracle has no rule for {type(node).__name__}")
            self.memo[node] = method(node, *[self(child) for child in node.args])
        return self.memo[node]

    def shape(self, node):
        return concrete_shape(node, self.sizes)

    def _Symbol(self, node):
        return self.entries[node]

    def _Constant(self, node):
        return sympy.Matrix([[node.value.subs(self.sizes)]])

    def _Identity(self, node):
        return sympy.eye(self.shape(node)[0])

    def _Ones(self, node):
        return sympy.ones(*self.shape(node))

    def _Zero(self, node):
        return sympy.zeros(*self.shape(node))

    def _Named(self, node, a):
        return a

    def _MatMul(self, node, a, b):
        return a * b

    def _Add(self, node, *terms):
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out

    def _Scale(self, node, c, a):
        return c[0, 0] * a

    def _Transpose(self, node, a):
        return a.T

    def _Hadamard(self, node, a, b):
        return a.multiply_elementwise(b)

    def _HadamardDiv(self, node, a, b):
        return sympy.Matrix(a.rows, a.cols, lambda i, j: a[i, j] / b[i, j])

    def _Kronecker(self, node, a, b):
        return sympy.kronecker_product(a, b)

    def _Power(self, node, a):
        return a.applyfunc(lambda v: v ** node.exponent)

    def _Apply(self, node, a):
        return a.applyfunc(lambda v: scalar_definition(node.function, v))

    def _Softmax(self, node, z):
        return sympy.Matrix.hstack(*[_softmax_column(z[:, j]) for j in range(z.cols)])

    def _LogSoftmax(self, node, z):
        return self._Softmax(node, z).applyfunc(sympy.log)

    def _LogSumExp(self, node, z):
        return sympy.Matrix([[sympy.log(sum(z[:, j].applyfunc(sympy.exp))) for j in range(z.cols)]])

    def _SoftmaxCrossEntropy(self, node, z, y):
        log_p = self._LogSoftmax(node, z)
        return sympy.Matrix([[-sum(y.multiply_elementwise(log_p))]])

    def _BinaryCrossEntropy(self, node, z, y):
        p = z.applyfunc(lambda v: 1 / (1 + sympy.exp(-v)))
        total = sum(y[k] * sympy.log(p[k]) + (1 - y[k]) * sympy.log(1 - p[k]) for k in range(len(y)))
        return sympy.Matrix([[-total]])

    def _Trace(self, node, a):
        return sympy.Matrix([[a.trace()]])

    def _Det(self, node, a):
        return sympy.Matrix([[a.det(method="berkowitz")]])

    def _LogDet(self, node, a):
        return sympy.Matrix([[sympy.log(a.det(method="berkowitz"))]])

    def _Inverse(self, node, a):
        return a.inv(method="ADJ")

    def _Diag(self, node, v):
        return sympy.diag(*list(v))

    def _DiagPart(self, node, a):
        return sympy.Matrix([a[i, i] for i in range(a.rows)])

    def _Sum(self, node, a):
        return sympy.Matrix([[sum(a)]])

    def _NormSq(self, node, a):
        return sympy.Matrix([[sum(v ** 2 for v in a)]])

    def _Norm(self, node, a):
        return sympy.Matrix([[sympy.sqrt(sum(v ** 2 for v in a))]])


    # ----- normalization and attention (issue 14) -----
    def _Normalize(self, node, z):
        return _standardized(z, node.over, node.eps)[0]

    def _StdDev(self, node, z):
        return _standardized(z, node.over, node.eps)[1]

    def _RowSoftmax(self, node, s):
        rows = []
        for i in range(s.rows):
            kept = range(min(i + 1, s.cols)) if node.causal else range(s.cols)
            exps = [sympy.exp(s[i, j]) for j in kept]
            total = sum(exps)
            rows.append([exps[j] / total if j < len(exps) else sympy.Integer(0) for j in range(s.cols)])
        return sympy.Matrix(rows)

    def _ColumnBlock(self, node, a):
        return a[:, node.start:node.stop]

    def _PadColumns(self, node, g):
        return sympy.Matrix.hstack(sympy.zeros(g.rows, node.start), g, sympy.zeros(g.rows, node.total - node.stop))

    def _Composite(self, node, value, *inputs):
        return value


def elementwise_gradient(f: Expr, symbol: Symbol, sizes: Mapping, entries: Dict) -> sympy.Matrix:
    """dL/dW by differentiating the written-out scalar L by each entry of W."""
    scalar = ToSympy(sizes, entries)(f)[0, 0]
    return entries[symbol].applyfunc(lambda w: sympy.diff(scalar, w))


def _heaviside(x, at_zero=0.0):
    return 1.0 if x > 0 else (float(at_zero) if x == 0 else 0.0)


_SCALAR_MODULES = [{"Heaviside": _heaviside}, "math"]


def check_elementwise(f: Expr, gradients: Mapping[Symbol, Expr], points: int = 2, seed: int = 1,
                      sizes: Mapping | None = None, rtol: float = 1e-9, atol: float = 1e-9) -> Report:
    """Compare closed forms with the entry-by-entry SymPy derivative at random points."""
    symbols = symbols_of(f, *gradients.values(), *gradients)
    # Smaller sizes than the numerical checks use: the written-out expressions grow fast.
    sizes = small_sizes(symbols, sizes, choices=ORACLE_SIZES)
    if sum(np.prod(concrete_shape(s, sizes)) for s in symbols) > MAX_ORACLE_ENTRIES:
        raise InputError(f"too many entries for the elementwise oracle (more than {MAX_ORACLE_ENTRIES})")
    entries = {s: entry_symbols(s, sizes, f"v{k}") for k, s in enumerate(symbols)}
    flat = [v for s in symbols for v in entries[s]]
    converter = ToSympy(sizes, entries)
    rng = np.random.default_rng(seed)
    worst = (0.0, 0.0, None, None)
    ok = True
    for variable, closed_form in gradients.items():
        oracle = elementwise_gradient(f, variable, sizes, entries)
        # Scalar code (Python's math), entry by entry: differentiated ReLUs nest Piecewise conditions
        # inside conditions, which the NumPy printer writes as np.select calls NumPy refuses.
        pair = sympy.lambdify(flat, [oracle.tolist(), converter(closed_form).tolist()], modules=_SCALAR_MODULES)
        for _ in range(points):
            values = random_point([f], symbols, sizes, rng)
            arguments = [float(values[s.name][index]) for s in symbols for index in np.ndindex(*values[s.name].shape)]
            expected, actual = (np.array(m, dtype=float) for m in pair(*arguments))
            error = np.abs(expected - actual)
            ok &= bool(np.all(error <= atol + rtol * np.abs(expected)))
            index = np.unravel_index(np.argmax(error), error.shape)
            rel = float(np.max(error / np.maximum(np.abs(expected), 1e-12)))
            if error[index] >= worst[0]:
                worst = (float(error[index]), max(rel, worst[1]), variable.name, tuple(int(i) for i in index))
    return Report(ok, points, worst[0], worst[1], worst[2], worst[3], "elementwise SymPy derivation")
