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
from nnsym.declare.functions import scalar_definition

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


class _Mp:
    """Node -> object array of mpmath numbers, straight from each node's definition (the elementwise
    functions by the SymPy scalar formulas of their table, evaluated by `mp_reference`); no rule of
    nnsym's engine is involved. (SymPy's own matrices of entries, the elementwise oracle, cost twenty
    times as much to build.) Records the largest |u| of any e^u, which fixes the digits needed."""

    def __init__(self, values):
        self.values = values
        self.memo = {}
        self.largest = mpmath.mpf(1)

    def __call__(self, node):
        if node not in self.memo:
            args = [self(child) for child in node.args]
            self.memo[node] = getattr(self, "_" + type(node).__name__)(node, *args)
        return self.memo[node]

    def _Symbol(self, node):
        return self.values[node.name]

    def _Constant(self, node):
        return np.array([[mpmath.mpf(node.value.p) / node.value.q if node.value.is_Rational
                          else mpmath.mpf(str(sympy.Float(node.value, 30)))]], dtype=object)

    def _Ones(self, node):
        return np.full((int(node.rows), int(node.cols)), mpmath.mpf(1), dtype=object)

    def _Zero(self, node):
        return np.full((int(node.rows), int(node.cols)), mpmath.mpf(0), dtype=object)

    def _Identity(self, node):
        n = int(node.rows)
        return np.array([[mpmath.mpf(int(i == j)) for j in range(n)] for i in range(n)], dtype=object)

    def _Named(self, node, a):
        return a

    def _MatMul(self, node, a, b):
        return np.array([[mpmath.fsum(a[i, k] * b[k, j] for k in range(a.shape[1])) for j in range(b.shape[1])]
                         for i in range(a.shape[0])], dtype=object)

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
        return a * b

    def _HadamardDiv(self, node, a, b):
        return a / b

    def _Power(self, node, a):
        p = node.exponent
        exponent = mpmath.mpf(p.p) / p.q
        return np.vectorize(lambda v: mpmath.power(v, exponent), otypes=[object])(a)

    def _exp(self, v):
        self.largest = max(self.largest, abs(mpmath.re(v)))
        return mpmath.exp(v)

    def _Apply(self, node, a):
        x = sympy.Symbol("x")
        formula = scalar_definition(node.function, x)
        return np.vectorize(lambda v: _scalar(formula, x, v, self), otypes=[object])(a)

    def _Softmax(self, node, z):
        e = np.vectorize(self._exp, otypes=[object])(z)
        return e / np.array([mpmath.fsum(e[:, j]) for j in range(e.shape[1])], dtype=object)[None, :]

    def _LogSoftmax(self, node, z):
        return np.vectorize(mpmath.log, otypes=[object])(self._Softmax(node, z))

    def _LogSumExp(self, node, z):
        e = np.vectorize(self._exp, otypes=[object])(z)
        return np.array([[mpmath.log(mpmath.fsum(e[:, j])) for j in range(e.shape[1])]], dtype=object)

    def _SoftmaxCrossEntropy(self, node, z, y):
        return np.array([[-mpmath.fsum((y * self._LogSoftmax(node, z)).ravel())]], dtype=object)

    def _BinaryCrossEntropy(self, node, z, y):
        p = np.vectorize(lambda v: 1 / (1 + self._exp(-v)), otypes=[object])(z)
        terms = [yk * mpmath.log(pk) + (1 - yk) * mpmath.log(1 - pk) for yk, pk in zip(y.ravel(), p.ravel())]
        return np.array([[-mpmath.fsum(terms)]], dtype=object)

    def _Sum(self, node, a):
        return np.array([[mpmath.fsum(a.ravel())]], dtype=object)


def _scalar(formula, x, v, recorder):
    """A SymPy scalar formula in x at the mpmath number v (exp arguments recorded)."""
    memo = {}

    def walk(e):
        if e in memo:
            return memo[e]
        if e == x:
            out = v
        elif e.func is sympy.exp:
            out = recorder._exp(walk(e.args[0]))
        elif e.func is sympy.tanh:
            # 1 - tanh(u)^2 = 4 e^{-2|u|} / (1 + e^{-2|u|})^2 cancels as 1 - sigma(2|u|) does: the digits
            # are fixed by e^{2u}. (Unrecorded, 1 - tanh(287)^2 = 1.2e-250 came out 0 at 80 digits, and
            # nnsym's right answer was counted inaccurate.)
            u = walk(e.args[0])
            recorder.largest = max(recorder.largest, 2 * abs(mpmath.re(u)))
            out = mp._FUNCTIONS[e.func](u)
        elif e.args and not e.is_Number:
            parts = [walk(a) for a in e.args]
            if e.is_Add:
                out = mpmath.fsum(parts)
            elif e.is_Mul:
                out = mpmath.fprod(parts)
            elif e.is_Pow:
                out = mpmath.power(parts[0], parts[1])
            else:
                out = mp._FUNCTIONS[e.func](*parts)
        else:
            out = mp._mp(e, {}, {})
        memo[e] = out
        return out

    return walk(formula)


def _reference(f, symbols, values, wrt, gradients: bool):
    """(loss, {v: gradient} or None) at the digits the case needs (a first pass at 30 digits finds the
    largest |u| of any e^u; 1 - sigma(u) cancels 0.4343 |u| digits); each gradient entry by the complex
    step Im f(x + i h e_k) / h, h = 10^-(digits/2): every function here is analytic where it is
    finite, so the step has no cancellation."""
    def bound():
        return {s.name: np.vectorize(mpmath.mpf, otypes=[object])(values[s.name]) for s in symbols}

    with mpmath.workdps(30):
        first = _Mp(bound())
        try:
            first(f)
        except (ZeroDivisionError, ValueError):
            pass
        digits = int(80 + 0.4343 * 2 * float(first.largest))
    if digits > MAX_DIGITS:
        raise ZeroDivisionError(f"{digits} digits needed")
    with mpmath.workdps(digits):
        loss = _Mp(bound())(f)[0, 0]
        if not gradients:
            return loss, None
        step = mpmath.mpf(10) ** (-digits // 2)
        grads = {}
        for v in wrt:
            column = []
            for index in np.ndindex(*values[v.name].shape):
                nudged = bound()
                nudged[v.name][index] = mpmath.mpc(nudged[v.name][index], step)
                column.append(mpmath.im(_Mp(nudged)(f)[0, 0]) / step)
            grads[v] = np.array(column, dtype=object).reshape(values[v.name].shape)
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
        import jax

        # float64, as the reference assumes (JAX computes in float32 unless x64 is on: every case was
        # "inaccurate" at 1e-8 in JAX before).
        x64 = getattr(jax, "enable_x64", None)
        if x64 is None:
            from jax.experimental import enable_x64 as x64
        with x64(True):
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
