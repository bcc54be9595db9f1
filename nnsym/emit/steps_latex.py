"""A derivation's board lines (`nnsym.derive.steps`) as LaTeX: one row per cotangent,
``\\frac{\\partial f}{\\partial u} &= G && \\text{rule}\\ [m \\times n]``, in an ``align*``.

A cotangent that backprop named (delta^{(l)}) is shown with its name and its definition:
``\\delta^{(2)} = \\frac{\\partial L}{\\partial z^{(2)}} &= ...``.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import sympy

from nnsym.declare.expressions import Named, Symbol
from nnsym.derive.steps import Derivation, Line
from nnsym.emit.latex import ATOM, LatexPrinter, Notation, latex

# Characters that mean something to TeX inside \text{...}, and how to write them there.
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "^": r"\^{}", "_": r"\_", "&": r"\&",
    "%": r"\%", "#": r"\#", "$": r"\$", "~": r"\~{}",
}


def text_escape(text: str) -> str:
    """Plain text made safe for \\text{...}, character by character."""
    return "".join(_TEXT_ESCAPES.get(ch, ch) for ch in text)


def partial(function_name: str, line: Line, notation: Notation = Notation()) -> str:
    """df/du with u as printed; a sum or product u is parenthesised, d(W x), not one that prints as a unit:
    d sigma(z), d x^T, d ||r||^2."""
    node = latex(line.node, notation)
    if not isinstance(line.node, (Symbol, Named)) and LatexPrinter(notation).precedence(line.node) < ATOM:
        node = rf"\left({node}\right)"
    return rf"\frac{{\partial {function_name}}}{{\partial {node}}}"


def shape_latex(shape) -> str:
    rows, cols = (sympy.latex(d) for d in shape)
    return rf"{rows} \times {cols}"


def names_cotangent(line: Line) -> bool:
    """Whether this line is where a cotangent got its name (delta^{(l)} at z^{(l)})."""
    return isinstance(line.node, Named) and isinstance(line.cotangent, Named)


def shown_cotangent(line: Line):
    """What the right side of a line shows: the definition where a name is introduced, else the
    cotangent (which prints as its name, delta^{(l)}, further down)."""
    return line.cotangent.definition if names_cotangent(line) else line.cotangent


def rule_latex(line: Line) -> str:
    """The rules of a line, each in \\text{...}, with the line's shape."""
    names = r",\ ".join(rule.latex for rule in line.rules) if line.rules else r"\text{given}"
    return rf"{names}\quad [{shape_latex(line.shape)}]"


def sides(line: Line, function_name: str = "f", notation: Notation = Notation()) -> Tuple[str, str]:
    """The left side (df/du, with the cotangent's name where it is introduced) and the right side."""
    left = partial(function_name, line, notation)
    if names_cotangent(line):
        left = rf"{latex(line.cotangent, notation)} = {left}"
    return left, latex(shown_cotangent(line), notation)


def rows(lines: Sequence[Line], function_name: str = "f", notation: Notation = Notation()) -> List[str]:
    out = []
    for line in lines:
        left, right = sides(line, function_name, notation)
        out.append(rf"{left} &= {right} && {rule_latex(line)}")
    return out


def align(lines: Sequence[Line], function_name: str = "f", notation: Notation = Notation(),
          environment: str = "align*") -> str:
    return f"\\begin{{{environment}}}\n" + " \\\\\n".join(rows(lines, function_name, notation)) + \
        f"\n\\end{{{environment}}}"


def steps_latex(derivation: Derivation, detail: str = "key", function_name: str = "f",
                notation: Notation = Notation()) -> str:
    """The lines at ``detail`` as an ``align*`` with each line's rules and shape."""
    return align(derivation.lines(detail), function_name, notation)
