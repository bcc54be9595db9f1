"""A typed recurrent network's gradient as lecturers write BPTT: the deltas, then the sum over steps.

A function typed with step families (``--define 'h_1 = \\tanh(W h_0 + U x_1)'`` ...,
``\\sum_{t=1}^{T} \\frac12\\|V h_t - y_t\\|^2``) has a gradient that, written out, nests every later step
inside every earlier one. `nnsym.derive.bptt.delta_equations` names the cotangent of each recurrent
state's step its delta; here the result is made into lines:

    delta_3 = V^T (V h_3 - y_3)
    delta_2 = V^T (V h_2 - y_2) + W^T (delta_3 o tanh'(W h_2 + U x_3))
    ...
    dL/dW = (delta_1 o tanh'(W h_0 + U x_1)) h_0^T + ... (the steps in order)

and, where the formula is exactly the same at every step, the lines for a symbolic t (delta_t = ...,
dL/dW = sum_{t=1}^{T} (...)). The concrete lines are handed out only if the gradient in deltas equals
the checked gradient by value at random points; the symbolic lines only if each, moved back to every
step, is exactly that step's formula (as `nnsym.present.recurrent` checks ns.bptt's recursion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Add, Expr, Symbol
from nnsym.declare.reading.time_steps import step_of
from nnsym.derive import bptt as derive
from nnsym.emit.latex import Notation, latex
from nnsym.errors import NnsymError
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import random_point, small_sizes, symbols_of

POINTS = 2  # the delta form is the same graph renamed: a slip in the renaming shows at any point
RTOL = 1e-9
_FAMILY = re.compile(r"_\{\d+\}$")


@dataclass(frozen=True)
class TypedBptt:
    """The deltas (LaTeX (name, definition) pairs, from the last step down), the gradient in terms of
    them, and the lines for a symbolic t (empty when the formula differs between steps)."""

    deltas: Tuple[Tuple[str, str], ...]
    gradient: str
    recursion_deltas: Tuple[Tuple[str, str], ...] = ()
    recursion_gradient: str = ""
    last_step_note: str = ""  # "\delta_{T+1} = 0" (the last step is the recursion without it), or the steps
    #                           the recursion covers ("\delta_{t} for t < T", then \delta_{T} is a line of its own)

    def lines(self, left: str) -> List[str]:
        """The printed lines; ``left`` is the gradient's left side (\\frac{\\partial L}{\\partial W})."""
        shown = [f"{name} = {value}" for name, value in self.deltas] + [f"{left} = {self.gradient}"]
        if self.recursion_gradient:
            shown.append("% at every step t (the same formula at each step, checked exactly"
                         + (f"; {self.last_step_note}" if self.last_step_note else "") + "):")
            shown += [f"{name} = {value}" for name, value in self.recursion_deltas]
            shown.append(f"{left} = {self.recursion_gradient}")
        return shown


def summed(template: Expr, notation: Notation = Notation()) -> str:
    """\\sum_{t=1}^{T} of a step's term. The reader's sum covers the products after it up to the next + or
    -, so a sum is put in parentheses: sum_t (a_t - y_t), not (sum_t a_t) - y_t; sum_t d_t o tanh'(z_t) needs none."""
    body = latex(template, notation)
    if isinstance(template, Add):
        body = rf"\left({body}\right)"
    return rf"\sum_{{t=1}}^{{T}} {body}"


def _steps_in_order(gradient: Expr, steps: int) -> Optional[Expr]:
    """The gradient's per-step terms with step 1 first (as reverse mode forms them the last comes first),
    or None when its terms are not one per step."""
    terms = [derive.step_term(gradient, k) for k in range(1, steps + 1)]
    if any(term is None for term in terms):
        return None
    return E.add(*terms)


def _agree(f: Expr, truth: Expr, candidates) -> bool:
    symbols = symbols_of(f, truth)
    sizes = small_sizes(symbols)
    rng = np.random.default_rng(11)
    try:
        for _ in range(POINTS):
            point = random_point([f, truth], symbols, sizes, rng)
            expected = evaluate(truth, point, sizes)
            scale = np.linalg.norm(expected) + 1e-300
            for candidate in candidates:
                value = evaluate(candidate, point, sizes)
                if value.shape != expected.shape or not np.linalg.norm(value - expected) <= RTOL * scale:
                    return False
    except (NnsymError, ValueError, np.linalg.LinAlgError):
        return False
    return True


def _at_step(template: Expr, k: int) -> Expr:
    """A symbolic-t formula put back at step k: h_{t-1} -> h_{k-1}."""
    def rename(name):
        found = re.search(r"_\{t([+-]\d+)?\}$", name)
        if not found:
            return name
        return name[:found.start()] + f"_{{{k + int(found.group(1) or 0)}}}"
    return derive.renamed(template, rename)


def _recursion(equations, variable: Symbol, steps: int, notation: Notation):
    """(delta rows, gradient sum, last-step note) for a symbolic t, or None where a formula is not the
    same at every step. Deltas: checked at steps 1 to T-1 (the last has no successor); the gradient's
    term: at every step."""
    if steps < 3:
        return None
    by_name = {d.name: G for d, G in equations.deltas}
    families: Dict[str, List[int]] = {}
    for delta, _ in equations.deltas:
        families.setdefault(_FAMILY.sub("", delta.name), []).append(derive.index_of(delta.name))
    rows, templates = [], {}
    for family, ks in families.items():
        if sorted(ks) != list(range(1, steps + 1)):
            return None
        at = steps - 1
        name = f"{family}_{{{at}}}"
        template = derive.opaque(derive.shifted(by_name[name], at))
        for k in range(1, steps):
            if derive.opaque(_at_step(template, k)) != derive.opaque(by_name[f"{family}_{{{k}}}"]):
                return None
        templates[family] = template
        rows.append((f"{family}_{{t}}", latex(template, notation)))
    term = derive.step_term(equations.gradients[variable], steps - 1)
    if term is None:
        return None
    template = derive.opaque(derive.shifted(term, steps - 1))
    for k in range(1, steps + 1):
        if derive.opaque(_at_step(template, k)) != derive.opaque(derive.step_term(equations.gradients[variable], k)):
            return None
    note = _last_step_note(templates, by_name, steps)
    if templates and not note:  # the last step is not the recursion without step T+1: it is said on its own
        rows = [(f"{family}_{{T}}", latex(_at_last(by_name[f"{family}_{{{steps}}}"], steps), notation))
                for family in templates] + rows
        note = ", ".join(f"{family}_{{t}}" for family in templates) + " for t < T"
    return tuple(rows), summed(template, notation), note


def _at_last(delta: Expr, steps: int) -> Expr:
    """The last step's delta with its steps counted from T: h_{3} -> h_{T} (T = 3), h_{2} -> h_{T-1}. Only
    the names of families with a step T are renamed (a weight W_{1} stays)."""
    opaque = derive.opaque(delta)
    timed = {step_of(n.name)[0] for n in E.post_order([opaque]) if isinstance(n, Symbol) and step_of(n.name)
             and step_of(n.name)[1] == steps}
    def rename(name):
        found = step_of(name)
        if found is None or found[0] not in timed:
            return name
        offset = found[1] - steps
        return f"{found[0]}_{{T{offset:+d}}}" if offset else f"{found[0]}_{{T}}"
    return derive.renamed(opaque, rename)


def _last_step_note(templates, by_name, steps: int) -> str:
    """'\\delta_{T+1} = 0' when each delta at the last step is its recursion with the terms in the deltas
    of step T+1 left out (checked exactly); else ''."""
    later = {f"{family}_{{t+1}}" for family in templates}
    for family, template in templates.items():
        terms = template.args if isinstance(template, Add) else (template,)
        kept = [t for t in terms if not any(isinstance(n, Symbol) and n.name in later for n in E.post_order([t]))]
        if not kept:
            return ""
        last = derive.opaque(by_name[f"{family}_{{{steps}}}"])
        if derive.opaque(_at_step(E.add(*kept), steps)) != last:
            return ""
    return ", ".join(f"{family}_{{T+1}} = 0" for family in templates)


def typed_bptt(f: Expr, variable: Symbol, truth: Expr, notation: Notation = Notation()) -> Optional[TypedBptt]:
    """The BPTT lines of a typed function's gradient, or None where it has no recurrent state (or the
    delta form fails its check: then the gradient is shown as derived)."""
    try:
        equations = derive.delta_equations(f, [variable])
    except NnsymError:
        return None
    if equations is None:
        return None
    gradient = equations.gradients[variable]
    steps = max(derive.index_of(name) for name in derive.state_deltas(f))
    ordered = _steps_in_order(gradient, steps)
    if not equations.deltas and (ordered is None or steps < 2):
        return None  # no delta (V in V h_t) and not a sum over steps: the gradient as derived is the textbook one
    if ordered is not None and _agree(f, truth, [gradient, ordered]):
        gradient = ordered
    elif equations.deltas and _agree(f, truth, [gradient]):
        pass
    else:
        return None
    deltas = tuple((d.name, latex(derive.opaque(G), notation)) for d, G in equations.deltas)
    shown = latex(derive.opaque(gradient), notation)
    recursion = _recursion(equations, variable, steps, notation)
    if recursion is None:
        return TypedBptt(deltas, shown)
    return TypedBptt(deltas, shown, *recursion)
