"""Reverse mode over the expression DAG: cotangents in closed matrix form.

The walk is the one micrograd does, on matrices: order the nodes that depend on the variables
(reverse topological order), hand each node the sum of its upstream cotangents, ask the node's rule
in `nnsym.derive.rules` for its children's, and accumulate. Only nodes on a path to a variable are
visited, so a constant subexpression needs no rule.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Symbol, show_shape
from nnsym.derive.canonical import canonical
from nnsym.derive.rules import describe_missing, rule_for
from nnsym.derive.simplify import collect_common_factors
from nnsym.errors import InputError, MissingRuleError, ShapeError

# A hook that may rename a cotangent as it is formed (backprop names dL/dz^{(l)} delta^{(l)}).
CotangentHook = Callable[[Expr, Expr], Expr]
# A trace is told of every visited node: (node, its cotangent, ((child, contribution), ...)); it
# records the derivation step by step (nnsym.derive.steps) without changing it.
Trace = Callable[[Expr, Expr, tuple], None]


def _dependent_order(root: Expr, variables: set) -> List[Expr]:
    """Nodes that depend on a variable, children before parents (iterative: deep inputs are fine)."""
    depends: Dict[Expr, bool] = {}
    order: List[Expr] = []
    for node in E.post_order([root]):
        depends[node] = node in variables or any(depends[child] for child in node.args)
        if depends[node]:
            order.append(node)
    return order


def cotangents(f: Expr, variables: Iterable[Symbol], hook: Optional[CotangentHook] = None,
               trace: Optional[Trace] = None) -> Dict[Symbol, Expr]:
    """dL/dv for each variable v of a scalar f, each with v's shape (denominator layout).

    ``trace``, if given, is called once per visited node with (node, cotangent, contributions)."""
    if not isinstance(f, Expr):
        raise InputError(f"a gradient is taken of an nnsym expression, not of {type(f).__name__} {f!r:.60}")
    if not f.is_scalar:
        raise ShapeError(f"a gradient needs a scalar function, but this one is {show_shape(f.shape)}")
    variables = list(variables)
    for v in variables:
        if not isinstance(v, Symbol):
            raise InputError(f"can only differentiate with respect to a declared symbol, not {v!r}")
    # Typed compositions become the stable primitives first (issue 10): -y^T log softmax(z) is
    # derived as the cross-entropy it is, to softmax(z) - y.
    f = canonical(f)
    order = _dependent_order(f, set(variables))
    dependent = set(order)
    pending: Dict[Expr, List[Expr]] = {f: [E.Constant(1)]}
    result: Dict[Symbol, Expr] = {}
    for node in reversed(order):
        parts = pending.pop(node, None)
        if parts is None:
            continue
        G = E.add(*parts)
        if hook is not None:
            G = hook(node, G)
        if isinstance(node, Symbol):
            result[node] = canonical(collect_common_factors(G))
            if trace is not None:
                trace(node, result[node], ())
            continue
        rule = rule_for(node)
        if rule is None:
            raise MissingRuleError(
                f"no derivative rule for {describe_missing(node)}; nnsym refuses rather than guess"
            )
        passed = []
        for child, contribution in zip(node.args, rule(node, G)):
            if contribution is None or child not in dependent:
                continue
            # A rule returning the wrong shape is a bug in nnsym, not in the input.
            assert contribution.shape == child.shape, (type(node).__name__, contribution.shape, child.shape)
            pending.setdefault(child, []).append(contribution)
            passed.append((child, contribution))
        if trace is not None:
            trace(node, G, tuple(passed))
    for v in variables:
        result.setdefault(v, E.Zero(*v.shape))
    return result


def gradient(f: Expr, wrt: Symbol, hook: Optional[CotangentHook] = None) -> Expr:
    return cotangents(f, [wrt], hook)[wrt]
