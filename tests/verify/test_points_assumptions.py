"""Random points honour every assumption a user may declare (--assume NAME=KIND), and are redrawn
where the function is undefined."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.expressions import ASSUMPTIONS
from nnsym.verify.points import draw, random_point

SIZES = {}


def draws(symbol, count=20):
    rng = np.random.default_rng(3)
    return [draw(symbol, SIZES, rng) for _ in range(count)]


def test_the_command_line_kinds_are_the_ir_assumptions():
    assert set(ASSUMPTIONS) == {"symmetric", "spd", "positive", "probability", "onehot", "positive-determinant"}


def test_symmetric_and_spd():
    for value in draws(ns.matrix("A", 4, 4, assume="symmetric")):
        np.testing.assert_array_equal(value, value.T)
    for value in draws(ns.matrix("S", 4, 4, assume="spd")):
        np.testing.assert_array_equal(value, value.T)
        assert np.linalg.eigvalsh(value).min() > 0


def test_positive_determinant_is_square_and_has_det_above_zero():
    values = draws(ns.matrix("A", 3, 3, assume="positive-determinant"), 50)
    assert all(np.linalg.det(v) > 0 for v in values)
    assert not all(np.allclose(v, v.T) for v in values)  # general matrices, not symmetric ones


def test_positive():
    for value in draws(ns.matrix("P", 3, 2, assume="positive")) + draws(ns.scalar("c", assume="positive")):
        assert np.all(value > 0)


def test_probability_columns_are_nonnegative_and_sum_to_one():
    for value in draws(ns.vector("p", 5, assume="probability")) + draws(ns.matrix("P", 4, 3, assume="probability")):
        assert np.all(value >= 0)
        np.testing.assert_allclose(value.sum(axis=0), 1.0, rtol=1e-14)


def test_onehot_columns_have_a_single_one():
    values = draws(ns.matrix("Y", 4, 6, assume="onehot"), 30)
    for value in values:
        assert set(np.unique(value)) <= {0.0, 1.0}
        np.testing.assert_array_equal(value.sum(axis=0), 1.0)
    assert len({int(np.argmax(v[:, 0])) for v in values}) > 1  # the hot entry moves


@pytest.mark.parametrize("make, kind", [
    (lambda k: ns.scalar("c", assume=k), "probability"),
    (lambda k: ns.scalar("c", assume=k), "onehot"),
    (lambda k: ns.vector("v", 3, assume=k), "spd"),
    (lambda k: ns.matrix("M", 3, 2, assume=k), "positive-determinant"),
    (lambda k: ns.matrix("M", 3, 3, assume=k), "orthogonal"),
])
def test_assumptions_that_do_not_fit_the_symbol_are_refused(make, kind):
    with pytest.raises(ns.InputError):
        make(kind)


def test_points_are_redrawn_where_the_function_is_undefined():
    x = ns.vector("x", 4)
    f = ns.sum_entries(ns.log(x))
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert np.all(random_point([f], [x], {}, rng)["x"] > 0)


def test_an_assumption_changes_the_verdict():
    """softmax(z) - y is the cross-entropy gradient only when y sums to one."""
    function, claim = r"-y^\top \log(\operatorname{softmax}(z))", r"\operatorname{softmax}(z) - y"
    shapes = {"y": "4", "z": "4"}
    assert not ns.check(function, claim, "z", shapes).ok
    assert ns.check(function, claim, "z", shapes, {"y": "onehot"}).ok
    assert ns.check(function, claim, "z", shapes, {"y": "probability"}).ok
