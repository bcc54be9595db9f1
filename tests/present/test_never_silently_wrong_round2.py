"""Issue 9: seven classes of silently wrong answers, each tested as a class against values computed here
(central differences of NumPy functions written in this file, or PyTorch), never nnsym's evaluator alone."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import nnsym as ns
from nnsym.declare.expressions import Constant, lift
from nnsym.declare.reading import read_latex
from nnsym.emit.latex import latex
from nnsym.present import cli
from nnsym.present.claims import check, derive


def central(f, x, eps=1e-6):
    """Central differences of a NumPy function of one array, written here."""
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        out[index] = (f(up) - f(down)) / (2 * eps)
    return out


def value(gradient, **values):
    """The gradient's generated NumPy code at a point."""
    return np.asarray(gradient.to_numpy()(**values), dtype=float)


def run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----- 1. powers of powers -------------------------------------------------------------------------

@pytest.mark.parametrize("text, shapes, numpy_f", [
    (r"(x^2)^{0.5}", {}, lambda x: float(np.sum((x ** 2) ** 0.5))),
    (r"\mathbf{1}^\top (x^{\circ 2})^{\circ 0.5}", {"x": "3"}, lambda x: float(np.sum((x ** 2) ** 0.5))),
    (r"(x^4)^{0.25}", {}, lambda x: float(np.sum((x ** 4) ** 0.25))),
    (r"(x^2)^{1.5}", {}, lambda x: float(np.sum((x ** 2) ** 1.5))),
    (r"(x^2)^{3}", {}, lambda x: float(np.sum((x ** 2) ** 3))),
])
def test_powers_of_powers_keep_the_absolute_value(text, shapes, numpy_f):
    g = derive(text, "x", shapes)
    x = np.array([[-1.5], [0.7], [-0.3]]) if shapes else np.array([[-1.5]])
    np.testing.assert_allclose(value(g, x=x).reshape(x.shape), central(numpy_f, x), rtol=1e-6, atol=1e-8)


def test_powers_of_powers_from_python_and_merged_only_where_an_identity():
    x = ns.scalar("x")
    g = ns.grad((x ** 2) ** 0.5, x)
    assert value(g, x=-1.5) == pytest.approx(-1.0)
    assert latex(ns.grad((x ** 2) ** 3, x).expression) == "6 x^{5}"  # an integer outer power merges
    p = ns.scalar("p", assume="positive")
    assert latex((p ** 2) ** sympy.Rational(1, 2)) == "p"  # a positive base merges


def test_check_decides_powers_of_powers_right():
    assert not check(r"(x^2)^{0.5}", "1", "x").ok
    assert check(r"(x^2)^{0.5}", r"\frac{x}{\sqrt{x^2}}", "x").ok


# ----- 2. scale-free verdicts ----------------------------------------------------------------------

@pytest.mark.parametrize("k", [-30, -10, 0, 10, 30])
def test_verdicts_do_not_depend_on_the_scale(k):
    f = rf"e^{{{k}}}\|x\|^2"
    shapes = {"x": "3"}
    assert check(f, rf"2 e^{{{k}}} x", "x", shapes).ok
    for wrong in ("0", rf"-2 e^{{{k}}} x", rf"2.000001 e^{{{k}}} x", rf"e^{{{k}}} x"):
        verdict = check(f, wrong, "x", shapes)
        assert not verdict.ok and not verdict.undecided, (wrong, str(verdict))


def test_the_issue_command_says_wrong(capsys):
    code, out, _ = run(["check", "--function", r"e^{-30}\|x\|^2", "--wrt", "x", "--shape", "x=3", "--claimed", "0"],
                       capsys)
    assert code == 1 and out.startswith("wrong")


def test_undecided_is_said_when_the_values_are_rounding_noise():
    from nnsym.verify import agreement

    rng = np.random.default_rng(0)
    truth = np.zeros((3, 1))

    def noise(point):  # a claim whose value is rounding noise: it moves by its own size at a nearby point
        return rng.standard_normal((3, 1)) * 1e-17

    point = {"x": np.ones((3, 1))}
    assert agreement.decide(noise(point), truth, noise, lambda p: truth, point) == agreement.UNDECIDED
    assert agreement.decide(np.full((3, 1), 1e-13), truth, lambda p: np.full((3, 1), 1e-13),
                            lambda p: truth, point) == agreement.WRONG
    assert agreement.combine([agreement.RIGHT, agreement.UNDECIDED]) == agreement.UNDECIDED
    assert agreement.combine([agreement.UNDECIDED, agreement.WRONG]) == agreement.WRONG


def test_finite_differences_check_a_tiny_gradient_as_strictly_as_a_large_one():
    from nnsym.declare.expressions import Zero, scale
    from nnsym.verify.finite_differences import check_gradients

    x = ns.vector("x", 3)
    tiny = scale(sympy.exp(-30), ns.norm(x, squared=True))
    assert check_gradients(tiny, {x: scale(2 * sympy.exp(-30), x)}).ok
    assert not check_gradients(tiny, {x: scale(-2 * sympy.exp(-30), x)}).ok
    assert not check_gradients(tiny, {x: Zero(3, 1)}).ok


# ----- 3. assumptions do not rewrite the function ----------------------------------------------------

def test_a_symmetric_variable_gets_the_gradient_of_the_function_as_written(capsys):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 3))
    X = (b + b.T) / 2
    g = derive(r"\operatorname{tr}(X^\top A)", "X", {"X": "3x3", "A": "3x3"}, {"X": "symmetric"})
    # entries taken as independent: d tr(X^T A) / dX_ij = A_ij (differences written here)
    np.testing.assert_allclose(value(g, A=A), central(lambda m: np.trace(m.T @ A), X), rtol=1e-6)
    assert "symmetric part" in g.layout
    code, out, _ = run(["derive", "--function", r"\operatorname{tr}(X^\top A)", "--wrt", "X", "--shape", "X=3x3",
                        "--shape", "A=3x3", "--assume", "X=symmetric"], capsys)
    assert code == 0 and "X is symmetric" in out


@pytest.mark.parametrize("kind", ["symmetric", "spd"])
def test_check_accepts_a_claim_right_on_every_symmetric_direction(kind):
    shapes, assume = {"X": "3x3", "a": "3", "b": "3"}, {"X": kind}
    f = r"a^\top X^\top b"
    right = check(f, r"b a^\top", "X", shapes, assume)
    assert right.ok and not right.note
    for symmetric_only in (r"a b^\top", r"\frac{1}{2}(a b^\top + b a^\top)"):
        verdict = check(f, symmetric_only, "X", shapes, assume)
        assert verdict.ok and "symmetric" in verdict.note and "note:" in str(verdict)
    assert not check(f, r"a a^\top", "X", shapes, assume).ok
    # a general X: only the gradient itself
    assert not check(f, r"a b^\top", "X", {"X": "3x3", "a": "3", "b": "3"}).ok


def test_an_inverse_transpose_of_a_symmetric_variable_is_differentiated_as_written():
    rng = np.random.default_rng(2)
    a, c = rng.standard_normal((3, 1)), rng.standard_normal((3, 1))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    X = (q * np.array([0.5, 1.0, 3.0])) @ q.T
    X = (X + X.T) / 2
    g = derive(r"a^\top X^{-\top} c", "X", {"X": "3x3", "a": "3", "c": "3"}, {"X": "spd"})
    np.testing.assert_allclose(value(g, X=X, a=a, c=c),
                               central(lambda m: (a.T @ np.linalg.inv(m).T @ c).item(), X), rtol=1e-5, atol=1e-8)


# ----- 4. points that cover the domain ---------------------------------------------------------------

def test_a_claim_wrong_beyond_a_threshold_is_rejected_and_the_points_are_counted():
    verdict = check(r"\mathbf{1}^\top\operatorname{ReLU}(x+3)", r"\mathbf{1}", "x", {"x": "3"})
    assert not verdict.ok
    assert verdict.points > 4 and f"{verdict.points} points" in str(verdict)
    assert check(r"\mathbf{1}^\top\operatorname{ReLU}(x+3)", r"H(x+3)", "x", {"x": "3"}).ok


def test_all_assumptions_are_honoured_at_once_and_cover_small_and_large_values():
    from nnsym.verify.points import draw

    rng = np.random.default_rng(0)
    both = ns.matrix("A", 4, 4, assume=["symmetric", "positive"])
    for _ in range(20):
        v = draw(both, {}, rng)
        assert np.all(v > 0) and np.array_equal(v, v.T)
    spd_positive = ns.matrix("S", 3, 3, assume=["spd", "positive"])
    for _ in range(20):
        v = draw(spd_positive, {}, rng)
        assert np.all(v > 0) and np.array_equal(v, v.T) and np.linalg.eigvalsh(v).min() > 0
    eigenvalues = np.concatenate([np.linalg.eigvalsh(draw(ns.matrix("S", 4, 4, assume="spd"), {}, rng))
                                  for _ in range(30)])
    assert eigenvalues.min() < 0.3 and eigenvalues.max() > 3
    positive = np.concatenate([draw(ns.vector("p", 5, assume="positive"), {}, rng).ravel() for _ in range(30)])
    assert positive.min() < 0.3 and positive.max() > 3


def test_a_redraw_keeps_symbols_outside_a_logarithm_signed():
    from nnsym.verify.points import random_point, symbols_of

    x, y = ns.vector("x", 6), ns.vector("y", 6)
    f = ns.sum_entries(ns.log(x)) + ns.dot(y, y)
    rng = np.random.default_rng(0)
    points = [random_point([f], symbols_of(f), {}, rng) for _ in range(10)]
    assert all(np.all(p["x"] > 0) for p in points)
    assert any(np.any(p["y"] < 0) for p in points)


# ----- 7. numbers as written -------------------------------------------------------------------------

@pytest.mark.parametrize("number", [1.00000001, 2.71828182, 1.41421356, 0.333333333, 0.0100000001])
def test_python_floats_are_kept_exactly_as_written(number):
    x = ns.scalar("x")
    c = lift(number)
    assert isinstance(c, Constant) and float(c.value) == number and c.value == sympy.Rational(repr(number))
    g = ns.grad(x * number, x)
    assert latex(g.expression) == repr(number)
    assert float(read_latex(latex(g.expression)).value) == number  # prints what reads back


def test_a_leaky_relu_slope_and_a_latex_decimal_stay_as_written():
    x = ns.scalar("x")
    g = ns.grad(ns.leaky_relu(x, 0.0100000001), x)
    assert "0.0100000001" in g.latex()
    assert value(g, x=-2.0) == pytest.approx(0.0100000001, rel=1e-12)
    assert latex(read_latex(r"0.333333333 x")) == "0.333333333 x"


def test_a_diagnosis_names_the_factor_it_found():
    verdict = check(r"\|x\|^2", r"2.000002 x", "x", {"x": "3"})
    assert not verdict.ok and "1.000001" in verdict.diagnosis


def test_gelu_and_elu_derivatives_print_what_reads_back():
    x = ns.scalar("x")
    import math

    first = {  # GELU'(t) = Phi(t) + t phi(t), ELU'(t) = 1 for t > 0 else e^t: written here
        "gelu": lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2))) + t * math.exp(-t * t / 2) / math.sqrt(2 * math.pi),
        "elu": lambda t: 1.0 if t > 0 else math.exp(t),
    }
    for name, f in (("gelu", ns.gelu(x)), ("elu", ns.elu(x))):
        g = ns.grad(ns.grad(f, x).expression, x)  # prints \varphi(x) (GELU'') and \bar{H}(x) (ELU'')
        again = read_latex(g.latex())  # read back as those functions, not as new symbols
        assert again.free_symbols() == {x}
        for t in (-1.3, 0.4):
            numeric = central(lambda v: first[name](v.item()), np.array([[t]])).item()
            assert value(g, x=t).item() == pytest.approx(numeric, rel=1e-5)
    phi = read_latex(r"\varphi(x)")
    hbar = read_latex(r"\bar{H}(x)")
    from nnsym.verify.evaluate import evaluate

    for t in (-1.3, 0.4):
        assert evaluate(phi, {"x": np.array([[t]])}, {})[0, 0] == pytest.approx(np.exp(-t * t / 2) / np.sqrt(2 * np.pi))
        assert evaluate(hbar, {"x": np.array([[t]])}, {})[0, 0] == (1.0 if t <= 0 else 0.0)
    assert latex(phi) == r"\varphi\left(x\right)" and latex(hbar) == r"\bar{H}\left(x\right)"
    declared = read_latex(r"\varphi x", {r"\varphi": "1"})  # a declared \varphi is still a symbol
    assert not declared.free_symbols() == set()


# ----- 6. exported softmax cross-entropy -------------------------------------------------------------

def test_exported_softmax_cross_entropy_refuses_targets_that_do_not_sum_to_one():
    from nnsym.emit.standalone import load

    net = ns.network([3, 4, 3], activation="tanh", loss="softmax_cross_entropy", batch=5, mean=True)
    source = ns.export(net)
    assert "must sum to one" in source.split('"""')[1]  # the docstring says which
    module = load(source)
    rng = np.random.default_rng(0)
    kw = dict(W_1=rng.standard_normal((4, 3)), b_1=rng.standard_normal(4), W_2=rng.standard_normal((3, 4)),
              b_2=rng.standard_normal(3), X=rng.standard_normal((3, 5)))
    Y = np.eye(3)[:, [0, 1, 2, 0, 1]]
    _, grads = module.loss_and_gradients(**kw, Y=Y)
    b2 = kw.pop("b_2")
    numeric = central(lambda b: module.forward(**kw, b_2=b, Y=Y), b2.reshape(-1, 1))
    np.testing.assert_allclose(np.asarray(grads["b_2"]).reshape(-1, 1), numeric, rtol=1e-6, atol=1e-8)
    for bad in (np.where(np.arange(5) == 2, 0.0, Y), 2 * Y):
        with pytest.raises(ValueError, match="sum to one"):
            module.gradients(**kw, b_2=b2, Y=bad)


# ----- crashes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["derive", "--function", r"\frac{x}{0}", "--wrt", "x"],
    ["derive", "--function", r"(-1)^{0.5} x", "--wrt", "x"],
    ["derive", "--function", r"x + 0^{-1}", "--wrt", "x"],
    ["export", "--function", r"x + 0^{-1}", "--wrt", "x"],
    ["check", "--function", "x^2", "--wrt", "x", "--claimed", r"2x + 0^{-1}"],
])
def test_what_crashed_is_one_line_and_exit_2(argv, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and "internal error" not in err


def test_the_derivative_of_a_step_is_zero_in_python_and_in_the_oracle(capsys):
    x = ns.vector("x", 3)
    g = ns.grad(ns.sum_entries(ns.heaviside(x)), x)
    assert latex(g.expression) == "0"
    code, out, _ = run(["derive", "--oracle", "--function", "H(x)", "--wrt", "x"], capsys)
    assert code == 0 and "elementwise SymPy" in out


def test_check_function_is_scale_free_too():
    f, shapes = r"e^{-30}\|x\|^2", {"x": "3"}
    assert not ns.check_function(f, "x", lambda x: 0 * x, shapes).ok
    assert not ns.check_function(f, "x", lambda x: -2 * np.exp(-30) * x, shapes).ok
    assert ns.check_function(f, "x", lambda x: 2 * np.exp(-30) * x, shapes).ok


def test_a_diagnosis_of_a_tiny_gradient_is_scale_free():
    shapes = {"X": "3x3", "a": "3", "b": "3"}
    verdict = check(r"e^{-40} a^\top X b", r"e^{-40} a a^\top", "X", shapes)
    assert not verdict.ok and verdict.diagnosis is None  # was "transpose": 1e-18 differences fell under a floor
    transposed = check(r"e^{-40} a^\top X b", r"e^{-40} b a^\top", "X", shapes)
    assert transposed.diagnosis.startswith("transpose")
