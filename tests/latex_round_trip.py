"""The LaTeX round trip: every formula nnsym prints reads back, with nnsym's reader, to an expression
that evaluates equal to the one it was printed from.

`Recorder` wraps `LatexPrinter.doprint` (every formula nnsym prints goes through it: `latex()`, the
results, the notes and the derivation steps all print their formulas with it) and keeps each distinct
(LaTeX, expression) pair; `check_round_trip` reads one back and compares values at random points that
honour the symbols' assumptions. tests/conftest.py checks, after each test, what that test printed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from nnsym.declare.expressions import Constant, Expr, Named, post_order
from nnsym.declare.reading import read_latex
from nnsym.emit.latex import LatexPrinter
from nnsym.errors import InputError, NnsymError
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import SMALL_SIZES, random_point, small_sizes, symbols_of

TOLERANCE = 1e-9  # two evaluations of one formula differ only by rounding
POINTS = 2


class RoundTripError(AssertionError):
    """A printed formula that does not read back to its value; the message starts with the LaTeX."""


class Unverifiable(Exception):
    """No point was found where the formula is defined (it is then not counted as checked)."""


def _nodes(expr: Expr, kind):
    return [node for node in post_order([expr]) if isinstance(node, kind)]


def _sizes(expr: Expr, symbols) -> dict:
    """Small distinct values for the symbolic sizes, also those of no symbol: in numbers (the 1/B of a
    mean) or only in the shape of a ones vector."""
    sizes = small_sizes(symbols)
    nodes = _nodes(expr, Expr)
    elsewhere = set().union(*(c.value.free_symbols for c in nodes if isinstance(c, Constant)),
                            *(d.free_symbols for node in nodes for d in node.shape)) - set(sizes)
    for size, value in zip(sorted(elsewhere, key=str), SMALL_SIZES[::-1]):
        sizes[size] = value
    return sizes


def _readable_name(name: str) -> bool:
    try:
        return {s.name for s in read_latex(name, {name: (2, 1)}).free_symbols()} == {name}
    except NnsymError:
        return False


def check_round_trip(expr: Expr, text: str, points: int = POINTS, seed: int = 0) -> float:
    """Read ``text`` back with the shapes and assumptions of ``expr``'s symbols (and of its named
    intermediate results, which print as their names) and compare the values at random points.
    Returns the worst relative error; raises `RoundTripError` naming the LaTeX, or `Unverifiable`."""
    symbols = symbols_of(expr)
    named = {n.name: n for n in _nodes(expr, Named)}
    shapes = {s.name: s.shape for s in symbols}
    shapes.update({name: n.shape for name, n in named.items()})
    assumptions = {s.name: tuple(sorted(s.assumptions)) for s in symbols if s.assumptions}
    try:
        again = read_latex(text, shapes, assumptions, shape=expr.shape)  # "0" is the zero of its shape
    except NnsymError as error:
        unreadable = [name for name in shapes if not _readable_name(name)]
        if unreadable:  # not the printer's doing: names are printed as given
            raise Unverifiable(f"the symbol name {unreadable[0]} is not LaTeX the reader reads") from None
        raise RoundTripError(f"{text}\n  does not read back: {error}") from None
    if again.shape != expr.shape:
        raise RoundTripError(f"{text}\n  reads back with shape {again.shape}, printed from {expr.shape}")
    sizes = _sizes(expr, symbols)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(points):
        try:
            values = random_point([expr], symbols, sizes, rng)
        except InputError as error:
            raise Unverifiable(str(error)) from None
        truth = evaluate(expr, values, sizes)
        values.update({name: evaluate(n, values, sizes) for name, n in named.items()})
        # A size printed inside a number (\frac{1}{B}) reads back as a scalar symbol of that name.
        values.update({str(size): float(value) for size, value in sizes.items() if str(size) not in values})
        try:
            with np.errstate(all="ignore"):
                value = evaluate(again, values, sizes)
        except (NnsymError, np.linalg.LinAlgError) as error:
            raise RoundTripError(f"{text}\n  reads back but cannot be evaluated: {error}") from None
        scale = max(float(np.max(np.abs(truth))), 1e-12)
        error = float(np.max(np.abs(value - truth))) / scale
        if not error <= TOLERANCE:  # also catches NaN
            raise RoundTripError(f"{text}\n  reads back to a different value: relative error {error:.2e} "
                                 f"(read back as {again!r})")
        worst = max(worst, error)
    return worst


@dataclass
class Recorder:
    """Distinct printed formulas, in order; at most ``cap`` of them."""

    cap: int = 5000
    formulas: dict = field(default_factory=dict)  # LaTeX -> the expression printed
    dropped: int = 0
    active: bool = True
    checked: int = 0
    unverifiable: list = field(default_factory=list)
    seconds: float = 0.0

    def record(self, expr, text):
        if not self.active or not isinstance(expr, Expr) or not isinstance(text, str) or text in self.formulas:
            return
        if len(self.formulas) >= self.cap:
            self.dropped += 1
            return
        self.formulas[text] = expr

    def since(self, start: int):
        """The formulas recorded after the first ``start``."""
        return list(self.formulas.items())[start:]

    def check(self, start: int = 0) -> list:
        """Check the formulas recorded after ``start``; the failures' messages."""
        failures, began = [], time.perf_counter()
        for text, expr in self.since(start):
            try:
                check_round_trip(expr, text)
                self.checked += 1
            except RoundTripError as error:
                failures.append(str(error))
            except Unverifiable as why:
                self.unverifiable.append(f"{text}: {why}")
        self.seconds += time.perf_counter() - began
        return failures

    @contextmanager
    def paused(self):
        """For tests that print wrong LaTeX on purpose (the tests of this check)."""
        self.active, was = False, self.active
        try:
            yield
        finally:
            self.active = was

    @contextmanager
    def installed(self):
        """Record every formula `LatexPrinter.doprint` prints while the context is open."""
        original = LatexPrinter.doprint

        def doprint(printer, expr, *args, **kwargs):
            text = original(printer, expr, *args, **kwargs)
            self.record(expr, text)
            return text

        LatexPrinter.doprint = doprint
        try:
            yield self
        finally:
            LatexPrinter.doprint = original
