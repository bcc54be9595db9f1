"""A derivation's board lines (`nnsym.derive.steps`) as a LaTeX ``align*``: one line per cotangent,
``\\frac{\\partial f}{\\partial u} &= G && \\text{rule, shape}``."""

from __future__ import annotations

from typing import Sequence

import sympy

from nnsym.declare.expressions import Named, Symbol
from nnsym.derive.steps import Derivation, Line
from nnsym.emit.latex import Notation, latex

# Characters that mean something to TeX inside \text{...}, and how to write them there.
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "^": r"\^{}", "_": r"\_", "&": r"\&",
    "%": r"\%", "#": r"\#", "$": r"\$", "~": r"\~{}",
}


def text_escape(text: str) -> str:
    """Plain text made safe for \\text{...}, character by character."""
    return "".join(_TEXT_ESCAPES.get(ch, ch) for ch in text)


def partial(function_name: str, line: Line, notation: Notation = Notation()) -> str:
    """df/du with u as printed; a compound u is parenthesised."""
    node = latex(line.node, notation)
    if not isinstance(line.node, (Symbol, Named)):
        node = rf"\left({node}\right)"
    return rf"\frac{{\partial {function_name}}}{{\partial {node}}}"


def shape_latex(shape) -> str:
    rows, cols = (latex_size(d) for d in shape)
    return rf"{rows} \times {cols}"


def latex_size(size) -> str:
    return sympy.latex(size)


def steps_latex(derivation: Derivation, detail: str = "key", function_name: str = "f",
                notation: Notation = Notation()) -> str:
    """The lines at ``detail`` as an ``align*`` with each line's rule and shape in \\text."""
    return align(derivation.lines(detail), function_name, notation)


def align(lines: Sequence[Line], function_name: str = "f", notation: Notation = Notation()) -> str:
    rows = []
    for line in lines:
        why = "; ".join(line.rules) if line.rules else "result"
        note = rf"\text{{{text_escape(why)}}},\ {shape_latex(line.shape)}"
        rows.append(rf"{partial(function_name, line, notation)} &= {latex(line.cotangent, notation)} && {note}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
