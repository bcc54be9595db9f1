"""Is a hand-derived gradient right? Decided by value, with a diagnosis when it is not.

`check` reads a function and a claimed gradient (LaTeX or expressions), derives the true gradient in
closed form (itself verified by finite differences), evaluates both at random float64 points drawn to
honour the declared assumptions, and compares them norm-wise with `diagnose.RTOL`. A wrong claim gets
its worst entry and, where one fits, the classic mistake it makes (`nnsym.present.diagnose`).
`check_function` does the same for a user's own NumPy gradient function, gradcheck-style: central
differences of nnsym's NumPy forward against the user's values.

A claim whose shape is not the variable's, or whose own shapes do not fit together, is *wrong*, not bad
input: it is an answer, and the verdict says what is wrong with it. Bad input (unreadable LaTeX, an
unknown --wrt, a non-scalar function, sizes too large) raises an `NnsymError`.
"""

from __future__ import annotations

import functools

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from nnsym.declare.expressions import Expr, Symbol, show_shape, transpose
from nnsym.declare.reading import (
    read_claim, read_claim_indices, read_claim_variable, read_definition, read_latex, read_name,
    transpose_repairs,
)
from nnsym.declare.definitions import definitions_of
from nnsym.declare.names import canonical_name, identifier
from nnsym.derive.delta_form import delta_form
from nnsym.derive.reverse import cotangents
from nnsym.emit.latex import latex
from nnsym.emit.numpy_code import compile_function, module_source, write_function
from nnsym.errors import InputError, NnsymError, ShapeError, spelled
from nnsym.present import diagnose
from nnsym.present.results import Gradient, grad
from nnsym.verify import agreement
from nnsym.verify.evaluate import concrete_shape, evaluate
from nnsym.verify.finite_differences import magnitude, tolerance
from nnsym.verify.points import MAX_ENTRIES, covering_points, entries, random_point, small_sizes, symbols_of

POINTS = 4  # random points per check: a wrong formula differs at almost every point, one would do
MAX_DIMENSION = 1000  # rows or columns of any one symbol
MAX_TOTAL_ENTRIES = 20_000  # entries of all symbols together: one evaluation stays well under a millisecond


# ----- reading the question ---------------------------------------------------------------------------

@contextmanager
def reading(what: str):
    """Errors raised while reading ``what`` say so first: 'claimed: col 9: ...'."""
    try:
        yield
    except NnsymError as error:
        text = str(error)
        if text.startswith(what + ":"):
            raise
        again = type(error)(f"{what}: {text}")
        again.column = getattr(error, "column", None)
        raise again from None


def declarations(function: Expr) -> Tuple[Dict[str, tuple], Dict[str, tuple]]:
    """Shapes and assumptions of a function's symbols, to read a claim about it in the same terms."""
    symbols = function.free_symbols()
    shapes = {s.name: s.shape for s in symbols if not s.is_scalar}
    assumptions = {s.name: tuple(sorted(s.assumptions)) for s in symbols if s.assumptions}
    return shapes, assumptions


def read_function(function, wrt, shapes: Optional[Mapping] = None, assumptions: Optional[Mapping] = None,
                  definitions=None):
    """(f, variable): the function read (or taken as given) and the declared symbol to differentiate by.
    ``definitions`` (LaTeX 'NAME = ...' in order, `nnsym.declare.definitions`) are names the function may
    use; each becomes a named intermediate of f."""
    defined = definitions_of(definitions, shapes, assumptions)
    if isinstance(function, Expr):
        f = defined.expand(function)
        if shapes is None and assumptions is None:
            shapes, assumptions = declarations(function)
    else:
        with reading("function"):
            f = defined.expand(read_definition(function, _with_defined(shapes, defined), assumptions,
                                               defined.constants)[1])
    if not f.is_scalar:
        raise ShapeError(f"the function is {show_shape(f.shape)}, not a scalar: a gradient needs a scalar "
                         "function (for a vector function use nnsym.jacobian)")
    if isinstance(wrt, Symbol):
        variable = wrt
    else:
        if not isinstance(wrt, str) or not wrt.strip():
            raise InputError(f"{spelled('--wrt', 'wrt')} needs the name of the variable, e.g. "
                             f"{spelled('--wrt W', repr('W'))}")
        with reading("wrt"):
            name = read_name(wrt)
        if name in defined.defined:
            raise InputError(f"{spelled('--wrt', 'wrt')} {wrt}: {name} is defined ({spelled('--define', 'definitions')}), "
                             "not a variable: differentiate by a declared symbol (W, h_0, ...)")
        found = {s.name: s for s in f.free_symbols()}
        declared = {read_name(k) for k in (shapes or {})} | {read_name(k) for k in (assumptions or {})}
        if name in found:
            variable = found[name]
        elif name in declared:  # declared but absent: the gradient is zero, which a claim may say
            with reading("wrt"):
                variable = read_latex(name, shapes, assumptions)
        else:
            known = ", ".join(sorted(found)) or "none"
            raise InputError(f"{spelled('--wrt', 'wrt')} {wrt}: {name} does not appear in the function and is not declared "
                             f"(the function's symbols: {known})")
        if not isinstance(variable, Symbol):
            raise InputError(f"{spelled('--wrt', 'wrt')} {wrt}: not a symbol")
    return f, variable


def concrete_sizes(symbols, variable: Symbol) -> Dict:
    """Sizes for the symbolic dimensions, refusing sizes too large to check numerically."""
    sizes = small_sizes(symbols)
    for s in symbols:
        rows, cols = concrete_shape(s, sizes)
        if max(rows, cols) > MAX_DIMENSION:
            raise InputError(f"sizes too large to check numerically: {s.name} is {rows}x{cols}; "
                             f"at most {MAX_DIMENSION} rows or columns per symbol")
    total = entries(symbols, sizes)
    if total > MAX_TOTAL_ENTRIES:
        raise InputError(f"sizes too large to check numerically: {total:,} entries in all; "
                         f"at most {MAX_TOTAL_ENTRIES:,}")
    if entries([variable], sizes) > MAX_ENTRIES:
        raise InputError(f"sizes too large to check numerically: {variable.name} has "
                         f"{entries([variable], sizes):,} entries; finite differences check at most {MAX_ENTRIES:,}")
    return sizes


def derive(function, wrt, shapes=None, assumptions=None, oracle: bool = True, definitions=None) -> Gradient:
    """The verified gradient of a function given as LaTeX (or an expression); ``definitions`` as for
    `read_function` (the gradient prints with the defined names: h_{1}, ...)."""
    defined = definitions_of(definitions, shapes, assumptions)
    f, variable = read_function(function, wrt, shapes, assumptions, defined)
    concrete_sizes(symbols_of(f, variable), variable)
    gradient = grad(f, variable, oracle=oracle)
    if isinstance(function, str):
        # L in "L = ...": dL/dW, not df/dW
        name = read_definition(function, _with_defined(shapes, defined), assumptions, defined.constants)[0]
        if name:
            gradient = replace(gradient, function_name=name)
    return gradient


def gradient_json(gradient: Gradient, spellings: Optional[Mapping[str, str]] = None) -> dict:
    """What `nnsym derive --json` prints. ``spellings`` maps the names the user declared (``W_1``) to
    themselves: the ``arguments`` keys are then the names as the user wrote them, not nnsym's W_{1}."""
    generated = write_function("gradient", {"": gradient.expression}, doc=gradient.latex())
    as_written = {canonical_name(k): k for k in (spellings or {})}
    reports = gradient.reports
    return {
        "gradient": gradient.latex(),
        "layout": gradient.layout,
        "numpy": module_source([generated], "A gradient derived by `nnsym derive` (its LaTeX is the docstring)."),
        "arguments": {as_written.get(k, k): v for k, v in generated.arguments.items()},
        "assumptions_used": list(gradient.assumptions_used),
        "verified": {
            "points": sum(r.points for r in reports),
            "max_abs_error": max((r.max_abs_error for r in reports), default=None),
            "max_rel_error": max((r.max_rel_error for r in reports), default=None),
            "methods": [str(r) for r in reports],
        },
    }


def _with_defined(shapes, defined) -> Dict:
    """The declared shapes and those of the defined names (issue 15): what a formula that uses them is read with."""
    return {**dict(shapes or {}), **{name: expr.shape for name, expr in defined.defined.items()}}


# ----- the verdict -----------------------------------------------------------------------------------

def _number(value) -> Optional[float]:
    value = float(value)
    return value if np.isfinite(value) else None


@dataclass(frozen=True)
class Verdict:
    """Whether a claimed gradient is right, how far off it is, and why (`diagnosis`)."""

    ok: bool
    gradient: str  # the true gradient, LaTeX
    claimed: str  # the claim as read, LaTeX (or a description of a user function)
    max_abs_error: Optional[float]
    max_rel_error: Optional[float]
    worst_index: Optional[tuple]
    worst_claimed: Optional[float]
    worst_true: Optional[float]
    diagnosis: Optional[str]
    points: int
    variable: str
    message: str = ""  # a wrong shape, a non-finite value: said in words
    method: str = "closed form evaluated at random points"
    expressions: Tuple = field(default=(), compare=False, repr=False)  # (truth, claim) when read
    # issue 10: a typed network's gradient as a textbook writes it: z^{(l)} = ..., delta^{(l)} = ..., then
    # the gradient in terms of the deltas (verified equal to `gradient`); empty for fewer than two layers
    gradient_steps: Tuple[str, ...] = ()
    matrix_form: str = ""  # an entry-wise claim (dL/dW_{ij} = ...) in matrix form
    # Issue 9: neither right nor wrong -- the values are rounding noise at some point (nnsym.verify.agreement).
    undecided: bool = False
    note: str = ""  # how a claim was accepted when that needs saying (on every symmetric direction)

    @property
    def status(self) -> str:
        return "right" if self.ok else "undecided" if self.undecided else "wrong"

    def to_json(self) -> dict:
        return {
            "ok": self.ok, "gradient": self.gradient, "claimed": self.claimed,
            "max_abs_error": None if self.max_abs_error is None else _number(self.max_abs_error),
            "max_rel_error": None if self.max_rel_error is None else _number(self.max_rel_error),
            "worst_index": None if self.worst_index is None else list(self.worst_index),
            "worst_claimed": None if self.worst_claimed is None else _number(self.worst_claimed),
            "worst_true": None if self.worst_true is None else _number(self.worst_true),
            "diagnosis": self.diagnosis, "points": self.points, "message": self.message,
            "gradient_steps": list(self.gradient_steps),
            "verdict": self.status, "note": self.note,
        }

    def __bool__(self):
        return self.ok

    def __str__(self):
        if self.ok:
            shown = (f"right: the claim equals the gradient with respect to {self.variable} at {self.points} "
                     f"random points ({self.method}; max rel error {self.max_rel_error:.1e})"
                     + (f"\nnote: {self.note}" if self.note else ""))
            return shown + (f"\nyour claim in matrix form: {self.matrix_form}" if self.matrix_form else "")
        if self.undecided:
            return (f"undecided: at {self.points} random points the claim and the gradient with respect to "
                    f"{self.variable} differ by no more than the rounding noise of evaluating them (max abs "
                    f"error {self.max_abs_error:.3g}); neither right nor wrong can be decided by value\n"
                    f"gradient: {self.gradient}\nclaimed:  {self.claimed}")
        lines = [f"wrong: {self.message}" if self.message else
                 f"wrong: the claim differs from the gradient with respect to {self.variable}"]
        if self.worst_index is not None:
            lines.append(f"worst entry {list(self.worst_index)}: claimed {self.worst_claimed:.6g}, "
                         f"true {self.worst_true:.6g} (max abs error {self.max_abs_error:.3g}, "
                         f"max rel error {self.max_rel_error:.3g}, {self.points} points)")
        if self.diagnosis:
            lines.append(f"diagnosis: {self.diagnosis}")
        if self.gradient_steps:  # the delta form: the gradient last, the names it uses before it
            lines.append(f"gradient: {self.gradient_steps[-1]}")
            lines.extend(("  where " if k == 0 else "        ") + step for k, step in enumerate(self.gradient_steps[:-1]))
        else:
            lines.append(f"gradient: {self.gradient}")
        lines.append(f"claimed:  {self.claimed}")
        if self.matrix_form:
            lines.append(f"your claim in matrix form: {self.matrix_form}")
        return "\n".join(lines)

    def _repr_latex_(self):
        verdict = r"\text{right}" if self.ok else r"\text{wrong}"
        relation = "=" if self.ok else r"\neq"
        return (f"$\\displaystyle \\frac{{\\partial f}}{{\\partial {self.variable}}} = {self.gradient} "
                f"\\quad {relation} \\quad {self.claimed} \\qquad {verdict}$")


def _compare(claimed_values: List[np.ndarray], true_values: List[np.ndarray]):
    """(ok, max abs error, max rel error, (point, index) of the worst entry), decided relative to the
    values' own size (`nnsym.verify.agreement`); for callers that need no "undecided" (nnsym lint)."""
    decided, *rest = _decide(claimed_values, true_values)
    return (decided == agreement.RIGHT, *rest)


def values_at(expression: Expr, at: Sequence[Dict], sizes: Mapping) -> Optional[List[np.ndarray]]:
    """The values of a claim at the points ``at``, or None where it cannot be evaluated there (e.g. the
    inverse of a matrix the claim makes singular): that is a verdict on the claim, not an error."""
    try:
        with np.errstate(all="ignore"):
            return [evaluate(expression, p, sizes) for p in at]
    except (NnsymError, np.linalg.LinAlgError, ValueError):
        return None


def _decide(claimed_values: List[np.ndarray], true_values: List[np.ndarray], claim_at=None, truth_at=None,
            points=None, typical_count: int = POINTS):
    """(verdict, max abs error, max rel error, (point, index) of the worst entry); the verdict is
    agreement.RIGHT, WRONG or UNDECIDED, decided relative to the values' own size (no absolute floor)."""
    decisions, worst_abs, worst_rel, worst = [], 0.0, 0.0, None
    # The first `typical` points are drawn at the typical size; the rest (other scales, beside kinks) do
    # not decide where both values are negligible next to the gradient's typical size (agreement.beneath).
    typical = max((float(np.linalg.norm(t)) for t in true_values[:typical_count]), default=0.0)
    for k, (c, t) in enumerate(zip(claimed_values, true_values)):
        if claim_at is None or points is None:
            decision = agreement.decide(c, t)
        else:
            decision = agreement.decide(c, t, lambda p: claim_at([p])[0], truth_at, points[k])
        if decision != agreement.RIGHT and k >= typical_count and agreement.beneath(c, t, typical):
            continue
        decisions.append(decision)
        with np.errstate(all="ignore"):
            error = np.abs(c - t)
        error = np.where(np.isfinite(error), error, np.inf)
        index = np.unravel_index(np.argmax(error), error.shape)
        if worst is None or error[index] > worst_abs:
            worst_abs, worst = float(error[index]), (k, tuple(int(i) for i in index))
        scale = float(np.max(np.abs(t)))
        worst_rel = max(worst_rel, float(np.max(error)) / scale if scale > 0 else 0.0 if np.max(error) == 0 else np.inf)
    return agreement.combine(decisions), worst_abs, worst_rel, worst


def _claim_symbols_known(claim: Expr, f: Expr, variable: Symbol):
    extra = sorted(s.name for s in claim.free_symbols() - f.free_symbols() - {variable})
    if extra:
        raise InputError(f"the claim uses {', '.join(extra)}, which the function does not contain; "
                         "write the claim in the function's symbols")


def _read_claimed(claimed, shapes, assumptions, shape, constants=None):
    """(claim expression or None, the variable named on its left side or None, shape message); a bare
    I or 1 in the claim has the gradient's ``shape``."""
    if isinstance(claimed, Expr):
        return claimed, None, ""
    with reading("claimed"):
        try:
            _, named, claim = read_claim(claimed, shapes, assumptions, shape, constants)
        except ShapeError as error:  # the claim's own shapes do not fit: an answer, and a wrong one
            message = f"the claim's shapes do not fit together: {str(error).splitlines()[0]}"
            # issue 10: say which one transpose would make them fit (and give the gradient's shape)
            repairs = [said for said, expr in transpose_repairs(claimed, shapes, assumptions, shape, constants)
                       if shape is None or expr.shape == tuple(shape)]
            if repairs:
                message += f"; they fit with {repairs[0]}"
            return None, None, message
    return claim, named, ""


def check(function, claimed, wrt=None, shapes: Optional[Mapping] = None, assumptions: Optional[Mapping] = None,
          points: int = POINTS, seed: int = 0, layout: str = "denominator", definitions=None) -> Verdict:
    """Does ``claimed`` equal the gradient of ``function`` with respect to ``wrt``?

    ``function`` and ``claimed`` are LaTeX (shapes as for `read_latex`: ``{"W": "3x2"}``, assumptions
    ``{"A": "spd"}``) or expressions. ``claimed`` may carry its left side
    (``\\frac{\\partial L}{\\partial W} = ...``), which then names the variable if ``wrt`` is None.
    An entry-wise claim (``\\frac{\\partial L}{\\partial W_{ij}} = \\sum_k ...``) is read into matrix form
    (``matrix_form`` of the verdict). ``layout="numerator"``: the claim is the gradient transposed
    (row vectors, as in texts that use Jacobian layout). ``definitions``: LaTeX 'NAME = ...' in order
    (``["h_1 = \\tanh(W h_0 + U x_1)", "T = 3"]``): names the function and the claim may use
    (`nnsym.declare.definitions`; sums over time steps, `nnsym.declare.reading.time_steps`)."""
    defined = definitions_of(definitions, shapes, assumptions)
    verdict = _check(function, claimed, wrt, shapes, assumptions, points, seed, layout, defined)
    if isinstance(claimed, str) and verdict.expressions:
        try:
            indexed = read_claim_indices(claimed, _with_defined(shapes, defined), assumptions, defined.constants)
        except NnsymError:
            indexed = None
        if indexed:
            verdict = replace(verdict, matrix_form=verdict.claimed)
    return verdict


def _check(function, claimed, wrt, shapes, assumptions, points, seed, layout, defined) -> Verdict:
    if layout not in ("denominator", "numerator"):
        raise InputError(f"layout must be 'denominator' or 'numerator', not {layout!r}")
    if isinstance(function, Expr) and shapes is None and assumptions is None:
        shapes, assumptions = declarations(function)
    if wrt is None:
        if isinstance(claimed, Expr):
            raise InputError("say which variable the gradient is with respect to (wrt=...)")
        with reading("claimed"):
            wrt = read_claim_variable(claimed, _with_defined(shapes, defined), assumptions, defined.constants)
        if wrt is None:
            raise InputError(f"say which variable the gradient is with respect to: {spelled('--wrt NAME', 'wrt=NAME')}, or a left side "
                             "\\frac{\\partial L}{\\partial W} = ... in the claim")
    f, variable = read_function(function, wrt, shapes, assumptions, defined)
    derived = derive(f, variable)
    truth = derived.expression  # verified by finite differences and the elementwise oracle
    # The function's scalars are declared for the claim, so that 2cx reads as 2 c x, as it would there.
    scalars = {s.name: (1, 1) for s in f.free_symbols() if s.is_scalar}
    claim_shapes = {**scalars, **_with_defined(shapes, defined)}
    claim, named, message = _read_claimed(claimed, claim_shapes, assumptions, truth.shape, defined.constants)
    if claim is not None and claim.shape not in (truth.shape, truth.shape[::-1]) and not isinstance(claimed, Expr):
        # a bare 1 sized for the gradient's shape may fit only the transposed one (x 1^T, numerator layout)
        again = _read_claimed(claimed, claim_shapes, assumptions, truth.shape[::-1], defined.constants)
        if again[0] is not None and again[0].shape == truth.shape[::-1]:
            claim, named, message = again
    if claim is not None:  # issue 15: the defined names the claim uses (h_t, \delta_t), as named intermediates
        claim = defined.expand(claim)
    if named is not None and canonical_name(named) != variable.name:
        raise InputError(f"the claim is a derivative with respect to {named}, but {spelled('--wrt', 'wrt')} is {variable.name}")
    shown_truth = latex(truth)
    if claim is None:
        return Verdict(False, shown_truth, str(claimed), None, None, None, None, None, None, 0, variable.name, message)
    _claim_symbols_known(claim, f, variable)
    shown_claim = latex(claim)
    if layout == "numerator":  # compared as the denominator-layout gradient it is the transpose of
        claim = transpose(claim)
        shown_truth = latex(transpose(truth))
    if claim.shape != truth.shape:
        message = (f"the claim is {show_shape(claim.shape)}, but the gradient with respect to {variable.name} "
                   f"has its shape {show_shape(truth.shape)} (denominator layout)")
        if layout == "numerator":
            message = (f"the claim is {show_shape(claim.shape[::-1])}, but in numerator layout the gradient with "
                       f"respect to {variable.name} is {show_shape(truth.shape[::-1])}, its shape transposed")
        message += diagnose.padding_hint(claim, truth)  # issue 15e: \star where \star_{\mathrm{full}} belongs
        if claim.shape != truth.shape[::-1]:  # a transposed claim is still evaluated: the diagnosis says so
            return Verdict(False, shown_truth, shown_claim, None, None, None, None, None, None, 0,
                           variable.name, message, expressions=(truth, claim))
    verdict = _judge(f, variable, truth, claim, shown_truth, shown_claim, message, points, seed)
    if derived.bptt and layout == "denominator":  # issue 15i: a typed recurrent network as BPTT
        steps = tuple(f"{name} = {value}" for name, value in derived.bptt.deltas) + (derived.bptt.gradient,)
    else:
        steps = _delta_steps(f, variable, truth)
    verdict = replace(verdict, gradient_steps=steps)
    if verdict.diagnosis and verdict.diagnosis.startswith("transpose") and layout == "denominator":
        verdict = replace(verdict, diagnosis=verdict.diagnosis + NUMERATOR_HINT)
    return verdict


NUMERATOR_HINT = " (if your text uses numerator layout, check with --layout numerator)"


def _delta_steps(f, variable, truth) -> Tuple[str, ...]:
    """The delta form of a typed network's gradient (`nnsym.derive.delta_form`), as lines, when it has
    two layers or more and equals the gradient at random points; else ()."""
    form = delta_form(f, variable)
    if form is None:
        return ()
    symbols = symbols_of(f, truth, variable)
    sizes = small_sizes(symbols)
    rng = np.random.default_rng(7)
    for _ in range(2):
        point = random_point([f, truth], symbols, sizes, rng)
        if not diagnose.close(evaluate(form.gradient, point, sizes), evaluate(truth, point, sizes)):
            return ()
    lines = [f"{latex(z)} = {latex(z.definition)}" for z in form.pre_activations]
    lines += [f"{latex(delta)} = {latex(definition)}" for delta, definition in form.deltas]
    return tuple(lines + [latex(form.gradient)])


def _judge(f, variable, truth, claim, shown_truth, shown_claim, message, points, seed) -> Verdict:
    symbols = symbols_of(f, truth, claim, variable)
    sizes = concrete_sizes(symbols, variable)
    rng = np.random.default_rng(seed)
    drawn = [random_point([f, truth], symbols, sizes, rng) for _ in range(points)]
    # Several sizes and both sides of every kink of the function, its gradient and the claim (issue 9).
    drawn = covering_points([f, truth], [f, truth, claim], symbols, sizes, rng, drawn)
    true_values = [evaluate(truth, p, sizes) for p in drawn]

    claim_at = functools.partial(values_at, claim, sizes=sizes)
    claimed_values = claim_at(drawn)
    if claimed_values is None:  # e.g. the inverse of a matrix the claim makes singular
        return Verdict(False, shown_truth, shown_claim, None, None, None, None, None, None, points, variable.name,
                       "the claim cannot be evaluated where the function is defined", expressions=(truth, claim))
    verdict = _verdict(f, variable, truth, sizes, drawn, true_values, claimed_values, claim_at,
                       shown_truth, shown_claim, message, expressions=(truth, claim), typical_count=points)
    if not verdict.ok and not message and variable.assumptions & SYMMETRIC:
        verdict = _on_symmetric_directions(verdict, truth, sizes, drawn, true_values, claimed_values, claim_at,
                                           points)
    return verdict


# ----- issue 9: a symmetric variable -----------------------------------------------------------------
SYMMETRIC = frozenset({"symmetric", "spd"})
def _symmetric_part(value: np.ndarray) -> np.ndarray:
    return (value + value.T) / 2


def _on_symmetric_directions(verdict, truth, sizes, drawn, true_values, claimed_values, claim_at, typical_count):
    """A claim for a symmetric variable is right when it agrees with the gradient on every symmetric
    direction D: <G, D> = <(G + G^T)/2, D>, so when the symmetric parts agree at every point."""
    if any(c.shape != t.shape for c, t in zip(claimed_values, true_values)):
        return verdict

    def symmetric_claim_at(at):
        values = claim_at(at)
        if values is None:
            raise ValueError("the claim cannot be evaluated there")
        return [_symmetric_part(v) for v in values]

    decided, max_abs, max_rel, _ = _decide([_symmetric_part(c) for c in claimed_values], [_symmetric_part(t) for t in true_values],
                           symmetric_claim_at, lambda p: _symmetric_part(evaluate(truth, p, sizes)), drawn,
                           typical_count)
    if decided != agreement.RIGHT:
        return verdict
    note = (f"the claim differs from the gradient of the function as written (entries of {verdict.variable} "
            f"taken as independent) but has the same symmetric part (G + G^T)/2, so it gives the same "
            f"derivative in every symmetric direction: right for symmetric {verdict.variable}")
    return replace(verdict, ok=True, undecided=False, diagnosis=None, note=note, max_abs_error=max_abs,
                   max_rel_error=max_rel, method="symmetric parts evaluated at random points")


def _verdict(f, variable, truth, sizes, drawn, true_values, claimed_values, claim_at, shown_truth, shown_claim,
             message, method="closed form evaluated at random points", expressions=(),
             typical_count: int = POINTS) -> Verdict:
    transposed_shape = claimed_values[0].shape == true_values[0].shape[::-1] != true_values[0].shape
    comparable = [c.T if transposed_shape else c for c in claimed_values]

    def comparable_at(at):
        values = claim_at(at)
        if values is None:
            raise ValueError("the claim cannot be evaluated there")
        return [v.T if transposed_shape else v for v in values]

    decided, max_abs, max_rel, worst = _decide(comparable, true_values, comparable_at,
                                                lambda p: evaluate(truth, p, sizes), drawn, typical_count)
    ok = decided == agreement.RIGHT and not message
    undecided = decided == agreement.UNDECIDED and not message
    if not ok and not message and not all(np.all(np.isfinite(c)) for c in claimed_values):
        message = "the claim is not finite at a point where the function and its gradient are"
    diagnosis = None
    if not ok and not undecided:
        claim = expressions[1] if expressions else None
        sample = diagnose.Sample(f, variable, truth, sizes, drawn, true_values, claimed_values, claim_at, claim,
                                 typical=typical_count)
        diagnosis = diagnose.diagnose(sample)
    worst_claimed = worst_true = None
    if transposed_shape:  # entries of a transposed claim do not correspond: the diagnosis says it all
        worst, max_abs, max_rel = None, None, None
    if worst is not None:
        k, index = worst
        worst_claimed, worst_true = float(comparable[k][index]), float(true_values[k][index])
    return Verdict(ok, shown_truth, shown_claim, max_abs, max_rel, worst[1] if worst else None, worst_claimed,
                   worst_true, diagnosis, len(drawn), variable.name, message, method, expressions, undecided=undecided)


def _check_options(gradient, points, eps, atol, rtol) -> None:
    if not callable(gradient):
        raise InputError(f"check_function: the gradient must be a function, not {type(gradient).__name__}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise InputError(f"check_function: points must be a positive integer, not {points!r}")
    for option, value, least in (("eps", eps, "positive"), ("atol", atol, "non-negative"), ("rtol", rtol, "non-negative")):
        number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
        if not (number and np.isfinite(value) and (value > 0 if least == "positive" else value >= 0)):
            raise InputError(f"check_function: {option} must be a finite {least} number, not {value!r}")


def _users_value(gradient, name: str, kwargs) -> np.ndarray:
    """The user's function at one point, as a float array. Its own failures (a wrong signature, an
    exception inside, a value that is not an array of real numbers) are bad input, named as such; the
    original exception is chained for its traceback."""
    import inspect

    try:
        inspect.signature(gradient).bind(**kwargs)
    except TypeError as error:
        raise InputError(f"{name} cannot be called with the keyword arguments {', '.join(kwargs)}: {error}") from None
    except ValueError:  # no signature to inspect (some builtins): just call it
        pass
    try:
        value = gradient(**kwargs)
    except Exception as error:  # noqa: BLE001 - the user's code failing is reported, not hidden
        raise InputError(f"{name} raised {type(error).__name__}: {error}".rstrip(": ")) from error
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":  # complex, strings, objects, None
            raise TypeError
        return array.astype(float)
    except (TypeError, ValueError):
        if value is None:
            shown = "None"
        elif isinstance(value, np.ndarray):
            shown = f"an array of {value.dtype}"
        else:
            shown = f"a {type(value).__name__}" + ("" if isinstance(value, (str, bytes, dict)) else f" {str(value)[:40]!r}")
        raise InputError(f"{name} returns {shown}, not an array of real numbers") from None


# ----- a user's own NumPy gradient -------------------------------------------------------------------

def check_function(function, wrt, gradient: Callable, shapes: Optional[Mapping] = None,
                   assumptions: Optional[Mapping] = None, points: int = 3, seed: int = 0, eps: float = 1e-6,
                   atol: float = 1e-5, rtol: float = 1e-3) -> Verdict:
    """Is ``gradient`` (a user's NumPy function) the gradient of ``function`` with respect to ``wrt``?

    ``gradient`` is called with keyword arguments named by `nnsym.declare.names.identifier` (``W^{(1)}``
    -> ``W_1``; the names are in the verdict's message when they differ from the LaTeX), scalars as
    floats and vectors as columns, and returns an array of the variable's shape (a vector may be flat,
    a scalar a float). It is compared, as `torch.autograd.gradcheck`
    does, with central differences (step ``eps``) of nnsym's NumPy forward: every entry within
    ``atol max|numeric| + rtol |numeric|`` plus the rounding noise of the differences -- ``atol``
    relative to the gradient's largest entry, so that a tiny gradient is checked as strictly as a
    large one. A wrong function also gets a diagnosis against the closed-form gradient."""
    _check_options(gradient, points, eps, atol, rtol)
    f, variable = read_function(function, wrt, shapes, assumptions)
    truth = cotangents(f, [variable])[variable]
    symbols = symbols_of(f, truth, variable)
    sizes = concrete_sizes(symbols, variable)
    forward_code = write_function("forward", {"": f})
    forward = compile_function(forward_code)
    arguments = {s.name: identifier(s.name) for s in symbols}
    rng = np.random.default_rng(seed)
    drawn = [random_point([f, truth], symbols, sizes, rng) for _ in range(points)]
    shape = concrete_shape(variable, sizes)

    scalars = {s.name for s in symbols if s.is_scalar}

    def call(at):
        out = []
        for p in at:
            # a scalar is passed as a float, as a user's own code would take it (float() of a 1x1 array fails)
            kwargs = {arguments[name]: float(np.asarray(v).reshape(-1)[0]) if name in scalars else np.array(v)
                      for name, v in p.items()}
            value = _users_value(gradient, name, kwargs)
            if value.ndim < 2 and value.size == shape[0] * shape[1] and variable.kind != "matrix":  # flat vector, float
                value = value.reshape(shape)
            out.append(value)
        return out

    def numeric(p):
        kwargs = {arguments[name]: np.array(v, dtype=float) for name, v in p.items() if name in forward_code.arguments}
        key = arguments[variable.name]
        x = kwargs[key]
        result = np.zeros_like(x)
        for index in np.ndindex(*x.shape):
            saved = x[index]
            x[index] = saved + eps
            up = forward(**kwargs)
            x[index] = saved - eps
            down = forward(**kwargs)
            x[index] = saved
            result[index] = (up - down) / (2 * eps)
        return result

    name = getattr(gradient, "__name__", None) or "the gradient function"
    user_values = call(drawn)
    shown_truth = latex(truth)
    renamed = {k: v for k, v in arguments.items() if k != v}
    shown_claim = f"{name}({', '.join(arguments[s.name] for s in symbols)})"
    method = f"central differences (eps {eps:g}, atol {atol:g}, rtol {rtol:g}) of nnsym's NumPy forward"
    # Every point's value, not only the first: a function may return another shape elsewhere.
    wrong_shape = next((u.shape for u in user_values if u.shape != shape), None)
    if wrong_shape is not None:
        message = (f"{name} returns an array of shape {wrong_shape}, but the gradient with respect to "
                   f"{variable.name} is {shape[0]}x{shape[1]} (denominator layout)")
        if wrong_shape == shape[::-1]:
            message += "; it is the transposed shape"
        return Verdict(False, shown_truth, shown_claim, None, None, None, None, None, None, points,
                       variable.name, message, method)
    numeric_values = [numeric(p) for p in drawn]
    ok, worst_abs, worst_rel, worst = True, 0.0, 0.0, None
    for k, (u, n) in enumerate(zip(user_values, numeric_values)):
        with np.errstate(over="ignore", invalid="ignore"):  # a user's 1e308, inf or NaN is wrong, not a warning
            error = np.abs(u - n)
            error = np.where(np.isfinite(error), error, np.inf)
            # scale-free (issue 9): atol is relative to the gradient's largest entry, plus the rounding
            # noise of differencing f, so e^{-30} f is checked as strictly as f
            size = magnitude(f, drawn[k], sizes, evaluate(f, drawn[k], sizes)[0, 0])
            ok &= bool(np.all(error <= tolerance(n, size, eps, atol, rtol)))
            index = np.unravel_index(np.argmax(error), error.shape)
            if worst is None or error[index] > worst_abs:
                worst_abs, worst = float(error[index]), (k, tuple(int(i) for i in index))
            worst_rel = max(worst_rel, float(np.max(error / np.maximum(np.abs(n), 1e-8))))
    diagnosis = None
    if not ok:
        true_values = [evaluate(truth, p, sizes) for p in drawn]

        def user_at(at):
            try:
                return call(at)
            except Exception:  # noqa: BLE001 - the user's function failing elsewhere only loses a diagnosis
                return None

        sample = diagnose.Sample(f, variable, truth, sizes, drawn, true_values, user_values, user_at)
        # A user's value may be inf, NaN or 1e308: overflow there is an answer (wrong), not a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            diagnosis = diagnose.diagnose(sample)
    k, index = worst
    message = "" if ok else f"{name} differs from central differences of the function"
    if renamed:
        message = "; ".join(filter(None, [message, "arguments: " + ", ".join(f"{a} = {b}" for a, b in renamed.items())]))
    return Verdict(ok, shown_truth, shown_claim, worst_abs, worst_rel, index, float(user_values[k][index]),
                   float(numeric_values[k][index]), diagnosis, points, variable.name, message, method)
