"""Random points at which formulas are checked: concrete sizes for symbolic ones, values that honour
each symbol's assumptions, redrawn where the function is undefined there."""

from __future__ import annotations

from typing import Dict, Iterable, Mapping

import numpy as np
from nnsym.declare.expressions import Apply, Det, Expr, Inverse, LogDet, Power, Symbol, post_order
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


def draw(symbol: Symbol, sizes: Mapping, rng: np.random.Generator, positive: bool = False,
         scale: float = 1.0) -> np.ndarray:
    """A random value of the symbol's shape honouring all its assumptions at once (``positive``: entries
    of a symbol without assumptions drawn positive, for functions defined only there, e.g. log x).
    ``scale`` is the typical size of the entries; positive entries and SPD eigenvalues spread over two
    decades around it (issue 9: [0.5, 2] and eigenvalues >= 1 missed small and large values)."""
    rows, cols = concrete_shape(symbol, sizes)
    a = symbol.assumptions
    if "spd" in a:
        q, _ = np.linalg.qr(rng.standard_normal((rows, rows)))
        eigenvalues = scale * _log_uniform(rng, (rows,))
        if "positive" in a:  # entrywise positive too: B B^T with B > 0, plus a small positive diagonal
            b = rng.uniform(0.1, 1.0, (rows, rows))
            return scale * (b @ b.T / rows) + np.diag(scale * 0.1 * _log_uniform(rng, (rows,)))
        m = (q * eigenvalues) @ q.T
        return (m + m.T) / 2  # exactly symmetric
    if "symmetric" in a:
        b = rng.standard_normal((rows, rows))
        b = scale * (b + b.T) / 2
        return np.abs(b) if "positive" in a else b
    if "positive-determinant" in a:
        if "positive" in a:
            b = scale * _log_uniform(rng, (rows, rows))
        else:
            b = scale * (rng.standard_normal((rows, rows)) + 2 * np.eye(rows))
        if np.linalg.det(b) < 0:
            b[[0, -1]] = b[[-1, 0]] if rows > 1 else -b[[0]]  # swapping two rows flips the sign, keeps positivity
        return b
    if "probability" in a:
        e = np.exp(min(scale, 10.0) * rng.standard_normal((rows, cols)))
        return e / e.sum(axis=0, keepdims=True)
    if "onehot" in a:
        out = np.zeros((rows, cols))
        out[rng.integers(0, rows, cols), np.arange(cols)] = 1.0
        return out
    if "positive" in a or positive:
        return scale * _log_uniform(rng, (rows, cols))
    return scale * rng.standard_normal((rows, cols))


def _log_uniform(rng: np.random.Generator, shape) -> np.ndarray:
    """Values spread evenly in log scale over [0.1, 10]."""
    return np.exp(rng.uniform(np.log(0.1), np.log(10.0), shape))


def entries(symbols: Iterable[Symbol], sizes: Mapping) -> int:
    total = 0
    for s in symbols:
        r, c = concrete_shape(s, sizes)
        total += r * c
    return total


def random_point(exprs, symbols, sizes, rng, tries: int = 50, scale: float = 1.0) -> Dict[str, np.ndarray]:
    """Values at which every expression is finite (log of a positive, an invertible matrix...)."""
    point = _try_points(exprs, symbols, sizes, rng, tries, scale)
    if point is None:
        raise InputError(
            f"could not find a point where the function is defined after {tries} random draws; "
            f"declare assumptions ({spelled('--assume NAME=positive', 'assumptions={NAME: ' + repr('positive') + '}')}, "
            "or spd, probability, ...)"
        )
    return point


def _try_points(exprs, symbols, sizes, rng, tries: int, scale: float):
    # A third of the way in, the symbols under a logarithm, a root or a fractional power are drawn
    # positive: log x is then defined at once instead of with probability 2^-n. Only those: the others
    # keep both signs (issue 9: redrawing every symbol positive hid the negative half of the domain).
    limited = _domain_limited(exprs)
    for attempt in range(tries):
        values = {s.name: draw(s, sizes, rng, positive=attempt >= tries // 3 and (s.name in limited or
                                                                                   attempt >= 2 * tries // 3),
                               scale=scale)
                  for s in symbols}
        if _defined(exprs, values, sizes):
            return values
    return None


def _defined(exprs, values, sizes) -> bool:
    with np.errstate(all="ignore"):
        try:
            ok = all(np.all(np.isfinite(evaluate(e, values, sizes))) for e in exprs)
        except np.linalg.LinAlgError:
            ok = False
    return ok and _well_conditioned(exprs, values, sizes)


def _domain_limited(exprs) -> set:
    """Names of the symbols below a logarithm, square root or fractional power."""
    names = set()
    for node in post_order(exprs):
        limited = (isinstance(node, Apply) and node.function.name in ("log", "sqrt")) or (
            isinstance(node, Power) and not node.exponent.is_integer)
        if limited:
            names |= {s.name for s in node.args[0].free_symbols()}
    return names


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



# ----- issue 9: points that cover the domain ----------------------------------------------------------
# A claim is compared at points of several sizes and on both sides of every kink or jump of the function,
# the true gradient and the claim: ReLU(x + 3) is 0 only where x < -3, which standard-normal draws
# almost never reach, so the claim 1 was accepted.
SCALES = (0.1, 10.0)  # besides the typical size 1
KINKED = ("relu", "heaviside", "leaky_relu", "leaky_relu_prime", "elu", "elu_prime", "step_nonpositive")
SEARCH_SCALES = (1.0, 10.0, 100.0, 1000.0)  # where a threshold far from 0 is looked for
MAX_KINK_POINTS = 24
SIDE = 1e-6  # a point just beside a kink, as a fraction of the segment it was found on


def kink_arguments(exprs) -> list:
    """The arguments of every function with a kink or a jump at 0, in the order met."""
    found = [node.args[0] for node in post_order(exprs) if isinstance(node, Apply) and node.function.name in KINKED]
    return list(dict.fromkeys(found))  # ReLU(z) and its derivative H(z) share the kink


def covering_points(exprs, watched, symbols, sizes, rng, base) -> list:
    """``base`` points, one point at each of `SCALES`, and for every entry of every kink argument in
    ``watched`` two points on either side of it close to the kink (found by bisection between points
    where it has opposite signs), so that a claim whose kink is elsewhere differs at one of them.
    Every point added makes all of ``exprs`` finite."""
    points = list(base)
    for scale in SCALES:
        point = _try_points(exprs, symbols, sizes, rng, 20, scale)
        if point is not None:
            points.append(point)
    arguments = kink_arguments(watched)
    if not arguments:
        return points
    candidates = list(points)
    for scale in SEARCH_SCALES:
        for _ in range(3):
            point = _try_points(exprs, symbols, sizes, rng, 5, scale)
            if point is not None:
                candidates.append(point)
    added = 0
    for argument in arguments:
        signs = [_signs(argument, p, sizes) for p in candidates]
        entries_ = max((len(s) for s in signs if s is not None), default=0)
        for i in range(entries_):
            below = next((p for p, s in zip(candidates, signs) if s is not None and s[i] < 0), None)
            above = next((p for p, s in zip(candidates, signs) if s is not None and s[i] > 0), None)
            if below is None or above is None or added >= MAX_KINK_POINTS:
                continue
            for point in _beside_kink(argument, i, below, above, exprs, symbols, sizes):
                points.append(point)
                added += 1
    return points


def _signs(argument, point, sizes):
    try:
        with np.errstate(all="ignore"):
            return np.sign(np.asarray(evaluate(argument, point, sizes), dtype=float)).reshape(-1)
    except (np.linalg.LinAlgError, ValueError):
        return None


def _between(below, above, t, symbols):
    """The point (1 - t) below + t above; a one-hot symbol keeps its value from ``below`` (it has no
    values in between)."""
    out = {}
    for s in symbols:
        if "onehot" in s.assumptions:
            out[s.name] = below[s.name]
        else:
            out[s.name] = (1 - t) * below[s.name] + t * above[s.name]
    return out


def _beside_kink(argument, i, below, above, exprs, symbols, sizes) -> list:
    """Two points just below and just above where entry i of ``argument`` changes sign on the segment."""

    def sign(t):
        s = _signs(argument, _between(below, above, t, symbols), sizes)
        return 0.0 if s is None or i >= len(s) else s[i]

    lo, hi = 0.0, 1.0
    if not (sign(lo) < 0 < sign(hi)):
        return []
    for _ in range(44):  # the kink to 1e-13 of the segment
        mid = (lo + hi) / 2
        if sign(mid) < 0:
            lo = mid
        else:
            hi = mid
    out = []
    for t, wanted in ((lo - SIDE, -1), (hi + SIDE, 1)):
        t = min(max(t, 0.0), 1.0)
        point = _between(below, above, t, symbols)
        if sign(t) == wanted and _defined(exprs, point, sizes):
            out.append(point)
    return out
