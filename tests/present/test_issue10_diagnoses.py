"""Issue 10, point 4: diagnoses that help a student."""

import nnsym as ns
from nnsym.present.diagnose import _ratio_with

SQUARE = {"W": "3x3", "x": "3", "y": "3"}


def test_a_square_weight_matrix_without_its_transpose_is_a_missing_transpose():
    verdict = ns.check(r"\frac{1}{2}\|Wx-y\|^2", "W(Wx-y)", "x", SQUARE)
    assert not verdict.ok
    assert verdict.diagnosis.startswith("missing transpose: the claim has W where the gradient has W^\\top")
    assert "symmetric" not in verdict.diagnosis
    # the reverse slip, and a non-weight quadratic form still gets its symmetric-only identity
    assert ns.check(r"\frac{1}{2}\|W^\top x-y\|^2", r"W^\top(W^\top x-y)", "x", SQUARE).diagnosis.startswith(
        "extra transpose")
    assert "symmetric-only" in ns.check("x^\\top A x", "2Ax", "x", {"A": "3x3", "x": "3"}).diagnosis


def test_a_claim_that_does_not_multiply_says_which_transpose_fits():
    verdict = ns.check(r"\frac{1}{2}\|Wx-y\|^2", "(Wx-y)x", "W", {"W": "3x2", "x": "2", "y": "3"})
    assert not verdict.ok and "shapes do not fit" in verdict.message
    assert verdict.message.endswith("they fit with x^\\top for the x at col 7")
    verdict = ns.check(r"\frac{1}{2}\|Wx-y\|^2", "W(Wx-y)", "x", {"W": "3x2", "x": "2", "y": "3"})
    assert verdict.message.endswith("they fit with W^\\top for the W at col 1")


def test_a_claim_right_only_under_an_assumption_says_so():
    shapes = {"y": "3", "z": "3"}
    verdict = ns.check(r"-y^\top\log\operatorname{softmax}(z)", r"\operatorname{softmax}(z) - y", "z", shapes)
    assert not verdict.ok
    assert verdict.diagnosis.startswith("right only if \\mathbf{1}^\\top y = 1")
    assert "pass assumptions={'y': 'onehot'}" in verdict.diagnosis  # Python: no CLI flag
    assert ns.check(r"-y^\top\log\operatorname{softmax}(z)", r"\operatorname{softmax}(z) - y", "z", shapes,
                    {"y": "onehot"}).ok


def test_constant_multiples_read_one_way():
    assert [_ratio_with(r, "B", p) for r, p in ((6, -1), (1 / 6, -1), (1 / 6, 1), (-2, 1), (1, 1))] == [
        "6/B", "1/(6B)", "B/6", "-2B", "B"]
    verdict = ns.check(r"\frac{c}{2}\|w\|^2", "6w", "w", {"w": "3"})
    assert verdict.diagnosis == "scaled by 6/c: the claim is 6/c times the true gradient"
