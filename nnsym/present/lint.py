"""`nnsym lint`: find the first wrong step of a derivation written in lecture notes (.tex, .md).

A document's display math (``equation``, ``align``, ``gather``, ``multline`` with or without ``*``,
``\\[ \\]``, ``$$ $$``) is cut into rows at ``\\\\``, each row into the parts of its chain of ``=``; a
row that starts with ``=`` (``&= ...``) continues the chain of the row before. Consecutive parts make
the steps, each decided by value at random points (`diagnose.RTOL`, as `nnsym check` decides):

- *definition*: a row whose first part is a name not yet declared (``z^{(1)} = W^{(1)} x + b^{(1)}``,
  ``L = ...``, ``J(\\theta) = ...``) defines it; later rows are evaluated with it substituted, and a
  gradient with respect to a defined intermediate (``\\frac{\\partial L}{\\partial z^{(2)}}``) is the
  derivative of the function written through it;
- *gradient*: a part ``\\frac{\\partial L}{\\partial W}``, ``\\nabla_W L``, a Hessian ``\\nabla^2_w L``
  or an entry ``\\frac{\\partial L}{\\partial W_{ij}}`` stands for nnsym's (verified) derivative, and
  the part beside it is compared with that;
- *equality*: two expressions must be equal as functions of the declared symbols.

Each step is compared with the part before it, so a planted error is reported once; a gradient row
that uses a wrong definition is wrong too, since it is compared with the true gradient.
Declarations come from ``% nnsym: --shape W=3x2 ...`` (TeX) or ``<!-- nnsym: ... -->`` (Markdown)
lines, with the flags of ``nnsym check``, and from the caller. Math outside the notation is *not
read*, with the reason; it never makes a step wrong.
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from nnsym.declare.expressions import (
    Expr, MatMul, Symbol, matrix, post_order, scalar, show_shape, transpose, vector,
)
from nnsym.declare.definitions import expand, family_of_template, integer_value, is_step_name, step_family
from nnsym.derive.steps import substitute
from nnsym.declare.reading.index_notation import entry_variable
from nnsym.declare.reading import parse_shape, read_latex, read_name
from nnsym.emit.latex import latex
from nnsym.errors import InputError, NnsymError, ShapeError
from nnsym.present import diagnose
from nnsym.present.claims import MAX_TOTAL_ENTRIES, _compare, values_at
from nnsym.present.cli import _declarations, _Parser  # --shape/--assume read as `check` reads them
from nnsym.present.results import grad, hessian, jacobian
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import entries, random_point, small_sizes, symbols_of

POINTS = 2  # random points per size draw
SIZE_DRAWS = ((3, 2, 4, 5, 6, 7), (4, 5, 2, 3, 7, 6))  # symbolic sizes are drawn twice, distinct each time
LAYOUTS = ("denominator", "numerator")

_ENVIRONMENTS = "equation|align|gather|multline|eqnarray|flalign|alignat"
_DISPLAY = re.compile(r"\$\$(.*?)\$\$|\\\[(.*?)\\\]|\\begin\{(" + _ENVIRONMENTS + r")(\*?)\}(.*?)\\end\{\3\4\}", re.S)
_OPENING = re.compile(r"\$\$|\\\[|\\begin\{(?:" + _ENVIRONMENTS + r")\*?\}")
_INNER_LAYOUT = re.compile(r"\\(?:begin|end)\{(?:aligned|split|gathered|alignedat|multlined)\}(?:\{\d+\})?"
                           r"|\\(?:label|tag\*?)\{[^{}]*\}|\\(?:nonumber|notag)\b")
_TEX_DECLARATION = re.compile(r"^[ \t]*%+[ \t]*nnsym:(.*)$", re.M)
_MD_DECLARATION = re.compile(r"<!--\s*nnsym:(.*?)-->", re.S)
_TEX_COMMENT = re.compile(r"(?<!\\)%.*$", re.M)
_MD_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_RELATIONS = re.compile(r"\\(?:leq?|geq?|neq?|approx|to|in|notin|subset|subseteq|sim|propto|equiv|mapsto|"
                        r"Rightarrow|rightarrow|Leftrightarrow|iff|implies|ll|gg)(?![A-Za-z])|<|>|\\mid")
_TRAILING = re.compile(r"(?:\s|,|\.|;|\\[,;:!]|\\q?quad)+$")
_LIST = re.compile(r",\s*\\q?quad(?![A-Za-z])")
_CALLED = re.compile(r"^(.*?)\s*(?:\\left)?\(([^()]*)(?:\\right)?\)$", re.S)
_FRAC = re.compile(r"\\[dt]?frac\s*")
_NABLA = re.compile(r"\\nabla\s*")
_DIFFERENTIAL = re.compile(r"^(?:\\partial|\\mathrm\{d\}|\\operatorname\{d\}|d)\s*(\^\s*\{?2\}?)?\s*(.*)$", re.S)


# ----- results --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One step of a derivation and its verdict (``ok`` None: not read, the reason in ``not_read``)."""

    file: str
    line: int
    lhs: str
    rhs: str
    kind: str  # "equality", "gradient", "definition" (or "" when not read)
    ok: Optional[bool]
    max_abs_error: Optional[float] = None
    max_rel_error: Optional[float] = None
    worst_index: Optional[str] = None
    diagnosis: Optional[str] = None
    not_read: Optional[str] = None
    matrix_form: Optional[str] = None  # an index-notation part, in matrix form

    def to_json(self) -> dict:
        number = (lambda v: None if v is None or not np.isfinite(v) else float(v))
        return {"file": self.file, "line": self.line, "lhs": self.lhs, "rhs": self.rhs, "kind": self.kind,
                "ok": self.ok, "max_abs_error": number(self.max_abs_error),
                "max_rel_error": number(self.max_rel_error), "worst_index": self.worst_index,
                "diagnosis": self.diagnosis, "not_read": self.not_read}

    def __str__(self):
        where = f"{self.file}:{self.line}"
        if self.ok is None:
            step = f"{_short(self.lhs)} = {_short(self.rhs)}" if self.lhs or self.rhs else "a display"
            return f"{where}: not read: {step} — {self.not_read}"
        if self.ok:
            return f"{where}: right: {_short(self.lhs)} = {_short(self.rhs)}"
        said = []
        if self.max_rel_error is not None:
            said.append(f"max rel error {self.max_rel_error:.2g}" + (f" at {self.worst_index}" if self.worst_index else ""))
        if self.diagnosis:
            said.append(self.diagnosis)
        if self.matrix_form:
            said.append(f"in matrix form: {self.matrix_form}")
        return f"{where}: wrong: {_short(self.lhs)} = {_short(self.rhs)}" + (f" — {'; '.join(said)}" if said else "")


def _message(error: Exception) -> str:
    """The first line of a reader's error, without its column (a step's column means little)."""
    return re.sub(r"^col \d+: ", "", str(error).splitlines()[0])


def _relation(text: str) -> Optional[str]:
    """A relation other than '=' outside brackets (the '>' of \\mathbb{1}[z > 0] is no relation)."""
    depth = 0
    for match in re.finditer(r"\\[A-Za-z]+|\\.|[\[\](){}]|.", text, re.S):
        token = match.group(0)
        if token in ("(", "[", "{", "\\{"):
            depth += 1
        elif token in (")", "]", "}", "\\}"):
            depth -= 1
        elif depth == 0 and _RELATIONS.fullmatch(token):
            return token
    return None


_FREE = re.compile(r"the free indices are ([a-z, ]+), but the left side has none")


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Report:
    steps: Tuple[Step, ...]
    skipped: int = 0  # displays the document marks as no derivation (% nnsym: --skip)

    @property
    def right(self) -> int:
        return sum(s.ok is True for s in self.steps)

    @property
    def wrong(self) -> int:
        return sum(s.ok is False for s in self.steps)

    @property
    def not_read(self) -> int:
        return sum(s.ok is None for s in self.steps)

    @property
    def ok(self) -> bool:
        return self.wrong == 0

    @property
    def first_wrong(self) -> Optional[Step]:
        return next((s for s in self.steps if s.ok is False), None)

    def summary(self) -> str:
        said = f"{len(self.steps)} steps: {self.right} right, {self.wrong} wrong, {self.not_read} not read"
        return said + (f" ({self.skipped} displays marked --skip)" if self.skipped else "")

    def lines(self, verbose: bool = False) -> List[str]:
        shown = [str(s) for s in self.steps if verbose or s.ok is not True]
        return shown + [self.summary()]

    def to_json(self) -> dict:
        first = self.first_wrong
        return {"ok": self.ok, "steps": [s.to_json() for s in self.steps],
                "first_wrong": None if first is None else {"file": first.file, "line": first.line},
                "right": self.right, "wrong": self.wrong, "not_read": self.not_read, "skipped": self.skipped}


# ----- finding the steps ----------------------------------------------------------------------------

@dataclass
class _Row:
    line: int
    parts: List[str]
    continues: bool  # starts with '=': the chain of the row before goes on


def _blank(match) -> str:
    """Text of the same length and line breaks, so that offsets and line numbers stay."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _split_top(text: str, separator: str) -> List[Tuple[int, str]]:
    """(offset, piece) of ``text`` split at ``separator`` outside braces and inner environments."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text.startswith("\\begin{", i):
            depth += 1
        elif text.startswith("\\end{", i):
            depth -= 1
        if text[i] == "\\" and not text.startswith(separator, i):
            i += 2
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            pieces.append((start, text[start:i]))
            i += len(separator)
            start = i
            continue
        i += 1
    pieces.append((start, text[start:]))
    return pieces


def _rows(body: str, first_line: int) -> List[_Row]:
    """The rows of a display; an ``align`` row with several column pairs (``a &= b, & c &= d``) gives
    one row per pair, and what follows ``&&`` is a comment (``&& \\text{chain rule}``)."""
    rows = []
    for offset, row in _split_top(body, "\\\\"):
        row = _split_top(row, "&&")[0][1]
        lead = len(row) - len(row.lstrip())
        line = first_line + body.count("\n", 0, offset + lead)
        cells = [cell for _, cell in _split_top(row, "&")]
        for pair in range(0, len(cells), 2):
            # "x_1 = 1, \\quad x_2 = 2": several equations on one line
            for number, equation in enumerate(_LIST.split(" ".join(cells[pair:pair + 2]))):
                equation = _TRAILING.sub("", equation.strip()).strip()
                if not equation:
                    continue
                parts = [p.strip() for _, p in _split_top(equation, "=")]
                continues = parts[0] == "" and pair == 0 and number == 0
                rows.append(_Row(line, parts[1:] if continues else parts, continues))
    return rows


def displays(text: str, fmt: str) -> List[Tuple[int, str]]:
    """(line, body) of each display in a document of format ``tex`` or ``md``."""
    if fmt == "tex":
        text = _TEX_COMMENT.sub(lambda m: " " * len(m.group(0)), text)
    else:
        text = _MD_FENCE.sub(_blank, text)
        text = _MD_DECLARATION.sub(_blank, text)
    found, rest = [], text
    for match in _DISPLAY.finditer(text):
        group = next(g for g in (1, 2, 5) if match.group(g) is not None)
        body = _INNER_LAYOUT.sub(lambda m: " " * len(m.group(0)), match.group(group))
        found.append((text.count("\n", 0, match.start(group)) + 1, body))
        rest = rest[:match.start()] + _blank(match) + rest[match.end():]
    for match in _OPENING.finditer(rest):  # a display that is never closed: said, not silently left out
        found.append((rest.count("\n", 0, match.start()) + 1, None))
    return sorted(found, key=lambda item: item[0])


def declarations(text: str, fmt: str) -> List[Tuple[int, List[str]]]:
    """(line, words) of every ``% nnsym:`` (``<!-- nnsym: -->``) declaration, in order."""
    pattern = _TEX_DECLARATION if fmt == "tex" else _MD_DECLARATION
    if fmt == "md":
        text = _MD_FENCE.sub(_blank, text)
    found = []
    for match in pattern.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        try:
            found.append((line, shlex.split(match.group(1))))
        except ValueError as error:
            raise InputError(f"line {line}: nnsym declaration: {error}") from None
    return found


def declaration_parser() -> argparse.ArgumentParser:
    """The flags of `nnsym check` that a document may carry."""
    parser = _Parser(prog="nnsym declaration", add_help=False)
    parser.add_argument("--function", default=None)
    parser.add_argument("--wrt", default=None)
    parser.add_argument("--shape", action="append", default=[])
    parser.add_argument("--assume", action="append", default=[])
    parser.add_argument("--layout", default=None, choices=LAYOUTS)
    # lint's own: names defined outside the displays, and a display that is no derivation step
    parser.add_argument("--define", action="append", default=[])
    parser.add_argument("--skip", action="store_true")
    return parser


# ----- deciding the steps ---------------------------------------------------------------------------

class _NotRead(Exception):
    """A part outside the notation: the step is not read, with this reason."""


class _Misfit(Exception):
    """A part whose shapes (or index ranges) do not fit together: a wrong step, not an unread one."""


@dataclass
class _Derivative:
    function: str  # the function's LaTeX (a name or an expression)
    variable: str  # the variable's LaTeX
    order: int = 1


@dataclass
class _Value:
    expr: Expr  # in the document's symbols (defined names are symbols)
    text: str
    derivative: Optional[_Derivative] = None
    variable: Optional[Symbol] = None  # for a gradient: the base symbol differentiated by, if any
    function: Optional[Expr] = None
    indices: Optional[tuple] = None
    local: Optional[tuple] = None  # a gradient by an intermediate v: (f as a function of v, v, df/dv)


def _braced(text: str, i: int) -> Tuple[str, int]:
    """The group at text[i] (``{...}``, one command, or one character) and the index after it."""
    while i < len(text) and text[i] in " \t\n":
        i += 1
    if i >= len(text):
        raise _NotRead("an argument is missing")
    if text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            depth += (text[j] == "{") - (text[j] == "}")
            if depth == 0:
                return text[i + 1:j], j + 1
        raise _NotRead("unbalanced braces")
    if text[i] == "\\":
        match = re.match(r"\\[A-Za-z]+|\\.", text[i:])
        return match.group(0), i + len(match.group(0))
    return text[i], i + 1


def derivative_of(text: str) -> Optional[_Derivative]:
    """The derivative written in ``text`` (``\\frac{\\partial L}{\\partial W}``, ``\\nabla_W L``,
    ``\\nabla^2_w L``, ``\\frac{d}{dx} f(x)``, ``\\frac{\\partial^2 L}{\\partial w \\partial w^\\top}``), or None."""
    text = text.strip()
    nabla = _NABLA.match(text)
    if nabla:
        i, variable, order = nabla.end(), None, 1
        while i < len(text) and text[i] in "_^":
            script, after = _braced(text, i + 1)
            if text[i] == "^":
                if script.strip() != "2":
                    raise _NotRead(f"\\nabla^{{{script}}} is not read (\\nabla^2_w L is the Hessian)")
                order = 2
            else:
                variable = script
            i = after
            while i < len(text) and text[i] in " \t\n":
                i += 1
        if variable is None:
            raise _NotRead("\\nabla needs its variable as a subscript: \\nabla_W L")
        function = text[i:].strip()
        if not function:
            raise _NotRead("\\nabla_W needs the function after it")
        return _Derivative(function, variable, order)
    frac = _FRAC.match(text)
    if not frac:
        return None
    top, i = _braced(text, frac.end())
    bottom, i = _braced(text, i)
    top_match, bottom_match = _DIFFERENTIAL.match(top.strip()), _DIFFERENTIAL.match(bottom.strip())
    if not top_match or not bottom_match:
        return None
    order = 2 if top_match.group(1) else 1
    function = (top_match.group(2) + " " + text[i:]).strip()
    variable = bottom_match.group(2).strip()
    if order == 2:  # \partial w \partial w^\top, \partial w^2
        pieces = [p.strip() for p in re.split(r"\\partial|\\mathrm\{d\}", variable) if p.strip()]
        variable = re.sub(r"\^\s*(\{?\\top\}?|\{?T\}?|\{?2\}?)$", "", pieces[0]).strip()
    if not function or not variable:
        return None
    return _Derivative(function, variable, order)


class _Document:
    """What a document has declared and defined so far, and how its steps are decided."""

    def __init__(self, shapes: Mapping, assumptions: Mapping, layout: str, seed: int = 0):
        self.shapes = {read_name(k): (parse_shape(v) if isinstance(v, str) else tuple(v)) for k, v in shapes.items()}
        self.assumptions = {read_name(k): v for k, v in assumptions.items()}
        self.layout = layout
        self.defined: Dict[str, Expr] = {}  # name -> definition, in the document's symbols
        self.seed = seed
        self.cache: Dict = {}
        self.function_name: Optional[str] = None
        self.fixed_layout = False  # given by the caller: the document's own --layout does not override it
        self.indices: Optional[Dict[str, object]] = None  # the free indices of the chain being read, and their ranges

    # ----- reading -----
    def reading_shapes(self) -> Dict:
        return {**self.shapes, **{n: e.shape for n, e in self.defined.items()}}

    def constants(self) -> Dict[str, int]:
        """Defined whole numbers (T = 3): what a sum over time steps may run to (issue 15)."""
        return {n: v for n, v in ((n, integer_value(e)) for n, e in self.defined.items()) if v is not None}

    def read(self, text: str, shape=None) -> Expr:
        relation = _relation(text)
        if relation:
            raise _NotRead(f"the relation {relation} is not a step")
        try:
            return read_latex(text, self.reading_shapes(), self.assumptions, shape=shape, indices=self.indices,
                              constants=self.constants())
        except ShapeError as error:
            raise _Misfit(f"its shapes do not fit together: {_message(error)}") from None
        except NnsymError as error:
            raise _NotRead(str(error).splitlines()[0]) from None

    def name_of(self, text: str) -> Optional[str]:
        """The name ``text`` is (``z^{(1)}``, ``L``, ``J(\\theta)``), if it is one."""
        called = _CALLED.match(text)
        candidates = [text] + ([called.group(1)] if called and called.group(1).strip() else [])
        for candidate in candidates:
            try:
                name = read_name(candidate)
                value = read_latex(candidate, self.reading_shapes(), self.assumptions)
            except NnsymError:
                continue
            if isinstance(value, Symbol) and value.name == name:
                if candidate is not text and not all(self._is_name(a) for a in called.group(2).split(",")):
                    return None
                return name
        return None

    def _is_name(self, text: str) -> bool:
        try:
            return isinstance(read_latex(text, self.reading_shapes(), self.assumptions), Symbol)
        except NnsymError:
            return False

    # ----- definitions -----
    def expand(self, expr: Expr, keep=frozenset()) -> Expr:
        """``expr`` with every defined name (except those in ``keep``) replaced by its definition; the
        steps of an unrolled network (h_{1}, c_{2}) stay visible as named intermediates, for the diagnoses."""
        return expand(expr, self.defined, keep, named=is_step_name)

    def define(self, name: str, expr: Expr) -> None:
        if any(isinstance(s, Symbol) and s.name == name for s in expr.free_symbols()):
            if name not in self.defined:
                raise _NotRead(f"{name} is defined by itself")
            expr = self.expand(expr, keep=frozenset(self.defined) - {name})
        self.defined[name] = expr
        self.shapes.pop(name, None)  # defined: no longer a declared symbol (a later section's Y = ...)

    # ----- values -----
    def value(self, text: str) -> _Value:
        derivative = derivative_of(text)
        if derivative is None:
            return _Value(self.read(text), text)
        return self.derivative_value(derivative, text)

    def function_of(self, text: str) -> Tuple[Expr, Optional[str]]:
        """The function a derivative is of: a defined name (with its arguments, L(W)) or a formula."""
        called = _CALLED.match(text)
        for candidate in [text] + ([called.group(1)] if called else []):
            try:
                name = read_name(candidate)
            except NnsymError:
                continue
            if name in self.defined:
                return self.defined[name], name
        if self.function_name is None and re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+", text.strip()) and \
                text.strip() not in ("\\pi",) and read_name(text) not in self.shapes:
            raise _NotRead(f"{text.strip()} is not defined before this line: define it (L = ...) or give --function")
        return self.read(text), None

    def derivative_value(self, derivative: _Derivative, text: str) -> _Value:
        f, _ = self.function_of(derivative.function)
        variable_text, indices = derivative.variable, None
        try:
            name = read_name(variable_text)
        except NnsymError:
            name = None
        if name is None or not isinstance(self.read_quietly(variable_text), Symbol) and self.entry_of(name)[0] is None:
            return self.by_subexpression(f, derivative, text)
        base, indices = self.entry_of(name)
        if base is not None:
            name = base
        if name in self.defined:
            f_v = self.expand(f, keep=frozenset({name}))
            variable = next((s for s in f_v.free_symbols() if s.name == name), None)
            if variable is None:
                raise _NotRead(f"the function does not depend on {name}")
            truth = self.truth(f_v, variable, derivative.order)
            return _Value(self.expand(truth), text, derivative, None, f_v, indices, (f_v, variable, truth))
        f_full = self.expand(f)
        variable = next((s for s in f_full.free_symbols() if s.name == name), None)
        if variable is None:
            if name not in self.shapes:
                raise _NotRead(f"the function does not contain {name}")
            variable = read_latex(variable_text if base is None else name, self.reading_shapes(), self.assumptions)
        truth = self.truth(f_full, variable, derivative.order)
        return _Value(truth, text, derivative, variable, f_full, indices)

    def read_quietly(self, text: str) -> Optional[Expr]:
        try:
            return read_latex(text, self.reading_shapes(), self.assumptions)
        except NnsymError:
            return None

    def by_subexpression(self, f: Expr, derivative: _Derivative, text: str) -> _Value:
        """df/d(A x - b), df/dx^T, df/d sigma(W x): the derivative by a part of f, which stands in
        for a variable of its own (as in the chain rule's intermediate steps)."""
        part = self.expand(self.read(derivative.variable))
        f_full = self.expand(f)
        taken = {s.name for s in f_full.free_symbols()}
        name = next(f"\\Omega_{{{n}}}" for n in range(100) if f"\\Omega_{{{n}}}" not in taken)
        stand_in = _declare_symbol(name, part.shape)
        f_u = substitute(_grouped(f_full, part), part, stand_in)
        if not f_u.depends_on(stand_in):
            raise _NotRead(f"{derivative.variable} does not appear in the function as written")
        truth_u = self.truth(f_u, stand_in, derivative.order)
        return _Value(substitute(truth_u, stand_in, part), text, derivative, None, f_u, None, (f_u, stand_in, truth_u))

    def entry_of(self, name: str):
        """(W, ("i", "j")) when ``name`` is an entry W_{ij} of a declared non-scalar W, else (None, None)."""
        base, indices = entry_variable(name, self.reading_shapes())
        return (base, indices) if indices else (None, None)

    def chain_indices(self, parts: Sequence[str]) -> Optional[Dict[str, object]]:
        """{index: range} of the free indices of a chain with an entry-wise derivative in it."""
        for part in parts:
            derivative = derivative_of_safe(part)
            if derivative is None:
                continue
            try:
                base, indices = self.entry_of(read_name(derivative.variable))
            except NnsymError:
                continue
            if indices:
                rows, cols = self.reading_shapes()[base]
                if len(indices) == 2:
                    return {indices[0]: rows, indices[1]: cols}
                return {indices[0]: rows if cols == 1 else cols}
        return None

    def truth(self, f: Expr, variable: Symbol, order: int) -> Expr:
        key = (f, variable, order)
        if key not in self.cache:
            try:
                if order == 2:
                    found = hessian(f, variable).expression
                elif f.is_scalar:
                    found = grad(f, variable, oracle=False).expression
                else:
                    found = jacobian(f, variable).expression
            except NnsymError as error:
                raise _NotRead(f"nnsym cannot differentiate this: {str(error).splitlines()[0]}") from None
            self.cache[key] = found
        return self.cache[key]

    # ----- comparing -----
    def claim(self, value: _Value, against: _Value) -> Tuple[Expr, Optional[str]]:
        """The claim beside a derivative, read with the derivative's shape (a bare I, 1, 0) and, in
        index notation, converted to matrix form."""
        if value.derivative is not None:
            return value.expr, None
        shape = against.expr.shape
        if against.indices:  # read with the chain's free indices: in matrix form already
            return value.expr, latex(value.expr)
        if self.layout == "numerator" and against.derivative is not None and against.derivative.order == 1:
            shape = shape[::-1]
        if value.expr.shape != shape:
            try:
                return self.read(value.text, shape=shape), None
            except _NotRead:
                pass
        return value.expr, None

    def decide(self, left: _Value, right: _Value) -> dict:
        gradient = left if left.derivative is not None else right
        claim_value = right if gradient is left else left
        if left.derivative is not None and right.derivative is not None:
            claim, truth, kind, matrix_form = right.expr, left.expr, "equality", None
        elif left.derivative is None and right.derivative is None:
            claim, truth, kind, matrix_form = self.expand(right.expr), self.expand(left.expr), "equality", None
        else:
            claim, matrix_form = self.claim(claim_value, gradient)
            claim, truth, kind = self.expand(claim), gradient.expr, "gradient"
            if self.layout == "numerator" and gradient.derivative.order == 1 and not gradient.indices:
                claim = transpose(claim)
        outcome = self.compare(claim, truth, gradient if kind == "gradient" else None)
        if outcome.get("ok") is False and not outcome.get("diagnosis") and kind == "gradient" and gradient.local:
            outcome["diagnosis"] = self.local_diagnosis(claim_value, gradient)
        outcome.update(kind=kind, matrix_form=matrix_form)
        return outcome

    def local_diagnosis(self, claim_value: _Value, gradient: _Value) -> Optional[str]:
        """The diagnosis of a wrong gradient by an intermediate v (dL/dz^{(1)}), with v taken as a
        variable of its own, when the claim is written in the symbols of L as a function of v."""
        f_v, v, truth_v = gradient.local
        if gradient.derivative.order != 1 or not f_v.is_scalar:
            return None
        claim = self.expand(claim_value.expr, keep=frozenset({v.name}))
        if self.layout == "numerator":
            claim = transpose(claim)
        if claim.shape != truth_v.shape or not claim.free_symbols() <= f_v.free_symbols() | {v}:
            return None
        symbols = symbols_of(f_v, truth_v, claim, v)
        sizes = small_sizes(symbols, choices=SIZE_DRAWS[0])
        rng = np.random.default_rng(self.seed)
        try:
            drawn = [_sized(random_point([f_v, truth_v], symbols, sizes, rng), symbols, sizes) for _ in range(POINTS)]
            with np.errstate(all="ignore"):
                true_values = [evaluate(truth_v, p, sizes) for p in drawn]
                claimed_values = [evaluate(claim, p, sizes) for p in drawn]
        except (NnsymError, np.linalg.LinAlgError, ValueError):
            return None
        return self.diagnosis(claim, truth_v, _Value(truth_v, "", gradient.derivative, v, f_v),
                              (sizes, drawn, true_values, claimed_values))

    def compare(self, claim: Expr, truth: Expr, gradient: Optional[_Value]) -> dict:
        if claim.shape != truth.shape and claim.shape != truth.shape[::-1]:
            return {"ok": False, "diagnosis": f"the sides have different shapes: {show_shape(truth.shape)} "
                                              f"and {show_shape(claim.shape)}"}
        context = [gradient.function] if gradient is not None and gradient.function is not None else []
        symbols = symbols_of(claim, truth, *context)
        if any(not s.shape[0].is_Integer or not s.shape[1].is_Integer for s in symbols):
            draws = SIZE_DRAWS
        else:
            draws = SIZE_DRAWS[:1]
        rng = np.random.default_rng(self.seed)
        ok, max_abs, max_rel, worst, worst_shape = True, 0.0, 0.0, None, None
        first = None
        for choices in draws:
            sizes = small_sizes(symbols, choices=choices)
            if entries(symbols, sizes) > MAX_TOTAL_ENTRIES:
                raise _NotRead(f"sizes too large to check numerically ({entries(symbols, sizes):,} entries; "
                               f"at most {MAX_TOTAL_ENTRIES:,})")
            try:
                drawn = [_sized(random_point([truth, *context], symbols, sizes, rng), symbols, sizes)
                         for _ in range(POINTS)]
                true_values = [evaluate(truth, p, sizes) for p in drawn]
            except (NnsymError, np.linalg.LinAlgError, ValueError) as error:
                raise _NotRead(f"cannot evaluate: {str(error).splitlines()[0]}") from None
            try:
                with np.errstate(all="ignore"):
                    claimed_values = [evaluate(claim, p, sizes) for p in drawn]
            except (NnsymError, np.linalg.LinAlgError, ValueError):
                return {"ok": False, "diagnosis": "the right side cannot be evaluated where the left side is defined"}
            if claim.shape != truth.shape:
                transposed = all(diagnose.close(c, t.T) for c, t in zip(claimed_values, true_values))
                sides = f"{show_shape(truth.shape)} and {show_shape(claim.shape)}"
                hint = _NUMERATOR_HINT if self.layout == "denominator" else " (in numerator layout the derivative is the gradient transposed)"
                note = (" and the one is the transpose of the other" + hint) if transposed else ""
                return {"ok": False, "diagnosis": f"the sides have different shapes: {sides}{note}"}
            step_ok, step_abs, step_rel, step_worst = _compare(claimed_values, true_values)
            ok &= step_ok
            if step_abs >= max_abs:
                max_abs, worst, worst_shape = step_abs, step_worst, true_values[0].shape
            max_rel = max(max_rel, step_rel)
            if first is None:
                first = (sizes, drawn, true_values, claimed_values)
        result = {"ok": ok, "max_abs_error": max_abs, "max_rel_error": max_rel, "diagnosis": None}
        if not ok:
            result["worst_index"] = self.worst(worst, worst_shape, gradient)
            result["diagnosis"] = self.diagnosis(claim, truth, gradient, first)
        return result

    def worst(self, worst, shape, gradient) -> Optional[str]:
        if worst is None:
            return None
        index = worst[1]
        name = ""
        if gradient is not None:
            name = gradient.variable.name if gradient.variable is not None else derivative_name(gradient.derivative)
        if shape == (1, 1):
            return name or None
        if shape[1] == 1:
            return f"{name}[{index[0]}]"
        return f"{name}[{index[0]},{index[1]}]"

    def diagnosis(self, claim, truth, gradient, first) -> Optional[str]:
        sizes, drawn, true_values, claimed_values = first

        claim_at = functools.partial(values_at, claim, sizes=sizes)
        if gradient is not None and gradient.variable is not None and gradient.derivative.order == 1 \
                and gradient.function is not None and gradient.function.is_scalar:
            sample = diagnose.Sample(gradient.function, gradient.variable, truth, sizes, drawn, true_values,
                                     claimed_values, claim_at, claim)
            try:
                with np.errstate(all="ignore"):
                    found = diagnose.diagnose(sample)
            except (NnsymError, np.linalg.LinAlgError, ValueError):
                found = None
            if found and found.startswith("transpose") and self.layout == "denominator":
                found += _NUMERATOR_HINT
            return found
        ratios = [c / t for c, t in zip(claimed_values, true_values) if np.all(np.abs(t) > 1e-9)]
        if ratios and all(np.allclose(r, ratios[0].flat[0], rtol=1e-8) for r in ratios):
            return f"the right side is {ratios[0].flat[0]:.6g} times the left side"
        return None


def _sized(point: Dict, symbols, sizes: Dict) -> Dict:
    """A scalar named as a size (the B of \\frac{1}{B} beside \\mathbf{1}_B) has that size's value."""
    by_name = {str(size): value for size, value in sizes.items()}
    for s in symbols:
        if s.is_scalar and s.name in by_name:
            point[s.name] = np.full((1, 1), float(by_name[s.name]))
    return point


def _factors(node: Expr) -> List[Expr]:
    return _factors(node.args[0]) + _factors(node.args[1]) if isinstance(node, MatMul) else [node]


def _grouped(f: Expr, part: Expr) -> Expr:
    """f with a product that holds ``part``'s factors in a row regrouped so that ``part`` is a node of
    it: tr(G^T P V) read as (G^T P) V holds P V (matrix products associate)."""
    want = _factors(part)
    if len(want) < 2:
        return f
    done: Dict[Expr, Expr] = {}
    for node in post_order([f]):
        new = node.rebuilt([done[child] for child in node.args])
        if isinstance(new, MatMul):
            have = _factors(new)
            for i in range(len(have) - len(want) + 1):
                if have[i:i + len(want)] == want and len(want) < len(have):
                    items = have[:i] + [part] + have[i + len(want):]
                    new = items[0]
                    for item in items[1:]:
                        new = MatMul(new, item)
                    break
        done[node] = new
    return done[f]


def _declare_symbol(name: str, shape) -> Symbol:
    rows, cols = shape
    if (rows, cols) == (1, 1):
        return scalar(name)
    return vector(name, rows) if cols == 1 else matrix(name, rows, cols)


_NUMERATOR_HINT = " (if your text uses numerator layout, lint with --layout numerator)"


def _step(file, line, lhs, rhs, outcome) -> Step:
    return Step(file, line, lhs, rhs, outcome.get("kind", ""), outcome.get("ok"), outcome.get("max_abs_error"),
                outcome.get("max_rel_error"), outcome.get("worst_index"), outcome.get("diagnosis"),
                outcome.get("not_read"), outcome.get("matrix_form"))


def _chains(rows: Sequence[_Row]) -> List[Tuple[List[int], List[str]]]:
    """Rows joined into chains of '=': (line of each part, parts)."""
    chains = []
    for row in rows:
        lines = [row.line] * len(row.parts)
        if row.continues and chains:
            chains[-1][0].extend(lines)
            chains[-1][1].extend(row.parts)
        else:
            chains.append((lines, list(row.parts)))
    return chains


def lint_text(text: str, fmt: str, file: str = "-", shapes: Optional[Mapping] = None,
              assumptions: Optional[Mapping] = None, function: Optional[str] = None,
              layout: Optional[str] = None) -> Report:
    """Every step of one document (``fmt`` "tex" or "md"). The caller's declarations hold from the
    start; the document's own hold from the line that makes them on (a later section may declare
    its own symbols and function)."""
    if fmt not in ("tex", "md"):
        raise InputError(f"lint: unknown format {fmt!r}; tex or md")
    document = _Document(shapes or {}, _kinds(assumptions or {}), layout or "denominator")
    document.fixed_layout = layout is not None
    if function:
        _define_function(document, function, as_function=True)
    events = [(line, 0, words) for line, words in declarations(text, fmt)]
    events += [(line, 1, body) for line, body in displays(text, fmt)]
    steps: List[Step] = []
    skip, skipped = False, 0
    for line, kind, content in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            skip = _declare(document, content, line) or skip
        elif skip:
            skip, skipped = False, skipped + 1  # a display the document marks as no derivation (worked numbers)
        elif content is None:
            steps.append(Step(file, line, "", "", "", None, not_read="this display is never closed"))
        else:
            for lines, parts in _chains(_rows(content, line)):
                steps += _lint_chain(document, file, lines, parts)
    return Report(tuple(steps), skipped)


def _kinds(assumptions: Mapping) -> Dict[str, list]:
    return {read_name(k): list([v] if isinstance(v, str) else v) for k, v in assumptions.items()}


def _declare(document: "_Document", words: List[str], line: int) -> bool:
    """Apply one declaration line; True when it marks the next display to be skipped."""
    try:
        flags = declaration_parser().parse_args(words)
        shapes, assumptions = _declarations(flags)
    except NnsymError as error:
        raise InputError(f"line {line}: nnsym declaration: {_message(error)}") from None
    document.shapes.update({read_name(k): parse_shape(v) for k, v in shapes.items()})
    for name in {read_name(k) for k in shapes} | set(assumptions):  # declared: a symbol again, no longer defined
        document.defined.pop(name, None)
        family = family_of_template(name)  # issue 15: x_t declares the steps x_1 ... x_T afresh
        if family:
            for step in [n for n in list(document.shapes) + list(document.defined) if step_family(n) == family]:
                document.shapes.pop(step, None)
                document.defined.pop(step, None)
                document.assumptions.pop(step, None)
    for name, kinds in assumptions.items():
        document.assumptions[name] = sorted(set(document.assumptions.get(name, [])) | set(kinds))
    if flags.layout and not document.fixed_layout:
        document.layout = flags.layout
    try:
        for definition in flags.define:
            _define_function(document, definition, as_function=False)
        if flags.function:
            _define_function(document, flags.function, as_function=True)
    except InputError as error:
        raise InputError(f"line {line}: nnsym declaration: {error}") from None
    return flags.skip


def _define_function(document: _Document, text: str, as_function: bool) -> None:
    """--function 'L = ...' (or a bare formula, named L), --define 'z^{(1)} = ...'."""
    flag = "--function" if as_function else "--define"
    sides = [p for _, p in _split_top(text, "=")]
    try:
        if len(sides) == 2:
            name = document.name_of(sides[0].strip())
            if name is None:
                raise InputError(f"{flag} {text!r}: the left side of '=' must be a name")
            document.define(name, document.read(sides[1]))
        elif as_function:
            name = "L"
            document.define(name, document.read(text))
        else:
            raise InputError(f"{flag} {text!r}: write NAME = LATEX")
    except (_NotRead, _Misfit) as reason:
        raise InputError(f"{flag}: {reason}") from None
    if as_function:
        document.function_name = name


def _lint_chain(document: _Document, file: str, lines: List[int], parts: List[str]) -> List[Step]:
    steps: List[Step] = []
    if len(parts) < 2:
        return steps
    defining = None
    head = parts[0]
    if derivative_of_safe(head) is None:
        name = document.name_of(head)
        if name is not None and name not in document.shapes and name not in document.assumptions:
            defining = name
    document.indices = document.chain_indices(parts) or _free_indices(document, parts)
    values: List[Optional[_Value]] = [None] * len(parts)
    reasons: List[Optional[str]] = [None] * len(parts)
    misfits: List[Optional[str]] = [None] * len(parts)
    for k in range(1 if defining else 0, len(parts)):
        try:
            values[k] = document.value(parts[k])
        except _NotRead as reason:
            reasons[k] = str(reason)
        except _Misfit as reason:
            misfits[k] = reasons[k] = str(reason)
    for k in range(len(parts)):  # an I or 1 that nothing in its part sizes takes the size of the part beside it
        if values[k] is None and reasons[k] and "cannot tell the size" in reasons[k]:
            beside = next((v for v in (values[k - 1] if k else None, values[k + 1] if k + 1 < len(parts) else None)
                           if v is not None), None)
            if beside is not None:
                try:
                    values[k] = _Value(document.read(parts[k], shape=beside.expr.shape), parts[k])
                    reasons[k] = None
                except (_NotRead, _Misfit):
                    pass
    if defining:
        # the name is what stands right of it: a formula, or a derivative (delta = dL/dz = ...)
        definition = values[1]
        if definition is not None and definition.derivative is not None:
            definition = next((v for v in values[2:3] if v is not None), definition)
        if definition is None:
            if misfits[1]:
                return [_step(file, lines[0], parts[0], parts[1], {"kind": "definition", "ok": False,
                                                                   "diagnosis": f"the right side: {misfits[1]}"})]
            return [_step(file, lines[0], parts[0], parts[1], {"not_read": reasons[1] or "not read"})]
        outcome = {"kind": "definition", "ok": True}
        if values[1] is definition:
            outcome = _delta_convention(document, defining, definition) or outcome
        steps.append(_step(file, lines[0], parts[0], parts[1], outcome))
        try:
            document.define(defining, definition.expr)
        except _NotRead as reason:
            steps[-1] = _step(file, lines[0], parts[0], parts[1], {"not_read": str(reason)})
    for k in range(2 if defining else 1, len(parts)):
        left, right = values[k - 1], values[k]
        misfit = misfits[k] or (misfits[k - 1] if right is not None else None)
        if misfit:
            side = "the right side" if misfits[k] else "the left side"
            steps.append(_step(file, lines[k], parts[k - 1], parts[k], {"kind": "equality", "ok": False,
                                                                        "diagnosis": f"{side}: {misfit}"}))
            continue
        if left is None or right is None:
            steps.append(_step(file, lines[k], parts[k - 1], parts[k],
                               {"not_read": reasons[k] if right is None else reasons[k - 1]}))
            continue
        try:
            outcome = document.decide(left, right)
        except _NotRead as reason:
            outcome = {"not_read": str(reason)}
        steps.append(_step(file, lines[k], parts[k - 1], parts[k], outcome))
    return steps


_DELTA = re.compile(r"^\\delta(\^\{[(\[].*[)\]]\})$")


def _delta_convention(document: _Document, name: str, definition: _Value) -> Optional[dict]:
    """``\\delta^{(l)} = ...`` is, by the convention of backpropagation, dL/dz^{(l)} (or dL/dZ^{(l)}):
    when z^{(l)} and the loss are defined, the definition is checked as that gradient."""
    layer = _DELTA.match(name)
    loss = document.function_name or next((n for n in ("L", "J", "E", "C") if n in document.defined), None)
    if not layer or loss is None:
        return None
    z = next((f"{letter}{layer.group(1)}" for letter in ("z", "Z") if f"{letter}{layer.group(1)}" in document.defined), None)
    if z is None:
        return None
    try:
        truth = document.derivative_value(_Derivative(loss, z), f"\\frac{{\\partial {loss}}}{{\\partial {z}}}")
        outcome = document.decide(truth, definition)
    except (_NotRead, _Misfit):
        return None
    if outcome.get("ok") is False:
        said = outcome.get("diagnosis")
        outcome["diagnosis"] = f"{name} is \\partial {loss}/\\partial {z}" + (f"; {said}" if said else "")
    outcome["kind"] = "gradient"
    return outcome


def _free_indices(document: _Document, parts: Sequence[str]) -> Optional[Tuple[str, ...]]:
    """The free indices of a chain of index formulas without a derivative ([Av]_i = \\sum_k A_{ik} v_k),
    in the order they first appear in its text (rows, then columns)."""
    for part in parts:
        try:
            read_latex(part, document.reading_shapes(), document.assumptions)
        except NnsymError as error:
            found = _FREE.search(str(error))
            if found:
                letters = [i.strip() for i in found.group(1).split(",")]
                text = " ".join(parts)
                return tuple(sorted(letters, key=lambda i: min(
                    (m.start() for m in re.finditer(r"_\{?[a-z,]*" + i, text)), default=len(text))))
        return None
    return None


def derivative_name(derivative: _Derivative) -> str:
    try:
        return read_name(derivative.variable)
    except NnsymError:
        return ""


def derivative_of_safe(text: str) -> Optional[_Derivative]:
    try:
        return derivative_of(text)
    except _NotRead:
        return None


def lint_files(paths: Sequence[str], fmt: Optional[str] = None, shapes=None, assumptions=None, function=None,
               layout=None, stdin=None) -> Report:
    """`lint_text` over files (``-``: ``stdin``, which needs ``fmt``); the format from the suffix."""
    steps: List[Step] = []
    skipped = 0
    for path in paths:
        if path == "-":
            if fmt is None:
                raise InputError("lint: reading stdin ('-') needs --format tex or --format md")
            text, kind = stdin.read(), fmt
        else:
            kind = fmt or {"tex": "tex", "md": "md", "markdown": "md"}.get(path.rpartition(".")[2].lower())
            if kind is None:
                raise InputError(f"lint: {path}: unknown format; name it .tex or .md, or give --format")
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError, ValueError) as error:  # ValueError: a NUL in the path
                raise InputError(f"lint: cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
        report = lint_text(text, kind, path, shapes, assumptions, function, layout)
        steps, skipped = steps + list(report.steps), skipped + report.skipped
    return Report(tuple(steps), skipped)
