"""Declaring symbols and building expressions: shapes are checked with messages naming the operation
and both shapes, names are canonical, a 1x1 product is a scalar."""

import pytest
import sympy

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.names import canonical_name, identifier


def test_shapes_of_products_transposes_and_reductions():
    W, x = ns.matrix("W", "m", "n"), ns.vector("x", "n")
    m, n = sympy.Symbol("m", integer=True, positive=True), sympy.Symbol("n", integer=True, positive=True)
    assert (W @ x).shape == (m, 1)
    assert (W @ x).T.shape == (1, m)
    assert (x.T @ x).is_scalar
    assert ns.outer(x, x).shape == (n, n)
    assert ns.trace(ns.outer(x, x)).is_scalar


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda W, x, A: x @ W, "matrix product: nx1 times mxn"),
        (lambda W, x, A: W + A, "sum: shapes mxn and nxn do not match"),
        (lambda W, x, A: ns.hadamard(W, A), "Hadamard product: shapes mxn and nxn do not match"),
        (lambda W, x, A: ns.trace(W), "trace needs a square matrix, got mxn"),
        (lambda W, x, A: ns.det(W), "determinant needs a square matrix, got mxn"),
        (lambda W, x, A: ns.inv(W), "inverse needs a square matrix, got mxn"),
        (lambda W, x, A: W * A, "use @ for the matrix product"),
        (lambda W, x, A: W / x, "the divisor must be a scalar, got nx1"),
        (lambda W, x, A: ns.dot(x, W), "dot product needs a column vector, got mxn"),
        (lambda W, x, A: W ** 2, "only scalars and square matrices"),
    ],
)
def test_shape_errors_name_the_operation_and_both_shapes(build, message):
    W, x, A = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.matrix("A", "n", "n")
    with pytest.raises(ns.ShapeError) as error:
        build(W, x, A)
    assert message in str(error.value)


def test_a_scalar_added_to_a_vector_means_the_all_ones_vector():
    y = ns.vector("y", 3)
    assert (1 - y) == E.add(E.scale(1, E.Ones(3, 1)), E.neg(y))


def test_obvious_simplifications_only():
    A, x = ns.matrix("A", 3, 3), ns.vector("x", 3)
    assert A.T.T == A
    assert (x + x) == E.scale(2, x)
    assert (x - x) == E.Zero(3, 1)
    assert ns.latex((A @ x).T) == r"x^\top A^\top"
    assert ns.latex((A @ x - x).T @ (A @ x - x) / 2) == r"\frac{1}{2} \left(A x - x\right)^\top \left(A x - x\right)"


def test_symmetric_matrices_keep_their_transpose_as_written():
    # Issue 9: folding S^T to S before differentiating by S changes the function (tr(S^T A) -> tr(S A));
    # the fold is made in derived results only, where it is an identity of values.
    from nnsym.declare.expressions import Transpose, fold_symmetric_transpose

    S = ns.matrix("S", 3, 3, assume="symmetric")
    assert isinstance(S.T, Transpose)
    assert fold_symmetric_transpose(S) == S


@pytest.mark.parametrize(
    "spelling, canonical, ident",
    [
        (r"\mathbf{x}", "x", "x"),
        (r"\boldsymbol{\theta}", r"\theta", "theta"),
        ("W^{(1)}", "W^{(1)}", "W_1"),
        ("W^(1)", "W^{(1)}", "W_1"),
        ("b_1", "b_{1}", "b_1"),
        (r"\hat{y}", r"\hat{y}", "y_hat"),
        ("a^{(l-1)}", "a^{(l-1)}", "a_l_minus_1"),
        ("lambda", "lambda", "lambda_"),
    ],
)
def test_names(spelling, canonical, ident):
    assert canonical_name(spelling) == canonical
    assert identifier(spelling) == ident


@pytest.mark.parametrize("bad", ["a;b", "__import__", '"x', "a b", "x\ny", "x\x00", "", "x" * 100, "1x", "W^{(1)"])
def test_bad_names_are_refused(bad):
    with pytest.raises(ns.InputError):
        ns.scalar(bad)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "n m", True])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ns.InputError):
        ns.vector("x", bad)


def test_unknown_assumption_is_refused():
    with pytest.raises(ns.InputError, match="unknown assumption 'sorted'"):
        ns.matrix("A", 3, 3, assume="sorted")
    with pytest.raises(ns.InputError, match="needs a square matrix"):
        ns.matrix("A", 3, 2, assume="spd")


def test_matrix_assumptions_on_a_1x1_mean_what_they_mean_for_a_number():
    # --shape X=1x1 --assume X=spd: a 1 x 1 SPD matrix is a positive number; every 1 x 1 is symmetric
    assert ns.scalar("X", assume="spd").assumptions == frozenset({"positive"})
    assert ns.scalar("X", assume="positive-determinant").assumptions == frozenset({"positive"})
    assert ns.scalar("X", assume="symmetric").assumptions == frozenset()
