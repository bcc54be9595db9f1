"""to_sympy of convolution, pooling and correlation (issue 15): written out entry by entry (their geometry
is concrete); each SymPy matrix, evaluated at a random point, equals nnsym's evaluator there, and its
derivative by SymPy equals central differences of nnsym's function written in this test."""

import functools

import numpy as np
import pytest
import sympy

import nnsym as ns
from nnsym.verify.evaluate import evaluate


def _values(*symbols, seed=0):
    rng = np.random.default_rng(seed)
    return {s.name: rng.normal(size=(int(s.rows), int(s.cols))) for s in symbols}


def _at(expr, values):
    """A SymPy matrix's value: symbols by their numbers, each element X[i, j] replaced by its number;
    products multiplied numerically (SymPy's as_explicit of K times a written-out im2col takes seconds)."""
    if isinstance(expr, sympy.MatrixSymbol):
        return values[expr.name]
    if isinstance(expr, sympy.MatMul):
        factors = [_at(a, values) for a in expr.args]
        return functools.reduce(lambda p, q: p @ q if np.ndim(p) and np.ndim(q) else p * q, factors)
    entries = {}
    for name, v in values.items():
        m = sympy.MatrixSymbol(name, *v.shape)
        entries.update({m[i, j]: float(v[i, j]) for i in range(v.shape[0]) for j in range(v.shape[1])})
    if not isinstance(expr, sympy.MatrixBase) and not getattr(expr, "is_Matrix", False):
        return float(expr.xreplace(entries))
    return np.array(sympy.Matrix(expr).xreplace(entries).evalf(), dtype=float)


X, K = ns.matrix("X", 4, 5), ns.matrix("K", 2, 3)
XC, KC = ns.matrix("A", 2, 32), ns.matrix("B", 3, 8)  # two 4x4 images of 2 channels, 2x2 kernels, 3 outputs
CASES = {
    "correlate": (ns.correlate(X, K), (X, K)),
    "correlate full": (ns.correlate(X, ns.rot180(K), padding="full"), (X, K)),
    "conv2d": (ns.conv2d(XC, KC, image=(4, 4), kernel=(2, 2), padding=1), (XC, KC)),
    "max pool": (ns.max_pool2d(XC, 2, image=(4, 4)), (XC,)),
    "avg pool": (ns.avg_pool2d(XC, 2, image=(4, 4)), (XC,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_sympy_equals_the_evaluator(name):
    expr, symbols = CASES[name]
    values = _values(*symbols)
    assert np.allclose(_at(expr.to_sympy(), values), evaluate(expr, values), rtol=1e-12, atol=1e-12)


def test_sympy_differentiates_the_written_out_correlation_like_finite_differences():
    f = ns.sum_entries(ns.hadamard(ns.correlate(X, K), ns.correlate(X, K)))
    values = _values(X, K, seed=3)
    Ks = sympy.MatrixSymbol("K", 2, 3)
    scalar = f.to_sympy().doit()
    by_sympy = np.array([[float(_at(sympy.Matrix([[sympy.diff(scalar, Ks[i, j])]]), values)[0, 0])
                          for j in range(3)] for i in range(2)])
    eps, numeric = 1e-6, np.zeros((2, 3))
    for i in range(2):
        for j in range(3):
            up, down = dict(values), dict(values)
            up["K"], down["K"] = values["K"].copy(), values["K"].copy()
            up["K"][i, j] += eps
            down["K"][i, j] -= eps
            numeric[i, j] = (evaluate(f, up)[0, 0] - evaluate(f, down)[0, 0]) / (2 * eps)
    assert np.allclose(by_sympy, numeric, rtol=1e-6, atol=1e-8)


def test_max_pooling_gradient_goes_to_the_first_maximum_on_ties():
    """The gradient's mask (MaxMask, Upsample) written out: 1 at the first of two tied maxima, as PyTorch."""
    G = ns.matrix("G", 1, 4)  # one 2x2 window
    gradient = ns.grad(ns.sum_entries(ns.max_pool2d(G, 2, image=(2, 2))), G).expression
    tied = {"G": np.array([[1.0, 3.0, 3.0, 0.0]])}
    assert _at(gradient.to_sympy(), tied).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert evaluate(gradient, tied).tolist() == [[0.0, 1.0, 0.0, 0.0]]
