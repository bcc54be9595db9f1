"""Directional central differences: a numerical check of gradients at sizes too large to perturb
entry by entry (a 3 x 16384 image batch has 49,152 entries; an LSTM unrolled over 16 steps has 14
weights and 1,200 nodes, each evaluation a few milliseconds).

For a random direction V the closed form predicts the directional derivative <grad f, V>; a central
difference of f along V measures it with two evaluations, at any size. A wrong gradient G differs from
the true one by some D != 0, and <D, V> = 0 only for V in a set of measure zero, so random directions
catch it. Each variable gets its own directions (an error in one cannot cancel another's, nor be
drowned by a larger variable's terms), dense Gaussian ones and sparse ones (a few hundred random
entries), so that an error confined to part of the entries (an image's border, one channel) is not
drowned by the sum over all of them. The difference is taken at steps h and 2h and
Richardson-extrapolated. The tolerance is relative to sum |G_i V_i|, the size of the terms of the
inner product (a kink crossed by the step -- ReLU, a max -- moves a handful of those terms, far below
it; a formula mistake moves a fraction of them), plus the rounding noise of differencing f
(`finite_differences.rounding_noise` of f's terms, `finite_differences.magnitude`). Where that first
look disagrees, a second look measures the noise at the step itself, as the entry-by-entry check's
Richardson second look does (`finite_differences.NOISE_STEPS`): only a disagreement beyond it fails.

`verify.budget` chooses this check where the entry-by-entry one is over its budget and a copy with
smaller sizes is not possible (convolution and pooling carry their image geometry as node data) or
would itself be over budget (an unrolled recurrence: its steps, not its sizes, cost).
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from nnsym.declare.expressions import Expr, Symbol, post_order
from nnsym.errors import InputError
from nnsym.verify.evaluate import Evaluator
from nnsym.verify.finite_differences import NOISE_STEPS, Report, magnitude, rounding_noise
from nnsym.verify.points import random_point, small_sizes, symbols_of

SPARSE = 256  # entries a sparse direction moves
DIRECTIONS = 2  # per variable and point: one dense, one sparse
EVALUATIONS = 4  # of f per direction: +-h and +-2h
RTOL = 1e-6  # of sum |G_i V_i|: far above rounding and a crossed kink, far below a wrong formula's error
# Richardson's N(h) - (N(2h) - N(h)) / 3 carries the noise of N(h) 4/3 times and that of N(2h) 1/3 times.
RICHARDSON_NOISE = 5 / 3
METHOD = "directional central differences"


def detail(points: int) -> str:
    return (f"{DIRECTIONS} random directions per variable at each point, one dense, one moving up to {SPARSE} "
            "entries; steps h and 2h, Richardson-extrapolated")


def _directions(shape, rng) -> list:
    dense = rng.standard_normal(shape)
    sparse = np.zeros(shape)
    flat = sparse.reshape(-1)
    chosen = rng.choice(flat.size, size=min(SPARSE, flat.size), replace=False)
    flat[chosen] = rng.standard_normal(chosen.size)
    return [dense, sparse]


# A point decides only where the differences are in their h^2 regime along every direction: there
# |N(2h) - N(h)| = 3 |truncation error| is far below the terms of the inner product. An RNN with 64 hidden
# units and standard-normal weights is chaotic (BPTT's gradients explode to 1e7): N(h) and N(2h) then differ
# by more than the derivative, and a check at that point would pass anything. Such a point is drawn again
# with every symbol at a smaller scale (`SCALES`), where the function is smooth on the scale of the step.
CURVATURE = 1e-4
SCALES = (1.0, 0.25, 1 / 16, 1 / 64)


def check_directional(f: Expr, gradients: Mapping[Symbol, Expr], points: int = 2, seed: int = 0,
                      sizes: Optional[Mapping] = None, step: float = 1e-6) -> Report:
    """Compare each closed-form gradient's inner product with random directions against central
    differences of f along them (Richardson-extrapolated from steps h and 2h), at random points."""
    variables = list(gradients)
    symbols = symbols_of(f, *gradients.values(), *variables)
    sizes = small_sizes(symbols, sizes)
    rng = np.random.default_rng(seed)
    depends = _dependence(f, variables)
    ok, worst, scales = True, (0.0, 0.0, None), []
    for _ in range(points):
        for scale in SCALES:
            outcomes = _at_point(f, gradients, _point(f, gradients, symbols, sizes, rng, scale), sizes, rng, step,
                                 depends)
            if outcomes[-1][3]:  # every direction decisive (the first that is not ends the point)
                break
        scales.append(scale)
        for name, error, allowed, decisive in outcomes:
            ok &= bool(decisive and error[0] <= allowed)
            if error[0] >= worst[0]:
                worst = (error[0], max(error[1], worst[1]), name)
            else:
                worst = (worst[0], max(error[1], worst[1]), worst[2])
    drawn = ("" if set(scales) == {1.0} else f"; points drawn at scales {', '.join(f'{s:g}' for s in scales)}: "
             "f curves too fast along a direction at scale 1")
    return Report(bool(ok), points, worst[0], worst[1], worst[2], None, METHOD, detail=detail(points) + drawn)


def _point(f, gradients, symbols, sizes, rng, scale):
    """(values, evaluator holding f and every gradient there): a point where all of them are finite."""
    for _ in range(10):
        values = random_point([f], symbols, sizes, rng, scale=scale)
        evaluator = Evaluator({name: np.asarray(v, dtype=float) for name, v in values.items()}, sizes)
        with np.errstate(all="ignore"):
            if all(np.all(np.isfinite(evaluator(e))) for e in (f, *gradients.values())):
                return evaluator
    raise InputError("could not find a point where the function and its gradients are finite")


def _dependence(f: Expr, variables) -> dict:
    """{node of f: the variables it depends on}, in one pass."""
    wanted = set(variables)
    depends: dict = {}
    for node in post_order([f]):
        own = frozenset([node]) if node in wanted else frozenset()
        depends[node] = own.union(*(depends[child] for child in node.args))
    return depends


def _at_point(f, gradients, evaluator, sizes, rng, step, depends) -> list:
    """(variable, (abs error, rel error), allowed, decisive) per direction at one point, up to the first
    direction that is not decisive."""
    values = evaluator.values
    size = magnitude(f, values, sizes, evaluator(f)[0, 0])
    out = []
    for v, gradient in gradients.items():
        closed = evaluator(gradient)
        x = values[v.name]
        if closed.shape != x.shape:
            raise AssertionError(f"closed form for {v.name} has shape {closed.shape}, wanted {x.shape}")
        # What does not depend on v keeps its value: each evaluation along a direction re-evaluates only the
        # nodes between v and f (the output weights of an unrolled network: its last few nodes).
        fixed = {node: value for node, value in evaluator.memo.items() if v not in depends.get(node, (v,))}
        along = _differences(f, v, values, sizes, fixed)
        for direction in _directions(x.shape, rng):
            # The step relative to the entries moved (a unit direction scaled to the variable's size).
            h = step * max(1.0, float(np.max(np.abs(x[direction != 0])))) / float(np.max(np.abs(direction)))
            fine, coarse = along(direction, h), along(direction, 2 * h)
            numeric = fine - (coarse - fine) / 3
            predicted = float(np.sum(closed * direction))
            scale = float(np.sum(np.abs(closed * direction)))
            error = abs(predicted - numeric)
            noise = RICHARDSON_NOISE * rounding_noise(size, h)
            decisive = bool(np.isfinite(fine) and np.isfinite(coarse) and abs(coarse - fine) <= CURVATURE * scale + noise)
            allowed = RTOL * scale + abs(coarse - fine) / 3 + noise
            if decisive and not error <= allowed:
                # Second look: the noise of the differences at this step, measured at steps 1.37, 1.9
                # and 2.6 h with the h^2 truncation model taken out (as `finite_differences.richardson`).
                slope = (coarse - fine) / 3
                measured = max(abs(along(direction, k * h) - fine - (k * k - 1) * slope) for k in NOISE_STEPS)
                allowed += 2 * measured
            relative = error / scale if scale > 0 else (0.0 if error == 0 else float("inf"))
            out.append((v.name, (error, relative), allowed, decisive))
            if not decisive:
                return out
    return out


def _differences(f: Expr, symbol: Symbol, values: Mapping, sizes: Mapping, fixed: Mapping):
    """(direction, h) -> (f(x + h V) - f(x - h V)) / 2h, the nodes in ``fixed`` keeping their values."""
    base = dict(values)

    def value_at(moved) -> float:
        base[symbol.name] = moved
        evaluator = Evaluator(base, sizes)
        evaluator.memo.update(fixed)
        return float(evaluator(f)[0, 0])

    def along(direction, h) -> float:
        x = values[symbol.name]
        return (value_at(x + h * direction) - value_at(x - h * direction)) / (2 * h)

    return along
