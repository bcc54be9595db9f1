"""How much work a check may do, and the sizes it runs at.

Both checks grow with the sizes: central differences evaluate f twice per entry of each variable,
the elementwise oracle names every entry of every node. A check whose estimated work at the given
sizes exceeds its budget runs instead on a copy of the formulas with every size made small (sizes
live only in shapes, so the copy holds the same formulas; a size of 1 stays 1, since it changes the
algebra), exactly as `export` checks large networks. It never runs long and never skips silently:
the `Plan` says at which sizes the check ran and why, and the report carries that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Dict, Mapping, Optional, Sequence

import numpy as np
import sympy

from nnsym.declare.attention import ColumnBlock, PadColumns
from nnsym.declare.expressions import Constant, Det, Expr, Inverse, LogDet, MatMul, Symbol, post_order
from nnsym.errors import InputError
from nnsym.verify.evaluate import Evaluator, concrete_shape
from nnsym.verify.finite_differences import Report
from nnsym.verify.points import small_sizes, symbols_of

# Estimated seconds a check may take before it shrinks the sizes (the goal: a verified result in
# about a second, start-up included, on a shared 2-core machine).
FINITE_DIFFERENCE_BUDGET = 0.15
ORACLE_BUDGET = 0.3
# Measured on that machine: NumPy's overhead per node and evaluation, and per flop; the oracle's
# cost per scalar step of its program (naming, sympy.diff, printing, running).
SECONDS_PER_NODE = 4e-6
SECONDS_PER_FLOP = 1e-9
SECONDS_PER_ORACLE_STEP = 1.5e-4


@dataclass(frozen=True)
class Plan:
    """A check's formulas (the caller's, or their small copy), the values of the symbolic sizes, and
    a note saying at which sizes it runs and why."""

    f: Expr
    gradients: Dict[Symbol, Expr]
    sizes: Dict
    note: str
    variables: Dict[Symbol, Symbol]  # the caller's variable -> the one checked (itself unless resized)
    shrunk: bool = False


def resized(expr: Expr, small: Mapping) -> Expr:
    """``expr`` with every concrete size replaced by its small twin, rebuilt bottom-up without
    recursion (nodes as they were, not re-simplified; sizes live only in shapes)."""
    done: dict = {}
    for node in post_order([expr]):
        rebuilt = node.rebuilt([done[child] for child in node.args], [small.get(d, d) for d in node.shape])
        params = _block_params(node, small)
        if params != node.params:
            clone = object.__new__(type(node))
            Expr.__init__(clone, rebuilt.args, params, rebuilt.shape)
            rebuilt = clone
        done[node] = rebuilt
    return done[expr]


# ----- issue 14b: column blocks (multi-head attention's heads) resized with their sizes -----

def _block_params(node: Expr, small: Mapping) -> tuple:
    """A column block's column numbers in the small copy: block h of width w (columns h w to
    (h + 1) w) becomes block h of the small width w', so blocks that tile the columns still tile
    them when the total shrinks to (number of blocks) x w'; other nodes' parameters as they were."""
    if isinstance(node, ColumnBlock):
        width = node.stop - node.start
        small_width = int(small.get(sympy.Integer(width), width))
        if node.start % width == 0 and small_width != width:
            return (node.start // width * small_width, node.stop // width * small_width)
    elif isinstance(node, PadColumns):
        width = int(node.args[0].cols)
        small_width = int(small.get(sympy.Integer(width), width))
        if node.start % width == 0 and small_width != width:
            return (node.start // width * small_width, int(small.get(sympy.Integer(node.total), node.total)))
    return node.params


def _entries(shape) -> int:
    return shape[0] * shape[1]


def work(exprs: Sequence[Expr], sizes: Mapping, symbolic: bool = False) -> tuple:
    """(nodes, flops) of one evaluation of ``exprs``: a matrix product costs rows x cols x inner, a
    determinant or inverse n^3 (far more when written out and differentiated, as the oracle does), any other
    node its entries and its operands' entries."""
    nodes = flops = 0
    for node in post_order(exprs):
        shape = concrete_shape(node, sizes)
        nodes += 1
        if isinstance(node, MatMul):
            flops += _entries(shape) * concrete_shape(node.args[0], sizes)[1]
        elif isinstance(node, (Det, LogDet, Inverse)):
            n = concrete_shape(node.args[0], sizes)[0]
            # Written out: n! terms of n factors, differentiated by each of the n^2 entries; an inverse
            # has n^2 such entries, each a cofactor over the determinant (measured: a 3 x 3 inverse
            # 0.65 s, 4 x 4 8 s; a 4 x 4 log det 0.35 s).
            if not symbolic:
                flops += n ** 3
            elif isinstance(node, Inverse):
                flops += 2 * math.factorial(n) * n ** 5
            else:
                flops += math.factorial(n) * n ** 3
        else:
            flops += _entries(shape) + sum(_entries(concrete_shape(c, sizes)) for c in node.args)
    return nodes, flops


def finite_difference_seconds(f: Expr, gradients: Mapping, sizes: Mapping, points: int) -> float:
    """Central differences: two evaluations of f per entry of each variable, at each point."""
    nodes, flops = work([f], sizes)
    evaluations = points * (1 + 2 * sum(_entries(concrete_shape(v, sizes)) for v in gradients))
    closed_nodes, closed_flops = work(list(gradients.values()), sizes)
    return (evaluations * (nodes * SECONDS_PER_NODE + flops * SECONDS_PER_FLOP)
            + points * (closed_nodes * SECONDS_PER_NODE + closed_flops * SECONDS_PER_FLOP))


def oracle_seconds(f: Expr, gradients: Mapping, sizes: Mapping, points: int) -> float:
    """The oracle names about one scalar step per entry and operand entry of f and of the closed
    forms, and as many again for the backward pass over f."""
    _, forward = work([f], sizes, symbolic=True)
    _, closed = work(list(gradients.values()), sizes, symbolic=True)
    return (2 * forward + closed) * SECONDS_PER_ORACLE_STEP


def jacobian_oracle_seconds(y: Expr, jacobians: Mapping, sizes: Mapping, points: int) -> float:
    """One backward pass over the program of y per entry of y."""
    _, forward = work([y], sizes, symbolic=True)
    _, closed = work(list(jacobians.values()), sizes, symbolic=True)
    return ((1 + _entries(concrete_shape(y, sizes))) * forward + closed) * SECONDS_PER_ORACLE_STEP


def _size_map(concrete: Sequence, level: int, keep=frozenset()) -> Dict:
    """Level 1: each distinct concrete size a distinct small one (2, 3, 4, ...: never larger than it
    was); level 2: alternately 2 and 3 (sizes of neighbouring layers still differ). Sizes in ``keep``
    stay as they are."""
    shrinking = [d for d in concrete if d not in keep]
    small = {d: sympy.Integer(min(d, 2 + (k if level == 1 else k % 2))) for k, d in enumerate(shrinking)}
    return {**small, **{d: d for d in concrete if d in keep}}


def sizes_in_constants(exprs: Sequence[Expr], concrete) -> frozenset:
    """The concrete sizes that divide a number in the formulas (the 1/B of a batch mean or of batch
    norm's statistics): a copy with the shapes shrunk but the numbers not may then be another formula."""
    numbers = set()
    for node in post_order(exprs):
        if isinstance(node, Constant) and node.value.is_Rational:
            numbers |= {abs(int(node.value.p)), abs(int(node.value.q))} - {0, 1}
    return frozenset(d for d in concrete if any(n % int(d) == 0 for n in numbers))


_SYMBOLIC_CHOICES = {1: (3, 2, 4), 2: (2, 3)}


def _well_formed(exprs: Sequence[Expr], sizes: Mapping, allowed: set) -> bool:
    """Does the small copy still fit together? A size computed from others (a Kronecker product's
    rows x rows, a convolution's n - k + 1) does not shrink with them: then the copy is not the same
    formula, and is not used. Checked on the shapes, then by evaluating once."""
    for node in post_order(exprs):
        if any(d.is_Integer and d != 1 and d not in allowed for d in node.shape):
            return False
    symbols = symbols_of(*exprs)
    rng = np.random.default_rng(0)
    values = {s.name: rng.uniform(0.5, 1.5, concrete_shape(s, sizes)) for s in symbols}
    evaluator = Evaluator(values, sizes)
    try:
        with np.errstate(all="ignore"):
            for e in exprs:
                evaluator(e)
    except (InputError, ValueError, np.linalg.LinAlgError):
        return False
    return all(value.shape == concrete_shape(node, sizes) for node, value in evaluator.memo.items())


def plan(f: Expr, gradients: Mapping[Symbol, Expr], what: str, seconds: Callable, budget: float, points: int,
         choices: Optional[Sequence[int]] = None, keep=frozenset()) -> Plan:
    """The sizes ``what`` (a check) runs at: as given (symbolic sizes from ``choices``) if its
    estimate ``seconds(f, gradients, sizes, points)`` is within ``budget``, else on a small copy."""
    symbols = symbols_of(f, *gradients.values(), *gradients)
    sizes = small_sizes(symbols, choices=choices) if choices else small_sizes(symbols)
    same = {v: v for v in gradients}
    estimate = seconds(f, gradients, sizes, points)
    if estimate <= budget:
        return Plan(f, dict(gradients), sizes, _shown(symbols, sizes, {}), same)
    concrete = sorted({d for s in symbols for d in s.shape if d.is_Integer and d != 1}, key=int)
    for level in (1, 2):
        small = _size_map(concrete, level, keep)
        twin_f = resized(f, small)
        twin_variables = {v: resized(v, small) for v in gradients}
        twin_gradients = {twin_variables[v]: resized(g, small) for v, g in gradients.items()}
        twin_symbols = symbols_of(twin_f, *twin_gradients.values(), *twin_gradients)
        twin_sizes = small_sizes(twin_symbols, choices=_SYMBOLIC_CHOICES[level])
        cost = seconds(twin_f, twin_gradients, twin_sizes, points)
        if cost <= budget or level == 2:
            allowed = set(small.values())
            if not _well_formed([twin_f, *twin_gradients.values()], twin_sizes, allowed):
                break
            given = _shown(symbols, sizes, {})
            why = (f"at {'the sizes given' if given == 'as given' else given} {what} would take about "
                   f"{estimate:.1f} s, over its {budget} s budget")
            return Plan(twin_f, twin_gradients, twin_sizes, _shown(twin_symbols, twin_sizes, small, why),
                        twin_variables, shrunk=True)
    # Not shrinkable (sizes computed from sizes): the full sizes, if that is not far over budget.
    if estimate > 20 * budget:
        raise InputError(f"sizes too large to check: {what} would take about {estimate:.0f} s and the "
                         "formula cannot be checked at smaller sizes; use symbolic sizes (mxn)")
    return Plan(f, dict(gradients), sizes, _shown(symbols, sizes, {}, "over budget, but these formulas cannot be shrunk"), same)


def run_within_budget(f: Expr, gradients: Mapping[Symbol, Expr], what: str, seconds: Callable, budget: float,
                      points: int, run: Callable, choices: Optional[Sequence[int]] = None, method: str = ""):
    """``run(plan)`` (a check, returning its `Report`) at the sizes `plan` chooses, the report saying
    which. A check that fails on a smaller copy runs again at the sizes given, unless that would take
    far too long (then the failure stands): a formula may hold a size as a number (batch norm's 1/B),
    which the copy does not shrink, so only the sizes given decide against it."""
    try:
        chosen = plan(f, gradients, what, seconds, budget, points, choices)
    except InputError as error:
        if not method:
            raise
        # A second check that can neither run at these sizes in bounds nor on a smaller copy (sizes
        # computed from sizes: a convolution's output) is left out, and its report says so and why.
        return Report(True, 0, 0.0, 0.0, None, None, method, detail=str(error).partition(": ")[2])
    report = replace(run(chosen), sizes=chosen.note)
    if report.ok or not chosen.shrunk:
        return report
    symbols = symbols_of(f, *gradients.values(), *gradients)
    concrete = {d for s in symbols for d in s.shape if d.is_Integer and d != 1}
    keep = sizes_in_constants([f, *gradients.values()], concrete)
    kept_plan = plan(f, gradients, what, seconds, budget, points, choices, keep) if keep else None
    # A kept size may be what every entry of a node sums over (batch norm's B): the estimate, which
    # counts operand entries once, is then too low by up to that size.
    if kept_plan and seconds(kept_plan.f, kept_plan.gradients, kept_plan.sizes, points) * max(keep) <= 20 * budget:
        chosen = kept_plan
        kept = ", ".join(str(d) for d in sorted(keep, key=int))
        report = replace(run(chosen), sizes=f"{chosen.note}; {kept} kept: a number in the formulas holds it")
        if report.ok or not chosen.shrunk:
            return report
    sizes = small_sizes(symbols, choices=choices) if choices else small_sizes(symbols)
    estimate = seconds(f, gradients, sizes, points)
    if estimate > 20 * budget:
        if keep:  # the copy is not the same formula, and the formula itself is too large: say so
            raise InputError(
                f"sizes too large to check: {what} would take about {estimate:.0f} s at the sizes given, and "
                f"the formulas hold size {', '.join(str(d) for d in sorted(keep, key=int))} as a number "
                "(a batch statistic), so a copy with smaller sizes is another formula; use smaller sizes")
        return replace(report, sizes=f"{chosen.note}; not run again at the sizes given: about {estimate:.0f} s")
    again = Plan(f, dict(gradients), sizes, "", {v: v for v in gradients})
    note = _shown(symbols, sizes, {}, f"the smaller copy failed ({report.max_abs_error:.1e}); run again here")
    return replace(run(again), sizes=note)


def _shown(symbols, sizes: Mapping, small: Mapping, why: str = "") -> str:
    """Which sizes a check ran at and why: ``m=3, n=2``, ``as given`` or ``784->3, 256->2 (why)``."""
    parts = [f"{d}={sizes[d]}" for d in sorted(sizes, key=str) if any(d in s.shape for s in symbols)]
    parts += [f"{d}->{n}" for d, n in sorted(small.items(), key=lambda item: -int(item[0])) if d != n]
    shown = ", ".join(parts) or "as given"
    return f"{shown} ({why})" if why else shown
