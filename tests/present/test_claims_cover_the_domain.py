"""Issue 9, class 4 as a property: a claim that differs from the gradient on a region of positive measure
is rejected, wherever the region is (thresholds far from the typical points, kinks close to the true one,
several scales). The true gradient here is written in NumPy, not taken from nnsym."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nnsym.present.claims import check

SHAPES = {"x": "3"}
thresholds = st.floats(min_value=-200, max_value=200, allow_nan=False).map(lambda c: round(c, 2))


def shown(c: float) -> str:
    return f"{c:+.2f}"


def true_gradient(c, x):
    return (x + c > 0).astype(float)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=thresholds, d=st.floats(min_value=0.05, max_value=100).map(lambda d: round(d, 2)),
       sign=st.sampled_from([-1, 1]))
def test_a_claim_with_its_kink_elsewhere_is_rejected(c, d, sign):
    moved = round(c + sign * d, 2)
    f = rf"\mathbf{{1}}^\top \operatorname{{ReLU}}(x {shown(c)})"
    # H(x + moved) differs from H(x + c) on the band between the two kinks: a region of positive measure
    middle = np.full(3, -(c + moved) / 2)
    assert np.all(true_gradient(c, middle) != true_gradient(moved, middle))
    verdict = check(f, rf"H(x {shown(moved)})", "x", SHAPES)
    assert not verdict.ok, str(verdict)
    assert check(f, rf"H(x {shown(c)})", "x", SHAPES).ok


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=thresholds, claim=st.sampled_from([r"\mathbf{1}", "0", r"H(x)", r"H(-x)"]))
def test_a_constant_or_misplaced_step_is_rejected_whatever_the_threshold(c, claim):
    assume(abs(c) >= 0.05)  # at c = 0, H(x) is the gradient
    f = rf"\mathbf{{1}}^\top \operatorname{{ReLU}}(x {shown(c)})"
    verdict = check(f, claim, "x", SHAPES)
    assert not verdict.ok, str(verdict)
