"""The vectorised erf helper (fdlibm's rational approximations) against math.erf.

math.erf is the reference: it is the libm erf, within an ulp. The grid is dense on [-8, 8], where
erf moves, and has the edges of the approximation's intervals (0.84375, 1.25, 1/0.35, 6) to the last
bit either side, tiny values down to the smallest subnormal, huge values, +-0, +-inf and nan.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from nnsym.emit import stable

EDGES = (2.0 ** -28, 0.84375, 1.25, 1 / 0.35, 6.0)


def _grid():
    rng = np.random.default_rng(5)
    positive = [np.linspace(0.0, 8.0, 500_001), rng.uniform(0.0, 7.0, 200_000), np.geomspace(1e-300, 1e-3, 3001),
                np.geomspace(8.0, 1e300, 301), [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]]
    for edge in EDGES:  # 40 floats either side of each interval's edge
        below, above = [edge], [edge]
        for _ in range(40):
            below.append(np.nextafter(below[-1], 0.0))
            above.append(np.nextafter(above[-1], np.inf))
        positive += [below, above]
    x = np.concatenate([np.asarray(part, dtype=float) for part in positive])
    return np.sort(np.concatenate([-x, x]))


def _relative_error(got, want):
    return np.abs(got - want) / np.maximum(np.abs(want), np.finfo(float).tiny)


def test_erf_matches_math_erf_on_a_dense_grid():
    x = _grid()
    got = stable.erf(x)
    want = np.vectorize(math.erf, otypes=[float])(x)
    assert got.shape == x.shape and got.dtype == np.float64
    error = _relative_error(got, want)
    assert error.max() <= 1e-14, (error.max(), x[np.argmax(error)])
    # In fact within one ulp everywhere (the subnormals too, by their own spacing).
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))


def test_erf_is_odd_and_monotone():
    x = _grid()  # sorted
    y = stable.erf(x)
    np.testing.assert_array_equal(stable.erf(-x), -y)
    assert np.all(np.diff(y) >= 0.0)
    assert np.all(np.abs(y) <= 1.0)


def test_erf_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 5e-324, -5e-324, 6.0, -6.0, 1e300])
    with np.errstate(all="raise"):  # no spurious flag, not even underflow for the tiny ones
        y = stable.erf(x)
    np.testing.assert_array_equal(y[:4], [0.0, -0.0, 1.0, -1.0])
    assert not np.signbit(y[0]) and np.signbit(y[1])  # erf(-0) = -0
    assert np.isnan(y[4])
    np.testing.assert_array_equal(y[5:], [math.erf(v) for v in x[5:]])  # 1.128e-300: not flushed to 0


def test_erf_keeps_shape_and_takes_scalars_lists_and_views():
    x = np.linspace(-3.0, 3.0, 24).reshape(4, 6)
    want = np.vectorize(math.erf, otypes=[float])(x)
    for view, expected in ((x, want), (x.T, want.T), (x[:, ::2], want[:, ::2]), (x[:0], want[:0])):
        got = stable.erf(view)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    assert float(stable.erf(0.5)) == math.erf(0.5)
    np.testing.assert_allclose(stable.erf([1, 2]), [math.erf(1), math.erf(2)], rtol=1e-15)
    assert np.array_equal(x, np.linspace(-3.0, 3.0, 24).reshape(4, 6))  # the argument is left alone


def test_erf_source_is_self_contained():
    """Generated modules copy the helper's source: it must run with nothing but np (and math) around it."""
    namespace = {"np": np, "math": math}
    exec(inspect.getsource(stable.erf), namespace)
    x = np.array([-2.0, -0.5, 0.0, 1e-8, 1.0, 3.0, 7.0])
    np.testing.assert_array_equal(namespace["erf"](x), stable.erf(x))
