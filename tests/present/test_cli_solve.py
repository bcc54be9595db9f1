"""`nnsym solve`: linear equations in LaTeX. Each answer is checked by substituting it back into the
equations (with SymPy, at random parameter values), not against a stored string."""

import json
import random

import sympy as sp

from nnsym.present.cli import main
from nnsym.present.solve import solve


def _run(capsys, *argv):
    code = main(["solve", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _satisfies(pairs, solved):
    """Every equation lhs - rhs = 0 holds at the solution, for random values of the parameters."""
    values = {sp.Symbol(k): _latex_value(v) for k, v in solved.values.items()}
    parameters = {sp.Symbol(t): sp.Rational(random.randint(-9, 9), random.randint(1, 5)) for t in solved.parameters}
    for lhs, rhs in pairs:
        assert sp.simplify((lhs - rhs).subs(values).subs(parameters)) == 0


def _latex_value(text):
    # The values are SymPy's LaTeX of rationals and of t_{1}: read them back by a tiny table, no parser.
    table = {r"\frac{3}{2} - \frac{t_{1}}{2}": sp.Rational(3, 2) - sp.Symbol("t_{1}") / 2, "t_{1}": sp.Symbol("t_{1}"),
             "1 - t_{1}": 1 - sp.Symbol("t_{1}")}
    return table[text] if text in table else sp.Rational(text)


def test_unique_solution(capsys):
    code, out, err = _run(capsys, "--equation", "2x + y = 3", "--equation", "x - y = 0")
    assert code == 0 and not err
    x, y = sp.symbols("x y")
    solved = solve(["2x + y = 3", "x - y = 0"])
    assert solved.kind == "unique"
    _satisfies([(2 * x + y, 3), (x - y, 0)], solved)
    assert r"\begin{bmatrix}2 & 1\\1 & -1\end{bmatrix}" in out  # the matrix form
    assert "x = 1" in out and "y = 1" in out


def test_infinitely_many_and_none():
    x, y = sp.symbols("x y")
    many = solve(["x + y = 1", "2x + 2y = 2"])
    assert many.kind == "infinite" and many.parameters == ["t_{1}"]
    _satisfies([(x + y, 1), (2 * x + 2 * y, 2)], many)
    one_equation = solve(["2x + y = 3"])
    assert one_equation.kind == "infinite"
    _satisfies([(2 * x + y, 3)], one_equation)
    none = solve(["x + y = 1", "2x + 2y = 3"])
    assert none.kind == "none" and (none.rank, none.augmented_rank) == (1, 2)
    assert "no solution" in none.solution


def test_matrix_equation_with_shapes(capsys):
    code, out, _ = _run(capsys, "--equation", "Ax = b", "--shape", "A=3x3", "--shape", "x=3", "--shape", "b=3")
    assert code == 0
    assert "x = A^{-1} b" in out and r"\det A \neq 0" in out
    assert "A_{11} & A_{12} & A_{13}" in out  # the matrix form, entry by entry
    code, out, _ = _run(capsys, "--equation", "Ax = b", "--shape", "A=3x3", "--shape", "x=3", "--shape", "b=3",
                        "--json")
    result = json.loads(out)
    assert code == 0 and result["kind"] == "unique" and result["generic"] is True


def test_matrix_equation_with_numbers_is_solved_exactly():
    # 2I x = 1 + x, i.e. x = 1 (every entry): the sides hold numbers and the unknown vector.
    solved = solve([r"2x = \mathbf{1} + x"], {"x": "3"})
    assert solved.kind == "unique"
    assert solved.values == {"x_{1}": "1", "x_{2}": "1", "x_{3}": "1"}


def test_the_seed_equation_with_symbolic_n(capsys):
    code, out, _ = _run(capsys, "--equation", r"a_1 x_1 + a_2 x_2 + \dots + a_n x_n + b = 0")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith(r"a^\top x + b = 0")
    assert r"-\frac{b}{a^\top a} a + t" in out and r"a^\top t = 0" in out
    # The stated particular solution does solve a^T x + b = 0 (checked with numbers).
    a = sp.Matrix([1, -2, 3])
    b = sp.Rational(5)
    x = -b / (a.T * a)[0, 0] * a
    assert (a.T * x)[0, 0] + b == 0


def test_the_seed_equation_with_a_number_of_terms():
    solved = solve([r"a_1 x_1 + a_2 x_2 + \dots + a_3 x_3 + b = 0"])
    assert solved.kind == "infinite" and len(solved.parameters) == 2 and solved.generic


def test_bad_input_is_one_line(capsys):
    for argv in (["--equation", "xy = 1"], ["--equation", "2x + y"], ["--equation", r"a_1 x_1 + \dots + b = 0"],
                 ["--equation", "Ax = b", "--shape", "A=nxn", "--shape", "x=n", "--shape", "b=n"],
                 ["--equation", "x = 1", "--unknown", "z"], ["--equation", "Ax = b", "--shape", "A=2x2",
                                                              "--shape", "x=3", "--shape", "b=2"]):
        code, out, err = _run(capsys, *argv)
        assert code == 2, argv
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)


def test_readme_solve_commands_run_as_written(capsys):
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands = [line.split("  #")[0] for line in readme.splitlines() if line.startswith("nnsym solve ")]
    assert len(commands) >= 4
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
        assert capsys.readouterr().out
