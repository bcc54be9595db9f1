"""The ``self_test()`` of a generated module: its gradients (and Hessians) against central finite
differences of its own ``forward`` (and ``gradients``), at a random point.

Generated modules copy these functions' source (`inspect.getsource`), so they use NumPy and the
module's own globals only: ``INPUTS`` ((name, shape, kind) per argument), ``PARAMETERS`` (the
arguments differentiated), ``HESSIANS`` (parameter -> name of its Hessian function), ``forward`` and
``gradients``. Values are drawn in NumPy; each function converts them to its own array type. The step
and tolerance follow the precision ``forward`` computes in (float32 under JAX without x64).
"""

import numpy as np

INPUTS: tuple = ()
PARAMETERS: tuple = ()
HESSIANS: dict = {}
forward = gradients = None  # the generated module's own


def _draw(kind, shape, rng):
    """A random value honouring an assumption on the symbol (as nnsym's own checks draw them)."""
    rows, cols = shape
    if kind == "spd":
        b = rng.standard_normal((rows, rows))
        return b @ b.T / rows + np.eye(rows)
    if kind == "symmetric":
        b = rng.standard_normal((rows, rows))
        return (b + b.T) / 2
    if kind == "positive-determinant":
        b = rng.standard_normal((rows, rows)) + 2 * np.eye(rows)
        return b if np.linalg.det(b) > 0 else b[::-1].copy()
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "probability":
        e = np.exp(rng.standard_normal(shape))
        return e / e.sum(axis=0, keepdims=True)
    if kind == "onehot":
        out = np.zeros(shape)
        out[rng.integers(0, rows, cols), np.arange(cols)] = 1.0
        return out
    return rng.standard_normal(shape)


def self_test(seed=0, directions=3):
    """Check every gradient (and Hessian) against central finite differences along random directions
    at a random point. Returns the largest relative error; raises AssertionError above the tolerance."""
    rng = np.random.default_rng(seed)
    kinds = {name: kind for name, shape, kind in INPUTS}
    for _ in range(20):  # a point where the function is defined (log of a positive, ...)
        values = {name: _draw(kind, shape, rng) for name, shape, kind in INPUTS}
        loss = float(forward(**values))
        if np.isfinite(loss):
            break
    double = np.asarray(gradients(**values)[PARAMETERS[0]]).dtype == np.float64
    first_step, tolerance = (1e-5, 1e-6) if double else (1e-2, 2e-2)
    # A step that crosses a kink (ReLU at 0) gives a wrong difference quotient, however right the
    # formula; a failing direction is retried with steps 10 and 100 times smaller (float32 steps are
    # large, so there this is common). A wrong formula fails at every step.
    steps = (first_step, first_step / 10, first_step / 100)
    analytic = {name: np.asarray(g, dtype=float) for name, g in gradients(**values).items()}
    worst = 0.0
    for name in PARAMETERS:
        for _ in range(directions):
            v = rng.standard_normal(values[name].shape)
            if kinds[name] in ("spd", "symmetric"):
                v = (v + v.T) / 2
            exact = float(np.sum(analytic[name] * v))
            for step in steps:
                moved = lambda sign: {**values, name: values[name] + sign * step * v}  # noqa: E731
                numeric = (float(forward(**moved(1))) - float(forward(**moved(-1)))) / (2 * step)
                error = abs(numeric - exact) / max(1.0, abs(exact))
                if error <= tolerance:
                    break
            worst = max(worst, error)
            assert error <= tolerance, f"d/d{name}: finite differences {numeric!r}, formula {exact!r}"
            if name in HESSIANS:
                exact_h = np.asarray(globals()[HESSIANS[name]](**values), dtype=float) @ v.reshape(-1)
                for step in steps:
                    moved = lambda sign: {**values, name: values[name] + sign * step * v}  # noqa: E731
                    up = np.asarray(gradients(**moved(1))[name], dtype=float)
                    down = np.asarray(gradients(**moved(-1))[name], dtype=float)
                    numeric_h = (up - down).reshape(-1) / (2 * step)
                    error = float(np.max(np.abs(numeric_h - exact_h))) / max(1.0, float(np.max(np.abs(exact_h))))
                    if error <= tolerance:
                        break
                worst = max(worst, error)
                assert error <= tolerance, f"Hessian in {name}: finite differences and formula differ by {error:.3g}"
    return worst
