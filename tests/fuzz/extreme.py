"""Extreme-point fuzzing of generated code (issue 10): random compositions of log, exp, sigma, tanh,
softmax, elementwise division and sums, in the spellings a user types (log(1 - sigma(v)),
1 / (1 + e^{-v}), e^v / (1 1^T e^v), -y^T log softmax(v), ...), evaluated at points whose entries
reach |z| = 1000.

Each case: the loss and its gradient, as generated NumPy code (and PyTorch / JAX code where asked),
against a reference computed with mpmath from the loss written out entry by entry (the elementwise
oracle, no rule of nnsym's engine), at as many digits as the case's cancellations need (`_digits`: 1 -
sigma(1000) cancels 434). Verdicts:

- right: the loss within 1e-8 relative, the gradient finite (and, in every 5th case, within 1e-8
  norm-wise relative of mpmath: the reference gradient costs one high-precision pass per entry);
- undefined: the reference itself is not a finite real (the function or its gradient is infinite or
  not real there): nothing to check;
- refused: nnsym refused with one of its errors (allowed);
- nonfinite: the code gave inf or NaN where the function is finite (the goal is 0);
- inaccurate: finite but off (the goal is 0).

Sums add terms of one sign (each term below is non-negative), so that a sum's relative error measures
the code, not a cancellation every float64 evaluation suffers.
"""

from __future__ import annotations

import random

import mpmath
import numpy as np
import sympy

import mp_reference as mp
import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.derive.reverse import cotangents
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.errors import NnsymError
from nnsym.verify.elementwise import ToSympy, entry_symbols

N = 3
z, a = ns.vector("z", N), ns.vector("a", N)
W = ns.matrix("W", N, N)
y = ns.vector("y", N, assume="probability")
ONE = ns.ones(N)
EXTREMES = (1000.0, -1000.0, 800.0, -800.0, 700.0, -745.0, 40.5, -40.5, 20.0, -20.0, 1.0, -1.0, 0.0, 1e-8)
VERDICTS = ("right", "undefined", "refused", "nonfinite", "inaccurate")
MAX_DIGITS = 6000  # a case needing more is counted undefined (none of 10 000 did)
GRADIENT_EVERY = 5  # the gradient's accuracy is checked against mpmath in every 5th case (finiteness in all)


def _vector(rng: random.Random, depth: int):
    """A vector expression: linear at the leaves, nested nonlinear steps above."""
    if depth <= 0 or rng.random() < 0.25:
        return rng.choice([lambda: z, lambda: -z, lambda: W @ a, lambda: z - a, lambda: 2 * z])()
    v = _vector(rng, depth - 1)
    return rng.choice([
        lambda: ns.sigmoid(v),
        lambda: ns.tanh(v),
        lambda: ns.softmax(v),
        lambda: ns.hadamard_div(ns.exp(v), ONE @ ONE.T @ ns.exp(v)),  # softmax as typed
        lambda: ns.hadamard_div(ONE, ONE + ns.exp(-v)),  # sigma as typed
        lambda: ONE - ns.sigmoid(v),
        lambda: ns.hadamard(ns.sigmoid(v), ONE - ns.sigmoid(v)),  # sigma'
        lambda: ONE - E.power(ns.tanh(v), 2),  # tanh'
        lambda: ns.log(ONE + ns.exp(v)),  # softplus
        lambda: ns.hadamard_div(ns.sigmoid(v), ONE + ns.sigmoid(z)),
        lambda: ns.log(ns.sigmoid(v)),
        lambda: v + z,
    ])()


def _term(rng: random.Random, depth: int):
    """A non-negative scalar."""
    v = _vector(rng, depth)
    return rng.choice([
        lambda: -ONE.T @ ns.log(ns.sigmoid(v)),
        lambda: -ONE.T @ ns.log(ONE - ns.sigmoid(v)),
        lambda: ONE.T @ ns.log(ONE + ns.exp(v)),
        lambda: -y.T @ ns.log(ns.softmax(v)),
        lambda: -y.T @ ns.log(ns.hadamard_div(ns.exp(v), ONE @ ONE.T @ ns.exp(v))),
        lambda: ONE.T @ ns.sigmoid(v),
        lambda: ONE.T @ ns.hadamard(ns.sigmoid(v), ONE - ns.sigmoid(v)),
        lambda: ONE.T @ (ONE - E.power(ns.tanh(v), 2)),
        lambda: y.T @ ns.softmax(v),
        lambda: -y.T @ ns.log(ns.sigmoid(v)) - (ONE - y).T @ ns.log(ONE - ns.sigmoid(v)),
        lambda: ONE.T @ ns.hadamard_div(ONE, ONE + ns.exp(-v)),
    ])()


def random_composition(seed: int, depth: int = 3):
    rng = random.Random(seed)
    if rng.random() < 0.15:  # log-sum-exp may be negative: alone, not in a sum
        return ns.log(ONE.T @ ns.exp(_vector(rng, depth)))
    f = _term(rng, depth)
    for _ in range(rng.randint(0, 2)):
        f = f + rng.choice([1, 2, sympy.Rational(1, 2)]) * _term(rng, depth)
    return f


def extreme_point(seed: int, symbols):
    rng = np.random.default_rng(seed)
    values = {}
    for s in symbols:
        shape = tuple(int(d) for d in s.shape)
        if s.name == "W":  # W a stays within |z| ~ 1000 where a is extreme
            values["W"] = rng.normal(0, 0.4, shape)
        elif s.name == "y":
            p = rng.uniform(0, 1, shape) * (rng.uniform(size=shape) < 0.7)
            p[0, 0] += 1e-3
            values["y"] = p / p.sum()
        else:
            extreme = rng.choice(EXTREMES, shape)
            values[s.name] = np.where(rng.uniform(size=shape) < 0.75, extreme, rng.normal(0, 3, shape))
    return values


def _digits(scalar, bound) -> int:
    """Digits enough for this case: a first pass at 30 digits (mpmath's exponents do not overflow, so the
    magnitudes are right) finds the largest |u| of any e^u; 1 - sigma(u) cancels 0.4343 |u| digits."""
    largest = mpmath.mpf(1)
    memo = {}
    with mpmath.workdps(30):
        for expr in sympy.preorder_traversal(scalar):
            if expr.func is sympy.exp:
                try:
                    largest = max(largest, abs(mpmath.re(mp._mp(expr.args[0], bound, memo))))
                except (ZeroDivisionError, ValueError):
                    continue
    return int(80 + 0.4343 * 2 * float(largest))


def _reference(f, symbols, values, wrt, gradients: bool):
    """(loss, {v: gradient} or None), from the loss written out entry by entry, at the digits the case
    needs (`_digits`); each gradient entry by the complex step Im f(x + i h e_k) / h, h = 10^-(digits/2):
    every function here is analytic where it is finite, so the step has no cancellation."""
    entries = {s: entry_symbols(s, {}, f"v{k}") for k, s in enumerate(symbols)}
    scalar = ToSympy({}, entries)(f)[0, 0]
    bound = {entries[s][i, j]: mpmath.mpf(float(values[s.name][i, j]))
             for s in symbols for i in range(entries[s].rows) for j in range(entries[s].cols)}
    digits = _digits(scalar, bound)
    if digits > MAX_DIGITS:
        raise ZeroDivisionError(f"{digits} digits needed")
    with mpmath.workdps(digits):
        loss = mp._mp(scalar, bound, {})
        if not gradients:
            return loss, None
        step = mpmath.mpf(10) ** (-digits // 2)
        grads = {}
        for v in wrt:
            column = []
            for e in entries[v]:
                nudged = dict(bound)
                nudged[e] = mpmath.mpc(bound[e], step)
                column.append(mpmath.im(mp._mp(scalar, nudged, {})) / step)
            grads[v] = np.array(column, dtype=object).reshape(entries[v].shape)
    return loss, grads


def _finite(value) -> bool:
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > 0:
            return False
        value = value.real
    return bool(mpmath.isfinite(value)) and abs(value) < 1e300


def _norm_close(got, ref) -> bool:
    got = np.asarray(got, dtype=float).reshape(ref.shape)
    if not np.all(np.isfinite(got)):
        return False
    ref = np.array([[mpmath.mpf(v.real if isinstance(v, mpmath.mpc) else v) for v in row] for row in ref], dtype=object)
    difference = mpmath.sqrt(mpmath.fsum((mpmath.mpf(g) - r) ** 2 for g, r in zip(got.ravel(), ref.ravel())))
    size = mpmath.sqrt(mpmath.fsum(r ** 2 for r in ref.ravel()))
    return difference <= 1e-8 * size + mpmath.mpf("1e-300")


def judge(seed: int, depth: int = 3, targets=("numpy",)):
    """(verdict, detail, f) of one case."""
    f = random_composition(seed, depth)
    symbols = sorted(f.free_symbols(), key=lambda s: s.name)
    wrt = [s for s in symbols if s.name != "y"]
    values = extreme_point(seed, symbols)
    accurate_gradient = seed % GRADIENT_EVERY == 0
    try:
        loss_ref, grads_ref = _reference(f, symbols, values, wrt, accurate_gradient)
    except ZeroDivisionError:
        return "undefined", "", f
    if not _finite(loss_ref) or (grads_ref and not all(_finite(v) for g in grads_ref.values() for v in g.ravel())):
        return "undefined", "", f
    try:
        found = cotangents(f, wrt)
        outputs = {"loss": f, **{v.name: found[v] for v in wrt}}
        results = {}
        for target in targets:
            results[target] = _run(target, outputs, values)
    except NnsymError as error:
        return "refused", str(error), f
    for target, got in results.items():
        loss = float(np.asarray(got["loss"], dtype=float).reshape(-1)[0])
        grads = {v: np.asarray(got[v.name], dtype=float) for v in wrt}
        if not np.isfinite(loss) or not all(np.all(np.isfinite(g)) for g in grads.values()):
            return "nonfinite", f"{target}: loss {loss}, gradients {grads} at {values}", f
        if not mp.agrees(loss, np.array([[loss_ref]], dtype=object)):
            return "inaccurate", f"{target}: loss {loss!r}, true {mpmath.nstr(loss_ref, 17)} at {values}", f
        for v in wrt if grads_ref else ():
            if not _norm_close(grads[v], grads_ref[v]):
                return "inaccurate", (f"{target}: d/d{v.name} {grads[v].ravel()}, true "
                                      f"{[mpmath.nstr(r, 12) for r in grads_ref[v].ravel()]} at {values}"), f
    return "right", "", f


def _run(target, outputs, values):
    if target == "numpy":
        return compile_function(write_function("f", outputs, arrays=tuple(outputs)))(**values)
    if target == "torch":
        import torch

        from nnsym.emit.torch_code import TorchPrinter

        generated = write_function("f", outputs, printer=TorchPrinter, arrays=tuple(outputs))
        source = _module(generated, TorchPrinter)
        namespace = {}
        exec(compile(source, "<nnsym torch>", "exec"), namespace)  # noqa: S102 - nnsym's own generated code
        got = namespace["f"](**{k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()})
        return {k: v.detach().numpy() if hasattr(v, "detach") else v for k, v in got.items()}
    if target == "jax":
        from nnsym.emit.jax_code import JaxPrinter

        generated = write_function("f", outputs, printer=JaxPrinter, arrays=tuple(outputs))
        namespace = {}
        exec(compile(_module(generated, JaxPrinter), "<nnsym jax>", "exec"), namespace)  # noqa: S102
        got = namespace["f"](**values)
        return {k: np.asarray(v) for k, v in got.items()}
    raise ValueError(target)


def _module(generated, printer):
    from nnsym.emit.numpy_code import helper_source

    parts = [printer.imports]
    if generated.helpers:
        parts.append(helper_source(generated.helpers, printer.stable_module))
    parts.append(generated.source)
    return "\n\n\n".join(parts) + "\n"
