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
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable, Dict, Mapping, Optional, Sequence

import numpy as np
import sympy

from nnsym.declare.attention import ColumnBlock, PadColumns
from nnsym.declare.convolution import Geometry
from nnsym.declare.expressions import Constant, Det, Expr, Inverse, LogDet, MatMul, Symbol, post_order
from nnsym.errors import InputError
from nnsym.verify.evaluate import Evaluator, concrete_shape
from nnsym.verify import directional
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
    cost: float = 0.0  # the check's estimated seconds at these sizes
    small: Optional[Dict] = None  # the copy's {size given: small size}, when shrunk
    fixed: str = ""  # why the sizes cannot shrink, when they cannot


def resized(expr: Expr, small: Mapping, numbers: bool = False) -> Expr:
    """``expr`` with every concrete size replaced by its small twin (`resized_together`)."""
    return resized_together([expr], small, numbers)[0]


def resized_together(exprs: Sequence[Expr], small: Mapping, numbers: bool = False) -> list:
    """``exprs`` with every concrete size replaced by its small twin, rebuilt bottom-up without
    recursion (nodes as they were, not re-simplified; sizes live only in shapes). Rebuilt together, a
    node the expressions share (a forward value in a gradient) stays one object: the copies' memo tables
    then find it by identity, not by comparing two equal DAGs. ``numbers``: each number p/q whose p or q
    is a shrunk size shrinks with it (`_numbers_resized`)."""
    done: dict = {}
    for node in post_order(exprs):
        rebuilt = node.rebuilt([done[child] for child in node.args], [small.get(d, d) for d in node.shape])
        params = _block_params(node, small)
        if params != node.params:
            clone = object.__new__(type(node))
            Expr.__init__(clone, rebuilt.args, params, rebuilt.shape)
            rebuilt = clone
        if numbers:
            rebuilt = _number_resized(rebuilt, small)
        done[node] = rebuilt
    return [done[e] for e in exprs]


def _number_resized(node: Expr, small: Mapping) -> Expr:
    """A number p/q whose p or q is a shrunk size, shrunk with it: a rule writes a node's size as a
    number (layer norm's 1/n over the 256 features of a transformer block), which the plain copy leaves
    at 1/256. Used only after the plain copy failed (a number the user wrote that happens to equal a
    size is never changed otherwise)."""
    if not (isinstance(node, Constant) and node.value.is_Rational and node.value != 0):
        return node
    shrunk = {int(d): int(n) for d, n in small.items() if d != n}
    p, q = abs(int(node.value.p)), int(node.value.q)
    if p not in shrunk and q not in shrunk:
        return node
    return Constant(sympy.sign(node.value) * sympy.Rational(shrunk.get(p, p), shrunk.get(q, q)))


def _numbers_to_resize(exprs: Sequence[Expr], small: Mapping) -> bool:
    shrunk = {int(d) for d, n in small.items() if d != n}
    return any(isinstance(node, Constant) and node.value.is_Rational
               and {abs(int(node.value.p)), int(node.value.q)} & shrunk for node in post_order(exprs))


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


class _Fixed(Exception):
    """The formulas' sizes cannot shrink; the message says why."""


def column_blocks(exprs: Sequence[Expr]) -> dict:
    """{total columns: block width} of the column blocks in ``exprs`` (multi-head attention's heads:
    block h of width w is columns h w to (h + 1) w of a total that is a multiple of w). A split that is
    not such a partition cannot be shrunk consistently (`_Fixed`)."""
    blocks: dict = {}
    for node in post_order(exprs):
        if isinstance(node, ColumnBlock):
            total, width, start = node.args[0].cols, node.stop - node.start, node.start
        elif isinstance(node, PadColumns):
            total, width, start = node.total, node.args[0].cols, node.start
        else:
            continue
        if not all(isinstance(n, int) or getattr(n, "is_Integer", False) for n in (total, width)):
            continue  # a symbolic size: nothing to shrink
        total, width = sympy.Integer(total), sympy.Integer(width)
        if start % width or total % width or blocks.setdefault(total, width) != width:
            raise _Fixed("the column blocks (heads) are not an even split of the columns")
        blocks[total] = width
    if any(width in blocks for width in blocks.values()):
        raise _Fixed("the formulas hold column blocks of column blocks")
    return blocks


# ----- issue 15: nodes whose sizes are data ----------------------------------------------------------

def sizes_held_as_data(node: Expr) -> bool:
    """Does the node carry sizes as data (a convolution's or pooling's image geometry: kernel, image,
    padding), tied to its matrix sizes by products (columns = batch x height x width)? A copy with
    the matrix sizes shrunk cannot keep them consistent. Told by the parameter, not by the node's
    class: every node with a `Geometry` (correlation, pooling, im2col ...) is one."""
    return any(isinstance(p, Geometry) for p in node.params)


def why_sizes_are_fixed(exprs: Sequence[Expr]) -> str:
    """Why a copy of ``exprs`` with smaller sizes is not the same formula, or "" if it can be made."""
    for node in post_order(exprs):
        if sizes_held_as_data(node):
            return f"{type(node).__name__} holds its image geometry as data"
    try:
        column_blocks(exprs)
    except _Fixed as fixed:
        return str(fixed)
    return ""


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


def evaluation_seconds(exprs: Sequence[Expr], sizes: Mapping) -> float:
    """One evaluation of ``exprs`` (NumPy's overhead per node, and per flop)."""
    nodes, flops = work(exprs, sizes)
    return nodes * SECONDS_PER_NODE + flops * SECONDS_PER_FLOP


def finite_difference_seconds(f: Expr, gradients: Mapping, sizes: Mapping, points: int) -> float:
    """Central differences: two evaluations of f (or of y, for a Jacobian) per entry of each variable,
    at each point."""
    evaluations = points * (1 + 2 * sum(_entries(concrete_shape(v, sizes)) for v in gradients))
    return evaluations * evaluation_seconds([f], sizes) + points * evaluation_seconds(list(gradients.values()), sizes)


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


def directional_seconds(f: Expr, gradients: Mapping, sizes: Mapping, points: int) -> float:
    """Directional differences (`verify.directional`): a few evaluations of f per direction, a few
    directions per variable, at each point -- however many entries the variables have."""
    evaluations = points * (2 + directional.DIRECTIONS * directional.EVALUATIONS * len(gradients))
    return evaluations * evaluation_seconds([f], sizes) + points * evaluation_seconds(list(gradients.values()), sizes)


def _size_map(concrete: Sequence, level: int, keep=frozenset(), blocks: Optional[Mapping] = None) -> Dict:
    """Level 1: each distinct concrete size a distinct small one (2, 3, 4, ...: never larger than it
    was); level 2: alternately 2 and 3 (sizes of neighbouring layers still differ). Sizes in ``keep``
    stay as they are. A total of k column ``blocks`` of width w (multi-head attention's heads) becomes
    k blocks of the small width, k w': the heads are kept, each made narrow; at level 1 no small size,
    nor such a multiple of it, equals another (a size that happens to equal another could let a
    transposed formula pass)."""
    blocks = dict(blocks or {})
    if any(total in keep or width in keep for total, width in blocks.items()):
        keep = keep | set(blocks) | set(blocks.values())
    small: Dict = {}
    taken: set = set()
    k = 0
    for d in concrete:
        if d in keep or d in blocks:
            continue
        multiples = [int(total // d) for total, width in blocks.items() if width == d]
        while True:
            n = min(int(d), 2 + (k if level == 1 else k % 2))
            k += 1
            wanted = {n, *(m * n for m in multiples)}
            if level == 2 or n == int(d) or not wanted & taken:
                break
        small[d] = sympy.Integer(n)
        taken |= wanted
        for total, width in blocks.items():
            if width == d:
                small[total] = sympy.Integer(int(total // d) * n)
    for total in blocks:  # blocks one column wide keep their width of 1
        small.setdefault(total, total)
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


def _well_formed(exprs: Sequence[Expr], sizes: Mapping, allowed: set) -> str:
    """Does the small copy still fit together? "" if it does, else which node does not. A size computed
    from others (a Kronecker product's rows x rows, a correlation's n + 2p - k + 1) does not shrink with
    them: then the copy is not the same formula, and is not used. Checked on the shapes, then by
    evaluating once."""
    for node in post_order(exprs):
        computed = [d for d in node.shape if d.is_Integer and d != 1 and d not in allowed]
        if computed:
            return f"{type(node).__name__}'s size {computed[0]} is computed from other sizes"
    symbols = symbols_of(*exprs)
    rng = np.random.default_rng(0)
    values = {s.name: rng.uniform(0.5, 1.5, concrete_shape(s, sizes)) for s in symbols}
    evaluator = Evaluator(values, sizes)
    try:
        with np.errstate(all="ignore"):
            for e in exprs:
                evaluator(e)
    except (InputError, ValueError, np.linalg.LinAlgError) as error:
        return f"the copy does not evaluate ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
    for node, value in evaluator.memo.items():
        if value.shape != concrete_shape(node, sizes):
            return f"{type(node).__name__}'s sizes are computed from other sizes: its value in the copy has another shape"
    return ""


class _CannotShrink(InputError):
    """Too large to check at the sizes given, and the sizes cannot shrink (``fixed`` says why)."""

    def __init__(self, message: str, fixed: str):
        super().__init__(message)
        self.fixed = fixed


# The last few copies and their verdicts: the two checks (and a Hessian's) plan the same copy of the same
# formulas, whose building and trial evaluation cost as much as a check of an LSTM unrolled over 16 steps.
_COPIES: "OrderedDict[tuple, object]" = OrderedDict()
_REMEMBERED = 32


def _remembered(key: tuple, make: Callable):
    if key not in _COPIES:
        _COPIES[key] = make()
        while len(_COPIES) > _REMEMBERED:
            _COPIES.popitem(last=False)
    return _COPIES[key]


def _copy(exprs: list, small: Mapping, numbers: bool) -> list:
    return _remembered(("copy", tuple(exprs), tuple(sorted(small.items(), key=str)), numbers),
                       lambda: resized_together(exprs, small, numbers))


def _copy_well_formed(exprs: list, sizes: Mapping, allowed: set) -> str:
    return _remembered(("well formed", tuple(exprs), tuple(sorted(sizes.items(), key=str)),
                        tuple(sorted(allowed, key=str))), lambda: _well_formed(exprs, sizes, allowed))


def _symbols(*exprs: Expr) -> list:
    """`symbols_of`, remembered: each check's planning asks for the same formulas' symbols several times."""
    return _remembered(("symbols", exprs), lambda: symbols_of(*exprs))


def plan(f: Expr, gradients: Mapping[Symbol, Expr], what: str, seconds: Callable, budget: float, points: int,
         choices: Optional[Sequence[int]] = None, keep=frozenset(), numbers: bool = False) -> Plan:
    """The sizes ``what`` (a check) runs at: as given (symbolic sizes from ``choices``) if its
    estimate ``seconds(f, gradients, sizes, points)`` is within ``budget``, else on a small copy
    (``numbers``: with the numbers that are shrunk sizes shrunk too). Formulas whose sizes cannot shrink
    run at the sizes given if that is not far over budget, else `InputError` says why."""
    symbols = _symbols(f, *gradients.values(), *gradients)
    sizes = small_sizes(symbols, choices=choices) if choices else small_sizes(symbols)
    same = {v: v for v in gradients}
    estimate = seconds(f, gradients, sizes, points)
    if estimate <= budget:
        return Plan(f, dict(gradients), sizes, _shown(symbols, sizes, {}), same, cost=estimate)
    exprs = [f, *gradients.values()]
    fixed = why_sizes_are_fixed(exprs)
    if not fixed:
        blocks = column_blocks(exprs)
        concrete = sorted({d for s in symbols for d in s.shape if d.is_Integer and d != 1}
                          | {w for w in blocks.values() if w != 1}, key=int)
        for level in (1, 2):
            small = _size_map(concrete, level, keep, blocks)
            twin_f, *twins = _copy([f, *gradients, *gradients.values()], small, numbers)
            twin_variables = dict(zip(gradients, twins[:len(gradients)]))
            twin_gradients = dict(zip(twins[:len(gradients)], twins[len(gradients):]))
            twin_symbols = _symbols(twin_f, *twin_gradients.values(), *twin_gradients)
            twin_sizes = small_sizes(twin_symbols, choices=_SYMBOLIC_CHOICES[level])
            cost = seconds(twin_f, twin_gradients, twin_sizes, points)
            if cost <= budget or level == 2:
                allowed = set(small.values())
                fixed = _copy_well_formed([twin_f, *twin_gradients.values()], twin_sizes, allowed)
                if fixed:
                    break
                given = _shown(symbols, sizes, {})
                why = (f"at {'the sizes given' if given == 'as given' else given} {what} would take about "
                       f"{estimate:.1f} s, over its {budget} s budget")
                heads = [f"{total} = {total // width} x {width} -> {total // width} x {small[width]}"
                         for total, width in blocks.items() if small.get(width, width) != width]
                if heads:
                    why += f"; column blocks (heads) kept, each narrower: {', '.join(heads)}"
                shown = {d: n for d, n in small.items() if d in {d for s in symbols for d in s.shape} or d in blocks}
                return Plan(twin_f, twin_gradients, twin_sizes, _shown(twin_symbols, twin_sizes, shown, why),
                            twin_variables, shrunk=True, cost=cost, small=small)
    # Not shrinkable: the full sizes, if that is not far over budget.
    if estimate > 20 * budget:
        raise _CannotShrink(f"sizes too large to check: {what} would take about {estimate:.0f} s and the formulas "
                         f"cannot be checked at smaller sizes ({fixed})", fixed)
    return Plan(f, dict(gradients), sizes,
                _shown(symbols, sizes, {}, f"over budget, but these formulas cannot be shrunk: {fixed}"), same,
                cost=estimate, fixed=fixed)


# The directional check at full size runs where the sizes cannot shrink, below MAX_DIRECTIONAL_SECONDS
# (above, the check is refused); and instead of a copy with smaller sizes that is itself over budget when
# the sizes cost little: one evaluation at the sizes given costs at most SIZES_COST_LITTLE times one of the
# copy (an unrolled recurrence: its 1,200 nodes, not its sizes, cost). There the copy saves only the
# entry-by-entry loop, which the directional check does without; it then checks the formulas handed out at
# their own sizes, and the oracle still checks every entry of the copy.
MAX_DIRECTIONAL_SECONDS = 10.0
SIZES_COST_LITTLE = 10


def run_within_budget(f: Expr, gradients: Mapping[Symbol, Expr], what: str, seconds: Callable, budget: float,
                      points: int, run: Callable, choices: Optional[Sequence[int]] = None, method: str = "",
                      along: Optional[Callable] = None):
    """``run(plan)`` (a check, returning its `Report`) at the sizes `plan` chooses, the report saying
    which. A check that fails on a smaller copy runs again at the sizes given, unless that would take
    far too long (then the failure stands): a formula may hold a size as a number (batch norm's 1/B),
    which the copy does not shrink, so only the sizes given decide against it.

    ``along(plan)`` is the full-size directional check (`verify.directional`), for the checks that
    have one (central differences). It runs instead where the sizes cannot shrink (a convolution's
    geometry is data) or a copy with smaller sizes would still be over budget and costs more than it
    (an unrolled recurrence: its steps, not its sizes, cost), and where the copy failed and the sizes
    given are too large to run entry by entry."""
    symbols = _symbols(f, *gradients.values(), *gradients)
    try:
        chosen = plan(f, gradients, what, seconds, budget, points, choices)
    except InputError as error:
        if along is not None:
            fixed = getattr(error, "fixed", "") or why_sizes_are_fixed([f, *gradients.values()])
            full = _along_directions(f, gradients, what, seconds, budget, points, along,
                                     f"the sizes cannot shrink: {fixed}")
            if full is not None:
                return full
        if not method:
            raise
        # A second check that can neither run at these sizes in bounds nor on a smaller copy (sizes
        # computed from sizes: a convolution's output) is left out, and its report says so and why.
        return Report(True, 0, 0.0, 0.0, None, None, method, detail=str(error).partition(": ")[2])
    if along is not None and chosen.shrunk and chosen.cost > budget:
        full = _along_directions(f, gradients, what, seconds, budget, points, along, "", chosen)
        if full is not None:
            return full
    try:
        report = replace(run(chosen), sizes=chosen.note)
    except InputError:  # too many entries to perturb one by one, and the sizes cannot shrink
        reason = f"the sizes cannot shrink: {chosen.fixed}" if chosen.fixed else "too many entries to perturb"
        full = None if along is None or chosen.shrunk else _along_directions(
            f, gradients, what, seconds, budget, points, along, reason)
        if full is None:
            raise
        return full
    if report.ok or not chosen.shrunk:
        return report
    exprs = [f, *gradients.values()]
    concrete = {d for s in symbols for d in s.shape if d.is_Integer and d != 1}
    first = chosen
    keep = sizes_in_constants(exprs, concrete)
    kept_plan = plan(f, gradients, what, seconds, budget, points, choices, keep) if keep else None
    # A kept size may be what every entry of a node sums over (batch norm's B): the estimate, which
    # counts operand entries once, is then too low by up to that size.
    if kept_plan and seconds(kept_plan.f, kept_plan.gradients, kept_plan.sizes, points) * max(keep) <= 20 * budget:
        chosen = kept_plan
        kept = ", ".join(str(d) for d in sorted(keep, key=int))
        report = replace(run(chosen), sizes=f"{chosen.note}; {kept} kept: a number in the formulas holds it")
        if report.ok or not chosen.shrunk:
            return report
    # Too large to keep: the numbers that equal a shrunk size shrink with it (layer norm's 1/256 over a
    # transformer block's 256 features).
    if _numbers_to_resize(exprs, first.small):
        numbered = plan(f, gradients, what, seconds, budget, points, choices, numbers=True)
        if numbered.shrunk:
            again = replace(run(numbered), sizes=f"{numbered.note}; numbers equal to a shrunk size shrunk with it "
                                                 "(the first copy failed: the formulas hold a size as a number)")
            if again.ok:
                return again
    sizes = small_sizes(symbols, choices=choices) if choices else small_sizes(symbols)
    estimate = seconds(f, gradients, sizes, points)
    if estimate > 20 * budget:
        failed = f"the smaller copy failed ({report.max_abs_error:.1e})"
        if along is not None:
            full = _along_directions(f, gradients, what, seconds, budget, points, along, failed)
            if full is not None:
                return full
        if keep:  # the copy is not the same formula, and the formula itself is too large: say so
            raise InputError(
                f"sizes too large to check: {what} would take about {estimate:.0f} s at the sizes given, and "
                f"the formulas hold size {', '.join(str(d) for d in sorted(keep, key=int))} as a number "
                "(a batch statistic), so a copy with smaller sizes is another formula; use smaller sizes")
        return replace(report, sizes=f"{chosen.note}; not run again at the sizes given: about {estimate:.0f} s")
    again = Plan(f, dict(gradients), sizes, "", {v: v for v in gradients})
    note = _shown(symbols, sizes, {}, f"the smaller copy failed ({report.max_abs_error:.1e}); run again here")
    try:
        return replace(run(again), sizes=note)
    except InputError:  # too many entries to perturb one by one
        full = None if along is None else _along_directions(
            f, gradients, what, seconds, budget, points, along, f"the smaller copy failed ({report.max_abs_error:.1e})")
        if full is None:
            raise
        return full


def _along_directions(f: Expr, gradients: Mapping, what: str, seconds: Callable, budget: float, points: int,
                      along: Callable, reason: str, shrunk: Optional[Plan] = None):
    """The report of ``along`` (the directional check) at the sizes given, its note saying why
    (``reason``: why not entry by entry on a copy with smaller sizes); None where it would take far
    too long, or where the copy ``shrunk`` is much cheaper to evaluate (its sizes, not its nodes, cost:
    the copy is the better check)."""
    symbols = _symbols(f, *gradients.values(), *gradients)
    sizes = small_sizes(symbols)
    cost = directional_seconds(f, gradients, sizes, directional_points(points))
    if cost > MAX_DIRECTIONAL_SECONDS:
        return None
    estimate = seconds(f, gradients, sizes, points)
    if shrunk is not None and shrunk.shrunk:
        full, small = evaluation_seconds([f], sizes), evaluation_seconds([shrunk.f], shrunk.sizes)
        if full > SIZES_COST_LITTLE * small:
            return None
        nodes, _ = work([f], sizes)
        reason = (f"about {shrunk.cost:.1f} s even on a copy with smaller sizes ({_shown([], {}, shrunk.small)}), "
                  f"whose evaluations cost {small * 1e3:.0f} ms to {full * 1e3:.0f} ms at the sizes given: "
                  f"f's {nodes} nodes, not its sizes, cost")
    why = (f"{what} entry by entry would take about {estimate:.1f} s, over its {budget} s budget; {reason}; "
           f"along random directions about {cost:.2f} s")
    plan_ = Plan(f, dict(gradients), sizes, "", {v: v for v in gradients}, cost=cost)
    return replace(along(plan_), sizes=_shown(symbols, sizes, {}, why, full=True))


def directional_points(points: int) -> int:
    """The directional check's points for an entry-by-entry check of ``points``: each point costs
    a full-size evaluation per direction, and each direction already sees every entry."""
    return min(points, DIRECTIONAL_POINTS)


DIRECTIONAL_POINTS = 2


def _shown(symbols, sizes: Mapping, small: Mapping, why: str = "", full: bool = False) -> str:
    """Which sizes a check ran at and why: ``m=3, n=2``, ``as given`` or ``784->3, 256->2 (why)``;
    ``full``: the concrete sizes given too (``as given: 16, 32, 64``)."""
    parts = [f"{d}={sizes[d]}" for d in sorted(sizes, key=str) if any(d in s.shape for s in symbols)]
    parts += [f"{d}->{n}" for d, n in sorted(small.items(), key=lambda item: -int(item[0])) if d != n]
    concrete = sorted({int(d) for s in symbols for d in s.shape if d.is_Integer and d != 1})
    given = f"as given: {', '.join(map(str, concrete))}" if full and concrete else "as given"
    shown = ", ".join(parts) or given
    return f"{shown} ({why})" if why else shown
