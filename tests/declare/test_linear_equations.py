"""Linear equations and systems, checked against sources independent of the elimination: substitution
back into the equations (residual exactly 0), NumPy's solve / lstsq / matrix_rank, Cramer's rule, and
exact LaTeX strings written out by hand."""

import re

import numpy as np
import pytest
import sympy

from nnsym.declare.linear_equations import (
    LinearEquation,
    LinearSystem,
    Solution,
    linear_equation,
    solve_linear,
)
from nnsym.errors import InputError, NnsymError, ShapeError

x1, x2, x3, x4 = sympy.symbols("x_{1} x_{2} x_{3} x_{4}")
x, y, a, b, c, d, e, f = sympy.symbols("x y a b c d e f")


def residuals(system: LinearSystem, values: dict):
    """Each equation's left-hand side a.x + b at the given values, exactly."""
    return [sympy.simplify(eq.expression.subs(values)) for eq in system.equations]


def random_parameters(rng, solution: Solution) -> dict:
    numerators = rng.integers(-50, 50, size=len(solution.parameters))
    denominators = rng.integers(1, 9, size=len(solution.parameters))
    pairs = zip(numerators, denominators)
    return {t: sympy.Rational(int(p), int(q)) for t, (p, q) in zip(solution.parameters, pairs)}


# ---------------------------------------------------------------------------------------------------
# One equation
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "coefficients, constant, expected",
    [
        ([2, -1], 3, "2 x_{1} - x_{2} + 3 = 0"),
        ([1, 1], 0, "x_{1} + x_{2} = 0"),
        ([-1, 0, 5], -7, "- x_{1} + 5 x_{3} - 7 = 0"),
        ([sympy.Rational(1, 2), -sympy.Rational(3, 4)], 1, r"\frac{1}{2} x_{1} - \frac{3}{4} x_{2} + 1 = 0"),
        ([a + b, -c, 1], a - b, r"\left(a + b\right) x_{1} - c x_{2} + x_{3} + a - b = 0"),
        ([0, 0], 0, "0 = 0"),
    ],
)
def test_equation_latex_is_standard_form(coefficients, constant, expected):
    assert linear_equation(coefficients, constant).latex() == expected


def test_default_unknowns_are_x_1_to_x_n():
    eq = linear_equation([1, 2, 3], 4)
    assert eq.unknowns == (x1, x2, x3)
    assert eq.expression == x1 + 2 * x2 + 3 * x3 + 4


def test_from_expression_collects_coefficients_and_moves_rhs():
    eq = LinearEquation.from_expression(2 * x1 - x2 + 3 * (x1 + 1), 5 * x2 - 1)
    assert eq == linear_equation([5, -6], 4)


def test_from_expression_sorts_unknowns_by_name_naturally():
    x10 = sympy.Symbol("x_{10}")
    eq = LinearEquation.from_expression(x10 + 2 * x2 + 3 * x1)
    assert eq.unknowns == (x1, x2, x10)
    assert eq.coefficients == (3, 2, 1)


def test_from_expression_with_symbolic_coefficients_needs_the_unknowns():
    eq = LinearEquation.from_expression(a * x + b * (x - 1), unknowns=[x])
    assert eq.coefficients == (a + b,) and eq.constant == -b
    with pytest.raises(InputError, match=re.escape("the term a*x is not linear in the unknowns a, b, x")):
        LinearEquation.from_expression(a * x + b)


@pytest.mark.parametrize(
    "expression, term",
    [
        (x1 * x2 + x1 + 1, "x_{1}*x_{2}"),
        ((x + 1) ** 2, "x**2"),
        (sympy.sin(x) + x, "sin(x)"),
        (1 / x + 2, "1/x"),
        (sympy.exp(2 * x), "exp(2*x)"),
    ],
)
def test_non_linear_term_is_refused_by_name(expression, term):
    with pytest.raises(InputError, match=re.escape(f"the term {term} is not linear")):
        LinearEquation.from_expression(expression)


def test_floats_are_read_as_the_decimals_they_print_as():
    eq = linear_equation([0.1, np.float64(0.25)], 1.5)
    assert eq.coefficients == (sympy.Rational(1, 10), sympy.Rational(1, 4))
    assert eq.constant == sympy.Rational(3, 2)
    assert LinearEquation.from_expression(0.5 * x - 0.2).coefficients == (sympy.Rational(1, 2),)


def test_equation_error_paths():
    with pytest.raises(ShapeError, match=re.escape("3 coefficients for 2 unknowns (x, y)")):
        linear_equation([1, 2, 3], 0, unknowns=[x, y])
    with pytest.raises(InputError, match="LaTeX reader"):
        linear_equation(["2"], 0)
    with pytest.raises(InputError, match="at least one unknown"):
        linear_equation([], 1)
    with pytest.raises(InputError, match="has no unknowns"):
        LinearEquation.from_expression(x - x + 3)
    with pytest.raises(InputError, match=re.escape("unknowns repeat: x, x")):
        linear_equation([1, 2], 0, unknowns=[x, x])
    with pytest.raises(InputError, match="contains the unknown x: not linear"):
        linear_equation([x, 1], 0, unknowns=[x, y])
    with pytest.raises(InputError, match="must be finite"):
        linear_equation([float("nan")], 0)
    assert issubclass(InputError, NnsymError) and issubclass(ShapeError, NnsymError)


# ---------------------------------------------------------------------------------------------------
# Systems: matrix form and LaTeX
# ---------------------------------------------------------------------------------------------------


def test_matrix_form_fills_missing_unknowns_with_zero():
    system = LinearSystem([
        LinearEquation.from_expression(2 * x - 3, unknowns=[x]),
        LinearEquation.from_expression(x + y, 4),
    ])
    A, rhs = system.matrix_form()
    assert system.unknowns == (x, y)
    assert A == sympy.Matrix([[2, 0], [1, 1]]) and rhs == sympy.Matrix([3, 4])


def test_from_matrix_round_trips_through_matrix_form():
    A = sympy.Matrix([[1, 2, a], [sympy.Rational(1, 3), 0, -1]])
    rhs = sympy.Matrix([b, 7])
    system = LinearSystem.from_matrix(A, rhs)
    assert system.matrix_form() == (A, rhs)
    # NumPy arrays, flat b and nested lists read the same way.
    numeric = LinearSystem.from_matrix(np.array([[1.0, 2.0], [3.0, 4.5]]), np.array([1.0, -2.0]))
    assert numeric.matrix_form() == (sympy.Matrix([[1, 2], [3, sympy.Rational(9, 2)]]), sympy.Matrix([1, -2]))
    assert LinearSystem.from_matrix([[1, 2], [3, 4]], [[5], [6]]).matrix_form()[1] == sympy.Matrix([5, 6])


def test_system_latex_and_matrix_latex():
    system = LinearSystem([linear_equation([2, -1], 3), linear_equation([1, 1], 0)])
    assert system.latex() == r"\begin{cases} 2 x_{1} - x_{2} = -3 \\ x_{1} + x_{2} = 0 \end{cases}"
    assert system.matrix_latex() == (
        r"\begin{bmatrix}2 & -1\\1 & 1\end{bmatrix} \begin{bmatrix}x_{1}\\x_{2}\end{bmatrix}"
        r" = \begin{bmatrix}-3\\0\end{bmatrix}"
    )
    symbolic = LinearSystem.from_matrix([[a, b], [c, -d]], [e, -f])
    assert symbolic.latex() == r"\begin{cases} a x_{1} + b x_{2} = e \\ c x_{1} - d x_{2} = - f \end{cases}"
    assert symbolic.matrix_latex() == (
        r"\begin{bmatrix}a & b\\c & - d\end{bmatrix} \begin{bmatrix}x_{1}\\x_{2}\end{bmatrix}"
        r" = \begin{bmatrix}e\\- f\end{bmatrix}"
    )


def test_system_error_paths():
    with pytest.raises(InputError, match="at least one equation"):
        LinearSystem([])
    with pytest.raises(InputError, match="at least one equation"):
        LinearSystem.from_matrix([], [])
    with pytest.raises(ShapeError, match=re.escape("A is 2x3 but b is 3x1")):
        LinearSystem.from_matrix([[1, 2, 3], [4, 5, 6]], [1, 2, 3])
    with pytest.raises(ShapeError, match=re.escape("A is 2x2 but b is 1x2")):
        LinearSystem.from_matrix(sympy.eye(2), sympy.Matrix([[1, 2]]))
    with pytest.raises(ShapeError, match="different lengths"):
        LinearSystem.from_matrix([[1, 2], [3]], [1, 2])
    with pytest.raises(ShapeError, match="must be a matrix"):
        LinearSystem.from_matrix([1, 2], [1, 2])
    with pytest.raises(InputError, match="LaTeX reader"):
        LinearSystem.from_matrix([["x"]], [1])
    with pytest.raises(InputError, match="not among the unknowns x"):
        LinearSystem([LinearEquation.from_expression(x + y)], unknowns=[x])
    # y is an unknown of the system, so y as a coefficient of x would make the system non-linear.
    with pytest.raises(InputError, match="containing an unknown: not linear"):
        LinearSystem([
            LinearEquation.from_expression(y * x + 1, unknowns=[x]),
            LinearEquation.from_expression(y - 2, unknowns=[y]),
        ])


# ---------------------------------------------------------------------------------------------------
# Solving
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_unique_solution_matches_numpy_solve(n, seed):
    rng = np.random.default_rng(100 * n + seed)
    # Adding n I keeps the random matrix well conditioned, so NumPy's float answer is a fair reference.
    A = rng.normal(size=(n, n)).round(3) + n * np.eye(n)
    rhs = rng.normal(size=n).round(3)
    system = LinearSystem.from_matrix(A, rhs)
    solution = system.solve()
    assert solution.kind == "unique" and solution.rank == solution.augmented_rank == n
    assert solution.parameters == () and solution.free_unknowns == () and not solution.generic
    assert residuals(system, solution.as_dict()) == [0] * n
    found = np.array(solution.vector, dtype=float).ravel()
    np.testing.assert_allclose(found, np.linalg.solve(A, rhs), rtol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_overdetermined_consistent_system_matches_lstsq(seed):
    rng = np.random.default_rng(seed)
    A = rng.integers(-5, 6, size=(6, 3)).astype(float) + np.vstack([3 * np.eye(3), np.zeros((3, 3))])
    truth = rng.integers(-9, 10, size=3).astype(float)
    solution = solve_linear(A, A @ truth)
    assert solution.kind == "unique" and solution.rank == 3
    reference, *_ = np.linalg.lstsq(A, A @ truth, rcond=None)
    np.testing.assert_allclose(np.array(solution.vector, dtype=float).ravel(), reference, atol=1e-9)
    assert solution.vector == sympy.Matrix(truth.astype(int))


@pytest.mark.parametrize("seed", range(6))
def test_rank_deficient_consistent_system_has_a_general_solution(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(2, 6), rng.integers(3, 6)
    r = int(rng.integers(1, min(m, n)))
    # A = B C with B m x r and C r x n has rank at most r; b = A x0 is in its column space.
    A = rng.integers(-4, 5, size=(m, r)) @ rng.integers(-4, 5, size=(r, n))
    rhs = A @ rng.integers(-5, 6, size=n)
    system = LinearSystem.from_matrix(A, rhs)
    solution = system.solve()
    rank = np.linalg.matrix_rank(A.astype(float))
    assert solution.rank == solution.augmented_rank == rank < n
    assert solution.kind == "infinite"
    assert len(solution.parameters) == len(solution.free_unknowns) == n - rank
    for _ in range(3):
        values = random_parameters(rng, solution)
        point = {u: v.subs(values) for u, v in solution.as_dict().items()}
        assert residuals(system, point) == [0] * m
    # A free unknown equals its own parameter.
    for unknown, t in zip(solution.free_unknowns, solution.parameters):
        assert solution.as_dict()[unknown] == t


@pytest.mark.parametrize("seed", range(4))
def test_inconsistent_system_has_no_solution(seed):
    rng = np.random.default_rng(seed)
    top = rng.integers(-5, 6, size=(2, 3))
    # The last row is the sum of the first two, its right-hand side is not: no x satisfies all three.
    A = np.vstack([top, top.sum(axis=0)])
    rhs = np.array([1, 2, 4])
    solution = solve_linear(A, rhs)
    assert solution.kind == "none" and solution.vector is None and solution.as_dict() == {}
    assert solution.rank == np.linalg.matrix_rank(A.astype(float)) < solution.augmented_rank
    # NumPy's least-squares point, the best any x can do, still misses b.
    closest, *_ = np.linalg.lstsq(A.astype(float), rhs.astype(float), rcond=None)
    assert np.linalg.norm(A @ closest - rhs) > 1e-3


def test_one_equation_in_one_unknown():
    assert solve_linear([[3]], [-6]).vector == sympy.Matrix([-2])  # 3x + 6 = 0
    symbolic = LinearSystem([linear_equation([a], b, unknowns=[x])]).solve()
    assert symbolic.kind == "unique" and symbolic.generic
    assert symbolic.as_dict() == {x: -b / a}
    assert LinearSystem([linear_equation([0], 5)]).solve().kind == "none"  # 0 x + 5 = 0
    everything = LinearSystem([linear_equation([0], 0)]).solve()  # 0 x = 0
    assert everything.kind == "infinite" and everything.vector == sympy.Matrix(everything.parameters)


def test_textbook_line_has_infinitely_many_solutions():
    rng = np.random.default_rng(7)
    a1, a2, b0 = sympy.symbols("a_{1} a_{2} b")
    for coefficients, constant in [([2, 3], -6), ([a1, a2], b0)]:
        system = LinearSystem([linear_equation(coefficients, constant)])
        solution = system.solve()
        assert solution.kind == "infinite" and solution.rank == 1
        assert solution.free_unknowns == (x2,) and len(solution.parameters) == 1
        for _ in range(3):
            values = random_parameters(rng, solution)
            point = {u: v.subs(values) for u, v in solution.as_dict().items()}
            assert residuals(system, point) == [0]
    assert solution.generic


def test_symbolic_two_by_two_agrees_with_cramers_rule():
    system = LinearSystem.from_matrix([[a, b], [c, d]], [e, f])
    solution = system.solve()
    det = a * d - b * c
    assert solution.kind == "unique" and solution.generic
    expected = [(e * d - b * f) / det, (a * f - e * c) / det]
    assert [sympy.simplify(v - w) for v, w in zip(solution.vector, expected)] == [0, 0]


def test_solution_latex():
    assert solve_linear([[2, -1], [1, 1]], [-3, 0]).latex() == r"x_{1} = -1, \quad x_{2} = 1"
    assert solve_linear([[1, 1], [2, 2]], [1, 2]).latex() == (
        r"x_{1} = 1 - t_{1}, \quad x_{2} = t_{1}, \quad t_{1} \in \mathbb{R}"
    )
    assert solve_linear([[1, 1], [1, 1]], [1, 2]).latex() == (
        r"\text{no solution} \quad (\operatorname{rank} A = 1 < \operatorname{rank} [A \mid b] = 2)"
    )


def test_parameter_names_avoid_the_systems_own_symbols():
    t1, t2 = sympy.symbols("t_{1} t_{2}")
    solution = solve_linear([[1, 1]], [1], unknowns=[t1, t2])
    assert solution.parameters == (sympy.Symbol("s_{1}"),)
    assert solution.as_dict() == {t1: 1 - sympy.Symbol("s_{1}"), t2: sympy.Symbol("s_{1}")}


def test_symbolic_rows_that_cancel_are_recognised():
    # sin^2 a and 1 - cos^2 a are one expression: the rows agree on the left and not on the right.
    A = [[sympy.sin(a) ** 2, 1], [1 - sympy.cos(a) ** 2, 1]]
    solution = solve_linear(A, [1, 2])
    assert solution.kind == "none" and solution.rank == 1 and solution.augmented_rank == 2


def test_generic_solution_ignores_special_values_as_documented():
    # a x = 0 gives x = 0 for a != 0; at a = 0 every x solves it, which only solving again reveals.
    solution = solve_linear([[a]], [0], unknowns=[x])
    assert solution.kind == "unique" and solution.generic and solution.as_dict() == {x: 0}
    assert solve_linear([[0]], [0], unknowns=[x]).kind == "infinite"
