"""Names defined by formulas (``--define 'h_1 = \\tanh(W h_0 + U x_1)'``), for `nnsym check`, `derive` and lint.

A definition is read like any formula, with the names defined before it as symbols of their shapes; a
formula that uses defined names is read the same way and then *expanded*: each defined name becomes a
`Named` node over its (expanded) definition, so that it evaluates as its definition, prints as its name
(h_{1}), and keeps the structure of an unrolled network for the diagnoses (`nnsym.present.diagnose`).
A definition that is a whole number (``T = 3``) is also a *constant*: the number of steps a sum over time
steps runs to (`nnsym.declare.reading.time_steps`).

Refused, saying so: a name defined twice, a name defined by itself, a definition that uses a name defined
after it, a name both declared (``--shape``) and defined.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Symbol, post_order
from nnsym.declare.reading import read_definition, read_name
from nnsym.declare.reading.scanner import _Scanner
from nnsym.declare.reading.time_steps import TEMPLATE_INDEX
from nnsym.declare.reading.spellings import respell
from nnsym.errors import InputError, NnsymError


_STEP_NAME = re.compile(r"^.+_\{[0-9]+\}$")


def is_step_name(name: str) -> bool:
    """h_{1}, c_{2}, \\delta_{3}: a step of a family over time (`nnsym.declare.reading.time_steps`)."""
    return bool(_STEP_NAME.match(name))


def step_family(name: str) -> Optional[str]:
    """h_{1} -> h; None for a name that is no step."""
    return name.rpartition("_{")[0] if is_step_name(name) else None


def family_of_template(name: str) -> Optional[str]:
    """x_{t} (declared: every step of x) -> x; None otherwise."""
    suffix = "_{" + TEMPLATE_INDEX + "}"
    return name[:-len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else None


def expand(expr: Expr, defined: Mapping[str, Expr], keep=frozenset(),
           named: Callable[[str], bool] = lambda name: True) -> Expr:
    """``expr`` with every defined name (except those in ``keep``) replaced by its definition, itself
    expanded; a name for which ``named(name)`` holds stays visible as a `Named` node."""
    memo: Dict[str, Expr] = {}

    def value(name: str) -> Expr:
        if name not in memo:
            inner = walk(defined[name])
            memo[name] = E.name(name, inner) if named(name) else inner
        return memo[name]

    def walk(root: Expr) -> Expr:
        done: Dict[Expr, Expr] = {}
        for node in post_order([root]):
            if isinstance(node, Symbol) and node.name in defined and node.name not in keep:
                done[node] = value(node.name)
            else:
                done[node] = node.rebuilt([done[child] for child in node.args])
        return done[root]

    return walk(expr)


def integer_value(expr: Expr) -> Optional[int]:
    """The whole number a definition is (T = 3), or None."""
    number = E.number(expr) if expr.is_scalar else None
    if number is None or not getattr(number, "is_Integer", False):
        return None
    return int(number)


class Definitions:
    """Definitions in the order given; each may use the ones before it (and the declared symbols)."""

    def __init__(self, texts: Iterable[str] = (), shapes: Optional[Mapping] = None,
                 assumptions: Optional[Mapping] = None, flag: str = "--define"):
        self.shapes = dict(shapes or {})
        self.assumptions = dict(assumptions or {})
        self.flag = flag
        self.defined: Dict[str, Expr] = {}  # in the order given, in the symbols of the names before
        self.constants: Dict[str, int] = {}
        self.declared = {read_name(k) for k in self.shapes} | {read_name(k) for k in self.assumptions}
        texts = list(texts)
        if isinstance(texts, str) or any(not isinstance(t, str) for t in texts):
            raise InputError(f"{flag}: definitions are LaTeX strings 'NAME = ...', one each")
        self._left = [self._left_name(t) for t in texts]
        for k, text in enumerate(texts):
            self.add(text, later={n for n in self._left[k + 1:] if n})

    @staticmethod
    def _left_name(text: str) -> Optional[str]:
        left, equals, _ = text.partition("=")
        try:
            return read_name(left) if equals else None
        except NnsymError:
            return None

    def reading_shapes(self) -> Dict:
        return {**self.shapes, **{name: expr.shape for name, expr in self.defined.items()}}

    def read(self, text: str):
        """(name or None, expression) of ``NAME = LATEX`` or a bare formula, in the defined names as symbols."""
        return read_definition(text, self.reading_shapes(), self.assumptions, self.constants)

    def add(self, text: str, later=frozenset()) -> None:
        said = f"{self.flag} {text!r}"
        try:
            name, expr = self.read(text)
        except NnsymError as error:  # read as an undeclared scalar, a name used too early may not fit
            own = self._left_name(text)
            used = later & _written_names(text.partition("=")[2])
            if own and own in _written_names(text.partition("=")[2]):
                raise InputError(f"{said}: {own} is defined by itself") from None
            if used:
                raise InputError(f"{said}: uses {', '.join(sorted(used))}, which is defined after it; "
                                 "define each name before the definitions that use it") from None
            raise type(error)(f"{said}: {str(error).splitlines()[0]}") from None
        if name is None:
            raise InputError(f"{said}: write NAME = LATEX (e.g. h_1 = \\tanh(W h_0 + U x_1))")
        uses = {s.name for s in expr.free_symbols()}
        if name in self.defined:
            raise InputError(f"{said}: {name} is defined twice")
        if name in self.declared:
            raise InputError(f"{said}: {name} is declared (--shape or --assume) and defined; it is one or the other")
        if name in uses:
            raise InputError(f"{said}: {name} is defined by itself")
        used = sorted(uses & set(later))
        if used:
            raise InputError(f"{said}: uses {', '.join(used)}, which is defined after it; "
                             "define each name before the definitions that use it")
        self.defined[name] = expr
        value = integer_value(expr)
        if value is not None:
            self.constants[name] = value

    def expand(self, expr: Expr, keep=frozenset()) -> Expr:
        return expand(expr, self.defined, keep)

    def formula(self, text: str) -> Expr:
        """A formula that uses the defined names (``L = \\sum_{t=1}^{T} ...`` or a bare one), read and
        expanded: what `nnsym.grad` takes, with the steps as named intermediates."""
        return self.expand(read_definition(text, self.reading_shapes(), self.assumptions, self.constants)[1])

    def __bool__(self):
        return bool(self.defined)


def definitions_of(given, shapes=None, assumptions=None) -> Definitions:
    """A `Definitions` from ``given``: one already made, LaTeX strings (in order), or None (none)."""
    if isinstance(given, Definitions):
        return given
    if given is None:
        return Definitions((), shapes, assumptions)
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, Sequence):
        raise InputError(f"definitions are a list of LaTeX strings 'NAME = ...', not {type(given).__name__}")
    return Definitions(given, shapes, assumptions)


def _written_names(text: str) -> set:
    """The names written in a formula (as the reader would take them, without declarations)."""
    try:
        tokens = _Scanner(respell(text), ()).run()
    except NnsymError:
        return set()
    names = set()
    for token in tokens:
        if token.type == "NAME":
            try:
                names.add(read_name(token.value.base + token.value.scripts))
            except NnsymError:
                pass
    return names
