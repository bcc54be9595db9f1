"""Canonical forms: compositions a user types, rewritten into nnsym's stable primitives before deriving.

Typed, softmax cross-entropy is ``-y^T log(softmax(z))`` and a sigmoid may be ``1 / (1 + e^{-z})``.
Derived as written, their gradients are long (``softmax(z) ⊙ (y ⊘ softmax(z))``) and their code
overflows at logits of ±800. Rewritten first into the primitives nnsym already has (the fused
cross-entropy nodes, log-softmax, logsumexp, softplus, log-sigmoid, σ, σ′, tanh′), the derivation
meets the short rules and the code the stable kernels: typed and built in Python, one answer.

One table, one rule per entry (`RULES`), each rule's docstring the identity it encodes; every rule is an
exact identity on the reals wherever its left side is defined (tests/derive/test_canonical.py checks
both sides at random and extreme points against 50-digit mpmath). Rules run bottom-up, children first;
a rule's result is canonicalised again, so rules compose (1 - σ(z) = σ(-z), then log σ(-z) is
log-sigmoid). Nothing else changes: an expression no rule matches comes back as the same object.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from nnsym.declare import expressions as E
from nnsym.declare.expressions import (
    Add,
    Apply,
    BinaryCrossEntropy,
    Constant,
    Expr,
    Hadamard,
    HadamardDiv,
    LogSoftmax,
    LogSumExp,
    MatMul,
    Ones,
    Power,
    Scale,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    Symbol,
    Trace,
    Transpose,
    number,
    post_order,
)
from nnsym.declare.functions import apply

Rule = Callable[[Expr], Optional[Expr]]
RULES: List[Rule] = []


def rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


# ----- recognising the pieces ----------------------------------------------------------------------

def _of(node: Expr, name: str) -> Optional[Expr]:
    """The operand z of f(z), for the elementwise function ``name`` (unparametrised)."""
    if isinstance(node, Apply) and node.function.name == name and node.function.parameter is None:
        return node.args[0]
    return None


def _is_one(node: Expr) -> bool:
    """1 or the all-ones matrix."""
    return isinstance(node, Ones) or number(node) == 1


def _one_and(node: Expr, sign: int) -> Optional[Expr]:
    """X of 1 + X (sign 1) or of 1 - X (sign -1), in either order."""
    if not isinstance(node, Add) or len(node.args) != 2:
        return None
    for one, other in (node.args, node.args[::-1]):
        if _is_one(one):
            if sign == 1:
                return other
            if isinstance(other, Scale) and number(other.args[0]) == -1:
                return other.args[1]
    return None


def _ones_row(node: Expr) -> bool:
    return isinstance(node, Ones) and node.rows == 1


def _ones_column(node: Expr) -> bool:
    return isinstance(node, Ones) and node.cols == 1


def _column_sum(node: Expr) -> Optional[Expr]:
    """X of 1^T X (the row of column sums; for a column x, the scalar 1^T x = x^T 1)."""
    if isinstance(node, MatMul):
        left, right = node.args
        if _ones_row(left):
            return right
        if node.is_scalar and _ones_column(right) and isinstance(left, Transpose) and left.args[0].cols == 1:
            return left.args[0]
    if isinstance(node, Sum) and node.args[0].cols == 1:
        return node.args[0]
    return None


def _column_sums_spread(node: Expr) -> Optional[Expr]:
    """X of 1 1^T X: each column's sum down the column (for a column x also (1^T x) 1)."""
    if isinstance(node, MatMul):
        left, right = node.args
        if isinstance(left, MatMul) and _ones_column(left.args[0]) and _ones_row(left.args[1]):
            return right
        if _ones_column(left):
            return _column_sum(right)
        if isinstance(left, Ones) and left.is_square:
            return right
    if isinstance(node, Scale) and _ones_column(node.args[1]):
        return _column_sum(node.args[0])
    return None


def _entry_sum(node: Expr) -> Optional[Expr]:
    """X of 1^T X 1 (the sum of all entries of X), written any of the usual ways."""
    if isinstance(node, Sum):
        return node.args[0]
    if not (isinstance(node, MatMul) and node.is_scalar):
        return None
    left, right = node.args
    if _ones_row(left):
        if isinstance(right, MatMul) and _ones_column(right.args[1]):
            return right.args[0]
        return right if right.cols == 1 else None
    if _ones_column(right):
        if isinstance(left, MatMul) and _ones_row(left.args[0]):
            return left.args[1]
        if isinstance(left, Transpose) and left.args[0].cols == 1:
            return left.args[0]
        return left if left.rows == 1 else None
    return None


def _inner(node: Expr) -> Optional[Tuple[Expr, Expr]]:
    """(A, B) of <A, B>: a^T b of columns, 1^T (A ⊙ B) 1, tr(A^T B)."""
    if isinstance(node, MatMul) and node.is_scalar:
        left, right = node.args
        if isinstance(left, Transpose) and left.args[0].shape == right.shape and right.cols == 1:
            return left.args[0], right
    if isinstance(node, Trace) and isinstance(node.args[0], MatMul):
        left, right = node.args[0].args
        if isinstance(left, Transpose) and left.args[0].shape == right.shape:
            return left.args[0], right
    summed = _entry_sum(node)
    if isinstance(summed, Hadamard):
        return summed.args
    return None


def _scaled_inners(node: Expr) -> Optional[List[Tuple[object, Expr, Expr]]]:
    """node as a sum of numbers times inner products, [(c, A, B), ...], or None."""
    terms = node.args if isinstance(node, Add) else (node,)
    out = []
    for term in terms:
        c = 1
        if isinstance(term, Scale) and number(term.args[0]) is not None:
            c, term = number(term.args[0]), term.args[1]
        pair = _inner(term)
        summed = _entry_sum(term)
        if pair is not None:
            out.append((c, *pair))
        elif isinstance(summed, Add):  # 1^T (Y ⊙ A + (1 - Y) ⊙ B) 1
            inner = _scaled_inners(E.add(*[E.sum_entries(t) for t in summed.args]))
            if inner is None:
                return None
            out.extend((c * ci, a, b) for ci, a, b in inner)
        else:
            return None
    return out


# ----- the table ------------------------------------------------------------------------------------

@rule
def _one_minus_sigmoid(node):
    """1 - σ(z) = σ(-z)"""
    z = _of(_one_and(node, -1), "sigmoid") if isinstance(node, Add) else None
    return apply("sigmoid", E.neg(z)) if z is not None else None


@rule
def _sigmoid_from_exp(node):
    """1 ⊘ (1 + e^{-z}) = σ(z)"""
    if isinstance(node, HadamardDiv) and _is_one(node.args[0]):
        denominator = node.args[1]
    elif isinstance(node, Power) and node.exponent == -1:
        denominator = node.args[0]
    else:
        return None
    u = _of(_one_and(denominator, 1), "exp")
    return apply("sigmoid", E.neg(u)) if u is not None else None


@rule
def _sigmoid_from_exp_ratio(node):
    """e^z ⊘ (1 + e^z) = σ(z)"""
    if isinstance(node, HadamardDiv):
        z = _of(node.args[0], "exp")
        if z is not None and _of(_one_and(node.args[1], 1), "exp") == z:
            return apply("sigmoid", z)
    return None


@rule
def _log_sigmoid(node):
    """log σ(z) = log-sigmoid(z) = -softplus(-z)"""
    z = _of(_of(node, "log"), "sigmoid")
    return apply("log_sigmoid", z) if z is not None else None


@rule
def _softplus(node):
    """log(1 + e^z) = softplus(z)"""
    z = _of(_one_and(_of(node, "log"), 1), "exp")
    return apply("softplus", z) if z is not None else None


@rule
def _log_exp(node):
    """log e^z = z"""
    return _of(_of(node, "log"), "exp")


@rule
def _logsumexp(node):
    """log(1^T e^z) = logsumexp(z), column by column"""
    summed = _column_sum(_of(node, "log")) if _of(node, "log") is not None else None
    z = _of(summed, "exp") if summed is not None else None
    return E.logsumexp(z) if z is not None else None


@rule
def _softmax(node):
    """e^z ⊘ (1 1^T e^z) = softmax(z), column by column"""
    if isinstance(node, HadamardDiv):
        top, spread = node.args
        if _of(top, "exp") is not None and _column_sums_spread(spread) == top:
            return E.softmax(top.args[0])
    if isinstance(node, Scale) and isinstance(node.args[0], Power) and node.args[0].exponent == -1:
        top = node.args[1]
        if _of(top, "exp") is not None and top.cols == 1 and _column_sum(node.args[0].args[0]) == top:
            return E.softmax(top.args[0])
    return None


@rule
def _log_softmax(node):
    """log softmax(z) = log-softmax(z) = z - 1 logsumexp(z)"""
    inside = _of(node, "log")
    return E.log_softmax(inside.args[0]) if isinstance(inside, Softmax) else None


@rule
def _softmax_cross_entropy(node):
    """y^T log-softmax(z) = -CE(z, y);  1^T (Y ⊙ log-softmax(Z)) 1 = -CE(Z, Y), CE summed over columns"""
    pair = _inner(node)
    if pair is None:
        return None
    for y, logp in (pair, pair[::-1]):
        if isinstance(logp, LogSoftmax) and y.shape == logp.shape:
            return E.neg(SoftmaxCrossEntropy(logp.args[0], y))
    return None


@rule
def _binary_cross_entropy(node):
    """y^T log σ(z) + (1 - y)^T log(1 - σ(z)) = -BCE(z, y), over all entries (after 1 - σ(z) = σ(-z))"""
    if not (isinstance(node, Add) or _entry_sum(node) is not None):
        return None
    terms = _scaled_inners(node)
    if terms is None or len(terms) < 2:
        return None

    def parts(a, b):
        z = _of(b, "log_sigmoid")
        return (a, z) if z is not None else None

    for i, (ci, ai, bi) in enumerate(terms):
        first = parts(ai, bi) or parts(bi, ai)
        if first is None:
            continue
        y, z = first
        for j, (cj, aj, bj) in enumerate(terms):
            second = parts(aj, bj) or parts(bj, aj)
            if j == i or cj != ci or second is None:
                continue
            rest_y, rest_z = second
            if rest_z == E.neg(z) and _one_and(rest_y, -1) == y:
                kept = [E.scale(E.Constant(c), E.matmul(E.transpose(a), b) if a.cols == 1 else E.sum_entries(E.hadamard(a, b)))
                        for k, (c, a, b) in enumerate(terms) if k not in (i, j)]
                return E.add(E.scale(E.Constant(-ci), BinaryCrossEntropy(z, y)), *kept)
    return None


@rule
def _sigmoid_prime(node):
    """σ(z) ⊙ σ(-z) = σ(z) ⊙ (1 - σ(z)) = σ'(z)"""
    if isinstance(node, Hadamard):
        a, b = (_of(arg, "sigmoid") for arg in node.args)
        if a is not None and b is not None and E.neg(a) == b:
            return apply("sigmoid_prime", a)
    return None


@rule
def _tanh_prime(node):
    """1 - tanh(z)^{∘2} = tanh'(z)"""
    square = _one_and(node, -1) if isinstance(node, Add) else None
    if isinstance(square, Power) and square.exponent == 2:
        z = _of(square.args[0], "tanh")
    elif isinstance(square, Hadamard) and square.args[0] == square.args[1]:
        z = _of(square.args[0], "tanh")
    else:
        z = None
    return apply("tanh_prime", z) if z is not None else None


@rule
def _ones_outer(node):
    """1_n 1_m^T = 1_{n x m}"""
    if isinstance(node, MatMul) and _ones_column(node.args[0]) and _ones_row(node.args[1]):
        return Ones(node.rows, node.cols)
    return None


@rule
def _log_softmax_from_logsumexp(node):
    """z - 1 logsumexp(z) = log-softmax(z), column by column"""
    if not (isinstance(node, Add) and len(node.args) == 2):
        return None
    for z, other in (node.args, node.args[::-1]):
        if not (isinstance(other, Scale) and number(other.args[0]) == -1):
            continue
        spread = other.args[1]
        if isinstance(spread, Scale) and _ones_column(spread.args[1]):
            lse = spread.args[0]
        elif isinstance(spread, MatMul) and _ones_column(spread.args[0]):
            lse = spread.args[1]
        else:
            continue
        if isinstance(lse, LogSumExp) and lse.args[0] == z:
            return E.log_softmax(z)
    return None


@rule
def _scalar_first(node):
    """A s = s A for a 1 x 1 s: a scalar factor is written first"""
    if isinstance(node, MatMul) and node.args[1].is_scalar and not node.args[0].is_scalar:
        return E.scale(node.args[1], node.args[0])
    return None


# ----- applying the table ---------------------------------------------------------------------------

MAX_REWRITES = 50  # per node; each rule shrinks the expression, so a handful is the most ever needed

_REBUILD = {
    MatMul: lambda node, a, b: E.matmul(a, b),
    Add: lambda node, *terms: E.add(*terms),
    Scale: lambda node, c, a: E.scale(c, a),
    Transpose: lambda node, a: E.transpose(a),
    Hadamard: lambda node, a, b: E.hadamard(a, b),
    HadamardDiv: lambda node, a, b: E.hadamard_div(a, b),
    Power: lambda node, a: E.power(a, node.exponent),
    Sum: lambda node, a: E.sum_entries(a),
}


def rebuild(node: Expr, args) -> Expr:
    """``node`` over new children, through the constructors (their simplifications apply)."""
    if tuple(args) == node.args:
        return node
    build = _REBUILD.get(type(node))
    return build(node, *args) if build else node.rebuilt(args)


def _settle(node: Expr, memo: Dict[Expr, Expr]) -> Expr:
    for _ in range(MAX_REWRITES):
        for entry in RULES:
            new = entry(node)
            if new is not None and new != node:
                node = canonical(new, memo)
                break
        else:
            return node
    return node


def canonical(expr: Expr, memo: Optional[Dict[Expr, Expr]] = None) -> Expr:
    """``expr`` with every composition the table knows replaced by its primitive; the same object when
    nothing matches."""
    memo = {} if memo is None else memo
    for node in post_order([expr], seen=memo):
        if isinstance(node, (Symbol, Constant)) or not node.args:
            memo[node] = node
            continue
        memo[node] = _settle(rebuild(node, [memo[child] for child in node.args]), memo)
    return memo[expr]


# ----- what a short form relies on ------------------------------------------------------------------

def assumptions_relied_on(expr: Expr) -> List[str]:
    """The declared facts a derivation of ``expr`` uses beyond algebra, in words: softmax(z) - y is the
    gradient of a cross-entropy only where 1^T y = 1."""
    notes = []
    for node in post_order([canonical(expr)]):
        if isinstance(node, SoftmaxCrossEntropy):
            y = node.args[1]
            kinds = sorted(y.assumptions & {"probability", "onehot"}) if isinstance(y, Symbol) else []
            if kinds:
                note = (rf"uses \mathbf{{1}}^\top {y.name} = 1 ({y.name} is declared {kinds[0]}): "
                        "the gradient of a cross-entropy is softmax minus the targets only then")
                if note not in notes:
                    notes.append(note)
    return notes
