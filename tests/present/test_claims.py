"""nnsym.check and nnsym.check_function: right claims pass, wrong ones fail, by value.

Right claims are textbook identities (Matrix Cookbook, deep-learning texts) written independently of
nnsym's derivation, and equivalent rewrites of them; wrong claims are the classic mistakes. A verdict's
numbers are checked against the claim's own arithmetic (a claim twice the truth has worst_claimed =
2 worst_true) and user functions against hand-written NumPy.
"""

import json

import numpy as np
import pytest

import nnsym as ns
from nnsym.errors import InputError, ParseError, ShapeError

LSQ = (r"\frac{1}{2}\|Wx-y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"})
SIGMOID = (r"\frac{1}{2}\|\sigma(Wx)-y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"})

# (function, wrt, shapes, assumptions, claim): every claim is right.
RIGHT = [
    # Matrix Cookbook (denominator layout)
    (r"a^\top x", "x", {"a": "n", "x": "n"}, {}, "a"),                                       # (69)
    (r"a^\top X b", "X", {"a": "m", "b": "n", "X": "mxn"}, {}, r"a b^\top"),                # (70)
    (r"a^\top X^\top b", "X", {"a": "n", "b": "m", "X": "mxn"}, {}, r"b a^\top"),           # (71)
    (r"x^\top A x", "x", {"A": "3x3", "x": "3"}, {}, r"(A + A^\top) x"),                    # (81)
    (r"x^\top A x", "x", {"A": "3x3", "x": "3"}, {"A": "symmetric"}, "2 A x"),
    (r"\operatorname{tr}(A X B)", "X", {"A": "3x4", "X": "4x2", "B": "2x3"}, {}, r"A^\top B^\top"),  # (100)
    (r"\operatorname{tr}(X^\top A)", "X", {"A": "mxn", "X": "mxn"}, {}, "A"),
    (r"\|X\|_F^2", "X", {"X": "3x2"}, {}, "2X"),
    (r"\log\det(X)", "X", {"X": "3x3"}, {"X": "spd"}, r"X^{-1}"),                           # (57)
    (r"\log|X|", "X", {"X": "3x3"}, {"X": "positive-determinant"}, r"X^{-\top}"),
    (r"\det(X)", "X", {"X": "3x3"}, {}, r"\det(X) X^{-T}"),                                 # (49)
    (r"a^\top X^{-1} b", "X", {"a": "3", "b": "3", "X": "3x3"}, {}, r"-X^{-\top} a b^\top X^{-\top}"),  # (61)
    (r"\|Ax - b\|^2", "x", {"A": "4x3", "x": "3", "b": "4"}, {}, r"2A^\top(Ax-b)"),
    # deep learning
    (*LSQ, {}, r"(Wx-y)x^\top"),
    (*LSQ, {}, r"W x x^\top - y x^\top"),                     # an equivalent rewrite
    (*LSQ, {}, r"\frac{\partial L}{\partial W} = (Wx - y) x^T"),
    (*LSQ, {}, r"\nabla_W L = \left(W x - y\right) x^{\mathsf{T}}"),
    (*SIGMOID, {}, r"((\sigma(Wx)-y)\odot\sigma'(Wx))x^\top"),
    (*SIGMOID, {}, r"((\sigma(Wx)-y)\odot\sigma(Wx)\odot(1-\sigma(Wx)))x^\top"),
    (r"-y^\top \log(\operatorname{softmax}(z))", "z", {"y": "4", "z": "4"}, {"y": "onehot"},
     r"\operatorname{softmax}(z) - y"),
    (r"-y^\top \log(\operatorname{softmax}(z))", "z", {"y": "4", "z": "4"}, {"y": "probability"},
     r"\operatorname{softmax}(z) - y"),
    (r"\operatorname{logsumexp}(z)", "z", {"z": "5"}, {}, r"\operatorname{softmax}(z)"),
    (r"\frac{1}{N}\|Xw - y\|^2", "w", {"X": "5x3", "w": "3", "y": "5"}, {}, r"\frac{2}{N} X^\top (X w - y)"),
    (r"\mathbf{1}^\top \log(\sigma(z))", "z", {"z": "4"}, {}, r"1 - \sigma(z)"),
    (r"\frac{1}{2}\|W^{(2)}\tanh(W^{(1)}x) - y\|^2", "W^{(1)}", {"W^{(1)}": "3x2", "W^{(2)}": "2x3", "x": "2", "y": "2"},
     {}, r"((W^{(2)\top}(W^{(2)}\tanh(W^{(1)}x) - y)) \odot (1 - \tanh(W^{(1)}x) \odot \tanh(W^{(1)}x))) x^\top"),
]


@pytest.mark.parametrize("function, wrt, shapes, assumptions, claim", RIGHT)
def test_right_claims_pass(function, wrt, shapes, assumptions, claim):
    verdict = ns.check(function, claim, wrt, shapes, assumptions)
    assert verdict.ok, str(verdict)
    assert verdict.diagnosis is None
    assert verdict.points >= 3
    assert verdict.max_rel_error < 1e-8  # entrywise, also at points of size 10 where tanh saturates


# (function, wrt, shapes, assumptions, wrong claim, the start of the diagnosis)
MISTAKES = [
    (*LSQ, {}, r"x (Wx - y)^\top", "transpose"),
    (r"\log\det(X)", "X", {"X": "3x3"}, {"X": "positive-determinant"}, r"X^{-1}", "transpose"),
    (r"\|X\|_F^2", "X", {"X": "3x2"}, {}, "X", "scaled by 1/2"),
    (*LSQ, {}, r"2(Wx-y)x^\top", "scaled by 2"),
    (*LSQ, {}, r"(y - Wx)x^\top", "scaled by -1"),
    (r"\frac{1}{N}\|Xw - y\|^2", "w", {"X": "5x3", "w": "3", "y": "5"}, {}, r"\frac{2}{N^2} X^\top (X w - y)",
     "scaled by 1/N"),
    (r"\frac{1}{N}\|Xw - y\|^2", "w", {"X": "5x3", "w": "3", "y": "5"}, {}, r"2 X^\top (X w - y)", "scaled by N"),
    (*SIGMOID, {}, r"(\sigma(Wx)-y)x^\top", "missing factor"),
    (*SIGMOID, {}, r"((\sigma(Wx)-y)\odot\sigma'(Wx)\odot\sigma'(Wx))x^\top", "extra factor"),
    (r"x^\top A x", "x", {"A": "3x3", "x": "3"}, {}, "2Ax", "symmetric-only identity"),
    (r"x^\top A x", "x", {"A": "3x3", "x": "3"}, {}, "Ax", "dropped term"),
    (*LSQ, {}, r"W x x^\top", "dropped term"),
    (*LSQ, {}, r"(Wx-y)x^\top + W", "extra term"),
    (r"\operatorname{tr}(A X B)", "X", {"A": "3x3", "X": "3x3", "B": "3x3"}, {}, r"B^\top A^\top", "wrong order"),
]


@pytest.mark.parametrize("function, wrt, shapes, assumptions, claim, diagnosis", MISTAKES)
def test_classic_mistakes_fail_with_their_diagnosis(function, wrt, shapes, assumptions, claim, diagnosis):
    verdict = ns.check(function, claim, wrt, shapes, assumptions)
    assert not verdict.ok
    assert verdict.diagnosis is not None and verdict.diagnosis.startswith(diagnosis), verdict.diagnosis
    assert "wrong" in str(verdict) and diagnosis in str(verdict)


def test_symmetric_only_names_the_matrices_that_would_have_to_be_symmetric():
    verdict = ns.check(r"\operatorname{tr}(A X B)", "AB", "X", {"A": "3x3", "X": "3x3", "B": "3x3"})
    assert verdict.diagnosis.startswith("symmetric-only identity: the claim is right only if A, B are symmetric")


def test_worst_entry_is_the_claims_own_arithmetic():
    verdict = ns.check(*LSQ[:1], r"2(Wx-y)x^\top", LSQ[1], LSQ[2])
    assert verdict.worst_claimed == pytest.approx(2 * verdict.worst_true, rel=1e-12)
    assert verdict.max_abs_error == pytest.approx(abs(verdict.worst_true), rel=1e-12)
    assert len(verdict.worst_index) == 2 and 0 <= verdict.worst_index[0] < 3 and 0 <= verdict.worst_index[1] < 2
    assert verdict.max_rel_error == pytest.approx(1.0, rel=1e-9)


def test_a_near_miss_is_wrong_and_a_right_claim_holds_over_many_seeds():
    """The tolerance separates: a coefficient 1e-4 off fails; inverses at many random points pass."""
    near = ns.check(*LSQ[:1], r"1.0001 (Wx-y)x^\top", LSQ[1], LSQ[2])
    assert not near.ok and near.diagnosis.startswith("scaled by 1.0001")
    for seed in range(15):
        assert ns.check(r"a^\top X^{-1} b", r"-X^{-\top} a b^\top X^{-\top}", "X",
                        {"a": "4", "b": "4", "X": "4x4"}, seed=seed).ok


def test_a_claim_of_the_wrong_shape_is_wrong_and_says_so():
    verdict = ns.check(*LSQ[:1], r"x^\top x", LSQ[1], LSQ[2])
    assert not verdict.ok
    assert "the claim is 1x1, but the gradient with respect to W has its shape 3x2" in verdict.message


def test_a_claim_whose_own_shapes_do_not_fit_is_wrong_and_says_so():
    verdict = ns.check(*LSQ[:1], r"(Wx - y)^\top x", LSQ[1], LSQ[2])
    assert not verdict.ok
    assert verdict.message.startswith("the claim's shapes do not fit together: col ")
    assert "matrix product: 1x3 times 2x1" in verdict.message


def test_the_left_side_names_the_variable_and_must_agree_with_wrt():
    assert ns.check(LSQ[0], r"\frac{\partial L}{\partial W} = (Wx-y)x^\top", shapes=LSQ[2]).ok
    with pytest.raises(InputError, match="with respect to x, but wrt is W"):
        ns.check(LSQ[0], r"\frac{\partial L}{\partial x} = W^\top(Wx-y)", "W", LSQ[2])
    with pytest.raises(InputError, match="say which variable"):
        ns.check(LSQ[0], r"(Wx-y)x^\top", shapes=LSQ[2])


def test_bad_input_raises():
    with pytest.raises(ParseError, match=r"^claimed: col \d+"):
        ns.check(*LSQ[:1], r"(Wx-y)x^", LSQ[1], LSQ[2])
    with pytest.raises(ParseError, match=r"^function: col \d+"):
        ns.check(r"\frac{1}{2}\|Wx-y\|^", r"(Wx-y)x^\top", "W", LSQ[2])
    with pytest.raises(InputError, match="q does not appear in the function"):
        ns.check(*LSQ[:1], "0", "q", LSQ[2])
    with pytest.raises(ShapeError, match="not a scalar"):
        ns.check("Wx", "W", "W", LSQ[2])
    with pytest.raises(InputError, match="the claim uses z"):
        ns.check(*LSQ[:1], r"z x^\top", LSQ[1], LSQ[2])
    with pytest.raises(InputError, match="sizes too large to check numerically"):
        ns.check(LSQ[0], r"(Wx-y)x^\top", "W", {"W": "3000x2", "x": "2", "y": "3000"})


def test_expressions_in_claims_and_functions():
    W, x, y = ns.matrix("W", 3, 2), ns.vector("x", 2), ns.vector("y", 3)
    f = ns.norm(W @ x - y, squared=True) / 2
    assert ns.check(f, r"(Wx-y)x^\top", W).ok
    assert ns.check(f, ns.outer(W @ x - y, x), "W").ok
    assert not ns.check(f, ns.outer(x, W @ x - y), W).ok


def test_verdict_prints_as_text_json_and_latex():
    right = ns.check(*LSQ[:1], r"(Wx-y)x^\top", LSQ[1], LSQ[2])
    assert str(right).startswith(f"right: the claim equals the gradient with respect to W at {right.points} random points")
    wrong = ns.check(*LSQ[:1], r"2(Wx-y)x^\top", LSQ[1], LSQ[2])
    data = json.loads(json.dumps(wrong.to_json()))
    assert set(data) >= {"ok", "gradient", "claimed", "max_abs_error", "max_rel_error", "worst_index", "diagnosis",
                         "points"}
    assert data["ok"] is False and data["gradient"] == r"\left(W x - y\right) x^\top"
    assert data["claimed"].startswith("2") and data["diagnosis"].startswith("scaled by 2")
    assert r"\neq" in wrong._repr_latex_() and "=" in right._repr_latex_()


def test_zero_gradient_of_a_declared_variable_absent_from_the_function():
    assert ns.check(r"\|x\|^2", "0", "b", {"x": "3", "b": "1x1"}).ok


# ----- a user's own NumPy gradient ----------------------------------------------------------------

def _right(W, x, y):
    return np.outer(W @ x - y, x)


def _forgot_the_sigmoid_derivative(W, x, y):
    return np.outer(1 / (1 + np.exp(-(W @ x))) - y, x)


def test_check_function_passes_a_right_numpy_gradient():
    verdict = ns.check_function(*LSQ[:2], _right, shapes=LSQ[2])
    assert verdict.ok and verdict.max_abs_error < 1e-6


def test_check_function_fails_a_wrong_one_at_its_worst_entry_with_a_diagnosis():
    verdict = ns.check_function(*SIGMOID[:2], _forgot_the_sigmoid_derivative, shapes=SIGMOID[2])
    assert not verdict.ok
    assert verdict.diagnosis.startswith("missing factor")
    # the worst entry reported is the user's own value there, against central differences
    assert verdict.worst_claimed != pytest.approx(verdict.worst_true, rel=1e-3)
    assert verdict.max_abs_error == pytest.approx(abs(verdict.worst_claimed - verdict.worst_true), rel=1e-9)


def test_check_function_names_keyword_arguments_by_identifier():
    seen = {}

    def gradient(W_1, x):
        seen.update(W_1=W_1, x=x)
        return np.outer(W_1 @ x, x)

    verdict = ns.check_function(r"\frac{1}{2}\|W^{(1)} x\|^2", "W^{(1)}", gradient, {"W^{(1)}": "2x3", "x": "3"})
    assert verdict.ok and seen["W_1"].shape == (2, 3)
    assert "W^{(1)} = W_1" in verdict.message


def test_check_function_of_the_wrong_shape():
    verdict = ns.check_function(*LSQ[:2], lambda W, x, y: _right(W, x, y).T, shapes=LSQ[2])
    assert not verdict.ok and "transposed shape" in verdict.message


def test_no_diagnosis_where_none_fits():
    verdict = ns.check(*LSQ[:1], "W", LSQ[1], LSQ[2])
    assert not verdict.ok and verdict.diagnosis is None
    assert "diagnosis" not in str(verdict)


def test_closeness_is_norm_wise_at_the_stated_tolerance():
    from nnsym.present.diagnose import RTOL, close

    truth = np.random.default_rng(1).standard_normal((3, 2))
    assert close(truth * (1 + RTOL / 10), truth)
    assert not close(truth * (1 + RTOL * 10), truth)
    assert not close(truth.T, truth) and not close(truth * np.nan, truth)
    assert close(np.zeros((3, 2)), np.zeros((3, 2)))


# ----- review: right claims in forms students write, each refused (exit 2) before its fix -----

REVIEW_RIGHT = [
    (r"\operatorname{tr}(X)", "X", {"X": "3x3"}, {}, "I"),                                    # Cookbook (100)
    (r"\operatorname{tr}(2X)", "X", {"X": "nxn"}, {}, r"\frac{\partial f}{\partial X} = 2I"),
    (r"\mathbf{1}^\top x", "x", {"x": "3"}, {}, r"\mathbf{1}"),
    (r"\mathbf{1}^\top W^{(1)\top} x", "W^{(1)}", {"W^{(1)}": "3x2", "x": "3"}, {}, r"x \mathbf{1}^\top"),
    (r"\frac12\|Wx - y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"}, {}, r"(Wx - y)x^\top"),
    (r"\frac{\lambda}{2}\|W\|_F^2", r"\lambda", {"W": "3x2"}, {}, r"\frac12 \operatorname{tr}(W^\top W)"),
    (r"\tanh(z)", "z", {}, {}, r"1 - \tanh^2(z)"),
    (r"\frac{1}{2}\|\tanh(Wx) - y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"}, {},
     r"((\tanh(Wx) - y) \odot (\mathbf{1} - \tanh^2(Wx))) x^\top"),
    (r"\theta^\top x", None, {"\\theta": "3", "x": "3"}, {}, r"\nabla_{\boldsymbol{\theta}} J(\theta) = x"),
    (r"\frac12\|W x - y\|^2", None, {"W": "3x2", "x": "2", "y": "3"}, {}, r"\frac{\partial}{\partial W} L = (Wx-y)x^\top"),
]


@pytest.mark.parametrize("function, wrt, shapes, assumptions, claim", REVIEW_RIGHT)
def test_right_claims_in_student_forms_pass(function, wrt, shapes, assumptions, claim):
    verdict = ns.check(function, claim, wrt, shapes, assumptions)
    assert verdict.ok, str(verdict)


def test_a_bare_ones_claim_of_the_wrong_length_is_wrong_not_refused():
    verdict = ns.check(r"\mathbf{1}^\top W x", r"\mathbf{1}", "W", {"W": "3x2", "x": "2"})
    assert not verdict.ok and "3x1" in verdict.message


def test_zero_claims_the_function_s_scalars_and_names_as_written():
    # the gradient of a function that does not depend on y is zero, however the zero is written
    for zero in ("0", r"\mathbf{0}"):
        assert ns.check(r"\mathbf{1}^\top x", zero, "y", {"x": "3", "y": "3"}).ok
    verdict = ns.check(r"x^\top x", "0", "x", {"x": "3"})
    assert not verdict.ok and verdict.diagnosis == "zero: the claim is zero where the true gradient is not"
    # the function's scalar c is known to the claim: 2cx is 2 c x
    assert ns.check(r"c x^\top x", "2cx", "x", {"x": "3"}).ok
    assert ns.check(r"c x^\top x", "4cx", "x", {"x": "3"}).diagnosis.startswith("scaled by 2")
    # names spelled as in LaTeX: \hat y, \boldsymbol\theta
    assert ns.check(r"\mathbf{1}^\top \hat{y}", r"\mathbf{1}", r"\hat y", {r"\hat y": "3"}).ok
    assert ns.check(r"\boldsymbol{\theta}^\top x", "x", r"\boldsymbol\theta", {r"\theta": "3", "x": "3"}).ok
    # a named function
    assert ns.check(r"L(W) = \frac12\|Wx - y\|^2", r"(Wx - y)x^\top", "W", {"W": "3x2", "x": "2", "y": "3"}).ok
    # a negative power of a square matrix
    assert ns.check(r"\operatorname{tr}(X^{-1})", r"-(X^{-2})^\top", "X", {"X": "4x4"}).ok


def test_check_function_passes_scalars_as_floats_and_takes_a_float_back():
    seen = {}

    def gradient(c, x):
        seen["c"] = c
        return (x.T @ x).item()  # d(c x^T x)/dc, a float

    assert ns.check_function(r"c x^\top x", "c", gradient, {"x": "3"}).ok
    assert isinstance(seen["c"], float)
    assert ns.check_function(r"c^2", "c", lambda c: 2 * c, {}).ok
    assert ns.check_function(r"c^2", "c", lambda c: 3 * c, {}).diagnosis.startswith("scaled by 3/2")


def test_check_function_refuses_a_row_for_a_column_but_takes_a_flat_vector():
    assert ns.check_function(r"x^\top x", "x", lambda x: 2 * x.ravel(), {"x": "3"}).ok
    verdict = ns.check_function(r"x^\top x", "x", lambda x: 2 * x.T, {"x": "3"})
    assert not verdict.ok and "transposed shape" in verdict.message
    assert not ns.check_function(r"\|W\|_F^2", "W", lambda W: 2 * W.ravel(), {"W": "3x2"}).ok


def test_a_bare_ones_in_a_numerator_layout_claim_is_diagnosed_as_the_transpose():
    verdict = ns.check(r"\mathbf{1}^\top W x", r"x \mathbf{1}^\top", "W", {"W": "3x2", "x": "2"})
    assert not verdict.ok and "2x3" in verdict.message and verdict.diagnosis.startswith("transpose")


def test_derive_names_the_function_as_the_user_did():
    from nnsym.present.claims import derive
    named = derive(r"L = \frac12\|Wx - y\|^2", "W", {"W": "3x2", "x": "2", "y": "3"})
    assert named.equation().startswith(r"\frac{\partial L}{\partial W} = ")
    assert derive(r"\theta^2", r"\theta").equation().startswith(r"\frac{\partial f}{\partial \theta}")
