"""Random well-typed scalar expressions over the core nodes, for fuzzing the derivative engine.

`ExpressionBuilder` makes every choice through a small `Chooser` (``integer(lo, hi)`` and
``choice(options)``), so the same generator runs under hypothesis (`expressions()`, which shrinks a
failure to a minimal expression) and under a seeded `random.Random` (`benchmarks/fuzz.py`, 10 000
cases). Sizes are concrete and small (1-4). Symbols are named after their shape and assumption
(``A_{23}`` is a 2x3 matrix, ``P_{23}`` a positive one, ``S_{3}`` an SPD 3x3), so one name always
means one symbol.

Arguments are kept where the functions are smooth and defined: log and sqrt see positive values,
inverses and log-determinants see well-conditioned squares (SPD or positive-determinant symbols and
sums built from them), divisions divide by positive values. Kronecker products appear on purpose:
they have no derivative rule, so the engine must refuse them.
"""

from __future__ import annotations

import random
from typing import Sequence, Tuple

import numpy as np

from hypothesis import strategies as st

from nnsym.declare import expressions as E
from nnsym.declare.functions import ACTIVATIONS, ELEMENTWISE, apply
from nnsym.declare.layers import binary_cross_entropy, softmax_cross_entropy
from nnsym.derive.reverse import cotangents
from nnsym.errors import MissingRuleError
from nnsym.declare.names import identifier
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.verify.evaluate import evaluate
from nnsym.verify.finite_differences import check_gradients
from nnsym.verify.points import random_point, symbols_of

# Elementwise functions with the parameter they need (the slope of leaky ReLU, the alpha of ELU).
PARAMETERS = {"leaky_relu": 0.1, "leaky_relu_prime": 0.1, "elu": 1.5, "elu_prime": 1.5, "step_nonpositive": None}
# Defined on the whole real line; log and sqrt are drawn only on positive arguments.
EVERYWHERE = tuple(sorted(set(ELEMENTWISE) - {"log", "sqrt"}))
assert set(ACTIVATIONS) <= set(EVERYWHERE)

Shape = Tuple[int, int]
MAX_SIZE = 4


class RandomChooser:
    """Choices from a seeded `random.Random` (the benchmark)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence):
        return options[self.rng.randrange(len(options))]


class HypothesisChooser:
    """Choices drawn by hypothesis (shrinkable)."""

    def __init__(self, draw):
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, options: Sequence):
        return options[self.draw(st.integers(0, len(options) - 1))]


def symbol(name: str, shape: Shape, assume=None) -> E.Symbol:
    r, c = shape
    if shape == (1, 1):
        return E.scalar(f"{name.lower()}_{{s}}", assume=assume)
    if c == 1 and assume not in ("spd", "positive-determinant"):
        return E.vector(f"{name.lower()}_{{{r}}}", r, assume=assume)
    suffix = f"{r}" if assume in ("spd", "positive-determinant") else f"{r}{c}"
    return E.matrix(f"{name}_{{{suffix}}}", r, c, assume=assume)


class ExpressionBuilder:
    """One random expression; ``depth`` bounds the nesting so finite differences stay cheap."""

    def __init__(self, chooser, max_depth: int = 4):
        self.pick = chooser
        self.max_depth = max_depth

    # ----- entry point -----
    def scalar_root(self) -> E.Expr:
        return self.scalar(self.max_depth)

    # ----- leaves -----
    def leaf(self, shape: Shape) -> E.Expr:
        return symbol(self.pick.choice("ABC"), shape)

    def positive_leaf(self, shape: Shape) -> E.Expr:
        return symbol(self.pick.choice("PR"), shape, assume="positive")

    def size(self) -> int:
        return self.pick.integer(1, MAX_SIZE)

    # ----- any real-valued matrix of a given shape -----
    def matrix(self, shape: Shape, depth: int) -> E.Expr:
        if depth <= 0:
            return self.leaf(shape)
        r, c = shape
        kinds = ["leaf", "leaf", "matmul", "add", "scale", "transpose", "hadamard", "elementwise", "positive",
                 "neg", "named"]
        if r == c:
            kinds += ["inverse", "power", "diag"]
        if c == 1:
            kinds += ["softmax", "log_softmax", "diag_part"]
        if c > 1:
            kinds += ["softmax"]
        if r > 1 or c > 1:
            kinds += ["kronecker"]
        kind = self.pick.choice(kinds)
        d = depth - 1
        if kind == "leaf":
            return self.leaf(shape)
        if kind == "matmul":
            k = self.size()
            return E.matmul(self.matrix((r, k), d), self.matrix((k, c), d))
        if kind == "add":
            return E.add(self.matrix(shape, d), self.matrix(shape, d))
        if kind == "neg":
            return E.add(self.matrix(shape, d), E.neg(self.matrix(shape, d)))
        if kind == "scale":
            factor = self.pick.choice([E.Constant(self.pick.choice([-3, 2, E.sympy.Rational(1, 2)])),
                                       self.scalar(d)])
            return E.scale(factor, self.matrix(shape, d))
        if kind == "transpose":
            return E.transpose(self.matrix((c, r), d))
        if kind == "hadamard":
            if self.pick.integer(0, 2) == 0:
                return E.hadamard_div(self.matrix(shape, d), self.positive(shape, d))
            return E.hadamard(self.matrix(shape, d), self.matrix(shape, d))
        if kind == "elementwise":
            name = self.pick.choice(EVERYWHERE)
            return apply(name, self.matrix(shape, d), PARAMETERS.get(name))
        if kind == "positive":
            name = self.pick.choice(["log", "sqrt"])
            return apply(name, self.positive(shape, d))
        if kind == "named":
            return E.name(f"t_{{{self.pick.integer(0, 9)}}}", self.matrix(shape, d))
        if kind == "inverse":
            return E.inv(self.well_conditioned(r, d))
        if kind == "power":
            return self.matrix(shape, d) ** self.pick.integer(1, 3)
        if kind == "diag":
            return E.diag(self.matrix((r, 1), d))
        if kind == "diag_part":
            n = r
            return E.diag(self.matrix((n, n), d))
        if kind == "softmax":
            return E.softmax(self.matrix(shape, d))
        if kind == "log_softmax":
            return E.log_softmax(self.matrix(shape, d))
        if kind == "kronecker":
            return E.kronecker(self.matrix((r, 1), d), self.matrix((1, c), d))
        raise AssertionError(kind)

    # ----- strictly positive entries -----
    def positive(self, shape: Shape, depth: int) -> E.Expr:
        if depth <= 0:
            return self.positive_leaf(shape)
        d = depth - 1
        kind = self.pick.choice(["leaf", "exp", "sigmoid", "softplus", "sum", "product", "scale", "sqrt"])
        if kind == "leaf":
            return self.positive_leaf(shape)
        if kind in ("exp", "sigmoid"):
            # exp of a bounded argument: tanh keeps e^x in [1/e, e].
            return apply(kind, apply("tanh", self.matrix(shape, d)))
        if kind == "softplus":
            return apply("softplus", self.matrix(shape, d))
        if kind == "sum":
            return E.add(self.positive(shape, d), self.positive(shape, d))
        if kind == "product":
            return E.hadamard(self.positive(shape, d), self.positive(shape, d))
        if kind == "scale":
            return E.scale(E.Constant(self.pick.choice([2, 3, E.sympy.Rational(1, 2)])), self.positive(shape, d))
        return apply("sqrt", self.positive(shape, d))

    # ----- well-conditioned squares (inverses, determinants) -----
    def well_conditioned(self, n: int, depth: int) -> E.Expr:
        spd = symbol("S", (n, n), assume="spd") if n > 1 else self.positive_leaf((1, 1))
        kind = self.pick.choice(["spd", "posdet", "shifted"] if depth > 0 else ["spd", "posdet"])
        if kind == "spd" or n == 1:
            return spd
        if kind == "posdet":
            return symbol("Q", (n, n), assume="positive-determinant")
        # S + M M^T / 4 stays SPD whatever M is (and its condition number moderate for small M).
        m = self.matrix((n, n), depth - 1)
        return E.add(spd, E.scale(E.Constant(E.sympy.Rational(1, 4)), E.matmul(m, E.transpose(m))))

    # ----- scalars -----
    def scalar(self, depth: int) -> E.Expr:
        if depth <= 0:
            return self.leaf((1, 1))
        d = depth - 1
        kind = self.pick.choice(["trace", "sum", "norm_sq", "norm", "det", "logdet", "logsumexp", "dot",
                                 "softmax_ce", "binary_ce", "elementwise", "add", "product", "divide", "power",
                                 "leaf"])
        n = self.size()
        if kind == "trace":
            return E.trace(self.matrix((n, n), d))
        if kind == "sum":
            return E.sum_entries(self.matrix((n, self.size()), d))
        if kind == "norm_sq":
            return E.norm(self.matrix((n, self.size()), d), squared=True)
        if kind == "norm":
            # ||P|| of a positive matrix is far from the kink at 0.
            return E.norm(self.positive((n, self.size()), d))
        if kind == "det":
            return E.det(self.well_conditioned(n, d))
        if kind == "logdet":
            return E.logdet(self.well_conditioned(n, d))
        if kind == "logsumexp":
            return E.logsumexp(self.matrix((n, 1), d))
        if kind == "dot":
            return E.matmul(self.matrix((1, n), d), self.matrix((n, 1), d))
        if kind == "softmax_ce":
            cols = self.size()
            target = symbol("Y", (n, cols), assume="probability") if n > 1 else self.leaf((1, cols))
            return softmax_cross_entropy(self.matrix((n, cols), d), target)
        if kind == "binary_ce":
            shape = (n, self.size())
            return binary_cross_entropy(self.matrix(shape, d), self.matrix(shape, d))
        if kind == "elementwise":
            name = self.pick.choice(EVERYWHERE)
            return apply(name, self.scalar(d), PARAMETERS.get(name))
        if kind == "add":
            return E.add(self.scalar(d), self.scalar(d))
        if kind == "product":
            return E.multiply(self.scalar(d), self.scalar(d))
        if kind == "divide":
            return self.scalar(d) / E.add(self.positive((1, 1), d), 1)
        if kind == "power":
            return self.scalar(d) ** self.pick.integer(2, 3)
        return self.leaf((1, 1))


@st.composite
def expressions(draw, max_depth: int = 5):
    """A hypothesis strategy of random scalar expressions."""
    return ExpressionBuilder(HypothesisChooser(draw), max_depth).scalar_root()


def random_expression(seed: int, max_depth: int = 5) -> E.Expr:
    """The expression of case ``seed`` (the benchmark's cases are reproducible one by one)."""
    return ExpressionBuilder(RandomChooser(seed), max_depth).scalar_root()


# --------------------------------------------------------------------------------------------------
# Judging one case
# --------------------------------------------------------------------------------------------------

RIGHT, REFUSED, JUMP, WRONG = "right", "refused", "jump", "wrong"


def code_agrees(f: E.Expr, gradients: dict, seed: int) -> Tuple[str, str]:
    """The gradients as generated NumPy code (one function, every gradient an output) against the
    evaluator at a random point: RIGHT, or WRONG naming the first gradient that differs. Exported
    code is an answer too."""
    names = {v.name: g for v, g in gradients.items()}
    try:
        function = compile_function(write_function("gradients", names))
        rng = np.random.default_rng(seed)
        symbols = symbols_of(f, *names.values())
        values = random_point([f, *names.values()], symbols, {}, rng)
        got = function(**{identifier(s.name): values[s.name] for s in symbols if s.name in values
                          and identifier(s.name) in function.__code__.co_varnames})
    except Exception as error:  # noqa: BLE001 - a crash of generated code is a wrong answer
        return WRONG, f"{type(error).__name__} in generated code: {error}"
    for name, gradient in names.items():
        expected = evaluate(gradient, values)
        actual = np.asarray(got[name], dtype=float).reshape(expected.shape)
        # Not to the last bit: the code computes sigma' as sigma (1 - sigma), sharing sigma (the lowering),
        # which is 1e-16 off absolutely but not relatively where sigma' is tiny (seed 4502: 1e-5 of 4e-7).
        if not np.allclose(actual, expected, rtol=1e-7, atol=1e-10, equal_nan=True):
            return WRONG, f"generated code for d/d{name} differs from the evaluator: {actual} vs {expected}"
    return RIGHT, "finite differences and generated code agree"


def judge(f: E.Expr, seed: int = 0) -> Tuple[str, str]:
    """(verdict, detail): the gradients with respect to every symbol of ``f`` agree with central
    differences (RIGHT), or the engine refused with a `MissingRuleError` (REFUSED), or f jumps at the
    point so differences cannot decide (JUMP), or anything else (WRONG: a disagreement, a crash, a
    refusal of the wrong type)."""
    variables = symbols_of(f)
    try:
        found = cotangents(f, variables)
    except MissingRuleError as error:
        return REFUSED, str(error)
    except Exception as error:  # noqa: BLE001 - every other outcome is a bug to report
        return WRONG, f"{type(error).__name__} while deriving: {error}"
    try:
        report = check_gradients(f, found, points=2, seed=seed)
    except Exception as error:  # noqa: BLE001
        return WRONG, f"{type(error).__name__} while checking: {error}"
    if report.ok:
        return code_agrees(f, found, seed)
    # A step function composed with an argument that is identically at its jump (H(log sum softmax z),
    # whose argument is log 1 = 0) has derivative 0, but central differences straddle the jump and
    # report about jump / (2 eps). A wrong formula errs by the same amount at every eps; a jump's
    # error grows tenfold when eps shrinks tenfold. Such a case says nothing about the engine.
    finer = check_gradients(f, found, points=2, seed=seed, eps=1e-7)
    if finer.max_abs_error > 5 * report.max_abs_error:
        return JUMP, f"{report}; at eps 1e-7: {finer}"
    return WRONG, str(report)


# --------------------------------------------------------------------------------------------------
# Issue 9: the constructs of "never silently wrong, round 2"
# --------------------------------------------------------------------------------------------------
# Powers of powers with fractional exponents ((m^2)^{1/2} is |m|), thresholds away from 0
# (ReLU(m + 3)), max/min and |m| written with ReLUs, transposes of symmetric symbols, numbers that are
# almost nice (1.00000001, 2.71828182) and functions scaled by e^{+-30} (a verdict must not depend on
# the scale). A separate builder, so that the seeded sequence of the first one is unchanged.

ALMOST_NICE = (1.00000001, 2.71828182, 0.333333333, 1.41421356)
TINY_AND_HUGE = (E.sympy.exp(-30), E.sympy.exp(30), E.sympy.Rational(1, 10**12))


class Round2Builder(ExpressionBuilder):
    """`ExpressionBuilder` with the issue-9 constructs; ``plain`` builds symmetric symbols without
    their assumption (the same expression otherwise, for the same choices)."""

    def __init__(self, chooser, max_depth: int = 4, plain: bool = False):
        super().__init__(chooser, max_depth)
        self.plain = plain

    def symmetric_leaf(self, n: int) -> E.Expr:
        if n == 1:
            return self.leaf((1, 1))
        return E.matrix(f"Y_{{{n}}}", n, n, assume=None if self.plain else "symmetric")

    def leaf(self, shape: Shape) -> E.Expr:
        if shape[0] == shape[1] > 1 and self.pick.integer(0, 2) == 0:
            return self.symmetric_leaf(shape[0])
        return super().leaf(shape)

    def matrix(self, shape: Shape, depth: int) -> E.Expr:
        if depth <= 0 or self.pick.integer(0, 2) != 0:
            return super().matrix(shape, depth)
        r, c = shape
        d = depth - 1
        kinds = ["power_of_power", "threshold", "max", "min", "abs", "almost_nice"]
        if r == c:
            kinds += ["symmetric", "symmetric_transpose"]
        kind = self.pick.choice(kinds)
        if kind == "power_of_power":
            inner = self.pick.choice([2, 4, E.sympy.Rational(3, 2)])
            # A signed symbol under an even power (zero only at a point: (ReLU(z)^2)^{1/2} would have a
            # NaN gradient, 0 * inf, on a whole region), a positive one under a fractional power.
            base = self.leaf(shape) if inner != E.sympy.Rational(3, 2) else self.positive(shape, d)
            return E.power(E.power(base, inner), self.pick.choice([E.sympy.Rational(1, 2), E.sympy.Rational(3, 4), 3]))
        if kind == "threshold":
            offset = E.Constant(self.pick.choice([-3, 3, E.sympy.Rational(1, 2)]))
            return apply("relu", E.add(self.matrix(shape, d), E.scale(offset, E.Ones(r, c))))
        if kind in ("max", "min"):
            a, b = self.matrix(shape, d), self.matrix(shape, d)
            if kind == "max":
                return E.add(a, apply("relu", E.add(b, E.neg(a))))
            return E.add(a, E.neg(apply("relu", E.add(a, E.neg(b)))))
        if kind == "abs":
            m = self.matrix(shape, d)
            return E.add(apply("relu", m), apply("relu", E.neg(m)))
        if kind == "almost_nice":
            return E.scale(E.lift(self.pick.choice(ALMOST_NICE)), self.matrix(shape, d))
        if kind == "symmetric":
            return self.symmetric_leaf(r)
        return E.transpose(E.matmul(self.symmetric_leaf(r), self.matrix(shape, d)))

    def scalar(self, depth: int) -> E.Expr:
        if depth > 0 and self.pick.integer(0, 5) == 0:
            kind = self.pick.choice(["scaled", "two_to_the"])
            if kind == "scaled":
                return E.scale(E.Constant(self.pick.choice(TINY_AND_HUGE)), super().scalar(depth - 1))
            # 2^x = e^{x log 2}, of a bounded argument
            return apply("exp", E.scale(E.Constant(E.sympy.log(2)), apply("tanh", super().scalar(depth - 1))))
        return super().scalar(depth)


@st.composite
def round2_expressions(draw, max_depth: int = 5):
    return Round2Builder(HypothesisChooser(draw), max_depth).scalar_root()


def random_round2_expression(seed: int, max_depth: int = 5, plain: bool = False) -> E.Expr:
    return Round2Builder(RandomChooser(seed), max_depth, plain).scalar_root()
