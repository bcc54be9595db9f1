"""Linear equations and their matrix form: a_1 x_1 + ... + a_n x_n + b = 0, A x = b, solving."""

import numpy as np
import sympy

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Text, array_latex, script_main, steps

A_NUMBERS = [[2, -1, 1], [1, 3, -2], [3, 1, 1]]
B_NUMBERS = [1, 4, 6]


def _residual(system, solution) -> float:
    """max |A x - b| / max |b| with the exact solution substituted: 0 when it solves the system."""
    A, b = system.matrix_form()
    r = A * solution.vector - b
    return float(max(abs(v) for v in r) / max(max(abs(v) for v in b), 1))


def note() -> Note:
    """01: linear equations and their matrix form."""
    one = ns.linear_equation([2, -1, 3], 4)
    system = ns.LinearSystem.from_matrix(A_NUMBERS, B_NUMBERS)
    solution = system.solve()
    reference = np.linalg.solve(np.array(A_NUMBERS, float), np.array(B_NUMBERS, float))
    exact = np.array([float(v) for v in solution.vector])
    many = ns.LinearSystem.from_matrix([[1, 2, 1], [2, 4, 2]], [1, 2])
    general = many.solve()
    none = ns.LinearSystem.from_matrix([[1, 1], [1, 1]], [1, 2]).solve()

    def general_solves():
        # Any choice of the parameters must solve the system: try a few.
        A, b = many.matrix_form()
        worst = 0.0
        for values in ([0, 0], [1, -2], [sympy.Rational(3, 7), 5]):
            x = general.vector.subs(dict(zip(general.parameters, values)))
            worst = max(worst, float(max(abs(v) for v in A * x - b)))
        return "A x - b = 0 exactly at three choices of the parameters", worst

    m, n = "m", "n"
    A, x, b = ns.matrix("A", m, n), ns.vector("x", n), ns.vector("b", m)
    loss = ns.norm(A @ x - b, squared=True) / 2
    gradient = ns.grad(loss, x).expression
    return Note(1, "linear-equations", "Linear equations and their matrix form", (
        Text("A linear equation in the unknowns $x_1, \\dots, x_n$ has the form "
             "$a_1 x_1 + \\dots + a_n x_n + b = 0$: each unknown appears to the first power, multiplied "
             "by a number. For example, with $a = (2, -1, 3)$ and $b = 4$:"),
        Display(one.latex(), lambda: ("the coefficients read back from the printed expression",
                                      float(sympy.Poly(one.expression).coeffs() != [2, -1, 3, 4]))),
        Text("Several equations in the same unknowns form a system. Written row by row:"),
        Display(system.latex(), lambda: ("A x - b = 0 exactly at the solution below", _residual(system, solution))),
        Text("Collecting the coefficients in a matrix $A$ (one row per equation) and the constants in a "
             "vector $b$, the system is one matrix equation $A x = b$:"),
        Display(system.matrix_latex(), lambda: ("equal to the rows above, exactly", float(
            system.matrix_form()[0] != sympy.Matrix(A_NUMBERS)))),
        Text("Gauss-Jordan elimination of the augmented matrix $[A \\mid b]$, in exact arithmetic, gives:"),
        Display(solution.latex(), lambda: ("against numpy.linalg.solve in floating point",
                                           float(np.max(np.abs(exact - reference)) / np.max(np.abs(reference))))),
        Text(f"The rank of $A$ is {solution.rank}, the number of unknowns, so the solution is unique. "
             "When $\\operatorname{rank} A = \\operatorname{rank} [A \\mid b]$ is less than the number of "
             "unknowns there are infinitely many solutions, one free parameter per missing rank. "
             "The system $x_1 + 2x_2 + x_3 = 1$, $2x_1 + 4x_2 + 2x_3 = 2$ has rank 1:"),
        Display(general.latex(), general_solves),
        Text("When the ranks differ, no $x$ solves the system ($x_1 + x_2 = 1$ and $x_1 + x_2 = 2$):"),
        Display(none.latex(), lambda: ("ranks by SymPy: rank A = 1, rank [A | b] = 2",
                                       float((none.rank, none.augmented_rank) != (1, 2)))),
        Text("Where no exact solution exists one minimises the squared residual "
             "$f(x) = \\frac{1}{2}\\|A x - b\\|^2$; its gradient, derived step by step, is the link from "
             "linear algebra to the gradient descent of later chapters:"),
        steps(loss, [x]),
        Formula(gradient, r"\nabla_x f", reference=ns.transpose(A) @ (A @ x) - ns.transpose(A) @ b,
                derivative_of=(loss, x)),
        Text("Setting it to zero gives the normal equations $A^\\top A x = A^\\top b$, again a linear system."),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
