"""A derivation step by step: which rule reverse mode applied where, with the cotangents it formed.

`derive_steps` runs `reverse.cotangents` with a trace and keeps one frozen `Step` per visited node:
the node, its cotangent G = df/d(node) (the sum of what its parents passed down), the rule applied
at the node (named by the identity in its docstring in `nnsym.derive.rules`) and what it passed to
each child. A `Derivation` lists, at a chosen level of detail, the lines a lecturer writes on the
board, df/d(node) = G each with the rules that produced it; printing them is `nnsym.emit.steps_latex`.

Each line is a claim that can be checked on its own: replace every occurrence of the node in f by a
fresh symbol s; then df/ds is G with the same replacement (`Line.as_gradient`). That holds because G
is the total cotangent of the node (every parent has passed its part before the node is visited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Named, Symbol
from nnsym.derive.reverse import CotangentHook, cotangents
from nnsym.derive.rules import rule_for
from nnsym.errors import InputError

DETAILS = ("result", "key", "all")

# Rules a lecturer applies without writing a line: sums, scalar factors, transposes.
ROUTINE = (E.Add, E.Scale, E.Transpose, E.Named)

# Fresh names for the symbol that stands in for a node when a line is checked.
_STAND_INS = (r"\xi", r"\zeta", r"\eta", r"\chi", r"\psi", r"\omega", r"\upsilon")


def rule_identity(node: Expr) -> str:
    """The identity the node's rule encodes: the first line of its docstring."""
    rule = rule_for(node)
    if rule is None or not rule.__doc__:
        return type(node).__name__
    return rule.__doc__.strip().splitlines()[0]


@dataclass(frozen=True)
class Step:
    """One rule application: at ``node`` with cotangent ``cotangent``, the rule ``rule`` passed
    ``contributions`` ((child, its part of df/d child), ...) down. A variable's step applies no rule."""

    node: Expr
    cotangent: Expr
    rule: Optional[str]
    contributions: Tuple[Tuple[Expr, Expr], ...]

    @property
    def shape(self):
        return self.node.shape


@dataclass(frozen=True)
class Line:
    """df/d(node) = cotangent, obtained by ``rules`` (the identities applied at the node's parents)."""

    node: Expr
    cotangent: Expr
    rules: Tuple[str, ...]
    is_result: bool
    is_key: bool

    @property
    def shape(self):
        return self.node.shape

    def as_gradient(self, f: Expr, assume=frozenset()) -> Tuple[Expr, Symbol, Expr]:
        """(f with the node replaced by a fresh symbol s, s, the cotangent with the same replacement):
        a gradient claim that finite differences can check. ``assume`` is given to s (``{"positive"}``
        where the node is the argument of a log)."""
        if isinstance(self.node, Symbol):
            return f, self.node, self.cotangent
        taken = {s.name for s in f.free_symbols() | self.cotangent.free_symbols()}
        name = next((n for n in _STAND_INS if n not in taken), None)
        if name is None:
            raise InputError("no fresh name left to stand in for a node while checking a step")
        rows, cols = self.node.shape
        kind = "scalar" if self.node.is_scalar else ("vector" if cols == 1 else "matrix")
        stand_in = Symbol(name, rows, cols, kind, frozenset(assume))
        return substitute(f, self.node, stand_in), stand_in, substitute(self.cotangent, self.node, stand_in)


@dataclass(frozen=True)
class Derivation:
    """The steps of df/dv for each variable v, in the order reverse mode took them."""

    function: Expr
    variables: Tuple[Symbol, ...]
    steps: Tuple[Step, ...]
    results: Dict[Symbol, Expr]

    def lines(self, detail: str = "key") -> List[Line]:
        """The board lines at a level of detail: "result" (df/dv only), "key" (also every line a
        non-routine rule produced, and named intermediates such as z^{(l)}), "all" (every node)."""
        if detail not in DETAILS:
            raise InputError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
        producers: Dict[Expr, List[Tuple[Expr, str]]] = {}
        for step in self.steps:
            for child, _ in step.contributions:
                producers.setdefault(child, []).append((step.node, step.rule))
        out = []
        for step in self.steps:
            if step.node is self.function or step.node == self.function:
                continue
            sources = producers.get(step.node, [])
            rules = tuple(dict.fromkeys(rule for _, rule in sources))
            is_result = step.node in self.variables
            is_key = is_result or isinstance(step.node, Named) or any(
                not isinstance(parent, ROUTINE) for parent, _ in sources)
            line = Line(step.node, step.cotangent, rules, is_result, is_key)
            if detail == "all" or (detail == "key" and is_key) or is_result:
                out.append(line)
        return out


def derive_steps(f: Expr, variables: Iterable[Symbol], hook: Optional[CotangentHook] = None) -> Derivation:
    """Reverse mode on ``f`` with every step recorded."""
    variables = tuple(variables)
    steps: List[Step] = []

    def record(node, G, contributions):
        rule = None if isinstance(node, Symbol) else rule_identity(node)
        steps.append(Step(node, G, rule, tuple(contributions)))

    results = cotangents(f, variables, hook=hook, trace=record)
    return Derivation(f, variables, tuple(steps), results)


def substitute(expr: Expr, old: Expr, new: Expr) -> Expr:
    """``expr`` with every occurrence of ``old`` replaced by ``new`` (same shape), rebuilt bottom-up
    without recursion. Nodes are rebuilt as they were, not re-simplified, so the result prints and
    evaluates like the original."""
    if old.shape != new.shape:
        raise InputError("substitute: the replacement must have the shape of what it replaces")
    done: Dict[Expr, Expr] = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in done:
            continue
        if node == old:
            done[node] = new
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in node.args if child not in done)
            continue
        args = tuple(done[child] for child in node.args)
        if args == node.args:
            done[node] = node
            continue
        rebuilt = object.__new__(type(node))
        Expr.__init__(rebuilt, args, node.params, node.shape)
        done[node] = rebuilt
    return done[expr]
