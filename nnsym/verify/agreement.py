"""Do two formulas agree at a point? Decided relative to their own size, never against a fixed floor.

A verdict must not depend on units: e^{-30}||x||^2 has a gradient of size 1e-13, and the claim 0 is as
wrong for it as for ||x||^2. So agreement is relative: ||claim - truth|| <= RTOL (||claim|| + ||truth||).
Two values that are both exactly zero agree.

Relative agreement can fail for a right claim only where the values are rounding noise: a gradient that
is zero at the point but evaluated as a difference of large terms. That noise is measured, not guessed:
every symbol is scaled by (1 + PROBE) and both formulas evaluated again; a value that is noise moves by
about its own size, a real value by PROBE times it. A difference within NOISE_FACTOR times that movement
cannot be told from rounding: the point is *undecided*, and a verdict with an undecided point (and no
point that decides "wrong") is "undecided", never "right".
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

# Equal formulas evaluated in float64 at the points drawn (condition <= 1e4) differ by < 1e-12
# relative; a different formula differs by O(1) relative at a random point. 1e-8 leaves margin both ways.
RTOL = 1e-8
PROBE = 1e-10  # relative rescaling of every symbol: far above rounding (1e-16), far below any real difference
NOISE_FACTOR = 100

RIGHT, WRONG, UNDECIDED = "right", "wrong", "undecided"


def relative_error(claim: np.ndarray, truth: np.ndarray) -> float:
    """||claim - truth|| / (||claim|| + ||truth||) (0 when both are zero, inf when not finite)."""
    if claim.shape != truth.shape or not np.all(np.isfinite(claim)) or not np.all(np.isfinite(truth)):
        return float("inf")
    with np.errstate(all="ignore"):
        scale = float(np.linalg.norm(claim) + np.linalg.norm(truth))
        difference = float(np.linalg.norm(claim - truth))
    if difference == 0.0:
        return 0.0
    return difference / scale if scale > 0 else float("inf")


def probed(point: Dict[str, np.ndarray], seed: int) -> Dict[str, np.ndarray]:
    """The point with every symbol scaled by its own (1 + PROBE r): assumptions (symmetric, spd,
    positive, one-hot up to PROBE) are kept."""
    rng = np.random.default_rng(seed)
    return {name: np.asarray(value, dtype=float) * (1.0 + PROBE * rng.uniform(0.5, 1.5))
            for name, value in point.items()}


def decide(claim: np.ndarray, truth: np.ndarray, claim_at: Optional[Callable] = None,
           truth_at: Optional[Callable] = None, point: Optional[Dict] = None) -> str:
    """RIGHT, WRONG or UNDECIDED for the values of a claim and the truth at one point. ``claim_at`` and
    ``truth_at`` evaluate them at another point: they measure the rounding noise when the relative test
    alone would say WRONG."""
    error = relative_error(claim, truth)
    if error <= RTOL:
        return RIGHT
    if not np.isfinite(error) or claim_at is None or truth_at is None or point is None:
        return WRONG
    noise = 0.0
    for k in range(2):
        again = probed(point, seed=k)
        try:
            with np.errstate(all="ignore"):
                c, t = np.asarray(claim_at(again), float), np.asarray(truth_at(again), float)
        except Exception:  # noqa: BLE001 - no second look: the relative verdict stands
            return WRONG
        if c.shape != claim.shape or t.shape != truth.shape:
            return WRONG
        noise = max(noise, float(np.linalg.norm(c - claim)), float(np.linalg.norm(t - truth)))
    difference = float(np.linalg.norm(claim - truth))
    return UNDECIDED if difference <= NOISE_FACTOR * noise else WRONG


# At the points drawn beyond the typical ones (other scales, beside a kink), a right claim written in an
# unstable form may lose all its digits where the gradient is negligible: 1 - tanh^2(40) is 0 while
# tanh'(40) is 1e-35. Such a point, where claim and truth are both below BENEATH times the gradient's
# size at the typical points, decides nothing; one where either is larger decides as usual.
BENEATH = 1e-6


def beneath(claim: np.ndarray, truth: np.ndarray, typical: float) -> bool:
    with np.errstate(all="ignore"):
        size = max(float(np.linalg.norm(claim)), float(np.linalg.norm(truth)))
    return bool(np.isfinite(size)) and size <= BENEATH * typical


def combine(decisions) -> str:
    """One WRONG point makes a claim wrong; otherwise one undecided point makes it undecided."""
    decisions = list(decisions)
    if WRONG in decisions:
        return WRONG
    if UNDECIDED in decisions:
        return UNDECIDED
    return RIGHT
