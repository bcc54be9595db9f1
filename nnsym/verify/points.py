"""Random points at which formulas are checked: concrete sizes for symbolic ones, values that honour
each symbol's assumptions, redrawn where the function is undefined there."""

from __future__ import annotations

from typing import Dict, Iterable, Mapping

import numpy as np
from nnsym.declare.expressions import Det, Expr, Inverse, LogDet, Symbol
from nnsym.errors import InputError, spelled
from nnsym.verify.evaluate import concrete_shape, evaluate

# Distinct small sizes: a transposed answer then has the wrong shape or the wrong entries.
SMALL_SIZES = (3, 2, 4, 5, 6, 7)
MAX_ENTRIES = 4096  # above this, central differences would take too long to be a check


def symbols_of(*exprs: Expr) -> list:
    found = set()
    for e in exprs:
        found |= e.free_symbols()
    return sorted(found, key=lambda s: s.name)


def small_sizes(symbols: Iterable[Symbol], given: Mapping | None = None, choices=SMALL_SIZES) -> Dict:
    """A concrete value for every symbolic size, distinct where the choices allow."""
    sizes = dict(given or {})
    names = sorted({d for s in symbols for d in s.shape if not d.is_Integer}, key=str)
    free = [n for n in choices if n not in sizes.values()] or list(choices)
    for i, d in enumerate(names):
        if d not in sizes:
            if not d.is_Symbol:
                continue
            sizes[d] = free[i % len(free)]
    for d in sorted({d for s in symbols for d in s.shape if not d.is_Integer and not d.is_Symbol}, key=str):
        if not d.free_symbols <= set(sizes):
            raise InputError(f"cannot choose a size for {d}")
    return sizes


def draw(symbol: Symbol, sizes: Mapping, rng: np.random.Generator, positive: bool = False) -> np.ndarray:
    """A random value of the symbol's shape honouring its assumptions (``positive``: entries of a
    symbol without assumptions drawn positive, for functions defined only there, e.g. log x)."""
    rows, cols = concrete_shape(symbol, sizes)
    a = symbol.assumptions
    if "spd" in a:
        b = rng.standard_normal((rows, rows))
        return b @ b.T / rows + np.eye(rows)
    if "symmetric" in a:
        b = rng.standard_normal((rows, rows))
        return (b + b.T) / 2
    if "positive-determinant" in a:
        b = rng.standard_normal((rows, rows)) + 2 * np.eye(rows)
        if np.linalg.det(b) < 0:
            b[0] = -b[0]
        return b
    if "positive" in a:
        return rng.uniform(0.5, 2.0, (rows, cols))
    if "probability" in a:
        e = np.exp(rng.standard_normal((rows, cols)))
        return e / e.sum(axis=0, keepdims=True)
    if "onehot" in a:
        out = np.zeros((rows, cols))
        out[rng.integers(0, rows, cols), np.arange(cols)] = 1.0
        return out
    if positive:
        return rng.uniform(0.5, 2.0, (rows, cols))
    return rng.standard_normal((rows, cols))


def entries(symbols: Iterable[Symbol], sizes: Mapping) -> int:
    total = 0
    for s in symbols:
        r, c = concrete_shape(s, sizes)
        total += r * c
    return total


def random_point(exprs, symbols, sizes, rng, tries: int = 50) -> Dict[str, np.ndarray]:
    """Values at which every expression is finite (log of a positive, an invertible matrix...)."""
    for attempt in range(tries):
        # A third of the way in, unconstrained symbols are drawn positive: the log of a vector is then
        # defined at once instead of with probability 2^-n.
        values = {s.name: draw(s, sizes, rng, positive=attempt >= tries // 3) for s in symbols}
        with np.errstate(all="ignore"):
            try:
                ok = all(np.all(np.isfinite(evaluate(e, values, sizes))) for e in exprs)
            except np.linalg.LinAlgError:
                ok = False
        if ok and _well_conditioned(exprs, values, sizes):
            return values
    raise InputError(
        f"could not find a point where the function is defined after {tries} random draws; "
        f"declare assumptions ({spelled('--assume NAME=positive', 'assumptions={NAME: ' + repr('positive') + '}')}, "
        "or spd, probability, ...)"
    )


def _well_conditioned(exprs, values, sizes) -> bool:
    """Inverses and determinants are only checked where the matrix is far from singular."""
    seen = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (Inverse, Det, LogDet)):
            if np.linalg.cond(evaluate(node.args[0], values, sizes)) > 1e4:
                return False
        stack.extend(node.args)
    return True

