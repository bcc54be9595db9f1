"""Recurrent networks (issue 15): families of names over time steps and sums over them, unrolled.

A *family* is a base name with steps: ``h`` when ``h_{1}``, ``h_{2}``, ... are declared or defined (``h_1`` and
``h_{1}`` are one name), or every step at once when ``x_t`` is declared with the index letter ``t``
(``--shape x_t=2``: x_1 ... x_T, each 2x1; steps 1 to T when ``T`` is defined, every step from 1 otherwise).

A *sum over time steps* is ``\\sum_{t=a}^{b} ...`` whose index is in the subscript of a family's name in the
formula (``h_t``, ``h_{t-1}``, ``\\delta_{t+1}``), with limits that are whole numbers or defined constants
(``\\sum_{t=1}^{T}`` with ``T = 3`` defined). It is unrolled here into the sum of its terms, each term the
body with ``h_{t-1}`` replaced by the step it names (``h_{0}``, ``h_{1}``, ...). A term that names a step
the family does not have is refused naming it; so is an index used for steps and for entries at once,
and a step name (``h_t``) that no sum over its index binds. Any other ``\\sum`` is index notation
(`index_notation`): ``\\sum_i x_i`` over the entries of a declared vector.

The reader calls this module at three hooks: the scanner keeps a sum's limits (`Summed`), `prepare` looks at
the scanned tokens (which sums are over steps; the symbols of the step names they use), and the builder
unrolls a sum over steps (`unroll`) and checks that no step name is left unbound (`require_bound`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from nnsym.declare.expressions import Expr, Symbol, Zero, add, matrix, post_order, scalar, vector
from nnsym.declare.names import canonical_name
from nnsym.errors import InputError, ParseError

_SUBSCRIPTED = re.compile(r"^(.+)_\{([^{}]+)\}$")
_TERM = re.compile(r"([+-]?)([0-9]+|[A-Za-z])")
TEMPLATE_INDEX = "t"  # --shape x_t=2 declares the family x over the steps
MAX_STEPS = 64  # a sum over more steps is refused (the unrolled graph grows with every step)
_UNICODE_MINUS = re.compile("\u2212")


def respell_minus(text: str) -> str:
    """h_{t\u22121}: a unicode minus inside a subscript is a minus (copied from a PDF, typed on a phone)."""
    if "\u2212" not in text:
        return text
    return re.sub(r"_\{[^{}]*\}", lambda m: m.group(0).replace("\u2212", "-"), text)


class Summed(tuple):
    """The indices of a ``\\sum`` (what index notation needs) with its limits as written, and the refusal
    index notation would give for them (a sum over entries runs from 1 or 0), raised unless the sum is
    over time steps."""

    lower: Optional[str] = None
    upper: Optional[str] = None
    col: int = 0
    refusal: Optional[Tuple[int, str]] = None

    def __new__(cls, indices, lower=None, upper=None, col=0, refusal=None):
        made = super().__new__(cls, indices)
        made.lower, made.upper, made.col, made.refusal = lower, upper, col, refusal
        return made


@dataclass(frozen=True)
class TimeSum:
    """``\\sum_{index=lower}^{upper}`` over time steps (the token value of a SUM the builder unrolls)."""

    index: str
    lower: int
    upper: int
    col: int


@dataclass
class Steps:
    """What `prepare` found in one formula: the step names it uses (generic ``h_{t-1}`` -> its base,
    subscript and first column) and how to find a family's step."""

    symbols: Dict[str, Expr]
    constants: Mapping[str, int]
    families: Dict[str, "Family"]
    generic: Dict[str, Tuple[str, str, int]] = field(default_factory=dict)


@dataclass
class Family:
    base: str
    steps: Dict[int, str] = field(default_factory=dict)  # step -> the declared or defined name
    template: Optional[Expr] = None  # x_t declared: every step has its shape

    def shape(self, symbols):
        """The steps' shape: of the steps declared or defined, else of the template (x_t declared)."""
        if self.steps:
            return symbols[self.steps[min(self.steps)]].shape
        return self.template.shape

    def describe(self, constants) -> str:
        if self.template is not None:
            last = constants.get("T")
            return f"steps 1 to {last}" if last is not None else "steps from 1"
        known = sorted(self.steps)
        if known == list(range(known[0], known[-1] + 1)):
            return f"steps {known[0]} to {known[-1]}" if len(known) > 1 else f"only step {known[0]}"
        return "steps " + ", ".join(map(str, known))


def _split(name: str) -> Optional[Tuple[str, str]]:
    match = _SUBSCRIPTED.match(name)
    return (match.group(1), match.group(2).replace(" ", "")) if match else None


def families(symbols: Mapping[str, Expr], constants: Mapping[str, int]) -> Dict[str, Family]:
    found: Dict[str, Family] = {}
    for name, symbol in symbols.items():
        split = _split(name)
        if split is None:
            continue
        base, sub = split
        if sub.isdigit():
            found.setdefault(base, Family(base)).steps[int(sub)] = name
        elif sub == TEMPLATE_INDEX and not symbol.is_scalar:
            found.setdefault(base, Family(base)).template = symbol
    return found


def letters(sub: str) -> set:
    return {m.group(2) for m in _TERM.finditer(sub) if m.group(2).isalpha()}


def value_of(sub: str, env: Mapping[str, int]) -> Optional[int]:
    """The whole number a subscript such as ``t-1``, ``T+1`` or ``3`` stands for with the letters of ``env``;
    None when it is no such sum of letters and whole numbers, or a letter has no value."""
    sub = sub.replace(" ", "")
    if not sub or _TERM.sub("", sub) or sub[0] == "+":
        return None
    total = 0
    for sign, term in _TERM.findall(sub):
        if term.isalpha():
            if term not in env:
                return None
            term = env[term]
        total += -int(term) if sign == "-" else int(term)
    return total


def _is_step_subscript(sub: str) -> bool:
    """t, t-1, t+1, T+1, 2: a sum of at most one or two letters and whole numbers (not hh, not ij)."""
    if not sub or _TERM.sub("", sub.replace(" ", "")) or sub[0] == "+":
        return False
    terms = _TERM.findall(sub.replace(" ", ""))
    return not any(a[1].isalpha() and b[1].isalpha() and not b[0] for a, b in zip(terms, terms[1:]))


def _error(text: str, col: int, message: str) -> ParseError:
    from nnsym.declare.reading.scanner import _located  # the scanner's caret picture
    return _located(ParseError, text, col, message)


def step_symbol(family: Family, step: int, symbols: Dict[str, Expr], constants) -> Optional[Expr]:
    """The symbol of a family's step, made from the template (``x_t`` declared) when needed."""
    if step in family.steps:
        return symbols[family.steps[step]]
    if family.template is None or step < 1 or ("T" in constants and step > constants["T"]):
        return None
    name = canonical_name(f"{family.base}_{{{step}}}")
    made = _declared(name, family.template.shape, family.template.assumptions)
    symbols[name] = made
    family.steps[step] = name
    return made


def _declared(name, shape, assume=()):
    rows, cols = shape
    assume = sorted(assume) or None
    if rows == 1 and cols == 1:
        return scalar(name, assume)
    return vector(name, rows, assume) if cols == 1 else matrix(name, rows, cols, assume)


# ----- hook 1: after scanning -------------------------------------------------------------------------

def prepare(text: str, tokens, symbols: Dict[str, Expr], constants: Optional[Mapping[str, int]]) -> Optional[Steps]:
    """Mark the sums over time steps (their token's value becomes a `TimeSum`), rename a step written with
    constants (``h_{T}`` -> ``h_{3}``) and declare the symbols of the step names a sum's index is in
    (``h_{t-1}`` with h's shape). Sums over entries get index notation's checks. Returns None when the
    formula has no families (then nothing here applies)."""
    constants = dict(constants or {})
    sums = [t for t in tokens if t.type == "SUM" and isinstance(t.value, Summed)]
    found = families(symbols, constants)
    names = [t for t in tokens if t.type == "NAME"]
    time_letters = set()
    if found:
        summed = {s.value[0] for s in sums if len(s.value) == 1}
        for token in names:
            split = _named(token, found)
            if split and split[0] in found and _is_step_subscript(split[1]):
                time_letters |= letters(split[1]) & summed
    for token in sums:
        if len(token.value) == 1 and token.value[0] in time_letters:
            token.value = _time_sum(text, token, constants)
        elif token.value.refusal:
            raise _error(text, *token.value.refusal)
    if not found:
        return None
    steps = Steps(symbols, constants, found)
    for token in names:
        split = _named(token, found)
        if split is None:
            continue
        base, sub = split
        bound = letters(sub) & time_letters
        if base not in found:
            if bound and base in symbols and not symbols[base].is_scalar:
                raise _error(text, token.column, f"{base}_{{{sub}}}: {''.join(sorted(bound))} numbers the time steps "
                                                 f"of this sum, but {base} is a declared vector (an entry of it?): "
                                                 f"an index is for steps or for entries, not both")
            continue
        family = found[base]
        if not _is_step_subscript(sub):
            continue
        free = letters(sub) - set(constants)
        if base in symbols and not symbols[base].is_scalar and bound:
            raise _error(text, token.column, f"{base}_{{{sub}}}: {base} is declared and has time steps; "
                                             "an index is for steps or for entries, not both")
        if bound:
            if len(free) > 1:
                raise _error(text, token.column, f"{base}_{{{sub}}}: a step is the sum's index plus or minus "
                                                 "a whole number (h_{t-1}, h_{t+1})")
            name = canonical_name(f"{base}_{{{sub}}}")
            symbols[name] = _declared(name, family.shape(symbols))  # bound by the sum: a step, whatever h_{t} was
            steps.generic.setdefault(name, (base, sub, token.column))
        elif free:  # h_t in a formula without a sum over t: a name of its own (the recursion for a symbolic t)
            continue
        elif letters(sub):
            step = value_of(sub, constants)
            made = step_symbol(family, step, symbols, constants)
            if made is None:
                raise _error(text, token.column, f"{base}_{{{sub}}} is {base}_{{{step}}}, a step that does not "
                                                 f"exist ({base} has {family.describe(constants)})")
            _rename(token, split, step)
        else:
            step_symbol(family, int(sub), symbols, constants)  # x_1 of a declared x_t
    return steps


def _rename(token, split, step) -> None:
    """h_{T} -> h_{3}: the token names the step itself."""
    parts = token.value
    token.value = parts._replace(scripts=re.sub(r"_\{?[^{}]*\}?$", f"_{{{step}}}", parts.scripts))


def _named(token, found) -> Optional[Tuple[str, str]]:
    """(base, subscript) of a subscripted name; of its last letter when the builder will split it (Vh_t)."""
    parts = token.value
    try:
        split = _split(canonical_name(parts.base + parts.scripts))
        if split and split[0] not in found and parts.splittable:
            split = _split(canonical_name(parts.base[-1] + parts.scripts)) or split
        return split
    except InputError:
        return None


def _time_sum(text: str, token, constants: Mapping[str, int]) -> TimeSum:
    summed = token.value
    index = summed[0]
    bounds = []
    for which, written in (("lower", summed.lower), ("upper", summed.upper)):
        if written is None:
            raise _error(text, token.column, f"\\sum_{{{index}}} over time steps needs its limits: "
                                             f"\\sum_{{{index}=1}}^{{T}} (with T defined) or \\sum_{{{index}=1}}^{{3}}")
        value = value_of(written, constants)
        if value is None:
            unknown = sorted(letters(written) - set(constants))
            said = (f"{', '.join(unknown)} is not defined: define it (--define 'T = 3') so that the sum can be unrolled"
                    if unknown else "a limit is a whole number or a defined constant (T, T-1)")
            raise _error(text, token.column, f"\\sum_{{{index}={summed.lower}}}^{{{summed.upper}}} over time steps: {said}")
        bounds.append(value)
    lower, upper = bounds
    if upper - lower + 1 > MAX_STEPS:
        raise _error(text, token.column, f"a sum over {upper - lower + 1} time steps; at most {MAX_STEPS} are unrolled")
    return TimeSum(index, lower, upper, token.column)


# ----- hook 2: the builder unrolls ---------------------------------------------------------------------

def unroll(steps: Steps, text: str, total: TimeSum, body: Expr) -> Expr:
    """The sum of ``body`` at each step: its step names (h_{t-1}) replaced by the steps they name."""
    generic = {name: info for name, info in steps.generic.items() if total.index in letters(info[1])}
    symbols = steps.symbols
    terms = []
    for t in range(total.lower, total.upper + 1):
        mapping = {}
        for node in post_order([body]):
            if not isinstance(node, Symbol) or node.name not in generic:
                continue
            base, sub, col = generic[node.name]
            env = {**steps.constants, total.index: t}
            step = value_of(sub, env)
            made = step_symbol(steps.families[base], step, symbols, steps.constants)
            if made is None:
                raise _error(text, col, f"{base}_{{{sub}}} at {total.index} = {t} is {base}_{{{step}}}, a step that "
                                        f"does not exist ({base} has {steps.families[base].describe(steps.constants)}); "
                                        f"the sum runs from {total.index} = {total.lower} to {total.upper}")
            if made.shape != node.shape:
                raise _error(text, col, f"{base}_{{{step}}} is {made.rows}x{made.cols}, but other steps of {base} are "
                                        f"{node.rows}x{node.cols}")
            mapping[node] = made
        terms.append(_substituted(body, mapping))
    if not terms:  # \sum_{t=2}^{T} with T = 1: no term, the zero of the body's shape
        return Zero(*body.shape)
    return add(*terms)


def _substituted(expr: Expr, mapping: Dict[Expr, Expr]) -> Expr:
    if not mapping:
        return expr
    done: Dict[Expr, Expr] = {}
    for node in post_order([expr]):
        done[node] = mapping.get(node) or node.rebuilt([done[child] for child in node.args])
    return done[expr]


# ----- hook 3: nothing left unbound -------------------------------------------------------------------

def require_bound(steps: Optional[Steps], text: str, value: Expr) -> None:
    """A step name (h_t, h_{t-1}) outside every sum over its index is refused: which step would it be?"""
    if steps is None or not steps.generic:
        return
    for node in post_order([value]):
        if isinstance(node, Symbol) and node.name in steps.generic:
            base, sub, col = steps.generic[node.name]
            index = "".join(sorted(letters(sub) - set(steps.constants)))
            raise _error(text, col, f"{node.name}: no sum over {index} encloses it (a sum covers the terms "
                                    f"after it up to the next + or -: write \\sum_{{{index}=1}}^{{T}} (...) with the whole term in "
                                    "parentheses), so it names no step")


def with_hint(steps: Optional[Steps], error: Exception) -> Exception:
    """A shape error in a formula with a sum over time steps, with the likeliest cause said: the sum covers
    the products after it up to the next + or - (``\\sum_t a_t + b`` is ``(\\sum_t a_t) + b``)."""
    if steps is None or not steps.generic:
        return error
    lines = str(error).splitlines()
    lines[0] += ("; note that a product binds tighter than \\odot (a \\odot b c is a \\odot (b c)) and a sum covers "
                 "the terms after it up to the next + or -: write \\sum_{t=1}^{T} (...) with the whole term in "
                 "parentheses, e.g. (\\delta_t \\odot a_t) h_{t-1}^\\top")
    again = type(error)("\n".join(lines))
    again.column = getattr(error, "column", None)
    return again


# ----- issue 15i: a name's family and step, for the derivation's delta naming -----------------------

def step_of(name: str) -> Optional[Tuple[str, int]]:
    """(base, step) of a step name (``h_{3}`` -> ("h", 3), ``a^{(f)}_{2}`` -> ("a^{(f)}", 2)); None for
    any other name (``W``, ``x_t``, ``W_{hh}``)."""
    split = _split(canonical_name(name))
    return (split[0], int(split[1])) if split and split[1].isdigit() else None
