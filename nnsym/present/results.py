"""What the public entry points hand out: derived formulas that have passed their checks.

`grad`, `jacobian`, `hessian` and `backprop` derive in closed form, then verify at random points
(central finite differences, and the elementwise SymPy derivation where the sizes are small) before
returning. A formula that fails is never returned: `VerificationError` says where it failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

import sympy

from nnsym.declare.expressions import Expr, Named, Symbol
from nnsym.declare.from_sympy import FromSympy
from nnsym.declare.layers import Network
from nnsym.declare.limits import MAX_WRITTEN, measure
from nnsym.derive import backprop as backprop_module
from nnsym.derive import jacobian as jacobian_module
from nnsym.derive.canonical import assumptions_relied_on
from nnsym.derive.reverse import cotangents
from nnsym.emit.latex import Notation, latex
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.emit.sympy_printer import to_sympy
from nnsym.errors import InputError, ShapeError, VerificationError, refuse_deep_nesting
from nnsym.present.bptt_form import TypedBptt, typed_bptt
from nnsym.verify import budget
from nnsym.verify.directional import check_directional
from nnsym.verify.elementwise import ORACLE_SIZES, check_elementwise, check_elementwise_jacobian
from nnsym.verify.finite_differences import Report, check_gradients, check_jacobian

LAYOUT_GRADIENT = "denominator layout: the gradient has the variable's shape"
LAYOUT_JACOBIAN = "numerator layout: rows follow the function, columns the variable"
ORACLE_POINTS = 2
ORACLE_METHOD = "elementwise SymPy derivation"


def _docstring(expression: Expr) -> str:
    """The formula's LaTeX for generated code, left out when too large to write (the code shares
    subexpressions, so it stays small)."""
    _, written, _ = measure(expression)
    return latex(expression) if written <= MAX_WRITTEN else ""


def _require(reports: Sequence[Report], what: str) -> Tuple[Report, ...]:
    for report in reports:
        if not report.ok:
            raise VerificationError(f"{what} failed its check and is not handed out: {report}")
    return tuple(reports)


class _NumPyCallable:
    """A compiled function that accepts its arguments by LaTeX name or by Python identifier."""

    def __init__(self, generated):
        self.generated = generated
        self.source = generated.source
        self.arguments = generated.arguments
        self._function = compile_function(generated)

    def __call__(self, values: Optional[Dict] = None, **kwargs):
        merged = dict(values or {})
        merged.update(kwargs)
        by_identifier = {}
        for key, value in merged.items():
            name = self.arguments.get(key, key)
            if name not in self.arguments.values():
                raise InputError(f"unknown argument {key!r}; expected {', '.join(self.arguments) or 'none'}")
            try:
                by_identifier[name] = np.asarray(value, dtype=float)
            except (TypeError, ValueError) as error:
                raise InputError(f"the value of {key} is not an array of numbers: {error}") from None
        missing = [latex_name for latex_name, name in self.arguments.items() if name not in by_identifier]
        if missing:
            raise InputError(f"no value given for {', '.join(missing)}")
        try:
            return self._function(**by_identifier)
        except AssertionError as error:  # the generated code's shape checks
            raise InputError(f"wrong shape: {error}") from None


@dataclass(frozen=True)
class Gradient:
    """dL/dx for a scalar L, in denominator layout, with the checks it passed."""

    function: Expr
    variable: Symbol
    expression: Expr
    reports: Tuple[Report, ...] = ()
    layout: str = LAYOUT_GRADIENT
    function_name: str = "f"  # the name the user gave the function (L = ..., J(\theta) = ...)
    sympy_symbols: tuple = ()  # the SymPy symbols f was read from, if it was SymPy: to_sympy prints them
    # issue 15i: a typed recurrent network's gradient as BPTT (the deltas, then the sum over steps), verified
    bptt: Optional[TypedBptt] = None

    def latex(self, notation: Notation = Notation()) -> str:
        return latex(self.expression, notation)

    def left_side(self, notation: Notation = Notation()) -> str:
        return rf"\frac{{\partial {self.function_name}}}{{\partial {latex(self.variable, notation)}}}"

    def lines(self) -> Tuple[str, ...]:
        """The printed equations: the BPTT lines of a typed recurrent network (issue 15i), else one."""
        return tuple(self.bptt.lines(self.left_side())) if self.bptt else (self.equation(),)

    def equation(self, notation: Notation = Notation()) -> str:
        return (rf"\frac{{\partial {self.function_name}}}{{\partial {latex(self.variable, notation)}}} = "
                f"{self.latex(notation)}")

    def to_numpy(self) -> _NumPyCallable:
        return _NumPyCallable(write_function("gradient", {"": self.expression}, doc=_docstring(self.expression)))

    @property
    def assumptions_used(self) -> Tuple[str, ...]:
        """Declared facts the short form relies on (1^T y = 1 for softmax(z) - y), in words."""
        return tuple(assumptions_relied_on(self.function))

    def to_sympy(self):
        """The gradient as a SymPy matrix expression (the variable's shape)."""
        return to_sympy(self.expression, self.sympy_symbols)

    def verify(self, points: int = 3, seed: int = 0) -> Tuple[Report, ...]:
        return verify_gradients(self.function, {self.variable: self.expression}, points, seed)

    def _repr_latex_(self):
        if self.bptt:
            rows = [line.replace(" = ", " &= ", 1) for line in self.lines() if not line.startswith("%")]
            return "$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$"
        return f"$\\displaystyle {self.equation()}$"

    def __str__(self):
        return "\n".join(self.lines()) if self.bptt else self.latex()


@dataclass(frozen=True)
class Matrix2:
    """A Jacobian (numerator layout) or a Hessian, with its checks."""

    function: Expr
    variable: Symbol
    expression: Expr
    reports: Tuple[Report, ...]
    layout: str
    kind: str
    sympy_symbols: tuple = ()  # the SymPy symbols the function was read from, if it was SymPy

    def latex(self, notation: Notation = Notation()) -> str:
        return latex(self.expression, notation)

    def equation(self, notation: Notation = Notation()) -> str:
        """With its left side, as in a notebook: the Hessian of f or the Jacobian (numerator layout)."""
        x = latex(self.variable, notation)
        if self.kind == "hessian":
            return rf"\frac{{\partial^2 f}}{{\partial {x}\, \partial {x}^\top}} = {self.latex(notation)}"
        return rf"\frac{{\partial f}}{{\partial {x}}} = {self.latex(notation)}"

    def to_numpy(self) -> _NumPyCallable:
        return _NumPyCallable(write_function(self.kind, {"": self.expression}, doc=_docstring(self.expression)))

    def to_sympy(self):
        """The Jacobian or Hessian as a SymPy matrix expression."""
        return to_sympy(self.expression, self.sympy_symbols)

    def _repr_latex_(self):
        return f"$\\displaystyle {self.equation()}$"

    def __str__(self):
        return self.latex()


def verify_gradients(f: Expr, gradients: Dict[Symbol, Expr], points: int = 3, seed: int = 0,
                     oracle: bool = True) -> Tuple[Report, ...]:
    """Both checks, each at sizes within its time budget (`verify.budget`: past it, on a copy of the
    formulas with smaller sizes, or at full size along random directions where the sizes cannot shrink
    or the copy would cost more); each report says what was checked, at which sizes and why."""
    reports = [budget.run_within_budget(
        f, gradients, "central differences", budget.finite_difference_seconds, budget.FINITE_DIFFERENCE_BUDGET,
        points, lambda plan: check_gradients(plan.f, plan.gradients, points=points, seed=seed, sizes=plan.sizes),
        along=lambda plan: check_directional(plan.f, plan.gradients, points=budget.directional_points(points),
                                             seed=seed, sizes=plan.sizes))]
    if oracle:
        reports.append(budget.run_within_budget(
            f, gradients, "the elementwise oracle", budget.oracle_seconds, budget.ORACLE_BUDGET, ORACLE_POINTS,
            lambda plan: check_elementwise(plan.f, plan.gradients, points=ORACLE_POINTS, seed=seed + 1,
                                           sizes=plan.sizes),
            choices=ORACLE_SIZES, method=ORACLE_METHOD))
    return tuple(reports)


# ---- SymPy arguments: grad, gradients, jacobian and hessian take SymPy expressions and variables ----


def _nnsym_arguments(f, wrt):
    """``f`` and the variable(s) as nnsym nodes (SymPy ones read by `from_sympy`), and the SymPy
    symbols they were read from (to print the results back with the user's own symbols)."""
    reader = FromSympy()
    if isinstance(f, sympy.Basic):
        f = refuse_deep_nesting(reader)(f)

    def variable(v):
        if isinstance(v, sympy.Basic):
            node = reader(v)
            if not isinstance(node, Symbol):
                raise InputError(f"can only differentiate with respect to a SymPy Symbol or MatrixSymbol, not {v}")
            return node
        return v

    wrt = [variable(v) for v in wrt] if isinstance(wrt, (list, tuple)) else variable(wrt)
    return f, wrt, tuple(reader.originals.values())


# ---- end of SymPy arguments ----


@refuse_deep_nesting
def grad(f: Expr, wrt: Symbol, verify: bool = True, oracle: bool = True) -> Gradient:
    """The gradient of a scalar ``f`` with respect to a declared symbol, in closed matrix form.
    ``f`` and ``wrt`` may be SymPy expressions (`MatrixSymbol`s ...; see `nnsym.from_sympy`)."""
    f, wrt, originals = _nnsym_arguments(f, wrt)
    expression = cotangents(f, [wrt])[wrt]
    reports = _require(verify_gradients(f, {wrt: expression}, oracle=oracle), "the gradient") if verify else ()
    shown = typed_bptt(f, wrt, expression) if verify else None  # issue 15i: handed out only checked
    return Gradient(f, wrt, expression, reports, layout_of(wrt), sympy_symbols=originals, bptt=shown)


# ----- issue 9: which gradient a symmetric variable gets ---------------------------------------------
SYMMETRIC_CONVENTION = (
    "{X} is symmetric: this is the gradient of the function as written, {X}'s entries taken as independent, "
    "at symmetric {X}; every G with the same symmetric part (G + G^T)/2 (e.g. the symmetrised gradient) gives "
    "the same derivative in every symmetric direction, and nnsym check accepts it")


def layout_of(wrt: Symbol) -> str:
    if wrt.assumptions & {"symmetric", "spd"}:
        return LAYOUT_GRADIENT + "; " + SYMMETRIC_CONVENTION.format(X=wrt.name)
    return LAYOUT_GRADIENT


@refuse_deep_nesting
def gradients(f: Expr, wrt: Sequence[Symbol], verify: bool = True, oracle: bool = True,
              hook=None) -> Dict[Symbol, Gradient]:
    """Gradients with respect to several symbols in one reverse pass (``hook`` may name cotangents
    as reverse mode forms them: `nnsym.derive.adjoints.adjoint_hook`)."""
    f, wrt, originals = _nnsym_arguments(f, list(wrt))
    found = cotangents(f, wrt, hook)
    reports = _require(verify_gradients(f, found, oracle=oracle), "a gradient") if verify else ()
    return {v: Gradient(f, v, found[v], reports, layout_of(v), sympy_symbols=originals) for v in wrt}


JACOBIAN_POINTS = 3


def verify_jacobian(y: Expr, x: Symbol, jacobian: Expr, seed: int = 0) -> Tuple[Report, ...]:
    """Central differences of y and the elementwise oracle (a reverse pass per entry of y), each at
    sizes within its budget (`verify.budget`)."""
    def run(plan):
        (variable,) = plan.gradients
        return check_elementwise_jacobian(plan.f, variable, plan.gradients[variable], points=ORACLE_POINTS,
                                          seed=seed + 1, sizes=plan.sizes)

    oracle = budget.run_within_budget(y, {x: jacobian}, "the elementwise oracle", budget.jacobian_oracle_seconds,
                                      budget.ORACLE_BUDGET, ORACLE_POINTS, run, choices=ORACLE_SIZES,
                                      method=ORACLE_METHOD)
    differences = budget.run_within_budget(
        y, {x: jacobian}, "central differences", budget.finite_difference_seconds,
        budget.FINITE_DIFFERENCE_BUDGET, JACOBIAN_POINTS,
        lambda plan: check_jacobian(plan.f, *next(iter(plan.gradients.items())), points=JACOBIAN_POINTS,
                                    seed=seed, sizes=plan.sizes))
    return differences, oracle


@refuse_deep_nesting
def jacobian(y: Expr, x: Symbol, verify: bool = True) -> Matrix2:
    y, x, originals = _nnsym_arguments(y, x)
    expression = jacobian_module.jacobian(y, x)
    reports = _require(verify_jacobian(y, x, expression), "the Jacobian") if verify else ()
    return Matrix2(y, x, expression, reports, LAYOUT_JACOBIAN, "jacobian", originals)


@refuse_deep_nesting
def hessian(f: Expr, x: Symbol, verify: bool = True) -> Matrix2:
    """The Jacobian of the gradient, both checks on that Jacobian (and the gradient's own checks)."""
    f, x, originals = _nnsym_arguments(f, x)
    if isinstance(x, Symbol) and x.kind == "matrix":
        # issue 10: say what is returned and what is not, rather than a Jacobian's shape complaint
        raise ShapeError(f"hessian: {x.name} is a {x.rows}x{x.cols} matrix; a Hessian here is the n x n matrix "
                         f"d^2 f / dx dx^T of a vector (or scalar) x. With respect to a matrix it would be a "
                         f"4-index array, which nnsym does not return: take the Hessian with respect to a "
                         f"vector (a column of {x.name}, or the matrix declared as a vector of its entries)")
    first = cotangents(f, [x])[x]
    expression = jacobian_module.jacobian(first, x)
    reports = ()
    if verify:
        reports = _require(verify_gradients(f, {x: first}) + verify_jacobian(first, x, expression), "the Hessian")
    return Matrix2(f, x, expression, reports, "symmetric: d^2 f / dx dx^T", "hessian", originals)


@dataclass(frozen=True)
class Backprop:
    """The forward pass and the backpropagation equations of a network, verified."""

    network: Network
    equations: backprop_module.BackpropEquations
    reports: Tuple[Report, ...]

    @property
    def forward(self):
        return self.equations.forward

    def forward_lines(self, notation: Notation = Notation()):
        fw = self.forward
        lines = []
        for z, a in zip(fw.pre_activations, fw.activations[1:]):
            lines.append((latex(z, notation), latex(z.definition, notation)))
            if isinstance(a, Named) and a is not z:  # a linear layer's output is z itself: one line
                lines.append((latex(a, notation), latex(a.definition, notation)))
        lines.append(("L", latex(fw.loss, notation)))
        return lines

    def backward_lines(self, notation: Notation = Notation()):
        lines = [(latex(d, notation), latex(G, notation)) for d, G in self.equations.deltas]
        for p in self.forward.parameters:
            lines.append((rf"\frac{{\partial L}}{{\partial {p.name}}}", latex(self.equations.gradients[p], notation)))
        return lines

    def latex(self, notation: Notation = Notation()) -> str:
        rows = [rf"{lhs} &= {rhs}" for lhs, rhs in self.forward_lines(notation) + self.backward_lines(notation)]
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

    def to_sympy(self):
        """{parameter as a SymPy symbol: its gradient as a SymPy matrix expression}."""
        return {p.sympy: to_sympy(self.equations.gradients[p]) for p in self.forward.parameters}

    def to_numpy(self) -> _NumPyCallable:
        outputs = {p.name: self.equations.gradients[p] for p in self.forward.parameters}
        return _NumPyCallable(write_function("gradients", outputs))

    def _repr_latex_(self):
        return self.latex()


@refuse_deep_nesting
def backprop(network: Network, verify: bool = True, oracle: bool = True) -> Backprop:
    """Forward and backward equations of ``network`` in delta form, checked numerically."""
    if not isinstance(network, Network):
        raise InputError(f"backprop takes a network (nnsym.network([...])), not {type(network).__name__}")
    forward = network.forward()
    equations = backprop_module.backprop(forward)
    reports = ()
    if verify:
        reports = _require(verify_gradients(forward.loss, equations.gradients, oracle=oracle), "backprop")
    return Backprop(network, equations, reports)

