"""Declarations that `nnsym notes` writes before each display, so that `nnsym lint` reads the notes
in the notes' own terms: the shapes and assumptions of the symbols (``--shape``, ``--assume``), the
functions and named intermediates a derivation refers to (``--define 'z^{(1)} = ...'``), and
``--skip`` before a display that is no derivation step (worked numbers, a system of equations, a
general recursion): those are checked by their own method, listed in the note's verification table.
In TeX they are ``%`` comment lines, in Markdown HTML comments: neither shows in the rendered note."""

from __future__ import annotations

import re
import shlex
from typing import Iterable, List

from nnsym.declare.expressions import Expr, Named, Symbol, post_order
from nnsym.declare.reading import read_latex
from nnsym.errors import NnsymError
from nnsym.emit.latex import latex
from nnsym.present.lint import _CALLED, derivative_of_safe


_NAME = re.compile(r"(?:[A-Za-z]|\\[A-Za-z]+(?:\{[A-Za-z]\})?)(?:_\{?[A-Za-z0-9]+\}?)?(?:\^\{\(\d+\)\})?")


def _size(size) -> str:
    return str(size).replace(" ", "")


def _declarations(exprs: Iterable[Expr]) -> List[str]:
    exprs = [e for e in exprs if e is not None]
    words: List[str] = []
    symbols = sorted({s for e in exprs for s in e.free_symbols()}, key=lambda s: s.name)
    for s in symbols:
        if not s.is_scalar:
            words += ["--shape", f"{s.name}={_size(s.rows)}x{_size(s.cols)}"]
        for kind in sorted(s.assumptions):
            words += ["--assume", f"{s.name}={kind}"]
    for node in post_order(exprs):  # each intermediate after those its definition uses
        if isinstance(node, Named):
            words += ["--define", f"{node.name} = {latex(node.definition)}"]
    return words


def _plain_name(text: str) -> bool:
    """Is ``text`` one name (L, z^{(1)}, \\hat{y}), not a function (\\log) or a formula?"""
    try:
        return bool(_NAME.fullmatch(text)) and isinstance(read_latex(text), Symbol)
    except NnsymError:  # \log, \sigma: a function, not the name of one
        return False


def _function_name(lhs: str):
    """The function named on the left side of a derivative (L in \\nabla_w L, L(w)), or None."""
    derivative = derivative_of_safe(lhs)
    if derivative is None:
        return None
    function = derivative.function.strip()
    called = _CALLED.match(function)
    name = called.group(1).strip() if called and called.group(1).strip() else function
    return name if _plain_name(name) else None


def display() -> List[str]:
    """A display that is no nnsym expression (worked numbers, a system, a recursion): skipped."""
    return ["--skip"]


def derivation(function: Expr, function_name: str) -> List[str]:
    return _declarations([function]) + ["--define", f"{function_name} = {latex(function)}"]


def _readable(text: str, *exprs) -> bool:
    shapes = {s.name: s.shape for e in exprs if isinstance(e, Expr) for s in e.free_symbols()}
    shapes.update({s.name: s.shape for e in exprs[-1] or () for s in e.free_symbols()})
    try:
        read_latex(text, shapes)
        return True
    except NnsymError:
        return False


def formula(expr: Expr, lhs, derivative_of) -> List[str]:
    words = _declarations([expr] + list(derivative_of or ()))
    if derivative_of is not None and lhs:
        derivative = derivative_of_safe(lhs)
        if derivative is None or (derivative.order == 2 and not derivative_of[0].is_scalar):
            return display()  # a left side outside the notation; a Hessian given as d(gradient)/dw
        name = _function_name(lhs)
        if name is None and not _readable(derivative.function, expr, derivative_of):
            return display()  # -\log p(y \mid \hat{y}): probability notation the reader does not read
        if name is not None:
            words += ["--define", f"{name} = {latex(derivative_of[0])}"]
    elif lhs and _plain_name(lhs.strip()):
        words += ["--define", f"{lhs.strip()} = {latex(expr)}"]  # Y = ...: Y is this from here on
    elif lhs and not _is_formula(lhs, expr):
        # a label (\log P(y \mid p), KL(N_0 \| N_1)), not a formula in the expression's symbols: the
        # formula is checked by the note itself; a name in front of the label (L = -\log p(...)) is defined
        head = lhs.split("=")[0].strip()
        if "=" in lhs and _NAME.fullmatch(head):
            words += ["--define", f"{head} = {latex(expr)}"]
        return words + display()
    return words


def _is_formula(lhs: str, expr: Expr) -> bool:
    """Does the left side read as a formula in the symbols of the right side (or is it a name)?"""
    names = {s.name for s in expr.free_symbols()} | {n.name for n in post_order([expr]) if isinstance(n, Named)}
    shapes = {s.name: s.shape for s in expr.free_symbols()}
    for part in lhs.split("="):
        try:
            value = read_latex(part.strip(), shapes)
        except NnsymError:
            return False
        if not isinstance(value, Symbol) and not {s.name for s in value.free_symbols()} <= names:
            return False
    return True


def comment(words: List[str], fmt: str) -> List[str]:
    """The declaration line for ``words`` in format "tex" or "md" (none without words)."""
    if not words:
        return []
    text = " ".join(shlex.quote(w) for w in words)
    return [f"% nnsym: {text}"] if fmt == "tex" else [f"<!-- nnsym: {text} -->"]
