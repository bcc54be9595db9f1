"""A matrix formula entry by entry, in index notation: ``(W x - y) x^\\top`` at (i, j) is
``\\left(\\sum_{k} W_{ik} x_{k} - y_{i}\\right) x_{j}``.

A visitor (one ``_<Node>`` method per node) that returns the LaTeX of the entry of a node at a row
index and a column index (None for a dimension of size 1). A matrix product sums over a fresh index;
a node it has no entry rule for is written as the entry of its matrix form, ``\\left[...\\right]_{ij}``,
which the reader reads too. Everything printed here reads back (`index_notation`) to the same matrix.
"""

from __future__ import annotations

from typing import Optional

from nnsym.declare.expressions import Expr, Symbol, scalar
from nnsym.declare.names import canonical_name
from nnsym.emit.latex import latex
from nnsym.errors import InputError

_SUMMATION_LETTERS = "klpqrstuvabcdefgh"


class _Entry:
    """LaTeX of one entry, and whether it is a sum or difference (parenthesised inside a product)."""

    def __init__(self, text: str, loose: bool = False):
        self.text, self.loose = text, loose

    def tight(self) -> str:
        return f"\\left({self.text}\\right)" if self.loose else self.text


class IndexPrinter:
    def __init__(self, taken=()):
        self.taken = set(taken)

    def fresh(self) -> str:
        letter = next(c for c in _SUMMATION_LETTERS if c not in self.taken)
        self.taken.add(letter)
        return letter

    def entry(self, node: Expr, row: Optional[str], col: Optional[str]) -> _Entry:
        if node.is_scalar:
            return _Entry(latex(node), loose=latex(node).lstrip("-").count("+") + latex(node).count(" - ") > 0)
        method = getattr(self, "_" + type(node).__name__, None)
        if method is not None:
            found = method(node, row, col)
            if found is not None:
                return found
        return _Entry(f"\\left[{latex(node)}\\right]_{{{_script(node, row, col)}}}")

    # ----- leaves -----
    def _Symbol(self, node, row, col):
        return _Entry(f"{_braced_name(node.name)}_{{{_script(node, row, col)}}}")

    def _Named(self, node, row, col):
        return _Entry(f"{_braced_name(node.name)}_{{{_script(node, row, col)}}}")

    def _Ones(self, node, row, col):
        return _Entry("1")

    def _Zero(self, node, row, col):
        return _Entry("0")

    def _Identity(self, node, row, col):
        return _Entry(f"\\delta_{{{row}{col}}}")

    # ----- algebra -----
    def _Transpose(self, node, row, col):
        return self.entry(node.args[0], col, row)

    def _Add(self, node, row, col):
        text = ""
        for term in node.args:
            shown = self.entry(term, row, col).text
            if not text:
                text = shown
            elif shown.startswith("-"):
                text += " - " + shown[1:].lstrip()
            else:
                text += " + " + shown
        return _Entry(text, loose=True)

    def _Scale(self, node, row, col):
        factor, operand = node.args
        inner = self.entry(operand, row, col).tight()
        shown = latex(factor)
        if shown == "-1":
            return _Entry("-" + inner)
        if "+" in shown or " - " in shown:
            shown = f"\\left({shown}\\right)"
        return _Entry(f"{shown} {inner}")

    def _MatMul(self, node, row, col):
        left, right = node.args
        if left.cols == 1:  # an outer product: no sum
            return _Entry(f"{self.entry(left, row, None).tight()} {self.entry(right, None, col).tight()}")
        k = self.fresh()
        return _Entry(f"\\sum_{{{k}}} {self.entry(left, row, k).tight()} {self.entry(right, k, col).tight()}")

    def _Hadamard(self, node, row, col):
        return _Entry(" ".join(self.entry(a, row, col).tight() for a in node.args))

    def _HadamardDiv(self, node, row, col):
        top, bottom = (self.entry(a, row, col).text for a in node.args)
        return _Entry(f"\\frac{{{top}}}{{{bottom}}}")

    def _Diag(self, node, row, col):
        return _Entry(f"{self.entry(node.args[0], row, None).tight()} \\delta_{{{row}{col}}}")

    def _Apply(self, node, row, col):
        inner = self.entry(node.args[0], row, col).text
        if " " in inner or inner.startswith("\\left"):
            return None  # a compound argument: written as the entry of the matrix form
        try:
            stand_in = scalar(canonical_name(inner))
        except InputError:
            return None  # a compound argument: written as the entry of the matrix form
        if stand_in.name != inner:
            return None
        return _Entry(latex(node.rebuilt([stand_in], shape=(1, 1))))


def _script(node: Expr, row: Optional[str], col: Optional[str]) -> str:
    if node.cols == 1:
        return row
    if node.rows == 1:
        return col
    return f"{row}{col}"


def _braced_name(name: str) -> str:
    """A name that already has a subscript (``b_{1}``) is bracketed before the entry's: ``[b_{1}]_{i}``."""
    return f"\\left[{name}\\right]" if "_" in name else name


def entrywise(expr: Expr, variable: Symbol, indices=("i", "j")) -> str:
    """The equation ``\\frac{\\partial f}{\\partial W_{ij}} = ...`` of a gradient (of ``variable``'s
    shape) written entry by entry."""
    row, col = indices
    if variable.cols == 1:
        script, col = row, None
    elif variable.rows == 1:
        script, row = col, None
    else:
        script = f"{row}{col}"
    printer = IndexPrinter(taken={row, col})
    return f"\\frac{{\\partial f}}{{\\partial {_braced_name(variable.name)}_{{{script}}}}} = " \
           f"{printer.entry(expr, row, col).text}"
