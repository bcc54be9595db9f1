"""Linear equations and systems of them, solved exactly: the first topic of the chapter.

An equation is a_1 x_1 + ... + a_n x_n + b = 0; a system of m of them is A x = b. Everything is kept
exact: integers and fractions stay rational, a float is read as the decimal it prints as (0.1 is 1/10,
not the nearest binary fraction), and elimination is SymPy's `rref` on the augmented matrix [A | b],
so the solution is exact and its kind (unique, none, infinitely many) is decided by the two ranks.

Callers pass numbers or SymPy objects; strings are refused, because LaTeX text goes through the LaTeX
reader and nothing here may turn text into code.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import sympy

from nnsym.errors import InputError, ShapeError

# Names tried, in order, for the free parameters of a general solution; a later one is used only when
# the system already contains a symbol of that name (an unknown called t_{1}, say).
_PARAMETER_LETTERS = ("t", "s", r"\tau", r"\lambda")


def _scalar(value, what: str = "a coefficient") -> sympy.Expr:
    """A number or scalar SymPy expression as an exact SymPy expression."""
    if isinstance(value, bool) or isinstance(value, str):
        hint = " (LaTeX text goes through the LaTeX reader)" if isinstance(value, str) else ""
        raise InputError(f"{what} must be a number or a SymPy expression, not {value!r}{hint}")
    if isinstance(value, numbers.Integral):
        return sympy.Integer(int(value))
    if isinstance(value, numbers.Rational):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise InputError(f"{what} must be finite, not {value!r}")
        # repr gives the shortest decimal that round-trips, i.e. what the user typed.
        return sympy.Rational(repr(float(value)))
    if isinstance(value, sympy.Expr) and not getattr(value, "is_Matrix", False):
        if value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise InputError(f"{what} must be finite, not {value}")
        # SymPy Floats inside an expression are made rational the same way, so elimination is exact.
        return sympy.nsimplify(value, rational=True) if value.has(sympy.Float) else value
    raise InputError(f"{what} must be a number or a scalar SymPy expression, not {type(value).__name__}")


def _natural_key(symbol: sympy.Symbol):
    """Sort key reading digit runs as numbers, so x_{2} comes before x_{10}."""
    runs = itertools.groupby(symbol.name, key=str.isdigit)
    return [(0, int("".join(r))) if digit else (1, "".join(r)) for digit, r in runs]


def _unknowns(unknowns, count: Optional[int]) -> Tuple[sympy.Symbol, ...]:
    """Validated unknowns; `count` None means any number, otherwise the default is x_{1}..x_{count}."""
    if unknowns is None:
        unknowns = [sympy.Symbol(f"x_{{{i}}}") for i in range(1, (count or 0) + 1)]
    if isinstance(unknowns, sympy.Symbol):
        unknowns = [unknowns]
    unknowns = tuple(unknowns)
    for u in unknowns:
        if not isinstance(u, sympy.Symbol):
            raise InputError(f"an unknown must be a SymPy Symbol, not {u!r}")
    if len(set(unknowns)) != len(unknowns):
        raise InputError(f"unknowns repeat: {_names(unknowns)}")
    if not unknowns:
        raise InputError("a linear equation needs at least one unknown")
    if count is not None and len(unknowns) != count:
        raise ShapeError(f"{count} coefficients for {len(unknowns)} unknowns ({_names(unknowns)})")
    return unknowns


def _names(symbols) -> str:
    return ", ".join(s.name for s in symbols)


def _signed_terms(coefficients, unknowns, constant):
    """(sign, body) pairs of a linear form in the order a lecturer writes it: unknowns, then constant.

    A coefficient of 1 is not written and a negative one becomes a minus sign; a coefficient that is
    a sum is bracketed, because its sign cannot be folded into the operator.
    """
    terms = []
    for a, x in zip(coefficients, unknowns):
        if a == 0:
            continue
        sign = "+"
        if not a.is_Add and a.could_extract_minus_sign():
            sign, a = "-", -a
        if a == 1:
            body = sympy.latex(x)
        elif a.is_Add:
            body = rf"\left({sympy.latex(a)}\right) {sympy.latex(x)}"
        else:
            body = f"{sympy.latex(a)} {sympy.latex(x)}"
        terms.append((sign, body))
    for c in constant.as_ordered_terms() if constant != 0 else ():
        sign = "-" if c.could_extract_minus_sign() else "+"
        terms.append((sign, sympy.latex(-c if sign == "-" else c)))
    return terms


def _join(terms) -> str:
    if not terms:
        return "0"
    first_sign, first = terms[0]
    text = ("- " if first_sign == "-" else "") + first
    return " ".join([text] + [f"{sign} {body}" for sign, body in terms[1:]])


def _bmatrix(matrix) -> str:
    return sympy.latex(sympy.Matrix(matrix), mat_str="bmatrix", mat_delim="")


@dataclass(frozen=True)
class LinearEquation:
    """a_1 x_1 + ... + a_n x_n + b = 0, with `coefficients` (a_i), `constant` b and `unknowns` (x_i)."""

    coefficients: Tuple[sympy.Expr, ...]
    constant: sympy.Expr
    unknowns: Optional[Tuple[sympy.Symbol, ...]] = None

    def __post_init__(self):
        # Normalised here rather than only in the builders, so a directly built equation is checked too.
        coefficients = tuple(_scalar(a) for a in self.coefficients)
        constant = _scalar(self.constant, "the constant")
        unknowns = _unknowns(self.unknowns, len(coefficients))
        for a in coefficients + (constant,):
            inside = a.free_symbols & set(unknowns)
            if inside:
                raise InputError(f"the coefficient {a} contains the unknown {_names(inside)}: not linear")
        object.__setattr__(self, "coefficients", coefficients)
        object.__setattr__(self, "constant", constant)
        object.__setattr__(self, "unknowns", unknowns)

    @classmethod
    def from_expression(cls, lhs, rhs=0, unknowns=None) -> "LinearEquation":
        """The equation lhs = rhs; unknowns default to its free symbols sorted by name (x_{2} before
        x_{10}). A term not of the form (constant) or (coefficient) * (unknown) raises `InputError`."""
        expr = _scalar(lhs, "the left-hand side") - _scalar(rhs, "the right-hand side")
        if unknowns is None:
            unknowns = sorted(expr.free_symbols, key=_natural_key)
            if not unknowns:
                raise InputError(f"the equation {expr} = 0 has no unknowns")
        unknowns = _unknowns(unknowns, None)
        coefficients = dict.fromkeys(unknowns, sympy.Integer(0))
        constant = sympy.Integer(0)
        # Expanding first makes every product of unknowns (x_1 x_2, x^2 from (x + 1)^2) a term of its own.
        for term in sympy.Add.make_args(sympy.expand(expr)):
            factor, dependent = term.as_independent(*unknowns, as_Add=False)
            if dependent == 1:
                constant += factor
            elif dependent in coefficients:
                coefficients[dependent] += factor
            else:
                raise InputError(
                    f"the term {term} is not linear in the unknowns {_names(unknowns)} "
                    "(pass unknowns= if some of these symbols are coefficients)"
                )
        return cls(tuple(coefficients.values()), constant, unknowns)

    @property
    def expression(self) -> sympy.Expr:
        """The left-hand side a_1 x_1 + ... + a_n x_n + b as one SymPy expression."""
        return sum((a * x for a, x in zip(self.coefficients, self.unknowns)), self.constant)

    def latex(self) -> str:
        """Standard form, e.g. ``2 x_{1} - x_{2} + 3 = 0``."""
        return _join(_signed_terms(self.coefficients, self.unknowns, self.constant)) + " = 0"


def linear_equation(coefficients: Sequence, constant, unknowns=None) -> LinearEquation:
    """a_1 x_1 + ... + a_n x_n + b = 0 from the a_i and b; unknowns default to x_{1}, ..., x_{n}."""
    return LinearEquation(tuple(coefficients), constant, unknowns)


@dataclass(frozen=True)
class Solution:
    """What elimination found for A x = b.

    `kind` is "unique", "none" or "infinite". `vector` is the solution (None when there is none); for
    infinitely many it is the general solution in the `parameters` t_{1}, t_{2}, ..., one per unknown
    in `free_unknowns` (n - rank of them), and every choice of parameter values solves the system.
    `rank` is the rank of A and `augmented_rank` that of [A | b]. `generic` is True when A or b holds
    symbols: the answer then holds for generic values of those symbols only (see `LinearSystem.solve`).
    """

    kind: str
    unknowns: Tuple[sympy.Symbol, ...]
    vector: Optional[sympy.ImmutableMatrix]
    parameters: Tuple[sympy.Symbol, ...]
    free_unknowns: Tuple[sympy.Symbol, ...]
    rank: int
    augmented_rank: int
    generic: bool

    def as_dict(self) -> dict:
        """{unknown: value}, ready for `subs`; empty when there is no solution."""
        return {} if self.vector is None else dict(zip(self.unknowns, self.vector))

    def latex(self) -> str:
        """``x_{1} = 1, \\quad x_{2} = -2``; the parameters' range is stated; no solution says why."""
        if self.vector is None:
            return (rf"\text{{no solution}} \quad (\operatorname{{rank}} A = {self.rank} < "
                    rf"\operatorname{{rank}} [A \mid b] = {self.augmented_rank})")
        parts = [f"{sympy.latex(x)} = {sympy.latex(v)}" for x, v in zip(self.unknowns, self.vector)]
        if self.parameters:
            parts.append(", ".join(sympy.latex(t) for t in self.parameters) + r" \in \mathbb{R}")
        return r", \quad ".join(parts)


@dataclass(frozen=True)
class LinearSystem:
    """Several linear equations in common `unknowns` (by default those of the equations, in order of
    first appearance)."""

    equations: Tuple[LinearEquation, ...]
    unknowns: Optional[Tuple[sympy.Symbol, ...]] = None

    def __post_init__(self):
        equations = tuple(self.equations)
        if not equations:
            raise InputError("a linear system needs at least one equation")
        for eq in equations:
            if not isinstance(eq, LinearEquation):
                raise InputError(f"a linear system holds LinearEquation objects, not {type(eq).__name__}")
        unknowns = self.unknowns
        if unknowns is None:
            unknowns = dict.fromkeys(x for eq in equations for x in eq.unknowns)
        unknowns = _unknowns(unknowns, None)
        for eq in equations:
            missing = [x for x in eq.unknowns if x not in unknowns]
            if missing:
                raise InputError(
                    f"{eq.latex()} uses {_names(missing)}, not among the unknowns {_names(unknowns)}"
                )
            # An unknown of one equation used as a coefficient of another would make the system non-linear.
            for a in eq.coefficients + (eq.constant,):
                if a.free_symbols & set(unknowns):
                    raise InputError(f"{eq.latex()} has a coefficient {a} containing an unknown: not linear")
        object.__setattr__(self, "equations", equations)
        object.__setattr__(self, "unknowns", unknowns)

    @classmethod
    def from_matrix(cls, A, b, unknowns=None) -> "LinearSystem":
        """The system A x = b from an m x n A (nested lists, SymPy or NumPy) and b of m entries."""
        # tolist() reads SymPy and NumPy matrices entry by entry; nothing is sympified from text.
        rows = A.tolist() if hasattr(A, "tolist") else list(A)
        if not rows:
            raise InputError("a linear system needs at least one equation (A has no rows)")
        if not all(isinstance(row, (list, tuple)) for row in rows):
            raise ShapeError("A must be a matrix: a list of rows, or a 2-D SymPy or NumPy matrix")
        width = len(rows[0])
        if any(len(row) != width for row in rows):
            raise ShapeError(f"the rows of A have different lengths {[len(row) for row in rows]}")
        entries = b.tolist() if hasattr(b, "tolist") else list(b)
        shape = (len(entries), 1)
        # b may be flat (m entries) or a column (m x 1); a row or a matrix is not a right-hand side.
        if entries and all(isinstance(e, (list, tuple)) for e in entries):
            shape = (len(entries), len(entries[0]))
            if all(len(e) == 1 for e in entries):
                entries = [e[0] for e in entries]
        if shape != (len(rows), 1):
            raise ShapeError(
                f"A is {len(rows)}x{width} but b is {shape[0]}x{shape[1]}: b needs one entry per row of A"
            )
        unknowns = _unknowns(unknowns, width)
        # Row i of A x = b is a_i . x - b_i = 0 in the equations' standard form.
        constants = [-_scalar(c, "an entry of b") for c in entries]
        equations = [LinearEquation(row, c, unknowns) for row, c in zip(rows, constants)]
        return cls(tuple(equations), unknowns)

    def matrix_form(self) -> Tuple[sympy.Matrix, sympy.Matrix]:
        """(A, b) with A x = b; an unknown missing from an equation gets coefficient 0."""
        rows = [dict(zip(eq.unknowns, eq.coefficients)) for eq in self.equations]
        A = sympy.Matrix([[row.get(x, 0) for x in self.unknowns] for row in rows])
        b = sympy.Matrix([-eq.constant for eq in self.equations])
        return A, b

    def latex(self) -> str:
        """``\\begin{cases} 2 x_{1} - x_{2} = -3 \\\\ ... \\end{cases}``: each row as written in A x = b,
        the constant moved to the right as a lecturer writes a system."""
        A, b = self.matrix_form()
        rows = [
            f"{_join(_signed_terms(A.row(i), self.unknowns, sympy.Integer(0)))} = {sympy.latex(b[i])}"
            for i in range(A.rows)
        ]
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"

    def matrix_latex(self) -> str:
        """``A x = b`` with A, the unknowns and b written out as bmatrix."""
        A, b = self.matrix_form()
        return f"{_bmatrix(A)} {_bmatrix(self.unknowns)} = {_bmatrix(b)}"

    def solve(self) -> Solution:
        """Gauss-Jordan elimination of [A | b] in exact arithmetic.

        With symbolic coefficients an expression is taken as non-zero unless SymPy can show it is zero,
        so the result is the generic solution (`Solution.generic` is True). For square A it holds where
        det A != 0; at values of the symbols that make det A (or another pivot) zero the kind can change
        to none or infinite, which this does not detect: substitute those values and solve again.
        """
        A, b = self.matrix_form()
        n = len(self.unknowns)
        reduced, pivots = A.row_join(b).rref()
        rank = sum(1 for p in pivots if p < n)
        generic = bool(A.free_symbols | b.free_symbols)
        if n in pivots:  # a row 0 = 1: the right-hand side is not in the column space of A
            return Solution("none", self.unknowns, None, (), (), rank, len(pivots), generic)
        free = [j for j in range(n) if j not in pivots]
        parameters = _parameters(len(free), set(self.unknowns) | A.free_symbols | b.free_symbols)
        values = dict(zip(free, parameters))
        for row, j in enumerate(pivots):
            # Reduced row: x_j + sum over free columns f of r_f x_f = rhs, so x_j = rhs - sum r_f t_f.
            values[j] = sympy.cancel(reduced[row, n] - sum(reduced[row, f] * values[f] for f in free))
        vector = sympy.ImmutableMatrix([values[j] for j in range(n)])
        kind = "infinite" if free else "unique"
        return Solution(kind, self.unknowns, vector, parameters,
                        tuple(self.unknowns[j] for j in free), rank, len(pivots), generic)


def _parameters(count: int, taken) -> Tuple[sympy.Symbol, ...]:
    """t_{1}, ..., t_{count}, or the first letter of `_PARAMETER_LETTERS` whose names are all free."""
    taken = {s.name for s in taken}
    for letter in _PARAMETER_LETTERS:
        names = [f"{letter}_{{{k}}}" for k in range(1, count + 1)]
        if not taken.intersection(names):
            return tuple(sympy.Symbol(name) for name in names)
    raise InputError(f"every parameter name ({', '.join(_PARAMETER_LETTERS)}) is taken by a symbol")


def solve_linear(A, b, unknowns=None) -> Solution:
    """Solve A x = b exactly; see `LinearSystem.solve`."""
    return LinearSystem.from_matrix(A, b, unknowns).solve()
