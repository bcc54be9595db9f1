"""`nnsym solve`: linear equations written in LaTeX, solved exactly.

Each equation is read by nnsym's reader (``2x + y = 3``, ``Ax = b`` with shapes), written out entry
by entry with the elementwise oracle's converter (a declared 3 x 3 A becomes the symbols A_{11}, ...),
and handed to `nnsym.declare.linear_equations`, which eliminates in exact arithmetic and decides
between one solution, none and infinitely many (parametrised). The seed's
``a_1 x_1 + a_2 x_2 + \\dots + a_n x_n + b = 0`` with a symbolic n is read as a^T x + b = 0 and its
solution set is stated in vector form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import sympy

from nnsym.declare.expressions import Symbol, add, neg
from nnsym.declare.reading import parse_shape, read_equations, read_latex, read_name
from nnsym.declare.linear_equations import LinearEquation, LinearSystem, Solution
from nnsym.emit.latex import latex
from nnsym.errors import InputError
from nnsym.verify.elementwise import ToSympy

_DOTS = (r"\dots", r"\cdots", r"\ldots")
# One term c_k v_k of a written-out sum: coefficient letter, index, unknown letter, the same index.
_TERM = re.compile(r"^\s*([A-Za-z])_\{?\s*([0-9]+|[A-Za-z])\s*\}?\s*\\?,?\s*([A-Za-z])_\{?\s*([0-9]+|[A-Za-z])\s*\}?\s*$")


@dataclass(frozen=True)
class Solved:
    """What `solve` found: the system as read, its matrix form, the kind and the solution, in LaTeX."""

    kind: str  # "unique", "none" or "infinite"
    system: str  # the equations as read
    matrix_form: str  # A x = b written out
    solution: str  # x_1 = ..., or the solution set
    generic: bool = False  # True when coefficients are symbols: holds for generic values of them
    notes: List[str] = field(default_factory=list)  # what the kind depends on
    values: Dict[str, str] = field(default_factory=dict)  # unknown -> its value (LaTeX)
    parameters: List[str] = field(default_factory=list)
    rank: Optional[int] = None
    augmented_rank: Optional[int] = None

    def latex(self) -> str:
        lines = [self.system, self.matrix_form, self.solution, *self.notes]
        return "\n".join(line for line in lines if line)

    def as_json(self) -> dict:
        return {"kind": self.kind, "system": self.system, "matrix_form": self.matrix_form,
                "solution": self.solution, "values": self.values, "parameters": self.parameters,
                "rank": self.rank, "augmented_rank": self.augmented_rank, "generic": self.generic,
                "notes": self.notes}


def _entry_name(symbol: Symbol, i: int, j: int) -> str:
    rows, cols = (int(n) for n in symbol.shape)
    if cols == 1:
        return f"{symbol.name}_{{{i + 1}}}"
    separator = "" if rows < 10 and cols < 10 else ","
    return f"{symbol.name}_{{{i + 1}{separator}{j + 1}}}"


def _entries(symbols) -> Dict[Symbol, sympy.Matrix]:
    entries = {}
    for s in symbols:
        if not all(n.is_Integer for n in s.shape):
            raise InputError(f"solve: {s.name} has the symbolic shape {s.shape[0]}x{s.shape[1]}; give numbers "
                             "(--shape A=3x3), or write the seed's a_1 x_1 + \\dots + a_n x_n")
        rows, cols = (int(n) for n in s.shape)
        if s.is_scalar:
            entries[s] = sympy.Matrix([[sympy.Symbol(s.name)]])
        else:
            entries[s] = sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(_entry_name(s, i, j)))
    return entries


def _pick_unknowns(symbols, unknowns: Optional[Sequence[str]]):
    by_name = {s.name: s for s in symbols}
    if unknowns:
        names = [read_name(u) for u in unknowns]
        missing = [n for n in names if n not in by_name]
        if missing:
            raise InputError(f"solve: the unknown {missing[0]} does not appear in the equations")
        return [by_name[n] for n in names]
    if all(s.is_scalar for s in symbols):
        return sorted(symbols, key=lambda s: s.name)  # every symbol, as in 2x + y = 3
    vectors = [s for s in symbols if s.name == "x"]
    if not vectors:
        raise InputError("solve: say which symbol is unknown (--unknown x)")
    return vectors


def _matrix_level(A_entries, b_entries, entries, unknown) -> Optional[str]:
    """x = A^{-1} b when the coefficients are exactly a declared square matrix's entries."""
    for s, matrix in entries.items():
        if s.is_square and not s.is_scalar and matrix == A_entries:
            rhs = next((r.name for r, m in entries.items() if m == b_entries and r != unknown), None)
            rhs = rhs if rhs is not None else sympy.latex(b_entries, mat_str="bmatrix", mat_delim="")
            return rf"{unknown.name} = {s.name}^{{-1}} {rhs}"
    return None


def solve(equations: Sequence[str], shapes: Optional[dict] = None, unknowns: Optional[Sequence[str]] = None) -> Solved:
    """Solve linear equations given as LaTeX strings (``'2x + y = 3'``; ``'Ax = b'`` with shapes)."""
    if not equations:
        raise InputError("solve: give at least one equation (--equation '2x + y = 3')")
    for text in equations:
        if not isinstance(text, str):
            raise InputError(f"solve: an equation is LaTeX text, not {type(text).__name__}")
        if any(dots in text for dots in _DOTS):
            if len(equations) != 1:
                raise InputError("solve: an equation written with \\dots is solved on its own")
            return _written_out_sum(text, shapes or {})
    shapes = {read_name(name): parse_shape(spec) if isinstance(spec, str) else spec
              for name, spec in (shapes or {}).items()}
    pairs = [pair for text in equations for pair in read_equations(text, shapes)]
    symbols = set()
    for left, right in pairs:
        symbols |= left.free_symbols() | right.free_symbols()
    chosen = _pick_unknowns(symbols, unknowns)
    entries = _entries(symbols)
    convert = ToSympy({}, entries)
    unknown_entries = [x for u in chosen for x in entries[u]]
    rows = []
    for left, right in pairs:
        difference = convert(left) - convert(right)
        try:
            rows.extend(LinearEquation.from_expression(e, 0, unknown_entries) for e in difference)
        except InputError as error:  # its hint names the Python keyword; here the unknowns are --unknown
            raise InputError(f"solve: {str(error).split(' (pass unknowns=')[0]} "
                             "(name the unknowns with --unknown if some symbols are coefficients)") from None
    system = LinearSystem(tuple(rows), tuple(unknown_entries))
    A, b = system.matrix_form()
    read = r", \quad ".join(f"{latex(left)} = {latex(right)}" for left, right in pairs)
    shown = system.latex() if len(rows) > 1 else rows[0].latex()
    matrix_level = _matrix_level(A, b, entries, chosen[0]) if len(chosen) == 1 else None
    if matrix_level is not None and A.free_symbols:
        # A fully symbolic square A: the generic answer at matrix level, not Cramer's rule entry by entry.
        notes = [rf"\text{{unique where }} \det {matrix_level.split('=')[1].split('^')[0].strip()} \neq 0"
                 r"\text{; otherwise none or infinitely many, as } \operatorname{rank} [A \mid b] "
                 r"\text{ exceeds or equals } \operatorname{rank} A"]
        return Solved("unique", read, system.matrix_latex(), matrix_level, True, notes)
    solution = system.solve()
    notes = []
    if solution.generic:
        notes.append(r"\text{for generic values of the coefficients (a zero pivot can change the kind)}")
    if solution.kind == "infinite":
        notes.append(rf"\text{{infinitely many solutions: {len(solution.parameters)} free parameter"
                     rf"{'s' if len(solution.parameters) != 1 else ''}}}")
    values = {sympy.latex(x): sympy.latex(v) for x, v in solution.as_dict().items()}
    text = solution.latex()
    if matrix_level is not None and solution.kind == "unique":
        text = f"{matrix_level} = {sympy.latex(solution.vector, mat_str='bmatrix', mat_delim='')}"
    return Solved(solution.kind, read if len(rows) == len(pairs) else f"{read} \\quad\\text{{i.e.}}\\quad {shown}",
                  system.matrix_latex(), text, solution.generic, notes, values,
                  [sympy.latex(t) for t in solution.parameters], solution.rank, solution.augmented_rank)


def _top_level_terms(text: str):
    """(sign, term) of a sum, split at + and - outside braces and brackets."""
    terms, depth, start, sign = [], 0, 0, "+"
    for index, char in enumerate(text):
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif char in "+-" and depth == 0 and index > 0 and text[:index].strip():
            terms.append((sign, text[start:index]))
            sign, start = char, index + 1
    terms.append((sign, text[start:]))
    return [(s, t.strip()) for s, t in terms if t.strip()]


def _written_out_sum(text: str, shapes: dict) -> Solved:
    """``c_1 v_1 + c_2 v_2 + \\dots + c_n v_n + (rest) = (right)``: c^T v + rest - right = 0."""
    left, equals, right = text.partition("=")
    if not equals or "=" in right:
        raise InputError("solve: an equation needs exactly one '='")
    terms = _top_level_terms(left)
    where = [k for k, (_, t) in enumerate(terms) if t in _DOTS]
    if len(where) != 1 or where[0] < 2 or where[0] + 1 >= len(terms):
        raise InputError("solve: write a sum with \\dots as c_1 x_1 + c_2 x_2 + \\dots + c_n x_n")
    k = where[0]
    matches = [_TERM.match(terms[i][1]) for i in (k - 2, k - 1, k + 1)]
    signs = {terms[i][0] for i in (k - 2, k - 1, k + 1)}
    if not all(matches) or signs != {"+"}:
        raise InputError(f"solve: around \\dots expected terms like a_1 x_1, a_2 x_2, a_n x_n, got "
                         f"{', '.join(terms[i][1] for i in (k - 2, k - 1, k + 1))}")
    (c1, i1, v1, j1), (c2, i2, v2, j2), (cn, i_n, vn, jn) = (m.groups() for m in matches)
    if not (c1 == c2 == cn and v1 == v2 == vn and (i1, i2) == ("1", "2") and (j1, j2) == ("1", "2")
            and i_n == jn and c1 != v1):
        raise InputError("solve: the terms around \\dots must be c_1 x_1, c_2 x_2, ..., c_n x_n with the same "
                         "letters and indices 1, 2, ..., n")
    rest_terms = terms[:k - 2] + terms[k + 2:]
    rest_text = " ".join(f"{s} {t}" for s, t in rest_terms) or "0"
    rest = read_latex(rest_text.lstrip("+ "), shapes) if rest_terms else None
    rhs = read_latex(right.strip(), shapes)
    for part in (rest, rhs):
        if part is not None and not part.is_scalar:
            raise InputError("solve: the other terms of a^T x + b = 0 must be scalars")
        if part is not None and {s.name for s in part.free_symbols()} & {c1, v1}:
            raise InputError(f"solve: {c1} and {v1} appear outside the sum")
    constant = _scalar_latex(rest, rhs)
    system = rf"{c1}_{{1}} {v1}_{{1}} + {c1}_{{2}} {v1}_{{2}} + \dots + {c1}_{{{i_n}}} {v1}_{{{i_n}}}" \
             rf"{_plus(constant) if constant != '0' else ''} = 0"
    if i_n.isdigit():
        return _expanded(c1, v1, int(i_n), rest, rhs, system)
    matrix_form = rf"{c1}^\top {v1}{_plus(constant) if constant != '0' else ''} = 0, \quad " \
                  rf"{c1}, {v1} \in \mathbb{{R}}^{{{i_n}}}"
    b = constant
    solution = (rf"\{{ {v1} : {c1}^\top {v1} = {_negated(b)} \}} = \left\{{ -\frac{{{b}}}{{{c1}^\top {c1}}} {c1} + t"
                rf" \;:\; {c1}^\top t = 0 \right\}}" if b != "0" else
                rf"\{{ {v1} : {c1}^\top {v1} = 0 \}} = \left\{{ t \;:\; {c1}^\top t = 0 \right\}}")
    notes = [rf"\text{{for }} {c1} \neq 0\text{{: a hyperplane of dimension }} {i_n} - 1 "
             rf"\text{{ (infinitely many solutions for }} {i_n} \geq 2\text{{, one for }} {i_n} = 1)",
             rf"\text{{for }} {c1} = 0\text{{: every }} {v1} \text{{ if }} {b} = 0\text{{, none otherwise}}"]
    return Solved("infinite", system, matrix_form, solution, True, notes, {}, ["t"])


def _scalar_latex(rest, rhs) -> str:
    """rest - rhs as LaTeX ('0' when both vanish)."""
    parts = [p for p in (rest, None if rhs is None else neg(rhs)) if p is not None]
    total = add(*parts)
    return latex(total) if not (total.is_scalar and getattr(total, "value", None) == 0) else "0"


def _plus(text: str) -> str:
    """' + b' or ' - b' after a sum."""
    return f" - {text[1:].strip()}" if text.startswith("-") else f" + {text}"


def _negated(text: str) -> str:
    return text[1:].strip() if text.startswith("-") else rf"-{text}" if text.isalnum() else rf"-\left({text}\right)"


def _expanded(c, v, n, rest, rhs, shown) -> Solved:
    """The same sum with a concrete n: n scalar coefficients and unknowns, solved as a system."""
    coefficients = [sympy.Symbol(f"{c}_{{{i}}}") for i in range(1, n + 1)]
    unknowns = [sympy.Symbol(f"{v}_{{{i}}}") for i in range(1, n + 1)]
    convert = ToSympy({}, _entries((rest.free_symbols() if rest is not None else set())
                                    | (rhs.free_symbols() if rhs is not None else set())))
    constant = (convert(rest)[0, 0] if rest is not None else 0) - (convert(rhs)[0, 0] if rhs is not None else 0)
    system = LinearSystem((LinearEquation(tuple(coefficients), constant, tuple(unknowns)),))
    solution: Solution = system.solve()
    return Solved(solution.kind, shown, system.matrix_latex(), solution.latex(), solution.generic,
                  [r"\text{for generic values of the coefficients}"] if solution.generic else [],
                  {sympy.latex(x): sympy.latex(val) for x, val in solution.as_dict().items()},
                  [sympy.latex(t) for t in solution.parameters], solution.rank, solution.augmented_rank)
