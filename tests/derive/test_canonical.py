"""The canonical-rewrite table (nnsym/derive/canonical.py), every rule: it fires on its left side, and
both sides agree with a 50-digit evaluation of the left side written out entry by entry (SymPy/mpmath),
at random points and at extreme ones (|z| up to 1000), in float64 through nnsym's evaluator and through
generated NumPy code."""

import mpmath
import mp_reference as mp
import numpy as np
import pytest

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.expressions import post_order
from nnsym.derive import canonical as C
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.verify.evaluate import evaluate

n, B = 3, 2
z, y = ns.vector("z", n), ns.vector("y", n)
Z, Y = ns.matrix("Z", n, B), ns.matrix("Y", n, B)
t = ns.scalar("t")
one = ns.ones(n)


def log(a):
    return ns.log(a)


def exp(a):
    return ns.exp(a)


def entry_sum(a):
    return ns.ones(a.rows).T @ a @ ns.ones(a.cols)


# rule -> (left side, the primitive node type or elementwise function the right side must contain)
CASES = {
    "_one_minus_sigmoid": (one - ns.sigmoid(z), "sigmoid"),
    "_sigmoid_from_exp": (ns.hadamard_div(one, one + exp(-z)), "sigmoid"),
    "_sigmoid_from_exp_ratio": (ns.hadamard_div(exp(z), one + exp(z)), "sigmoid"),
    "_log_sigmoid": (log(ns.sigmoid(z)), "log_sigmoid"),
    "_softplus": (log(one + exp(z)), "softplus"),
    "_log_exp": (log(exp(z)), None),
    "_logsumexp": (log(one.T @ exp(z)), E.LogSumExp),
    "_softmax": (ns.hadamard_div(exp(z), one @ one.T @ exp(z)), E.Softmax),
    "_log_softmax": (log(ns.softmax(z)), E.LogSoftmax),
    "_softmax_cross_entropy": (-y.T @ log(ns.softmax(z)), E.SoftmaxCrossEntropy),
    "_binary_cross_entropy": (-y.T @ log(ns.sigmoid(z)) - (one - y).T @ log(one - ns.sigmoid(z)),
                              E.BinaryCrossEntropy),
    "_sigmoid_prime": (ns.hadamard(ns.sigmoid(z), one - ns.sigmoid(z)), "sigmoid_prime"),
    "_tanh_prime": (one - E.power(ns.tanh(z), 2), "tanh_prime"),
    "_scalar_first": (z @ ns.sigmoid(t), None),
    "_ones_outer": (ns.hadamard(ns.ones(n) @ ns.ones(B).T, Z), None),
    "_log_softmax_from_logsumexp": (z - ns.logsumexp(z) * one, E.LogSoftmax),
}
# Batch, mean and scalar forms of the same rules.
MORE = [
    ("batch log-softmax cross-entropy", -entry_sum(ns.hadamard(Y, log(ns.softmax(Z)))) / 4, E.SoftmaxCrossEntropy),
    ("batch softmax", ns.hadamard_div(exp(Z), ns.ones(n) @ ns.ones(n).T @ exp(Z)), E.Softmax),
    ("batch logsumexp", log(ns.ones(n).T @ exp(Z)), E.LogSumExp),
    ("batch binary cross-entropy", -entry_sum(ns.hadamard(Y, log(ns.sigmoid(Z)))
                                              + ns.hadamard(ns.ones(n, B) - Y, log(ns.ones(n, B) - ns.sigmoid(Z)))),
     E.BinaryCrossEntropy),
    ("scalar sigmoid", 1 / (1 + exp(-t)), "sigmoid"),
    ("scalar softplus", log(1 + exp(t)), "softplus"),
    ("softmax by a scalar sum", exp(z) / (one.T @ exp(z)), E.Softmax),
    ("sum of entries", log(ns.sum_entries(exp(z))), E.LogSumExp),
    ("tanh' as a product", one - ns.hadamard(ns.tanh(z), ns.tanh(z)), "tanh_prime"),
    ("1 - sigma written 1 + (-sigma) on the left", log(-ns.sigmoid(z) + one), "log_sigmoid"),
    ("batch log-softmax from logsumexp", Z - ns.ones(n) @ ns.logsumexp(Z), E.LogSoftmax),
    ("batch binary cross-entropy with 1 1^T", -entry_sum(ns.hadamard(Y, log(ns.sigmoid(Z))) + ns.hadamard(
        ns.ones(n) @ ns.ones(B).T - Y, log(ns.ones(n) @ ns.ones(B).T - ns.sigmoid(Z)))), E.BinaryCrossEntropy),
    ("cross-entropy through logsumexp", -y.T @ (z - ns.logsumexp(z) * one), E.SoftmaxCrossEntropy),
]

EXTREMES = (1000.0, -1000.0, 800.0, -800.0, 40.5, -40.5, 0.0, 1e-3)


def _contains(expr, wanted):
    for node in post_order([expr]):
        if isinstance(wanted, str) and isinstance(node, E.Apply) and node.function.name == wanted:
            return True
        if isinstance(wanted, type) and isinstance(node, wanted):
            return True
    return False


def _points(symbols, rng, count):
    """Random points, then extreme ones: logits from EXTREMES, targets one-hot / in [0, 1]."""
    out = []
    for k in range(count):
        values = {}
        for s in symbols:
            shape = tuple(int(d) for d in s.shape)
            if s.name in ("y", "Y"):
                v = np.zeros(shape)
                v[rng.integers(0, shape[0], shape[1]), np.arange(shape[1])] = 1.0
                if k % 2:
                    v = rng.uniform(0, 1, shape)
            elif k < 2:
                v = rng.normal(0, 2, shape)
            else:
                v = rng.choice(EXTREMES, shape)
            values[s.name] = v
        out.append(values)
    return out


ALL = [(name, lhs, wanted) for name, (lhs, wanted) in CASES.items()] + MORE


def test_every_rule_has_a_case_and_an_identity():
    assert {r.__name__ for r in C.RULES} == set(CASES)
    for entry in C.RULES:
        assert entry.__doc__ and "=" in entry.__doc__, entry.__name__


@pytest.mark.parametrize("name, lhs, wanted", ALL, ids=[case[0] for case in ALL])
def test_rule_fires_and_both_sides_agree_with_mpmath(name, lhs, wanted):
    rhs = C.canonical(lhs)
    assert rhs != lhs, f"{name} did not fire"
    if wanted is not None:
        assert _contains(rhs, wanted), (name, rhs)
    symbols = sorted(lhs.free_symbols(), key=lambda s: s.name)
    code = compile_function(write_function("f", {"": lhs}))
    rng = np.random.default_rng(len(name))
    for values in _points(symbols, rng, 5):
        reference = mp.reference(lhs, values, symbols)
        # the identity itself, to 50 digits: the right side written out equals the left side
        right = mp.reference(rhs, values, symbols)
        with mpmath.workdps(60):
            assert all(mpmath.almosteq(a, b, rel_eps=mpmath.mpf("1e-50"), abs_eps=mpmath.mpf("1e-1000"))
                       for a, b in zip(right.ravel(), reference.ravel())), (name, values)
        # float64, stable: nnsym's evaluator of the right side and the generated code of the left
        with np.errstate(all="ignore"):
            assert mp.agrees(evaluate(rhs, values), reference), (name, values)
            assert mp.agrees(code(**{s.name: values[s.name] for s in symbols}), reference), (name, values)


def test_nothing_matches_nothing_changes():
    f = ns.norm(ns.matrix("W", 3, 2) @ ns.vector("x", 2) - y, squared=True)
    assert C.canonical(f) is f
