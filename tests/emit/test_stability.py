"""Numerical stability (issue 5): the stable primitives, the evaluator and the generated NumPy code are
finite for |z| <= 1000 and within 1e-12 relative error of mpmath at 50 digits.

A value below 1e-300 counts as zero: float64 cannot hold sigma(-1000) = 5e-435, and no caller can
tell 3e-308 from it. The grid has the places where naive formulas fail: +-1000 (overflow), +-40
(1 - sigma(40) rounds to 0), +-1e-8 and 0 (cancellation near the middle).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.functions import apply
from nnsym.derive.reverse import cotangents
from nnsym.emit import stable
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.emit.standalone import load

mpmath.mp.dps = 50
GRID = [-1000.0, -800.0, -100.0, -40.0, -20.0, -9.0, -6.5, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 40.0, 100.0, 800.0, 1000.0]
RTOL, FLOOR = 1e-12, 1e-300
# Columns for the vector functions: dominated by one entry, ties, huge spreads, all tiny.
COLUMNS = [[0.0, -40.0], [40.0, 0.0], [1000.0, 1000.0, 0.0], [-1000.0, 1000.0], [-1000.0, -1000.0], [1e-8, -1e-8, 0.0],
           [0.0, 0.0], [1.0, 2.0, 3.0], [-800.0, -799.0], [1000.0, 999.0, -1000.0], [5.0], [-40.0, 40.0, 0.0, 1e-8],
           [40.0], [-40.0]]  # one logit: binary cross-entropy of a confident answer, right (4.2e-18) and wrong


def sig(z):
    return 1 / (1 + mpmath.exp(-z))


def softplus(z):
    return mpmath.log1p(mpmath.exp(z))


def lse(column):
    return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in column))


SCALAR_REFERENCES = {
    "sigmoid": sig,
    "softplus": softplus,
    "log_sigmoid": lambda z: -softplus(-z),
    "sigmoid_prime": lambda z: sig(z) * sig(-z),
    "tanh_prime": lambda z: 1 / mpmath.cosh(z) ** 2,
    # GELU's left tail: (1 + erf(z / sqrt 2)) / 2 is 0 below -8.3, so GELU(-9) was 0 (is -1.0e-18)
    "gelu": lambda z: z * mpmath.ncdf(z),
    "gelu_prime": lambda z: mpmath.ncdf(z) + z * mpmath.npdf(z),
    "normal_cdf": mpmath.ncdf,
}


def close(actual, expected) -> bool:
    """Within RTOL of the 50-digit value, or both below FLOOR."""
    actual, expected = float(actual), mpmath.mpf(expected)
    if not np.isfinite(actual):
        return False
    if abs(expected) < FLOOR:
        return abs(actual) < FLOOR
    return abs(mpmath.mpf(actual) - expected) <= RTOL * abs(expected)


def mp(values):
    return [mpmath.mpf(v) for v in values]


def vector_references(column, target):
    """logsumexp, log_softmax, softmax cross-entropy and binary cross-entropy of one column."""
    z = mp(column)
    total = lse(z)
    y = mp(target)
    return {
        "logsumexp": [total],
        "log_softmax": [v - total for v in z],
        "softmax_cross_entropy": [-mpmath.fsum(t * (v - total) for t, v in zip(y, z))],
        "binary_cross_entropy": [mpmath.fsum(t * softplus(-v) + (1 - t) * softplus(v) for t, v in zip(y, z))],
    }


def targets(column):
    """A one-hot target on each entry and a soft one: cross-entropies near 0 and far from it."""
    n = len(column)
    hot = [list(np.eye(n)[k]) for k in range(n)]
    return hot + [[1.0 / n] * n]


# ----- the helpers themselves ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCALAR_REFERENCES))
def test_elementwise_helpers_are_finite_and_accurate(name):
    helper = getattr(stable, name)
    values = helper(np.array(GRID).reshape(-1, 1))
    bad = [(z, float(v)) for z, v in zip(GRID, values.ravel()) if not close(v, SCALAR_REFERENCES[name](mpmath.mpf(z)))]
    assert not bad, bad


def test_erf_family_keeps_its_digits_on_large_arrays():
    """Past 64 entries erf/erfc run fdlibm's rational approximations on whole arrays (below, C's math.erf
    entry by entry): both paths, each entry against 50 digits."""
    z = np.tile(np.array(GRID + [-27.5, -6.0, -1.2, -0.5, 0.5, 1.2, 6.0, 27.5]), 8).reshape(-1, 1)
    references = {"erf": mpmath.erf, "erfc": mpmath.erfc, **SCALAR_REFERENCES}
    bad = [(name, float(x), float(v)) for name, reference in references.items()
           for x, v in zip(z.ravel(), getattr(stable, name)(z).ravel()) if not close(v, reference(mpmath.mpf(x)))]
    assert z.size > 64 and not bad, bad[:5]


def test_vector_helpers_are_finite_and_accurate():
    bad = []
    for column in COLUMNS:
        z = np.array(column).reshape(-1, 1)
        for target in targets(column):
            y = np.array(target).reshape(-1, 1)
            got = {"logsumexp": stable.logsumexp(z).ravel(), "log_softmax": stable.log_softmax(z).ravel(),
                   "softmax_cross_entropy": [stable.softmax_cross_entropy(z, y)],
                   "binary_cross_entropy": [stable.binary_cross_entropy(z, y)]}
            for name, expected in vector_references(column, target).items():
                for a, e in zip(got[name], expected):
                    if not close(a, e):
                        bad.append((name, column, target, float(a), float(e)))
    assert not bad, bad[:5]


def test_column_helpers_work_column_by_column():
    """A batch of columns gives each column's own value (the shift is per column)."""
    Z = np.array([[1000.0, 0.0, -3.0], [0.0, -40.0, 2.0]])
    for k in range(Z.shape[1]):
        column = Z[:, k:k + 1]
        np.testing.assert_array_equal(stable.logsumexp(Z)[:, k:k + 1], stable.logsumexp(column))
        np.testing.assert_array_equal(stable.log_softmax(Z)[:, k:k + 1], stable.log_softmax(column))


def test_the_naive_forms_would_fail_here():
    """The grid is not too easy: the textbook formulas overflow or cancel on it."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        z = np.array(GRID)
        assert not np.all(np.isfinite(np.log(1.0 / (1.0 + np.exp(-z)))))  # log sigma(-1000) = -inf
        assert not close(np.log1p(np.exp(40.0)) - 40.0, softplus(mpmath.mpf(-40)))  # cancellation
        column = np.array([1000.0, 1000.0, 0.0])
        assert not np.all(np.isfinite(np.log(np.sum(np.exp(column)))))


# ----- the same functions through nnsym: evaluator and generated code --------------------------------


def _generated(expression):
    return compile_function(write_function("f", {"": expression}))


def test_generated_code_and_evaluator_are_finite_and_accurate_elementwise():
    z = ns.vector("z", len(GRID))
    functions = {"sigmoid": ns.sigmoid(z), "softplus": ns.softplus(z), "log_sigmoid": ns.log(ns.sigmoid(z)),
                 "gelu": ns.gelu(z)}
    values = np.array(GRID).reshape(-1, 1)
    bad = []
    for name, expression in functions.items():
        for how, got in (("code", _generated(expression)(z=values)), ("evaluate", ns.evaluate(expression, {"z": values}))):
            for x, v in zip(GRID, np.asarray(got).ravel()):
                if not close(v, SCALAR_REFERENCES[name](mpmath.mpf(x))):
                    bad.append((name, how, x, float(v)))
    assert not bad, bad


def test_generated_code_and_evaluator_are_finite_and_accurate_for_vectors():
    bad = []
    for column in COLUMNS:
        n = len(column)
        z, y = ns.vector("z", n), ns.vector("y", n, assume="probability")
        expressions = {"logsumexp": ns.logsumexp(z), "log_softmax": ns.log_softmax(z),
                       "softmax_cross_entropy": ns.softmax_cross_entropy(z, y),
                       "binary_cross_entropy": ns.binary_cross_entropy(z, y)}
        for target in targets(column):
            values = {"z": np.array(column).reshape(-1, 1), "y": np.array(target).reshape(-1, 1)}
            expected = vector_references(column, target)
            for name, expression in expressions.items():
                arguments = {k: v for k, v in values.items() if k in {s.name for s in expression.free_symbols()}}
                for how, got in (("code", _generated(expression)(**arguments)),
                                 ("evaluate", ns.evaluate(expression, arguments))):
                    for a, e in zip(np.asarray(got, dtype=float).ravel(), expected[name]):
                        if not close(a, e):
                            bad.append((name, how, column, target, float(a), float(e)))
    assert not bad, bad[:5]


def test_gradients_of_the_losses_stay_finite_at_the_extremes():
    """The derived gradients (sigma(z) - y, softmax(z) - y) evaluate finitely where the logits are huge."""
    z, y = ns.vector("z", 3), ns.vector("y", 3, assume="probability")
    for loss in (ns.softmax_cross_entropy(z, y), ns.binary_cross_entropy(z, y)):
        gradient = ns.grad(loss, z, oracle=False).to_numpy()
        got = gradient(z=np.array([1000.0, -1000.0, 0.0]), y=np.array([0.2, 0.3, 0.5]))
        assert np.all(np.isfinite(got)), got



# ----- the JAX and PyTorch twins of the helpers (copied into exported modules) -----------------------

def _bound(library):
    """The helpers of `stable_jax` or `stable_torch`, bound to the library as an exported module binds them
    (float64: JAX with x64 on), and a converter from NumPy arrays."""
    import inspect
    import math

    from nnsym.emit import stable_jax, stable_torch

    if library == "jax":
        jax = pytest.importorskip("jax")
        import jax.numpy as jnp
        namespace, module, convert = {"jax": jax, "jnp": jnp}, stable_jax, jnp.asarray
    else:
        torch = pytest.importorskip("torch")
        namespace, module = {"torch": torch, "math": math}, stable_torch
        convert = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    for name, function in inspect.getmembers(module, inspect.isfunction):
        exec(inspect.getsource(function), namespace)  # noqa: S102 - nnsym's own source
    return namespace, convert


def _double(library):
    """float64 for the block: JAX's x64 switch as a context manager (it is global state otherwise)."""
    import contextlib
    if library != "jax":
        return contextlib.nullcontext()
    import jax
    manager = getattr(jax, "enable_x64", None)
    if manager is None:
        from jax.experimental import enable_x64 as manager
    return manager(True)


def _numbers(values):
    return np.asarray(values, dtype=float).ravel()


@pytest.mark.parametrize("library", ["jax", "torch"])
def test_jax_and_torch_helpers_are_finite_and_accurate(library):
    """The same grid, columns and tolerance as the NumPy helpers. (JAX's and PyTorch's log-softmax,
    logsumexp and the softplus(z) - y z form of binary cross-entropy used to return 0 where the answer is
    4.2e-18: log of a rounded sum, and cancellation.)"""
    helpers, convert = _bound(library)
    bad = []
    with _double(library):
        for name, reference in SCALAR_REFERENCES.items():
            values = _numbers(helpers[name](convert(np.array(GRID).reshape(-1, 1))))
            bad += [(name, z, v) for z, v in zip(GRID, values) if not close(v, reference(mpmath.mpf(z)))]
        for column in COLUMNS:
            z = convert(np.array(column).reshape(-1, 1))
            for target in targets(column):
                y = convert(np.array(target).reshape(-1, 1))
                got = {"logsumexp": _numbers(helpers["logsumexp"](z)), "log_softmax": _numbers(helpers["log_softmax"](z)),
                       "softmax_cross_entropy": _numbers(helpers["softmax_cross_entropy"](z, y)),
                       "binary_cross_entropy": _numbers(helpers["binary_cross_entropy"](z, y))}
                for name, expected in vector_references(column, target).items():
                    bad += [(name, column, target, float(a)) for a, e in zip(got[name], expected) if not close(a, e)]
    assert not bad, bad[:5]


@pytest.mark.parametrize("library", ["jax", "torch"])
def test_autodiff_through_the_helpers_gives_softmax(library):
    """Differentiating the exported forward pass with the library's own autodiff stays right: the gradient
    of logsumexp is softmax, also where maxima tie (the masked form needs the maximum's own derivative)."""
    helpers, convert = _bound(library)
    with _double(library):
        for column in ([1000.0, 1000.0, 0.0], [3.0, 1.0, -2.0], [0.0, 0.0], [-1000.0, 1000.0]):
            z = np.array(column).reshape(-1, 1)
            e = np.exp(z - z.max())
            softmax = (e / e.sum()).ravel()
            if library == "jax":
                import jax
                grad = jax.grad(lambda v: helpers["logsumexp"](v).sum())(convert(z))
                jacobian_row = jax.grad(lambda v: helpers["log_softmax"](v)[0, 0])(convert(z))
            else:
                v = convert(z).requires_grad_()
                helpers["logsumexp"](v).sum().backward()
                grad = v.grad
                w = convert(z).requires_grad_()
                helpers["log_softmax"](w)[0, 0].backward()
                jacobian_row = w.grad
            np.testing.assert_allclose(_numbers(grad), softmax, rtol=1e-14, atol=1e-300)
            np.testing.assert_allclose(_numbers(jacobian_row), np.eye(len(column))[0] - softmax, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("library", ["jax", "torch"])
def test_exported_jax_and_torch_losses_are_exact_at_1000(library):
    """An exported XOR module's loss when the logit is +-1000: two of four examples wrong by 1000 each."""
    from nnsym.emit.standalone import load
    pytest.importorskip(library)
    net = ns.network([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy", batch=4, mean=True)
    module = load(ns.export(net, target=library, verify=False))
    _, convert = _bound(library)
    with _double(library):
        values = {"W_1": np.zeros((2, 2)), "b_1": np.zeros((2, 1)), "W_2": np.zeros((1, 2)), "b_2": np.array([[1000.0]]),
                  "X": np.zeros((2, 4)), "Y": np.array([[1.0, 1.0, 0.0, 0.0]])}
        arguments = {k: convert(v) for k, v in values.items()}
        assert float(module.forward(**arguments)) == pytest.approx(500.0, rel=1e-14)
        gradients = module.gradients(**arguments)
        assert np.all(np.isfinite(_numbers(gradients["b_2"])))
        assert float(_numbers(gradients["b_2"])[0]) == pytest.approx(0.5, rel=1e-14)  # (2 x 1 + 2 x 0 - 2) / 4


# ----- issue 17: classes the extreme-point fuzzer found ---------------------------------------------
# sigma'' = sigma' (1 - 2 sigma) near 0, where sigma(2.6e-18) rounds to 0.5 (lowered to -sigma' tanh(z / 2));
# softmax's VJP at an entry tied with the column's largest (g centred on the largest's value); a VJP whose
# cotangent carries a factor, s o (2 g) - 2 (s^T g) s, left unfused and cancelling at the largest s_i.

SMALL = [2.6e-18, -2.6e-18, 1.8e-16, -7e-18, 1e-30, 3e-9, -3e-9]  # 1 - 2 sigma(z) ~ -z/4 cancels here


def sigmoid_second(z):
    return sig(z) * sig(-z) * (1 - 2 * sig(z))


def mp_softmax(column):
    e = [mpmath.exp(mpmath.mpf(v)) for v in column]
    return [v / mpmath.fsum(e) for v in e]


def mp_softmax_vjp(s, g):
    """(diag(s) - s s^T) g as s_i sum_j s_j (g_i - g_j): no cancellation in the reference either."""
    return [si * mpmath.fsum(sj * (gi - gj) for sj, gj in zip(s, g)) for si, gi in zip(s, g)]


# Columns with ties at the top, a top that rounds to 1, and a top tied in g only; g with matching ties.
VJP_CASES = [([1.0, -40.5, 1.0], [0.7, -0.2, 0.7]), ([40.0, 0.0], [1.0, -1.0]), ([1000.0, 1000.0, 0.0], [0.5, 0.5, 2.0]),
             ([-40.0, 40.0, 0.0, 40.0], [1.0, 3.0, -2.0, 3.0]), ([1.0, 2.0, 3.0], [0.1, 0.2, -0.3]),
             ([-745.0, 700.0, 0.0], [2.0, 1.0, 1.0]), ([1e-8, -40.5, 1e-8], [-1.5, 4.0, -1.5])]


def _generated_in(library, outputs):
    """A compiled f(**arrays) of nnsym's generated code for ``library`` (numpy, jax or torch), float64."""
    from nnsym.emit.jax_code import JaxPrinter
    from nnsym.emit.numpy_code import helper_source
    from nnsym.emit.torch_code import TorchPrinter

    if library == "numpy":
        return compile_function(write_function("f", outputs, arrays=tuple(outputs)))
    pytest.importorskip(library)
    printer = JaxPrinter if library == "jax" else TorchPrinter
    generated = write_function("f", outputs, printer=printer, arrays=tuple(outputs))
    source = "\n\n\n".join([printer.imports] + ([helper_source(generated.helpers, printer.stable_module)]
                                                  if generated.helpers else []) + [generated.source])
    namespace = {}
    exec(compile(source, f"<nnsym {library}>", "exec"), namespace)  # noqa: S102 - nnsym's own generated code
    _, convert = _bound(library)

    def run(**values):
        with _double(library):
            return {k: _numbers(v) for k, v in namespace["f"](**{k: convert(v) for k, v in values.items()}).items()}
    return run


@pytest.mark.parametrize("library", ["numpy", "jax", "torch"])
def test_sigmoid_second_derivative_keeps_its_digits_near_zero(library):
    """d/dz 1^T sigma'(z) = sigma''(z), through the derivative table and the lowering. (1 - 2 sigma(z) gave
    0 at z = 2.6e-18, and 2.5 times the answer at 1.8e-16.)"""
    points = GRID + SMALL
    z = ns.vector("z", len(points))
    gradient = cotangents(ns.ones(len(points)).T @ apply("sigmoid_prime", z), [z])[z]
    got = _generated_in(library, {"g": gradient})(z=np.array(points).reshape(-1, 1))["g"]
    bad = [(x, float(v)) for x, v in zip(points, np.ravel(got)) if not close(v, sigmoid_second(mpmath.mpf(x)))]
    assert not bad, bad


@pytest.mark.parametrize("library", ["numpy", "jax", "torch"])
def test_softmax_vjp_at_ties_and_saturated_columns(library):
    if library == "numpy":
        helper, convert, context = stable.softmax_vjp, np.asarray, _double("numpy")
    else:
        helpers, convert = _bound(library)
        helper, context = helpers["softmax_vjp"], _double(library)
    bad = []
    with context:
        for column, g in VJP_CASES:
            s = mp_softmax(column)
            got = _numbers(helper(convert(np.array([float(v) for v in s]).reshape(-1, 1)), convert(np.array(g).reshape(-1, 1))))
            bad += [(column, i, float(a), float(e)) for i, (a, e) in enumerate(zip(got, mp_softmax_vjp(s, mp(g))))
                    if not close(a, e)]
        # a batch: each column its own
        Z = np.array([[1.0, 40.0], [-40.5, 0.0], [1.0, 40.0]])
        G = np.array([[0.7, 1.0], [-0.2, -1.0], [0.7, 1.0]])
        S = [mp_softmax(Z[:, k]) for k in range(2)]
        got = np.asarray(_numbers(helper(convert(np.array([[float(S[k][i]) for k in range(2)] for i in range(3)])),
                                         convert(G)))).reshape(3, 2)
        for k in range(2):
            bad += [("batch", k, float(a), float(e)) for a, e in zip(got[:, k], mp_softmax_vjp(S[k], mp(G[:, k])))
                    if not close(a, e)]
    assert not bad, bad


@pytest.mark.parametrize("library", ["numpy", "jax", "torch"])
def test_softmax_vjp_with_a_factor_is_fused(library):
    """d/dz [1^T tanh(z) + 2 1^T sigma(softmax(softmax(z)))]: the outer softmax's cotangent arrives as 2 g
    beside tanh'(z); as s o (2 g) - 2 (s^T g) s it cancelled at the largest s_i (2e-16 instead of 7e-18).
    d/dz [y^T softmax(2 z) + 2 1^T sigma(softmax(z))]: two softmaxes' products in one sum, each fused."""
    z, y = ns.vector("z", 3), ns.vector("y", 3, assume="probability")
    one = ns.ones(3)
    nested = cotangents(one.T @ ns.tanh(z) + 2 * (one.T @ ns.sigmoid(ns.softmax(ns.softmax(z)))), [z])[z]
    two = cotangents(y.T @ ns.softmax(2 * z) + 2 * (one.T @ ns.sigmoid(ns.softmax(z))), [z])[z]
    run_nested, run_two = _generated_in(library, {"g": nested}), _generated_in(library, {"g": two})
    target = [0.2, 0.3, 0.5]
    bad = []
    for column in ([40.0, 0.0, -1.0], [1.0, -40.5, 1.0], [0.5, 38.0, -2.0], [20.0, 0.0, 20.0]):
        s1 = mp_softmax(column)
        s2 = mp_softmax(s1)
        inner = mp_softmax_vjp(s2, [sig(v) * sig(-v) for v in s2])
        expected = [1 / mpmath.cosh(mpmath.mpf(v)) ** 2 + 2 * w for v, w in zip(column, mp_softmax_vjp(s1, inner))]
        got = np.ravel(run_nested(z=np.array(column).reshape(-1, 1))["g"])
        bad += [("nested", column, i, float(a), float(e)) for i, (a, e) in enumerate(zip(got, expected)) if not close(a, e)]
        doubled = mp_softmax([2 * v for v in column])
        expected = [2 * u + 2 * w for u, w in zip(mp_softmax_vjp(doubled, mp(target)),
                                                    mp_softmax_vjp(s1, [sig(v) * sig(-v) for v in s1]))]
        got = np.ravel(run_two(z=np.array(column).reshape(-1, 1), y=np.array(target).reshape(-1, 1))["g"])
        bad += [("two", column, i, float(a), float(e)) for i, (a, e) in enumerate(zip(got, expected)) if not close(a, e)]
    assert not bad, bad


# ----- softmax(z) - y: the gradient of softmax cross-entropy (the extreme fuzzer's seed 3890) ----------


def _softmax_minus_reference(column, target):
    z, y = mp(column), mp(target)
    total = lse(z)
    return [mpmath.exp(v - total) - t for v, t in zip(z, y)]


@pytest.mark.parametrize("library", ["numpy", "jax", "torch"])
def test_softmax_minus_keeps_a_confident_right_prediction(library):
    """One-hot targets: every entry to RTOL of 50 digits, the true class's s - 1 = -(sum of the others)
    included ([40, 0] with y on 40: -4.2e-18, which softmax(z) - y computes as 0). Soft targets: s - y is
    a difference of two O(1) numbers there, so within a few ulp of 1 (float64's limit, not the helper's)."""
    if library == "numpy":
        helper, convert = stable.softmax_minus, np.asarray
    else:
        helpers, convert = _bound(library)
        helper = helpers["softmax_minus"]
    bad = []
    with _double(library):
        for column in COLUMNS + [[1020.0, 998.85547081, 702.18611714]]:
            for target in targets(column):
                got = _numbers(helper(convert(np.array(column).reshape(-1, 1)), convert(np.array(target).reshape(-1, 1))))
                expected = _softmax_minus_reference(column, target)
                hot = max(target) == 1.0
                bad += [(column, target, float(g)) for g, e in zip(got, expected)
                        if not (close(g, e) if hot else abs(mpmath.mpf(float(g)) - e) <= 4e-16)]
    assert not bad, bad[:5]


def test_softmax_cross_entropy_gradient_is_exported_through_softmax_minus():
    from nnsym.declare.layers import softmax_cross_entropy
    z, y = ns.vector("z", 3), ns.vector("y", 3, assume="probability")
    source = ns.export(softmax_cross_entropy(z, y), wrt=[z], verify=False)
    assert "d_z = softmax_minus(z, y)" in source
    column, target = [1020.0, 998.85547081, 702.18611714], [1.0, 0.0, 0.0]
    gradient = load(source).gradients(z=np.array(column).reshape(-1, 1), y=np.array(target).reshape(-1, 1))["z"]
    assert all(close(g, e) for g, e in zip(gradient.ravel(), _softmax_minus_reference(column, target)))


def test_softmax_minus_is_found_among_other_terms():
    """softmax(z) - y + z (a weight-decay-like term beside the cross-entropy): the pair is fused, the rest kept."""
    from nnsym.declare.layers import softmax_cross_entropy
    z, y = ns.vector("z", 3), ns.vector("y", 3, assume="probability")
    f = softmax_cross_entropy(z, y) + ns.norm(z, squared=True) / 2
    source = ns.export(f, wrt=[z], verify=False)
    assert "softmax_minus(z, y)" in source
    column, target = np.array([[40.0], [0.0], [-3.0]]), np.array([[1.0], [0.0], [0.0]])
    expected = [e + float(v) for e, v in zip(_softmax_minus_reference(column.ravel(), target.ravel()), column.ravel())]
    assert all(close(g, e) for g, e in zip(load(source).gradients(z=column, y=target)["z"].ravel(), expected))
