"""Directional central differences: a numerical check of gradients at sizes too large to perturb
entry by entry (a 3 x 16384 image batch has 49,152 entries; the entry-by-entry check stops at 4,096).

For a random direction V the closed form predicts the directional derivative <grad f, V>; a central
difference of f along V measures it with two evaluations, at any size. A wrong gradient G differs from
the true one by some D != 0, and <D, V> = 0 only for V in a set of measure zero, so random directions
catch it. Each variable gets its own directions (an error in one cannot cancel another's), dense
Gaussian ones and sparse ones (a few hundred random entries), so that an error confined to part of the
entries (an image's border, one channel) is not drowned by the sum over all of them. The difference is
taken at steps h and 2h and Richardson-extrapolated; the tolerance is relative to sum |G_i V_i|, the
size of the terms of the inner product (a kink crossed by the step -- ReLU, a max -- moves a handful of
those terms, far below it; a formula mistake moves a fraction of them).

Used by `export` when the sizes are too large for the entry-by-entry check and the formula cannot be
shrunk (convolution and pooling carry their image geometry as node data, which a copy with smaller
matrix sizes cannot keep consistent).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from nnsym.declare.expressions import Expr, Symbol
from nnsym.verify.evaluate import Evaluator, evaluate
from nnsym.verify.finite_differences import Report
from nnsym.verify.points import random_point, small_sizes, symbols_of

SPARSE = 256  # entries a sparse direction moves
RTOL = 1e-6  # of sum |G_i V_i|: far above rounding and a crossed kink, far below a wrong formula's error


def _along(f: Expr, values: Mapping, sizes: Mapping, name: str, direction: np.ndarray, h: float) -> float:
    moved = dict(values)
    moved[name] = values[name] + h * direction
    up = float(evaluate(f, moved, sizes)[0, 0])
    moved[name] = values[name] - h * direction
    down = float(evaluate(f, moved, sizes)[0, 0])
    return (up - down) / (2 * h)


def _directions(shape, rng) -> list:
    dense = rng.standard_normal(shape)
    sparse = np.zeros(shape)
    flat = sparse.reshape(-1)
    chosen = rng.choice(flat.size, size=min(SPARSE, flat.size), replace=False)
    flat[chosen] = rng.standard_normal(chosen.size)
    return [dense, sparse]


def check_directional(f: Expr, gradients: Mapping[Symbol, Expr], points: int = 2, seed: int = 0,
                      step: float = 1e-6) -> Report:
    """Compare each closed-form gradient's inner product with random directions against central
    differences of f along them (Richardson-extrapolated from steps h and 2h), at random points."""
    variables = list(gradients)
    symbols = symbols_of(f, *gradients.values(), *variables)
    sizes = small_sizes(symbols)
    rng = np.random.default_rng(seed)
    ok, worst, worst_name = True, 0.0, None
    for _ in range(points):
        values = random_point([f], symbols, sizes, rng)
        values = {name: np.asarray(v, dtype=float) for name, v in values.items()}
        evaluator = Evaluator(values, sizes)
        for v in variables:
            closed = evaluator(gradients[v])
            x = values[v.name]
            if closed.shape != x.shape:
                raise AssertionError(f"closed form for {v.name} has shape {closed.shape}, wanted {x.shape}")
            for direction in _directions(x.shape, rng):
                # The step relative to the entries moved (a unit direction scaled to the variable's size).
                h = step * max(1.0, float(np.max(np.abs(x[direction != 0])))) / float(np.max(np.abs(direction)))
                fine, coarse = _along(f, values, sizes, v.name, direction, h), _along(f, values, sizes, v.name, direction, 2 * h)
                numeric = fine - (coarse - fine) / 3
                predicted = float(np.sum(closed * direction))
                scale = float(np.sum(np.abs(closed * direction)))
                error = abs(predicted - numeric)
                allowed = RTOL * scale + abs(coarse - fine) + 1e-12
                relative = error / max(scale, 1e-300)
                if relative >= worst:
                    worst, worst_name = relative, v.name
                ok &= error <= allowed
    return Report(bool(ok), points, worst, worst, worst_name, None, "directional central differences")
