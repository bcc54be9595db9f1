"""What `nnsym derive` prints with ``--layout`` and ``--index``: the gradient in either layout, and
entry by entry (index notation) beside the matrix form."""

from __future__ import annotations

from typing import List

from nnsym.declare.expressions import transpose
from nnsym.emit.index_latex import entrywise
from nnsym.emit.latex import latex
from nnsym.present.claims import gradient_json
from nnsym.present.results import Gradient

LAYOUT_NUMERATOR = "numerator layout: the gradient transposed (a row for a column vector), as in Jacobian-layout texts"


def _numerator_equation(gradient: Gradient) -> str:
    """As numerator-layout texts write it: the same left side, the gradient transposed (a row for a
    column vector). (``\\partial W^\\top`` would read as a derivative by the transpose, a part of f.)"""
    variable = latex(gradient.variable)
    return (rf"\frac{{\partial {gradient.function_name}}}{{\partial {variable}}} = "
            f"{latex(transpose(gradient.expression))}")


def derive_lines(gradient: Gradient, layout: str = "denominator", index: bool = False) -> List[str]:
    """The lines `nnsym derive` prints (without the verification reports)."""
    if layout == "numerator":
        lines = [_numerator_equation(gradient), f"% {LAYOUT_NUMERATOR}"]
    else:  # issue 15i: a typed recurrent network as BPTT (the deltas, then the sum over steps)
        lines = [*gradient.lines(), f"% {gradient.layout}"]
    lines += [f"% {note}" for note in gradient.assumptions_used]  # issue 10: what makes a short form right
    if index and not gradient.variable.is_scalar:
        if "_" in gradient.variable.name:
            lines.append(f"% no entry-wise form: the entries of {gradient.variable.name} would read as names "
                         "(name the variable without a subscript, e.g. b^{(1)})")
        else:
            lines.append(index_equation(gradient))
            lines.append("% entry by entry (index notation)")
    return lines


def index_equation(gradient: Gradient) -> str:
    return entrywise(gradient.expression, gradient.variable).replace(
        r"\partial f}", f"\\partial {gradient.function_name}}}", 1)


def derive_json(gradient: Gradient, layout: str = "denominator", index: bool = False, spellings=None) -> dict:
    found = gradient_json(gradient, spellings)
    if layout == "numerator":
        found["gradient"] = latex(transpose(gradient.expression))
        found["layout"] = LAYOUT_NUMERATOR
    if index and not gradient.variable.is_scalar and "_" not in gradient.variable.name:
        found["index"] = index_equation(gradient)
    if gradient.bptt and layout != "numerator":  # issue 15i: the BPTT lines, as printed
        found["steps"] = list(gradient.lines())
    return found
