"""A derivation step by step: which rule reverse mode applied where, with the cotangents it formed.

`derive_steps` runs `reverse.cotangents` with a trace and keeps one frozen `Step` per visited node:
the node, its cotangent G = df/d(node) (the sum of what its parents passed down), the rule applied
at the node (named by the identity in its docstring in `nnsym.derive.rules`) and what it passed to
each child. A `Derivation` lists, at a chosen level of detail, the lines a lecturer writes on the
board, df/d(node) = G each with the rules that produced it; printing them is `nnsym.emit.steps_latex`.

Each line is a claim that can be checked on its own: replace every occurrence of the node in f by a
fresh symbol s; then df/ds, taken where s equals the node's value, is G (`Line.stand_in`). That holds
because G is the total cotangent of the node (every parent has passed its part before the node is
visited). G itself is not rewritten in s: an occurrence of the node inside G may come from another
path (d(x^T A x)/d(x^T) = x^T A^T, where that x^T is the other factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from nnsym.declare import expressions as E
from nnsym.declare.attention import ColumnBlock, PadColumns, RowSoftmax
from nnsym.declare.correlation import Correlate, Rot180
from nnsym.declare.composite import Composite
from nnsym.declare.expressions import Expr, Named, Symbol
from nnsym.declare.normalization import Normalize, StdDev
from nnsym.derive.reverse import CotangentHook, cotangents
from nnsym.derive.rules import rule_for
from nnsym.errors import InputError

DETAILS = ("result", "key", "every")

# Rules a lecturer applies without writing a line: sums, scalar factors, transposes, names.
ROUTINE = (E.Add, E.Scale, E.Transpose, E.Named)

# Fresh names for the symbol that stands in for a node when a line is checked.
_STAND_INS = (r"\xi", r"\zeta", r"\eta", r"\chi", r"\psi", r"\omega", r"\upsilon")


@dataclass(frozen=True)
class RuleName:
    """How a rule is named on the board: plain ``text`` (for tables and tests) and ``latex``."""

    text: str
    latex: str


def _named(text: str) -> RuleName:
    return RuleName(text, rf"\text{{{text}}}")


CHAIN = _named("chain rule")
PATHS = _named("sum over paths")
SUM = _named("sum rule")
CONSTANT = _named("constant factor")
PRODUCT = _named("product rule")
ODOT_DIAG = RuleName("⊙/diag rule", r"\odot/\operatorname{diag}\text{ rule}")
ODOT_PRODUCT = RuleName("product rule for ⊙", r"\text{product rule for }\odot")
TRACE_CYCLIC = _named("product rule, trace cyclicity")
TRANSPOSE_RULE = _named("product rule, transpose rule")
SOFTMAX_CE = _named("softmax-CE simplification")
SIGMOID_CE = _named("sigmoid-CE simplification")

def derivative_of(function) -> RuleName:
    """The rule for a scalar function of a scalar: its derivative, named by its symbol (\\sigma, \\tanh)."""
    symbol = function.spec.latex
    symbol = r"\sqrt{\cdot}" if symbol == r"\sqrt" else symbol  # \sqrt alone takes the next token
    return RuleName(f"derivative of {function.name}", rf"\text{{derivative of }}{symbol}")


# The name of the rule a node of each type applies to its children: one entry, one per child where the
# operands are treated differently, or a function of the node. For the matrix product AB with upstream G,
# tr(G^T dA B) = tr(B G^T dA) gives G B^T (trace cyclicity) and tr(G^T A dB) = tr((A^T G)^T dB) gives
# A^T G (transpose rule).
RULE_NAMES = {
    E.Add: SUM,
    # c A with a number c takes out a constant; with a variable c it is the product rule.
    E.Scale: lambda node: CONSTANT if E.number(node.args[0]) is not None else PRODUCT,
    E.MatMul: (TRACE_CYCLIC, TRANSPOSE_RULE),
    E.Transpose: _named("transpose rule"),
    E.Hadamard: ODOT_PRODUCT,
    E.HadamardDiv: _named("quotient rule"),
    # sigma(z) entry by entry is diag(sigma'(z)) dz = sigma'(z) o dz; for a scalar z it is the plain derivative
    E.Apply: lambda node: ODOT_DIAG if not node.is_scalar else derivative_of(node.function),
    E.Power: _named("power rule"),
    E.NormSq: _named("squared-norm rule"),
    E.Norm: _named("norm rule"),
    E.Sum: _named("sum of entries"),
    E.Trace: _named("trace rule"),
    E.Diag: _named("diag rule"),
    E.DiagPart: _named("diag rule"),
    E.Inverse: _named("inverse rule"),
    E.Det: _named("Jacobi's formula"),
    E.LogDet: _named("log-det rule"),
    E.Softmax: _named("softmax Jacobian"),
    E.LogSoftmax: _named("log-softmax Jacobian"),
    E.LogSumExp: _named("logsumexp rule"),
    E.SoftmaxCrossEntropy: (SOFTMAX_CE, _named("log-softmax rule")),
    E.BinaryCrossEntropy: (SIGMOID_CE, _named("linear in the targets")),
    E.Named: _named("definition"),
}

# Normalization and attention (issue 14).
RULE_NAMES.update({
    Normalize: lambda node: _named("batch-norm rule" if node.over == "batch" else "layer-norm rule"),
    StdDev: _named("standard-deviation rule"),
    RowSoftmax: _named("row-softmax Jacobian"),
    ColumnBlock: _named("column block"),
    PadColumns: _named("column block"),
    Composite: _named("definition"),
})
ROUTINE = ROUTINE + (Composite,)  # BN(Z, gamma, beta) is opened up without a line of its own

# Single-channel correlation as typed (issue 15e).
RULE_NAMES.update({Correlate: _named("correlation rule"), Rot180: _named("rotation rule")})


def rule_name(node: Expr, position: int) -> RuleName:
    """The name of the rule ``node`` applies to its child number ``position``."""
    entry = RULE_NAMES.get(type(node))
    if entry is None:
        return _named(type(node).__name__)
    if callable(entry):
        entry = entry(node)
    return entry[position] if isinstance(entry, tuple) else entry


def rule_identity(node: Expr) -> str:
    """The identity the node's rule encodes: the first line of its docstring."""
    rule = rule_for(node)
    if rule is None or not rule.__doc__:
        return type(node).__name__
    return rule.__doc__.strip().splitlines()[0]


@dataclass(frozen=True)
class Step:
    """One rule application: at ``node`` with cotangent ``cotangent``, the rule ``rule`` (its identity)
    passed ``contributions`` ((child, its part of df/d child, the rule's name for it), ...) down. A
    variable's step applies no rule."""

    node: Expr
    cotangent: Expr
    rule: Optional[str]
    contributions: Tuple[Tuple[Expr, Expr, RuleName], ...]

    @property
    def shape(self):
        return self.node.shape


@dataclass(frozen=True)
class Line:
    """df/d(node) = cotangent, obtained by ``rules`` (the rules applied since the line above it)."""

    node: Expr
    cotangent: Expr
    rules: Tuple[RuleName, ...]
    is_result: bool
    is_key: bool

    @property
    def shape(self):
        return self.node.shape

    @property
    def rule_text(self) -> str:
        return "; ".join(r.text for r in self.rules) if self.rules else "given"

    def stand_in(self, f: Expr) -> Tuple[Expr, Symbol]:
        """(f with every occurrence of the node replaced by a fresh symbol s, s). The line claims that
        the gradient of that function in s, where s takes the node's own value, is the cotangent: a
        claim finite differences can check (`nnsym.verify.formulas.check_step`)."""
        if isinstance(self.node, Symbol):
            return f, self.node
        taken = {s.name for s in f.free_symbols() | self.cotangent.free_symbols()}
        name = next((n for n in _STAND_INS if n not in taken), None)
        if name is None:
            raise InputError("no fresh name left to stand in for a node while checking a step")
        rows, cols = self.node.shape
        kind = "scalar" if self.node.is_scalar else ("vector" if cols == 1 else "matrix")
        stand_in = Symbol(name, rows, cols, kind)
        return substitute(f, self.node, stand_in), stand_in


def _merge(*groups) -> Tuple[RuleName, ...]:
    return tuple(dict.fromkeys(rule for group in groups for rule in group))


def _unrepeated(rules: Tuple[RuleName, ...]) -> Tuple[RuleName, ...]:
    """The rules a line names, without one already said as part of another: "product rule, transpose
    rule" and "transpose rule" on one line read as a slip, so the second goes unsaid."""
    parts = {rule: set(rule.text.split(", ")) for rule in rules}
    return tuple(rule for rule in rules
                 if not any(other != rule and {rule.text} < parts[other] for other in rules))


@dataclass(frozen=True)
class Derivation:
    """The steps of df/dv for each variable v, in the order reverse mode took them."""

    function: Expr
    variables: Tuple[Symbol, ...]
    steps: Tuple[Step, ...]
    results: Dict[Symbol, Expr]

    def lines(self, detail: str = "key") -> List[Line]:
        """The board lines at a level of detail: "result" (df/dv only), "key" (also every line a
        non-routine rule produced, and named intermediates such as z^{(l)}), "every" (every node).
        A line names the rules applied since the nearest line shown above it, the chain rule when it
        is reached through an intermediate, and the sum over paths where several parents meet."""
        if detail not in DETAILS:
            raise InputError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
        producers: Dict[Expr, List[Tuple[Expr, RuleName]]] = {}
        for step in self.steps:
            for child, _, name in step.contributions:
                producers.setdefault(child, []).append((step.node, name))
        shown: Dict[Expr, bool] = {self.function: False}
        carried: Dict[Expr, Tuple[RuleName, ...]] = {self.function: ()}
        out = []
        for step in self.steps:
            if step.node == self.function:
                continue
            sources = producers.get(step.node, [])
            own = tuple(name for _, name in sources)
            # Rules applied at parents that are not shown are carried down to this line.
            inherited = [carried.get(parent, ()) for parent, _ in sources if not shown.get(parent, False)]
            chain = (CHAIN,) if any(parent != self.function for parent, _ in sources) else ()
            paths = (PATHS,) if len({parent for parent, _ in sources}) > 1 else ()
            rules = _merge(chain, paths, *inherited, own)
            is_result = step.node in self.variables
            is_key = is_result or isinstance(step.node, Named) or any(
                not isinstance(parent, ROUTINE) for parent, _ in sources)
            visible = detail == "every" or (detail == "key" and is_key) or is_result
            shown[step.node] = visible
            # Only the rules worth naming travel down: sums, scalar factors and names go unsaid.
            carried[step.node] = _merge(*inherited, (n for parent, n in sources if not isinstance(parent, ROUTINE)))
            if visible:
                out.append(Line(step.node, step.cotangent, _unrepeated(rules), is_result, is_key))
        return out


def derive_steps(f: Expr, variables: Iterable[Symbol], hook: Optional[CotangentHook] = None) -> Derivation:
    """Reverse mode on ``f`` with every step recorded."""
    variables = tuple(variables)
    steps: List[Step] = []

    def record(node, G, contributions):
        rule = None if isinstance(node, Symbol) else rule_identity(node)
        named, start = [], 0
        for child, contribution in contributions:  # in the order of node.args
            position = next(i for i in range(start, len(node.args)) if node.args[i] == child)
            start = position + 1
            named.append((child, contribution, rule_name(node, position)))
        steps.append(Step(node, G, rule, tuple(named)))

    results = cotangents(f, variables, hook=hook, trace=record)
    return Derivation(f, variables, tuple(steps), results)


def substitute(expr: Expr, old: Expr, new: Expr) -> Expr:
    """``expr`` with every occurrence of ``old`` replaced by ``new`` (same shape), rebuilt bottom-up
    without recursion. Nodes are rebuilt as they were, not re-simplified, so the result prints and
    evaluates like the original."""
    if old.shape != new.shape:
        raise InputError("substitute: the replacement must have the shape of what it replaces")
    done: Dict[Expr, Expr] = {old: new}  # seen: old is replaced, never entered
    for node in E.post_order([expr], seen=done):
        done[node] = node.rebuilt([done[child] for child in node.args])
    return done[expr]
