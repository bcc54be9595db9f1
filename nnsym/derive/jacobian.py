"""Jacobians of vector expressions (numerator layout: m x n for an m-vector over an n-vector) and
Hessians of scalars (the Jacobian of the gradient).

Forward rules, one per node type, in one table like the reverse rules: J(node) from the children's
Jacobians. A 1 x 1 node's Jacobian is its gradient transposed (reverse mode). A node whose
Jacobian would need a third-order tensor (a matrix that depends on x) is refused by name.
"""

from __future__ import annotations

from typing import Dict

from nnsym.declare import expressions as E
from nnsym.declare.expressions import (
    Add,
    Apply,
    Expr,
    Hadamard,
    MatMul,
    Named,
    Power,
    Scale,
    Softmax,
    Symbol,
    Transpose,
    show_shape,
)
from nnsym.derive.reverse import gradient
from nnsym.errors import InputError, MissingRuleError, ShapeError

JACOBIAN = {}


def jacobian_rule(*node_types):
    def register(function):
        for node_type in node_types:
            JACOBIAN[node_type] = function
        return function

    return register


class _Walk:
    def __init__(self, x: Symbol):
        self.x = x
        self.memo: Dict[Expr, Expr] = {}

    def __call__(self, node: Expr) -> Expr:
        if node not in self.memo:
            self.memo[node] = self.compute(node)
        return self.memo[node]

    def compute(self, node: Expr) -> Expr:
        n = self.x.rows
        if not node.depends_on(self.x):
            return E.Zero(node.rows, n)
        if node == self.x:
            return E.Identity(n)
        if node.is_scalar:
            return E.transpose(gradient(node, self.x))
        if node.cols != 1:
            raise MissingRuleError(
                f"the Jacobian of a {show_shape(node.shape)} matrix needs a third-order tensor; "
                "nnsym derives Jacobians of column vectors"
            )
        rule = JACOBIAN.get(type(node))
        if rule is None:
            raise MissingRuleError(f"no Jacobian rule for {type(node).__name__}")
        return rule(self, node)


@jacobian_rule(Named)
def _named(walk, node):
    """A name is its definition."""
    return walk(node.definition)


@jacobian_rule(Add)
def _add(walk, node):
    """J(u + v) = J(u) + J(v)"""
    return E.add(*[walk(t) for t in node.args])


@jacobian_rule(Scale)
def _scale(walk, node):
    """J(c v) = v (grad c)^T + c J(v)"""
    c, v = node.args
    return E.add(E.matmul(v, walk(c)), E.scale(c, walk(v)))


@jacobian_rule(MatMul)
def _matmul(walk, node):
    """J(A v) = A J(v) for A that does not depend on x; J(u c) = u (grad c)^T + c J(u) for a 1x1 c"""
    A, v = node.args
    if A.is_scalar:  # a 1x1 factor on the left of a row: a scalar multiple
        return _scale(walk, node)
    if v.is_scalar:
        # A column times a 1x1 factor, x (x^T x) or a gradient such as a (x^T a): a scalar multiple,
        # not a third-order tensor (it used to be refused, and with it the Hessian of (x^T x)(a^T x)).
        return E.add(E.matmul(A, walk(v)), E.scale(v, walk(A)))
    if A.depends_on(walk.x):
        # Regroup toward a column times a 1x1 factor: (u w^T) v = u (w^T v), (B + C) v = B v + C v.
        if isinstance(A, MatMul):
            return walk(E.matmul(A.args[0], E.matmul(A.args[1], v)))
        if isinstance(A, Add):
            return walk(E.add(*[E.matmul(t, v) for t in A.args]))
        if isinstance(A, Scale):
            return walk(E.scale(A.args[0], E.matmul(A.args[1], v)))
        if isinstance(A, E.Diag):  # diag(u) v = u o v (issue 9)
            return walk(E.hadamard(A.args[0], v))
        raise MissingRuleError(
            "no Jacobian rule for a product whose left factor depends on the variable "
            "(it needs a third-order tensor)"
        )
    return E.matmul(A, walk(v))


@jacobian_rule(Transpose)
def _transpose(walk, node):
    """J(r^T) for a row r: the transpose pushed one level in ((a + b)^T = a^T + b^T, (A B)^T = B^T A^T)"""
    (r,) = node.args
    if isinstance(r, Add):
        return walk(E.add(*[E.transpose(t) for t in r.args]))
    if isinstance(r, MatMul):
        return walk(E.matmul(E.transpose(r.args[1]), E.transpose(r.args[0])))
    if isinstance(r, Scale):
        return walk(E.scale(r.args[0], E.transpose(r.args[1])))
    if isinstance(r, Transpose):
        return walk(r.args[0])
    raise MissingRuleError(f"no Jacobian rule for the transpose of {type(r).__name__}")


@jacobian_rule(Apply)
def _apply(walk, node):
    """J(f(v)) = diag(f'(v)) J(v)"""
    (v,) = node.args
    return E.matmul(E.diag(node.function.spec.derivative(v, node.function)), walk(v))


@jacobian_rule(Power)
def _power(walk, node):
    """J(v^p) = diag(p v^(p-1)) J(v)"""
    (v,) = node.args
    return E.matmul(E.diag(E.scale(E.Constant(node.exponent), E.power(v, node.exponent - 1))), walk(v))


@jacobian_rule(Hadamard)
def _hadamard(walk, node):
    """J(u o v) = diag(v) J(u) + diag(u) J(v)"""
    u, v = node.args
    return E.add(E.matmul(E.diag(v), walk(u)), E.matmul(E.diag(u), walk(v)))


# ----- issue 9: elementwise division ------------------------------------------------------------------
@jacobian_rule(E.HadamardDiv)
def _hadamard_div(walk, node):
    """J(u / v) = diag(1 / v) J(u) - diag(u / v^2) J(v), entrywise"""
    u, v = node.args
    ones = E.Ones(*v.shape)
    return E.add(E.matmul(E.diag(E.hadamard_div(ones, v)), walk(u)),
                 E.neg(E.matmul(E.diag(E.hadamard_div(u, E.hadamard(v, v))), walk(v))))


@jacobian_rule(Softmax)
def _softmax(walk, node):
    """J(softmax(z)) = (diag(s) - s s^T) J(z)"""
    (z,) = node.args
    s = node
    return E.matmul(E.add(E.diag(s), E.neg(E.matmul(s, E.transpose(s)))), walk(z))


@jacobian_rule(E.LogSoftmax)
def _log_softmax(walk, node):
    """J(log softmax(z)) = (I - 1 softmax(z)^T) J(z)"""
    (z,) = node.args
    n = z.rows
    return E.matmul(E.add(E.Identity(n), E.neg(E.matmul(E.Ones(n, 1), E.transpose(E.softmax(z))))), walk(z))


def jacobian(y: Expr, x: Symbol) -> Expr:
    """dy/dx in numerator layout: rows follow y, columns follow x."""
    if not isinstance(y, Expr) or not isinstance(x, Symbol):
        raise InputError(f"a Jacobian is taken of an nnsym expression with respect to a declared symbol, "
                         f"not {type(y).__name__} and {type(x).__name__}")
    if x.cols != 1:
        raise ShapeError(f"a Jacobian is taken with respect to a vector; {x.name} is {show_shape(x.shape)}")
    return _Walk(x)(y)


def hessian(f: Expr, x: Symbol) -> Expr:
    """The matrix of second derivatives d^2 f / dx dx^T (the Jacobian of the gradient)."""
    if not f.is_scalar:
        raise ShapeError(f"a Hessian needs a scalar function, got {show_shape(f.shape)}")
    return jacobian(gradient(f, x), x)
