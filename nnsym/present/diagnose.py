"""Why a claimed gradient is wrong: the classic mistakes, recognised by value.

Each diagnosis is a function of a `Sample` (the true gradient and the claim evaluated at the same random
points) that returns a sentence or None; `DIAGNOSES` tries them in order and the first that fits is
reported. Every test is "does this rewrite of the truth equal the claim at *every* point", with the same
norm-wise tolerance as the verdict itself, so a diagnosis is a fact about the claim, not a guess.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from nnsym.declare import expressions as E
from nnsym.declare.expressions import (Add, Apply, Expr, MatMul, Named, Scale, SoftmaxCrossEntropy, Symbol,
                                       Transpose, post_order)
from nnsym.declare.attention import RowSoftmax
from nnsym.declare.normalization import Normalize, std
from nnsym.declare.convolution import Im2col, col2im
from nnsym.declare.correlation import Correlate, correlate, rot180
from nnsym.declare.reading.time_steps import step_of
from nnsym.derive.canonical import canonical, rebuild
from nnsym.derive.reverse import cotangents
from nnsym.derive.rules import rule_for
from nnsym.derive.steps import substitute
from nnsym.emit.latex import latex
from nnsym.errors import NnsymError, spelled
from nnsym.verify.evaluate import evaluate

# Two float64 evaluations of algebraically equal formulas at random O(1) points differ by a few ulp
# times the cancellation in the sums (≲ 1e-13 relative here, ≲ 1e-12 with the inverses that `points`
# admits, condition ≤ 1e4). A different formula differs at a random point by a relative amount of
# order one; to be within 1e-8 it would have to differ by a coefficient below 1e-8. So 1e-8 leaves
# four orders of margin on each side: a right claim is never failed, a wrong one never passed.
RTOL = 1e-8
FLOOR = 0.0  # scale-free (issue 9): only two exact zeros are equal without a relative match
MAX_TERMS = 16  # additive terms tried when looking for a dropped term or a wrong order
MAX_ORDERINGS = 64  # reorderings of one product tried


def close(claim: np.ndarray, truth: np.ndarray) -> bool:
    """Norm-wise: ||claim - truth|| <= RTOL (||claim|| + ||truth||) + FLOOR."""
    if claim.shape != truth.shape or not np.all(np.isfinite(claim)):
        return False
    scale = np.linalg.norm(claim) + np.linalg.norm(truth)
    return bool(np.linalg.norm(claim - truth) <= RTOL * scale + FLOOR)


@dataclass
class Sample:
    """The function, its true gradient and the claim's values at the same points."""

    function: Expr
    wrt: Symbol
    truth: Expr
    sizes: Dict
    points: List[Dict[str, np.ndarray]]
    true_values: List[np.ndarray]
    claimed_values: List[np.ndarray]
    # The claim's values at other points (None where it cannot be evaluated there).
    claim_at: Callable[[List[Dict[str, np.ndarray]]], Optional[List[np.ndarray]]]
    claim: Optional[Expr] = None  # the claim as read, when it was written in LaTeX (not a user's function)
    # issue 15: the first `typical` points are drawn at the typical size (the rest at other scales and beside
    # kinks, where 1 - h o h of a saturated tanh is all rounding); None: every point is typical
    typical: Optional[int] = None

    def claim_equals_typically(self, expr: Expr) -> bool:
        """`claim_equals` at the typical points: for a diagnosis whose rewrite of the truth computes a
        derivative another way (tanh'(z) as 1 - h o h), equal in exact arithmetic, not at every scale."""
        if expr.shape != self.truth.shape:
            return False
        points = self.points[:self.typical]
        values = self.values_of(expr, points)
        return values is not None and all(close(c, v) for c, v in zip(self.claimed_values, values))

    def values_of(self, expr: Expr, points=None) -> Optional[List[np.ndarray]]:
        points = self.points if points is None else points
        try:
            with np.errstate(all="ignore"):
                return [evaluate(expr, values, self.sizes) for values in points]
        except (NnsymError, np.linalg.LinAlgError, ValueError):
            return None

    def claim_equals_truth_at(self, candidate: Expr) -> bool:
        """Does ``candidate`` (a variant of the claim) equal the true gradient at every point?"""
        values = self.values_of(candidate)
        return values is not None and all(close(v, t) for v, t in zip(values, self.true_values))

    def claim_equals(self, expr: Expr) -> bool:
        """Does the claim equal ``expr`` at every point?"""
        if expr.shape != self.truth.shape and expr.shape != self.truth.shape[::-1]:
            return False
        # Cheap screen at the first point, then all of them.
        first = self.values_of(expr, self.points[:1])
        if first is None or not close(self.claimed_values[0], first[0]):
            return False
        values = self.values_of(expr)
        return values is not None and all(close(c, v) for c, v in zip(self.claimed_values, values))


def _show(expr: Expr) -> str:
    return latex(expr)


# ----- the diagnoses ----------------------------------------------------------------------------


def transposed(sample: Sample) -> Optional[str]:
    """The claim is the truth transposed (numerator layout, or a product written backwards)."""
    if all(close(c, t.T) for c, t in zip(sample.claimed_values, sample.true_values)):
        return ("transpose: the claim is the transpose of the true gradient (numerator layout?); "
                "in denominator layout the gradient has the variable's shape")
    return None


def _rational(c: float) -> Optional[str]:
    guess = Fraction(c).limit_denominator(64)
    if abs(float(guess) - c) <= 1e-9 * abs(c):
        return str(guess)
    return None


def scaled(sample: Sample) -> Optional[str]:
    """The claim is c times the truth; c by least squares per point, then named."""
    factors = []
    for c, t in zip(sample.claimed_values, sample.true_values):
        if c.shape != t.shape:
            return None
        norm = float(np.sum(t * t))
        if norm == 0:  # scale-free (issue 9): a tiny gradient is still a gradient
            return None
        factor = float(np.sum(c * t)) / norm
        if not close(c, factor * t):
            return None
        factors.append(factor)
    first = factors[0]
    if all(abs(f) <= 1e-12 for f in factors):
        return "zero: the claim is zero where the true gradient is not"
    if all(abs(f - first) <= 1e-9 * abs(first) for f in factors):
        if abs(first + 1) <= 1e-9:
            return "scaled by -1: the claim has the wrong sign"
        name = _rational(first) or f"{first:.12g}"  # 1.000001, never rounded to "1" (issue 9)
        return f"scaled by {name}: the claim is {name} times the true gradient"
    # The factor varies from point to point: a scalar symbol (1/N, N) the claim has too many of.
    for symbol in sorted({s for s in sample.function.free_symbols() if s.kind == "scalar"}, key=lambda s: s.name):
        q = [float(np.asarray(p[symbol.name]).reshape(-1)[0]) for p in sample.points]
        for power, shown in ((1, "{r}{s}"), (-1, "{r}/{s}")):
            ratios = [f / v ** power for f, v in zip(factors, q)]
            if all(abs(r - ratios[0]) <= 1e-9 * abs(ratios[0]) for r in ratios):
                name = _ratio_with(ratios[0], symbol.name, power)
                return f"scaled by {name}: the claim is {name} times the true gradient"
    return None


def _ratio_with(ratio: float, symbol: str, power: int) -> str:
    """ratio * symbol^power written so that it reads one way only (issue 10): 6/B, 1/(6B), B/6, -2B."""
    fraction = Fraction(ratio).limit_denominator(64)
    if abs(float(fraction) - ratio) > 1e-9 * abs(ratio):
        return f"{ratio:.6g}{symbol}" if power == 1 else f"{ratio:.6g}/{symbol}"
    p, q = fraction.numerator, fraction.denominator
    if power == -1:
        return f"{p}/{symbol}" if q == 1 else f"{p}/({q}{symbol})"
    top = {1: "", -1: "-"}.get(p, str(p)) + symbol
    return top if q == 1 else f"{top}/{q}"


def _apply_nodes(expr: Expr, wrt: Symbol) -> List[Apply]:
    """The elementwise applications on a path to ``wrt``, outermost first, at most MAX_TERMS of them
    (each costs one reverse pass; a slip is likelier near the loss than 190 sigmoids deep)."""
    found, seen, queue = [], set(), collections.deque([expr])
    while queue and len(found) < MAX_TERMS:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, Apply) and node.depends_on(wrt):
            found.append(node)
        queue.extend(node.args)
    return found


def _gradient_with_factor(sample: Sample, node: Apply, derivative: Expr, extra: bool) -> Expr:
    """The gradient as if the chain rule at ``node`` had left out f'(z) (or applied it twice)."""
    upstream = {}
    operand = node.args[0]

    def hook(current, G):
        if current == node:
            upstream["G"] = G
        elif current == operand and "G" in upstream:
            through = E.hadamard(upstream["G"], derivative)  # what the true rule sent down
            instead = E.hadamard(through, derivative) if extra else upstream["G"]
            return E.add(G, E.neg(through), instead)
        return G

    return cotangents(sample.function, [sample.wrt], hook)[sample.wrt]


def elementwise_factor(sample: Sample) -> Optional[str]:
    """A missing (or an extra) f'(z) for one of the function's elementwise functions f(z)."""
    for node in _apply_nodes(sample.function, sample.wrt):
        derivative = node.function.spec.derivative(node.args[0], node.function)
        for extra in (False, True):
            try:
                candidate = _gradient_with_factor(sample, node, derivative, extra)
            except (NnsymError, AssertionError):
                continue
            if sample.claim_equals(candidate):
                factor = _show(derivative)
                if extra:
                    return f"extra factor: the claim has an extra \\odot {factor} (the derivative of {_show(node)})"
                return f"missing factor: the claim lacks the factor \\odot {factor} (the derivative of {_show(node)})"
    return None


def symmetric_only(sample: Sample) -> Optional[str]:
    """The claim equals the truth only when some square matrices are symmetric (2Ax for x^T A x)."""
    square = sorted((s for s in sample.function.free_symbols()
                     if s.kind == "matrix" and s.rows == s.cols and not s.assumptions & {"symmetric", "spd"}),
                    key=lambda s: s.name)
    # The fewest matrices that must be symmetric: one at a time, then pairs, ..., then all of them.
    subsets = [c for k in range(1, min(len(square), 3) + 1) for c in itertools.combinations(square, k)]
    if len(square) > 3:
        subsets.append(tuple(square))
    for subset in subsets:
        points = []
        for values in sample.points:
            values = dict(values)
            for s in subset:
                values[s.name] = (values[s.name] + values[s.name].T) / 2
            points.append(values)
        truth = sample.values_of(sample.truth, points)
        claim = sample.claim_at(points)
        if truth is None or claim is None:
            continue
        if all(close(c, t) for c, t in zip(claim, truth)):
            names = ", ".join(s.name for s in subset)
            verb = "is" if len(subset) == 1 else "are"
            return (f"symmetric-only identity: the claim is right only if {names} {verb} symmetric; "
                    f"declare it ({spelled('--assume NAME=symmetric', f'assumptions={{{subset[0].name!r}: ' + repr('symmetric') + '}')}) "
                    "or use the general form")
    return None


def _terms(expr: Expr) -> List[Expr]:
    """The additive terms of expr, distributing products and transposes over sums."""
    if isinstance(expr, Add):
        return [t for a in expr.args for t in _terms(a)][:MAX_TERMS]
    if isinstance(expr, Scale):
        return [E.scale(expr.args[0], t) for t in _terms(expr.args[1])]
    if isinstance(expr, Transpose):
        return [E.transpose(t) for t in _terms(expr.args[0])]
    if isinstance(expr, MatMul):
        left, right = _terms(expr.args[0]), _terms(expr.args[1])
        if len(left) * len(right) <= MAX_TERMS:
            return [E.matmul(a, b) for a in left for b in right]
    return [expr]


def dropped_term(sample: Sample) -> Optional[str]:
    """The claim is the truth less one of its additive terms (or only one of them)."""
    terms = _terms(sample.truth)
    if len(terms) < 2:
        return None
    for i, term in enumerate(terms):
        rest = E.add(*(t for j, t in enumerate(terms) if j != i))
        if sample.claim_equals(rest):
            return f"dropped term: the claim misses the term {_show(term)}"
    for term in terms:
        if sample.claim_equals(term):
            others = E.add(*(t for t in terms if t is not term))
            return f"dropped term: the claim keeps only {_show(term)} and misses {_show(others)}"
    return None


def extra_term(sample: Sample) -> Optional[str]:
    """The claim is the truth plus one more additive term of its own."""
    if sample.claim is None:
        return None
    terms = _terms(sample.claim)
    if len(terms) < 2:
        return None
    for i, term in enumerate(terms):
        rest = E.add(*(t for j, t in enumerate(terms) if j != i))
        if rest.shape != sample.truth.shape:
            continue
        values = sample.values_of(rest)
        if values is not None and all(close(v, t) for v, t in zip(values, sample.true_values)):
            return f"extra term: without the term {_show(term)} the claim would be right"
    return None


def _factors(expr: Expr) -> Tuple[Optional[Expr], List[Expr]]:
    coefficient = None
    if isinstance(expr, Scale):
        coefficient, expr = expr.args
    out, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, MatMul):
            stack.extend([node.args[1], node.args[0]])
        else:
            out.append(node)
    return coefficient, out


def _reorderings(factors: Sequence[Expr]):
    """Other orders of a product's factors, each factor as written or transposed."""
    count = 0
    choices = [(f, E.transpose(f)) if not f.is_scalar else (f,) for f in factors]
    for order in itertools.permutations(range(len(factors))):
        for picks in itertools.product(*(range(len(choices[i])) for i in order)):
            if count >= MAX_ORDERINGS:
                return
            if list(order) == sorted(order) and not any(picks):
                continue
            count += 1
            try:
                product = choices[order[0]][picks[0]]
                for i, p in zip(order[1:], picks[1:]):
                    product = E.matmul(product, choices[i][p])
            except NnsymError:
                continue
            yield product


def wrong_order(sample: Sample) -> Optional[str]:
    """The claim is the truth with the factors of one product in another order (or transposed)."""
    terms = _terms(sample.truth)
    for i, term in enumerate(terms):
        coefficient, factors = _factors(term)
        if len(factors) < 2:
            continue
        for product in _reorderings(factors):
            if product.shape != term.shape:
                continue
            variant = product if coefficient is None else E.scale(coefficient, product)
            candidate = E.add(*(variant if j == i else t for j, t in enumerate(terms)))
            if sample.claim_equals(candidate):
                return f"wrong order: the claim computes {_show(variant)} where the true gradient has {_show(term)}"
    return None


# ----- issue 10: a weight matrix's missing transpose, a claim right only under an assumption -----------

def _transpose_swaps(node: Expr):
    """(symbol, claim with one occurrence of a square, non-symmetric matrix transposed or untransposed)."""
    def square(n):
        return isinstance(n, Symbol) and n.kind == "matrix" and n.is_square and not n.assumptions & {"symmetric", "spd"}

    if square(node):
        yield node, True, E.transpose(node)
        return
    if isinstance(node, Transpose) and square(node.args[0]):
        yield node.args[0], False, node.args[0]
        return
    for i, child in enumerate(node.args):
        for symbol, added, replaced in _transpose_swaps(child):
            args = list(node.args)
            args[i] = replaced
            try:
                yield symbol, added, rebuild(node, args)
            except NnsymError:
                continue


def missing_transpose(sample: Sample) -> Optional[str]:
    """The claim has W where the gradient has W^T (or the reverse), W square: a weight matrix used
    without its transpose. Tried before the symmetric-only identity, which would tell a student to
    declare a weight matrix symmetric."""
    if sample.claim is None:
        return None
    for k, (symbol, added, candidate) in enumerate(_transpose_swaps(sample.claim)):
        if k >= MAX_TERMS:
            break
        if candidate.shape == sample.truth.shape and sample.claim_equals_truth_at(candidate):
            name = latex(symbol)
            if added:
                return (f"missing transpose: the claim has {name} where the gradient has {name}^\\top; "
                        f"with {name}^\\top there the claim is right")
            return (f"extra transpose: the claim has {name}^\\top where the gradient has {name}; "
                    f"with {name} there the claim is right")
    return None


def assumption_only(sample: Sample) -> Optional[str]:
    """The claim is right only where the targets of a cross-entropy sum to one (softmax(z) - y)."""
    targets = sorted({node.args[1] for node in post_order([canonical(sample.function)])
                      if isinstance(node, SoftmaxCrossEntropy) and isinstance(node.args[1], Symbol)
                      and not node.args[1].assumptions & {"probability", "onehot"}}, key=lambda s: s.name)
    for y in targets:
        points = []
        for values in sample.points:
            values = dict(values)
            v = np.abs(values[y.name]) + 1e-3
            values[y.name] = v / v.sum(axis=0, keepdims=True)
            points.append(values)
        truth = sample.values_of(sample.truth, points)
        claim = sample.claim_at(points)
        if truth is not None and claim is not None and all(close(c, t) for c, t in zip(claim, truth)):
            return (f"right only if \\mathbf{{1}}^\\top {y.name} = 1: declare {y.name} one-hot or a probability "
                    f"vector: pass {spelled(f'--assume {y.name}=onehot', f'assumptions={{{y.name!r}: ' + repr('onehot') + '}')}")
    return None


# ----- normalization, attention and dropout (issue 14): the classic slips of FINDINGS.md -----

def _nodes_on_path(sample: Sample, kind) -> List[Expr]:
    return [n for n in E.post_order([sample.function]) if isinstance(n, kind) and n.depends_on(sample.wrt)]


def _gradient_with_rule(sample: Sample, node: Expr, wrong_rule, child: int = 0) -> Optional[Expr]:
    """The gradient as if ``node``'s rule had been ``wrong_rule(node, G)`` (the cotangent of its child
    number ``child``) instead of the true one; None when it cannot be formed."""
    upstream = {}
    operand = node.args[child]

    def hook(current, G):
        if current == node:
            upstream["G"] = G
        elif current == operand and "G" in upstream:
            true = rule_for(node)(node, upstream["G"])[child]
            return E.add(G, E.neg(true), wrong_rule(node, upstream["G"]))
        return G

    try:
        return cotangents(sample.function, [sample.wrt], hook)[sample.wrt]
    except (NnsymError, AssertionError):
        return None


def normalization_constants(sample: Sample) -> Optional[str]:
    """Batch or layer norm differentiated with the mean and variance held constant: dZ = dX o 1/sigma."""
    for node in _nodes_on_path(sample, Normalize):
        sigma = std(node.args[0], node.over, node.eps)
        spread = E.matmul(sigma, E.Ones(1, node.cols)) if node.over == "batch" else E.matmul(E.Ones(node.rows, 1), sigma)
        candidate = _gradient_with_rule(sample, node, lambda n, G: E.hadamard_div(G, spread))
        if candidate is not None and sample.claim_equals(candidate):
            layer = "batch norm" if node.over == "batch" else "layer norm"
            return (f"{layer} with its statistics held constant: the claim treats the mean and the variance as "
                    f"constants (dZ = dX-hat / sigma); they depend on Z, which adds -(1/N)(dX-hat 1 1^T + "
                    f"x-hat o ((dX-hat o x-hat) 1 1^T)) / sigma (sums over the normalised values)")
    return None


def attention_slips(sample: Sample) -> Optional[str]:
    """Attention without its 1/sqrt(d), or with the row softmax differentiated entry by entry."""
    for node in _nodes_on_path(sample, RowSoftmax):
        scores = node.args[0]
        c = E.number(scores.args[0]) if isinstance(scores, Scale) else None
        if c is not None and c != 0 and sample.claim_equals(E.scale(E.Constant(1 / c), sample.truth)):
            return (f"missing 1/sqrt(d): the claim is {_show(E.Constant(1 / c))} times the gradient, the factor "
                    f"{_show(E.Constant(c))} of the scores S = Q K^T / sqrt(d) left out of dQ and dK")
        elementwise = {
            "P o dP (the softmax's row Jacobian dropped: no -((dP o P) 1) 1^T term)": lambda n, G: E.hadamard(n, G),
            "P o (1 - P) o dP (the softmax differentiated entry by entry, like a sigmoid)":
                lambda n, G: E.hadamard(E.hadamard(n, E.add(E.Ones(*n.shape), E.neg(n))), G),
        }
        for description, wrong in elementwise.items():
            candidate = _gradient_with_rule(sample, node, wrong)
            if candidate is not None and sample.claim_equals(candidate):
                return (f"softmax taken elementwise: the claim uses dS = {description}; the row-wise softmax "
                        f"has dS = P o (dP - ((dP o P) 1) 1^T)")
    # dV = P^T dY does not pass through the softmax, but P's scale is still in it
    for node in E.post_order([sample.function]):
        found = _unscaled_softmax(sample, node.args[0]) if isinstance(node, RowSoftmax) else None
        if found:
            return found
    return None


# ----- issue 14c: the 1/sqrt(d) forgotten inside the softmax (dV, and dS written with P unscaled) -----
def _unscaled_softmax(sample: Sample, scores: Expr) -> Optional[str]:
    """The claim is the gradient of the function with the scores' scale dropped (P = softmax(Q K^T)),
    with or without the scale kept outside as in dQ = dS K / sqrt(d)."""
    if not isinstance(scores, Scale) or scores.args[0].depends_on(sample.wrt):
        return None
    factor, unscaled = scores.args
    try:
        forgotten = cotangents(substitute(sample.function, scores, unscaled), [sample.wrt])[sample.wrt]
    except (NnsymError, AssertionError):
        return None
    for candidate in (forgotten, E.scale(factor, forgotten)):
        if sample.claim_equals(candidate):
            return (f"missing 1/sqrt(d): the claim's softmax is of Q K^T, not of the scores S = "
                    f"{_show(scores)}; the factor {_show(factor)} belongs inside the softmax "
                    f"(P = softmax_row(Q K^T / sqrt(d))), so every gradient through P changes")
    return None


def dropout_scale(sample: Sample) -> Optional[str]:
    """Dropout (A o M) / keep differentiated without the 1/keep."""
    for node in _nodes_on_path(sample, Scale):
        c = E.number(node.args[0])
        operand = node.args[1]
        if (c is not None and c > 1 and isinstance(operand, E.Hadamard)
                and any(isinstance(a, Symbol) and not a.depends_on(sample.wrt) for a in operand.args)
                and sample.claim_equals(E.scale(E.Constant(1 / c), sample.truth))):
            return (f"dropout without the 1/keep: the claim is {_show(E.Constant(1 / c))} times the gradient; "
                    f"(A o M) / keep has dA = dY o M / keep")
    return None


LAYER_DIAGNOSES = (normalization_constants, attention_slips, dropout_scale)

# ----- convolution and recurrent networks (issue 15): the classic slips of FINDINGS.md -------------
# Each builds the gradient the slip would give (the true reverse pass with one rule changed, or with
# some of its paths or terms left out) and asks whether the claim equals it at every point.


def _claim_equals_with(sample: Sample, expr: Expr, extra: Dict[str, np.ndarray]) -> bool:
    """`Sample.claim_equals` for an expression with constants of its own (``extra``, by symbol name)."""
    values = sample.values_of(expr, [dict(point, **extra) for point in sample.points])
    return values is not None and all(close(c, v) for c, v in zip(sample.claimed_values, values))


def kernel_not_flipped(sample: Sample) -> Optional[str]:
    """dX of a convolution computed with the kernel as it is, not rotated by 180 degrees. In the im2col
    form dX = col2im(K^T dY); the slip is col2im(rot180(K)^T dY) = col2im(Pi K^T dY), Pi reversing the
    window's entries within each input channel's block of rows."""
    for node in _nodes_on_path(sample, Im2col):
        g = node.geometry
        size = int(node.rows)
        window = g.window
        flip = np.eye(size)[[(i // window) * window + window - 1 - i % window for i in range(size)]]
        Pi = E.matrix(r"\Pi_{\mathrm{flip}}", size, size)
        candidate = _gradient_with_rule(sample, node, lambda n, G: col2im(E.matmul(Pi, G), n.geometry))
        if candidate is not None and _claim_equals_with(sample, candidate, {Pi.name: flip}):
            return ("kernel not flipped: the claim correlates dY with the kernel as it is; the input gradient "
                    "is the full correlation of dY with the kernel rotated by 180 degrees (convolution, not "
                    "correlation), dX = col2im(K^T dY) in the im2col form")
    return correlation_not_flipped(sample)  # issue 15e: the same slip typed as X \star K


# ----- single-channel correlation as typed (issue 15e): X \star K -----
_NOT_FLIPPED = ("kernel not flipped: the claim correlates dY with the kernel as it is; the input gradient of "
                "Y = X \\star K is the full correlation of dY with the kernel rotated by 180 degrees, "
                "dX = dY \\star_{\\mathrm{full}} \\operatorname{rot180}(K) (with padding p: "
                "dY \\star_{k-1-p} \\operatorname{rot180}(K))")


def correlation_not_flipped(sample: Sample) -> Optional[str]:
    """dX of Y = X star_p K computed as G star_{k-1-p} K, the kernel not rotated by 180 degrees."""
    for node in _nodes_on_path(sample, Correlate):
        if not node.args[0].depends_on(sample.wrt):
            continue
        candidate = _gradient_with_rule(sample, node, lambda n, G: correlate(G, n.args[1], _input_padding(n)))
        if candidate is not None and sample.claim_equals(candidate):
            return _NOT_FLIPPED
        kernel = node.args[1]
        if kernel.rows == kernel.cols and not kernel.is_scalar:  # "flipped" read as transposed
            candidate = _gradient_with_rule(
                sample, node, lambda n, G: correlate(G, E.transpose(n.args[1]), _input_padding(n)))
            if candidate is not None and sample.claim_equals(candidate):
                return ("kernel transposed, not rotated: the input gradient correlates dY with the kernel rotated "
                        "by 180 degrees, \\operatorname{rot180}(K)_{ab} = K_{k-1-a,\\, k-1-b} (both axes "
                        "reversed); K^\\top swaps the axes instead")
    return None


def _input_padding(node: Correlate) -> tuple:
    (kh, kw), (ph, pw) = (int(s) for s in node.args[1].shape), node.padding
    return (kh - 1 - ph, kw - 1 - pw)


def correlation_operands_swapped(sample: Sample) -> Optional[str]:
    """dK of Y = X star_p K written as G star_p X, input and upstream gradient swapped. The shapes fit
    only for a 'same' padding (k = 2p + 1), and then G star_p X = rot180(X star_p G): the kernel
    gradient rotated by 180 degrees."""
    for node in _nodes_on_path(sample, Correlate):
        if not node.args[1].depends_on(sample.wrt):
            continue
        candidate = _gradient_with_rule(sample, node, lambda n, G: rot180(correlate(n.args[0], G, n.padding)), child=1)
        if candidate is not None and sample.claim_equals(candidate):
            return ("operands swapped: the claim correlates dY with the input (dY \\star X), which is the kernel "
                    "gradient rotated by 180 degrees; the kernel gradient of Y = X \\star K correlates the input "
                    "with dY: dK = X \\star dY")
    return None


def padding_hint(claim: Expr, truth: Expr) -> str:
    """For a claim of the wrong shape with a correlation in it: the input gradient's needs padding."""
    outer = claim
    while isinstance(outer, Scale):
        outer = outer.args[1]
    if not isinstance(outer, Correlate) or claim.rows >= truth.rows or claim.cols >= truth.cols:
        return ""
    return ("; the input gradient of a correlation is a *full* correlation, padded by k-1 on every side: "
            "dY \\star_{\\mathrm{full}} \\operatorname{rot180}(K) (\\star alone does not pad)")


def _step_of(label: Optional[str]) -> Optional[Tuple[str, int]]:
    """(base, step) of a step of a family of names over time, whatever its letter: h_{1}, s_{2}, c_3 (the
    reader's own test, `time_steps.step_of`)."""
    return step_of(label) if label else None


def _step_products(sample: Sample) -> List[Tuple[Expr, Expr]]:
    """(W a, dL/d(W a)) for each product W a with the variable W as its left factor (one per time step
    of a recurrent network, whose weights are shared over the steps)."""
    products = [n for n in E.post_order([sample.function]) if isinstance(n, MatMul) and n.args[0] == sample.wrt]
    if len(products) < 2:
        return []
    wanted, upstream = set(products), {}

    def hook(current, G):
        if current in wanted:
            upstream[current] = G
        return G

    try:
        cotangents(sample.function, [sample.wrt], hook)
    except (NnsymError, AssertionError):
        return []
    return [(m, upstream[m]) for m in products if m in upstream]


def _label(node: Expr) -> Optional[str]:
    return node.name if isinstance(node, (Named, Symbol)) else None


def not_summed_over_time(sample: Sample) -> Optional[str]:
    """The weight gradient of one time step only (the last, usually), not the sum over all steps."""
    steps = _step_products(sample)
    for m, G in reversed(steps):
        term = E.matmul(G, E.transpose(m.args[1]))
        if term.shape == sample.truth.shape and sample.claim_equals_typically(term):
            state = _label(m.args[1])
            which = f" (the one through {state})" if state else ""
            return (f"not summed over time: the claim is one step's term{which} only; {sample.wrt.name} is "
                    f"shared by all {len(steps)} steps, so its gradient is the sum of their terms, "
                    f"sum_t delta_t a_t^T")
    return None


def state_off_by_one(sample: Sample) -> Optional[str]:
    """sum_t delta_t h_t^T where the product W h_{t-1} gives sum_t delta_t h_{t-1}^T."""
    steps = _step_products(sample)
    if not steps:
        return None
    labelled = {_label(n): n for n in E.post_order([sample.function]) if _label(n)}
    terms = []
    for m, G in steps:
        found = _step_of(_label(m.args[1]))
        later = labelled.get(f"{found[0]}_{{{found[1] + 1}}}") if found else None
        if later is None or later.shape != m.args[1].shape:
            return None
        terms.append(E.matmul(G, E.transpose(later)))
    if sample.claim_equals_typically(E.add(*terms)):
        return (f"h_t where h_{{t-1}} belongs: the claim multiplies each step's delta_t by the state the step "
                f"produces; {sample.wrt.name} multiplies the previous state, so its gradient is "
                f"sum_t delta_t h_{{t-1}}^T")
    return None


def _gradient_without(sample: Sample, edges) -> Optional[Expr]:
    """The gradient with the contributions along ``edges`` ((parent, child) pairs) left out."""
    parents = {parent for parent, _ in edges}
    upstream: Dict[Expr, Expr] = {}

    def hook(current, G):
        if current in parents:
            upstream[current] = G
        dropped = []
        for parent, child in edges:
            if child == current and parent in upstream:
                parts = rule_for(parent)(parent, upstream[parent])
                dropped += [parts[i] for i, a in enumerate(parent.args) if a == child]
        return E.add(G, *(E.neg(d) for d in dropped)) if dropped else G

    try:
        return cotangents(sample.function, [sample.wrt], hook)[sample.wrt]
    except (NnsymError, AssertionError):
        return None


def cell_state_path(sample: Sample) -> Optional[str]:
    """An LSTM's dc_t with one of its two paths left out: through h_t = o_t tanh(c_t), or carried to
    c_{t+1} = f_{t+1} c_t + ..."""
    # The cell state by its structure, whatever its letter: a named step (c_{1}, C_2) that feeds an
    # elementwise function (tanh(c_t) in h_t) and a Hadamard product (f_{t+1} o c_t in c_{t+1}).
    through, carried = [], []
    for node in _nodes_on_path(sample, (Apply, E.Hadamard)):
        for child in node.args:
            if isinstance(child, Named) and _step_of(child.name) and child.depends_on(sample.wrt):
                (through if isinstance(node, Apply) else carried).append((node, child))
    cells = {child for _, child in through} & {child for _, child in carried}
    through = [(node, child) for node, child in through if child in cells]
    carried = [(node, child) for node, child in carried if child in cells]
    if not cells:
        return None
    paths = (("carried", carried, "dc_{t+1} o f_{t+1}, the path carried to the next cell state"),
             ("through h", through, "dh_t o o_t o tanh'(c_t), the path through h_t = o_t o tanh(c_t)"))
    for _, edges, description in paths:
        if not edges:
            continue
        candidate = _gradient_without(sample, edges)
        if candidate is not None and sample.claim_equals_typically(candidate):
            return (f"cell state path missing: the claim's dc_t lacks {description}; the cell state feeds both, "
                    f"so dc_t = dh_t o o_t o tanh'(c_t) + dc_{{t+1}} o f_{{t+1}}")
    return None


SPATIAL_RECURRENT_DIAGNOSES = (kernel_not_flipped, not_summed_over_time, state_off_by_one, cell_state_path)
SPATIAL_RECURRENT_DIAGNOSES += (correlation_operands_swapped,)  # issue 15e

# ----- symmetric-matrix gradients (issue 16: covariance matrices) ---------------------------------


def symmetric_convention(sample: Sample) -> Optional[str]:
    """For a symmetric (SPD) variable, the claim is the gradient constrained to symmetric matrices,
    G + G^T - diag(G), where nnsym gives G, every entry an independent variable (the function as written)."""
    if sample.wrt.kind != "matrix" or not sample.wrt.assumptions & {"symmetric", "spd"}:
        return None
    for c, t in zip(sample.claimed_values, sample.true_values):
        if c.shape != t.shape or not close(c, t + t.T - np.diag(np.diag(t))):
            return None
    return ("symmetric-matrix convention: the claim is G + G^T - diag(G), the gradient over symmetric matrices "
            "(entries ij and ji moved together); nnsym gives G, each entry independent as the function is "
            "written (d log det S = S^{-1}); both vanish at the same points")


# In order: the first that fits is reported. Transpose and scale are the commonest and cheapest; the
# layers' named slips come before the plain "scaled by" they would otherwise be reported as.
DIAGNOSES: Tuple[Callable[[Sample], Optional[str]], ...] = (
    transposed, *LAYER_DIAGNOSES, *SPATIAL_RECURRENT_DIAGNOSES, scaled, missing_transpose, assumption_only,
    elementwise_factor, symmetric_only, symmetric_convention, dropped_term,
    extra_term, wrong_order,
)


def diagnose(sample: Sample) -> Optional[str]:
    for diagnosis in DIAGNOSES:
        found = diagnosis(sample)
        if found:
            return found
    return None
