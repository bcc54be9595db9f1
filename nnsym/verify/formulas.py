"""The checks a displayed formula passes before a note may show it.

Every formula is printed, read back from its printed LaTeX by nnsym's reader and evaluated against the
NumPy evaluation of the expression it was printed from, at random points: what the reader sees is what
was meant. Where a formula claims more, that is checked too: a reference expression (a textbook
identity written independently), a gradient or Jacobian (central finite differences). A scalar formula
in functions latex2sympy2 knows is also read by latex2sympy2 and evaluated by SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np
import sympy

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Named, Symbol
from nnsym.declare.functions import ELEMENTWISE
from nnsym.declare.reading import read_latex
from nnsym.emit.latex import latex
from nnsym.errors import NnsymError, VerificationError
from nnsym.verify.evaluate import evaluate
from nnsym.verify.finite_differences import Report, check_gradients, check_jacobian, numeric_gradient
from nnsym.verify.points import SMALL_SIZES, random_point, small_sizes, symbols_of

try:  # an optional second reader, for scalar formulas
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig
except ImportError:  # pragma: no cover - depends on the environment
    latex2sympy = None

EXACT_TOLERANCE = 1e-9  # two evaluations of the same formula differ only by rounding

# Scalar nodes and functions latex2sympy2 reads as nnsym means them. It drops the prime of \sigma'
# and knows no \operatorname{ReLU}, so formulas with those are not given to it.
_L2S_NODES = (E.Constant, E.Symbol, E.Add, E.Scale, E.MatMul, E.Power, E.Apply)
_L2S_FUNCTIONS = {"exp", "log", "sqrt", "tanh", "sigmoid"}


@dataclass(frozen=True)
class Check:
    """How one displayed formula was checked and the worst relative error seen."""

    latex: str
    methods: Tuple[str, ...]
    max_rel_error: float

    def __str__(self):
        return f"{'; '.join(self.methods)}: max rel error {self.max_rel_error:.1e}"


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """max |value - reference| / max |reference| (norm-wise, so a zero entry is no trouble)."""
    value, reference = np.asarray(value, float), np.asarray(reference, float)
    if value.shape != reference.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(reference))), 1e-12)
    return float(np.max(np.abs(value - reference))) / scale


def _named_nodes(expr: Expr):
    found, stack = {}, [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Named):
            found[node.name] = node
        stack.extend(node.args)
    return list(found.values())


def _constant_sizes(exprs) -> set:
    """Sizes that appear only in numbers (the 1/(2B) of a mean) or in the shape of a symbol-free node
    (the I_N of a cotangent), not in any symbol's shape."""
    found, stack = set(), list(exprs)
    while stack:
        node = stack.pop()
        if isinstance(node, E.Constant):
            found |= node.value.free_symbols
        found |= node.shape[0].free_symbols | node.shape[1].free_symbols
        stack.extend(node.args)
    return found


def _points(exprs, count, seed):
    symbols = symbols_of(*exprs)
    sizes = small_sizes(symbols)
    for extra, value in zip(sorted(_constant_sizes(exprs) - set(sizes), key=str), SMALL_SIZES[::-1]):
        sizes[extra] = value
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield random_point(list(exprs), symbols, sizes, rng), sizes


def read_back(expr: Expr, points: int = 3, seed: int = 0) -> float:
    """Print, read back with nnsym's reader, compare the values at random points."""
    text = latex(expr)
    named = _named_nodes(expr)
    symbols = symbols_of(expr)
    shapes = {s.name: s.shape for s in symbols}
    shapes.update({n.name: n.shape for n in named})
    assumptions = {s.name: tuple(sorted(s.assumptions)) for s in symbols if s.assumptions}
    try:
        again = read_latex(text, shapes, assumptions)
    except NnsymError as error:
        raise VerificationError(f"the formula {text} does not read back: {error}") from error
    worst = 0.0
    for values, sizes in _points([expr], points, seed):
        values = dict(values)
        values.update({n.name: evaluate(n, values, sizes) for n in named})
        # A size printed as a number in the formula (the 1/B of a mean) reads back as a scalar symbol.
        values.update({str(size): float(value) for size, value in sizes.items() if str(size) not in values})
        worst = max(worst, relative_error(evaluate(again, values, sizes), evaluate(expr, values, sizes)))
    return worst


def against(expr: Expr, reference: Expr, points: int = 3, seed: int = 0) -> float:
    """Compare with an independently written expression at random points."""
    if expr.shape != reference.shape:
        raise VerificationError(f"{latex(expr)} has shape {expr.shape}, its reference {reference.shape}")
    worst = 0.0
    for values, sizes in _points([expr, reference], points, seed):
        worst = max(worst, relative_error(evaluate(expr, values, sizes), evaluate(reference, values, sizes)))
    return worst


def _l2s_applicable(expr: Expr) -> bool:
    if latex2sympy is None or not expr.is_scalar:
        return False
    stack = [expr]
    while stack:
        node = stack.pop()
        if not isinstance(node, _L2S_NODES) or not node.is_scalar:
            return False
        if isinstance(node, E.Apply) and node.function.name not in _L2S_FUNCTIONS:
            return False
        stack.extend(node.args)
    return True


def _plain_name(name: str) -> str:
    return "".join(ch for ch in name if ch not in "\\{} ")


def _sigmoid(x):
    return 1 / (1 + sympy.exp(-x))


def by_latex2sympy(expr: Expr, points: int = 3, seed: int = 0) -> Optional[float]:
    """Read the printed scalar formula with latex2sympy2 and compare; None when not applicable."""
    if not _l2s_applicable(expr):
        return None
    # latex2sympy2 reads \log as log base 10; nnsym's \log is the natural one, which it calls \ln.
    text = latex(expr).replace(r"\log", r"\ln")
    try:
        parsed = latex2sympy(text, conversion_config=ConversionConfig(lowercase_symbols=False,
                                                                     interpret_as_mixed_fractions=False))
    except Exception as error:  # latex2sympy2 raises plain Exception on text it cannot read
        raise VerificationError(f"latex2sympy2 cannot read {text}: {error}") from error
    sigma = sympy.Function(ELEMENTWISE["sigmoid"].latex)
    parsed = parsed.replace(lambda e: isinstance(e, sympy.Function) and e.func == sigma,
                            lambda e: _sigmoid(e.args[0]))
    worst = 0.0
    for values, sizes in _points([expr], points, seed):
        by_name = {_plain_name(name): float(np.asarray(v).reshape(-1)[0]) for name, v in values.items()}
        substitution = {s: by_name.get(_plain_name(s.name)) for s in parsed.free_symbols}
        if None in substitution.values():
            return None
        value = complex(sympy.N(parsed.subs(substitution)))
        worst = max(worst, relative_error(np.array([[value.real]]), evaluate(expr, values, sizes)))
    return worst


def check_formula(expr: Expr, reference: Optional[Expr] = None, derivative_of: Optional[Tuple[Expr, Symbol]] = None,
                  extra: Optional[Callable[[], Tuple[str, float]]] = None, seed: int = 0) -> Check:
    """All the checks that apply to ``expr``; `VerificationError` at the first that fails."""
    text = latex(expr)
    methods, worst = [], 0.0

    def record(method, error, tolerance=EXACT_TOLERANCE):
        nonlocal worst
        if not error <= tolerance:
            raise VerificationError(f"the formula {text} failed its check ({method}): relative error {error:.2e}")
        methods.append(method)
        worst = max(worst, error)

    record("read back by nnsym's reader, evaluated vs NumPy", read_back(expr, seed=seed))
    l2s = by_latex2sympy(expr, seed=seed)
    if l2s is not None:
        record("read by latex2sympy2, evaluated by SymPy", l2s, 1e-8)
    if reference is not None:
        record("equal to an independent formula at random points", against(expr, reference, seed=seed))
    if derivative_of is not None:
        f, variable = derivative_of
        if expr.shape == variable.shape and f.is_scalar:
            report = check_gradients(f, {variable: expr}, seed=seed)
        else:
            report = check_jacobian(f, variable, expr, seed=seed)
        if not report.ok:
            raise VerificationError(f"the formula {text} failed its check: {report}")
        methods.append("central finite differences")
        worst = max(worst, report.max_rel_error)
    if extra is not None:
        method, error = extra()
        record(method, error)
    return Check(text, tuple(methods), worst)


def check_step(f: Expr, node: Expr, stand_in: Symbol, replaced: Expr, cotangent: Expr, points: int = 3,
               seed: int = 0, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> Report:
    """A derivation line df/d(node) = cotangent, checked by central differences: ``replaced`` is f with
    the node replaced by ``stand_in``; at random points of f's symbols the stand-in is given the node's
    value there, and the differences of ``replaced`` in the stand-in are compared with the cotangent.
    Tolerances as in `check_gradients`."""
    symbols = symbols_of(f, cotangent)
    sizes = small_sizes(symbols)
    rng = np.random.default_rng(seed)
    ok, worst_abs, worst_rel, worst_index = True, 0.0, 0.0, None
    for _ in range(points):
        values = random_point([f, cotangent], symbols, sizes, rng)
        values[stand_in.name] = evaluate(node, values, sizes)
        closed = evaluate(cotangent, values, sizes)
        numeric = numeric_gradient(replaced, stand_in, values, sizes, eps)
        error = np.abs(closed - numeric)
        ok &= bool(np.all(error <= atol + rtol * np.abs(numeric)))
        worst_rel = max(worst_rel, float(np.max(error / np.maximum(np.abs(numeric), 1e-8))))
        if float(np.max(error)) >= worst_abs:
            worst_abs = float(np.max(error))
            worst_index = tuple(int(i) for i in np.unravel_index(np.argmax(error), error.shape))
    return Report(ok, points, worst_abs, worst_rel, stand_in.name, worst_index, "central finite differences")


def check_latex(text: str, method: str, error: float) -> Check:
    """A formula shown as LaTeX only (a SymPy matrix, a worked number) with the check its author ran."""
    if not error <= EXACT_TOLERANCE:
        raise VerificationError(f"the formula {text} failed its check ({method}): relative error {error:.2e}")
    return Check(text, (method,), error)
