"""`bptt`: the backpropagation-through-time equations of an unrolled RNN, LSTM or GRU, verified, and
the recursion for a symbolic t that lecturers write on the board.

The unrolled gradients are checked by central finite differences (and the elementwise oracle where
small) before anything is handed out. The symbolic-t recursion is an interior step of the derivation
with its indices renamed (`nnsym.derive.bptt`); it is handed out only if, put back at every interior
step of a four-step unrolling, it is exactly that step's delta and gradient term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from nnsym.declare import recurrent
from nnsym.declare.recurrent import Unrolled
from nnsym.derive import bptt as derive
from nnsym.emit.latex import Notation, latex
from nnsym.errors import InputError, VerificationError
from nnsym.present.bptt_form import summed
from nnsym.present.results import _require, verify_gradients
from nnsym.verify.finite_differences import Report

TEMPLATE_STEPS = 4  # steps 2 and 3 are interior: each has a t - 1 and a t + 1


@dataclass(frozen=True)
class Bptt:
    """The unrolled equations (``deltas``, ``gradients``), their checks, and ``recursion``: (left,
    right) LaTeX pairs of the equations for a symbolic t."""

    model: Unrolled
    equations: derive.BpttEquations
    reports: Tuple[Report, ...]
    recursion: Tuple[Tuple[str, str], ...]

    def lines(self, notation: Notation = Notation()):
        # Named intermediates print as their names; opaque() makes them symbols, so that the size
        # bound on written-out formulas measures what is printed, not what the names stand for.
        lines = [(d.name, latex(derive.opaque(G), notation)) for d, G in self.equations.deltas]
        for p in self.model.parameters:
            gradient = derive.opaque(self.equations.gradients[p])
            lines.append((rf"\frac{{\partial L}}{{\partial {p.name}}}", latex(gradient, notation)))
        return lines

    def latex(self, notation: Notation = Notation()) -> str:
        rows = [rf"{lhs} &= {rhs}" for lhs, rhs in self.lines(notation)]
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

    def recursion_latex(self) -> str:
        rows = [rf"{lhs} &= {rhs}" for lhs, rhs in self.recursion]
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

    def _repr_latex_(self):
        return self.recursion_latex()


def _symbolic_recursion(model: Unrolled) -> Tuple[Tuple[str, str], ...]:
    """The equations at step t, read off step 2 of a four-step twin and checked at step 3."""
    n_in, n_hidden, n_out, batch = model.sizes
    twin = recurrent.unroll(model.cell, n_in, n_hidden, n_out, TEMPLATE_STEPS, batch, model.loss_name, model.mean)
    equations = derive.bptt(twin)
    by_name = {d.name: G for d, G in equations.deltas}
    rows = []
    for delta, G in equations.deltas:
        if derive.index_of(delta.name) != 2:
            continue
        template = derive.shifted(G, 2)
        # the same formula, moved to step 3, must be step 3's delta exactly
        at_three = derive.renamed(template, lambda n: n.replace("{t+1}", "{4}").replace("{t-1}", "{2}").replace("{t}", "{3}"))
        if derive.opaque(at_three) != derive.opaque(by_name[delta.name.replace("{2}", "{3}")]):
            raise VerificationError(f"the recursion for {delta.name} is not the same at every step")
        rows.append((derive.shifted(delta, 2).name, latex(derive.opaque(template))))
    for p in twin.parameters:
        term = derive.step_term(equations.gradients[p], 2)
        if term is None:
            continue
        template = derive.shifted(term, 2)
        moved = derive.renamed(template, lambda n: n.replace("{t+1}", "{4}").replace("{t-1}", "{2}").replace("{t}", "{3}"))
        if derive.opaque(moved) != derive.opaque(derive.step_term(equations.gradients[p], 3)):
            raise VerificationError(f"the term of dL/d{p.name} is not the same at every step")
        # a sum covers what follows up to + or −: Σ_t (ŷ_t − y_t), not (Σ_t ŷ_t) − y_t
        rows.append((rf"\frac{{\partial L}}{{\partial {p.name}}}", summed(derive.opaque(template))))
    return tuple(rows)


def bptt(model: Unrolled, verify: bool = True, oracle: bool = False) -> Bptt:
    """The BPTT equations of ``model`` (from `nnsym.rnn`, `nnsym.lstm`, `nnsym.gru`), checked."""
    if not isinstance(model, Unrolled):
        raise InputError(f"bptt takes an unrolled recurrent network (nnsym.rnn(...)), not {type(model).__name__}")
    equations = derive.bptt(model)
    reports = ()
    if verify:
        reports = _require(verify_gradients(model.loss, equations.gradients, oracle=oracle), "BPTT")
    return Bptt(model, equations, reports, _symbolic_recursion(model))

