"""High-precision reference values: an expression written out entry by entry (nnsym's elementwise
oracle, `ToSympy`, which shares no rule with the engine) and evaluated with mpmath.

SymPy's evalf is not used: on a sum of a dozen logarithms of 1 - 1/(1 + e^{-1000}) it returned 427
for a true 1002. The walk below evaluates each SymPy node with mpmath at 1200 significant digits, more
than the cancellation of 1 - sigma(1000) (434 digits) needs, so the result is exact to far beyond the
50 digits compared.
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy

from nnsym.verify.elementwise import ToSympy, entry_symbols

DIGITS = 1200

_FUNCTIONS = {
    sympy.exp: mpmath.exp, sympy.log: mpmath.log, sympy.tanh: mpmath.tanh, sympy.erf: mpmath.erf,
    sympy.sqrt: mpmath.sqrt, sympy.Abs: abs,
}


def _mp(expr, values, memo):
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        out = values[expr]
    elif expr.is_Integer:
        out = mpmath.mpf(int(expr))
    elif expr.is_Rational:
        out = mpmath.mpf(int(expr.p)) / int(expr.q)
    elif expr.is_Float:
        out = mpmath.mpf(str(expr))
    elif expr is sympy.pi:
        out = mpmath.pi
    elif expr is sympy.E:
        out = mpmath.e
    elif expr.is_Add:
        out = mpmath.fsum(_mp(a, values, memo) for a in expr.args)
    elif expr.is_Mul:
        out = mpmath.fprod(_mp(a, values, memo) for a in expr.args)
    elif expr.is_Pow:
        out = mpmath.power(_mp(expr.args[0], values, memo), _mp(expr.args[1], values, memo))
    elif expr.func in _FUNCTIONS:
        out = _FUNCTIONS[expr.func](*[_mp(a, values, memo) for a in expr.args])
    else:
        raise NotImplementedError(f"no mpmath rule for {expr.func}")
    memo[expr] = out
    return out


def reference(expr, values, symbols=None):
    """``expr`` at ``values`` (name -> array): an array of mpmath numbers (mpc where not real)."""
    symbols = sorted(symbols or expr.free_symbols(), key=lambda s: s.name)
    sizes = {d: n for s in symbols for d, n in zip(s.shape, np.shape(values[s.name])) if not d.is_Integer}
    entries = {s: entry_symbols(s, sizes, f"v{k}") for k, s in enumerate(symbols)}
    written = ToSympy(sizes, entries)(expr)
    with mpmath.workdps(DIGITS):
        bound = {entries[s][i, j]: mpmath.mpf(float(values[s.name][i, j]))
                 for s in symbols for i in range(entries[s].rows) for j in range(entries[s].cols)}
        memo = {}
        return np.array([[_mp(v, bound, memo) for v in row] for row in written.tolist()], dtype=object)


def agrees(got, expected, rtol=1e-8) -> bool:
    """float64 ``got`` within ``rtol`` relative of the reference where the reference is a finite
    double (below 1e-300 it is compared absolutely: it underflows); non-finite ``got`` fails."""
    got = np.asarray(got, dtype=float).reshape(expected.shape)
    for value, ref in zip(got.ravel(), expected.ravel()):
        if isinstance(ref, mpmath.mpc) and abs(ref.imag) > 0:
            continue  # not a real value here: nothing to compare
        ref = mpmath.mpf(ref.real) if isinstance(ref, mpmath.mpc) else ref
        if abs(ref) > 1e300:
            continue
        if not np.isfinite(value) or abs(mpmath.mpf(value) - ref) > rtol * abs(ref) + mpmath.mpf("1e-300"):
            return False
    return True


def finite(expected) -> bool:
    """Whether the reference is a real, finite double everywhere."""
    for ref in expected.ravel():
        if isinstance(ref, mpmath.mpc) and abs(ref.imag) > 0:
            return False
        ref = ref.real if isinstance(ref, mpmath.mpc) else ref
        if not mpmath.isfinite(ref) or abs(ref) > 1e300:
            return False
    return True
