"""Central finite differences: right gradients of functions with large values pass (the rounding noise
of f/eps is allowed for), wrong ones still fail."""

import nnsym as ns
from nnsym.declare.expressions import hadamard, matmul, outer, transpose
from nnsym.verify.finite_differences import check_gradients


def sum_exp(n):
    W, x = ns.matrix("W", n, n), ns.vector("x", n)
    f = ns.sum_entries(ns.exp(W @ x)) if hasattr(ns, "sum_entries") else matmul(transpose(ns.ones(n, 1)), ns.exp(W @ x))
    return f, W, x


def test_right_gradient_of_a_large_valued_function_passes():
    # 1^T exp(W x) at 20 x 20 is ~1e4: the central difference carries ~1e-4 of rounding noise.
    f, W, x = sum_exp(20)
    right = outer(ns.exp(W @ x), x)
    report = check_gradients(f, {W: right}, points=3, seed=0)
    assert report.ok, report


def test_wrong_gradients_of_the_same_function_still_fail():
    f, W, x = sum_exp(20)
    transposed = transpose(outer(ns.exp(W @ x), x))
    missing_factor = outer(ns.ones(20, 1), x)
    scaled = outer(ns.exp(W @ x), x) * 1.01
    for wrong in (transposed, missing_factor, scaled):
        assert not check_gradients(f, {W: wrong}, points=3, seed=0).ok
