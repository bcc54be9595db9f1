"""The elementwise functions: activations, exp/log/sqrt and the derivatives that appear in gradients.

One table, one entry per function: how it is written (LaTeX), what it is (a SymPy scalar formula,
used by the elementwise oracle and by the checks of the table itself) and its derivative as another
entry of this table (so sigma' prints as sigma', not as an expanded fraction). The single elementwise
derivative rule in `nnsym.derive.rules` reads the ``derivative`` column; NumPy code for each entry
lives with the NumPy printer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import sympy

from nnsym.declare.expressions import _exact  # noqa: I001 - exact numbers, issue 9
from nnsym.declare.expressions import (
    Apply,
    Expr,
    Zero,
    add,
    hadamard,
    lift,
    power,
    scale,
)
from nnsym.errors import InputError


@dataclass(frozen=True)
class Function:
    """An entry of `ELEMENTWISE` with its parameter (the slope of leaky ReLU, the alpha of ELU)."""

    name: str
    parameter: Optional[sympy.Number] = None

    @property
    def spec(self) -> "FunctionSpec":
        return ELEMENTWISE[self.name]

    def __repr__(self):
        return self.name if self.parameter is None else f"{self.name}[{self.parameter}]"


@dataclass(frozen=True)
class FunctionSpec:
    latex: str  # the symbol before the argument, e.g. r"\sigma"
    scalar: Callable  # (sympy x, parameter) -> SymPy scalar expression: the definition
    derivative: Callable  # (operand Expr, Function) -> Expr: f'(operand), elementwise
    doc: str
    parameter_latex: str = ""  # how a parameter shows, e.g. r"_{\alpha}"
    # The parameter used when none is given (a network's "leaky_relu" layers): a parametrised
    # function never reaches a printer or evaluator without its parameter.
    default: Optional[sympy.Number] = None


def apply(name: str, operand: Expr, parameter=None) -> Expr:
    if name not in ELEMENTWISE:
        raise InputError(f"unknown elementwise function {name!r}; known: {', '.join(sorted(ELEMENTWISE))}")
    if parameter is not None:
        # Checked first: nsimplify would parse a string with eval.
        if isinstance(parameter, bool) or not isinstance(parameter, (int, float, sympy.Number)):
            raise InputError(f"{name}: the parameter must be a number, not {type(parameter).__name__} {parameter!r}")
        # Exactly as written (issue 9): 0.0100000001 stays that, not the "nice" 0.01 nearby.
        if not isinstance(parameter, sympy.Number):
            parameter = sympy.Rational(_exact(parameter))
        if not parameter.is_finite:
            raise InputError(f"{name}: the parameter must be finite, not {parameter}")
    else:
        parameter = ELEMENTWISE[name].default
    return Apply(Function(name, parameter), lift(operand))


def _same(name):
    """f' = g(x) for another table entry g."""
    return lambda x, f: Apply(Function(name, f.parameter), x)


def _zero(x, f):
    return Zero(*x.shape)


def _sigmoid_prime_prime(x, f):
    """sigma'' = sigma' (1 - 2 sigma)"""
    return hadamard(apply("sigmoid_prime", x), add(1, scale(-2, apply("sigmoid", x))))


def _tanh_prime_prime(x, f):
    """tanh'' = -2 tanh tanh'"""
    return scale(-2, hadamard(apply("tanh", x), apply("tanh_prime", x)))


def _log_prime(x, f):
    """(log x)' = 1/x"""
    return power(x, -1)


def _sqrt_prime(x, f):
    """(sqrt x)' = 1 / (2 sqrt x)"""
    return scale(sympy.Rational(1, 2), power(apply("sqrt", x), -1))


def _gelu_prime_prime(x, f):
    """GELU'' = phi(x) (2 - x^2)"""
    return hadamard(apply("normal_pdf", x), add(2, scale(-1, power(x, 2))))


def _normal_pdf_prime(x, f):
    """phi'(x) = -x phi(x)"""
    return scale(-1, hadamard(x, apply("normal_pdf", x)))


_x = sympy.Symbol("x", real=True)

ELEMENTWISE = {
    # ----- activations -----
    "sigmoid": FunctionSpec(r"\sigma", lambda x, a: 1 / (1 + sympy.exp(-x)), _same("sigmoid_prime"),
                            "logistic sigmoid 1/(1+e^{-x})"),
    "tanh": FunctionSpec(r"\tanh", lambda x, a: sympy.tanh(x), _same("tanh_prime"), "hyperbolic tangent"),
    # ReLU and leaky ReLU as Piecewise, not Max: SymPy differentiates a Max of a Max into nested
    # Piecewise conditions that lambdify turns into np.select calls NumPy refuses.
    "relu": FunctionSpec(r"\operatorname{ReLU}", lambda x, a: sympy.Piecewise((x, x > 0), (0, True)), _same("heaviside"), "max(0, x)"),
    "leaky_relu": FunctionSpec(r"\operatorname{LeakyReLU}", lambda x, a: sympy.Piecewise((x, x > 0), (a * x, True)),
                               _same("leaky_relu_prime"), "max(alpha x, x) for 0 < alpha < 1", r"_{\alpha}", sympy.Rational(1, 100)),
    "softplus": FunctionSpec(r"\operatorname{softplus}", lambda x, a: sympy.log(1 + sympy.exp(x)),
                             _same("sigmoid"), "log(1 + e^x)"),
    "elu": FunctionSpec(r"\operatorname{ELU}", lambda x, a: sympy.Piecewise((x, x > 0), (a * (sympy.exp(x) - 1), True)),
                        _same("elu_prime"), "x for x > 0, alpha (e^x - 1) otherwise", r"_{\alpha}", sympy.Integer(1)),
    "gelu": FunctionSpec(r"\operatorname{GELU}", lambda x, a: x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2,
                         _same("gelu_prime"), "x Phi(x), the exact (erf) form"),
    # ----- elementary functions -----
    "exp": FunctionSpec(r"\exp", lambda x, a: sympy.exp(x), _same("exp"), "e^x"),
    "log": FunctionSpec(r"\log", lambda x, a: sympy.log(x), _log_prime, "natural logarithm"),
    "sqrt": FunctionSpec(r"\sqrt", lambda x, a: sympy.sqrt(x), _sqrt_prime, "square root"),
    # ----- derivatives that appear in gradients, named as a lecturer names them -----
    "sigmoid_prime": FunctionSpec(r"\sigma'", lambda x, a: sympy.exp(-x) / (1 + sympy.exp(-x)) ** 2,
                                  _sigmoid_prime_prime, "sigma(x)(1 - sigma(x))"),
    "tanh_prime": FunctionSpec(r"\tanh'", lambda x, a: 1 - sympy.tanh(x) ** 2, _tanh_prime_prime, "1 - tanh^2 x"),
    "heaviside": FunctionSpec(r"H", lambda x, a: sympy.Heaviside(x, 0), _zero,
                              "the step 1[x > 0], ReLU' (taken as 0 at 0)"),
    "leaky_relu_prime": FunctionSpec(r"\operatorname{LeakyReLU}'", lambda x, a: sympy.Piecewise((1, x > 0), (a, True)),
                                     _zero, "1 for x > 0, alpha otherwise", r"_{\alpha}", sympy.Rational(1, 100)),
    "elu_prime": FunctionSpec(r"\operatorname{ELU}'", lambda x, a: sympy.Piecewise((1, x > 0), (a * sympy.exp(x), True)),
                              lambda x, f: hadamard(apply("elu_prime", x, f.parameter), apply("step_nonpositive", x)),
                              "1 for x > 0, alpha e^x otherwise", r"_{\alpha}", sympy.Integer(1)),
    "step_nonpositive": FunctionSpec(r"\bar{H}",
                                             lambda x, a: sympy.Piecewise((0, x > 0), (1, True)), _zero,
                                             "1 - H(x): 0 for x > 0, 1 otherwise (ELU'' = ELU' H-bar)"),
    "gelu_prime": FunctionSpec(r"\operatorname{GELU}'",
                               lambda x, a: (1 + sympy.erf(x / sympy.sqrt(2))) / 2
                               + x * sympy.exp(-x ** 2 / 2) / sympy.sqrt(2 * sympy.pi),
                               _gelu_prime_prime, "Phi(x) + x phi(x)"),
    "normal_pdf": FunctionSpec(r"\varphi", lambda x, a: sympy.exp(-x ** 2 / 2) / sympy.sqrt(2 * sympy.pi),
                               _normal_pdf_prime, "the standard normal density"),
}

# ----- canonical forms (issue 10): what nnsym.derive.canonical rewrites typed compositions into -----
ELEMENTWISE["log_sigmoid"] = FunctionSpec(
    r"\log\sigma", lambda x, a: -sympy.log(1 + sympy.exp(-x)),
    lambda x, f: apply("sigmoid", scale(-1, x)),  # (log sigma)'(x) = 1 - sigma(x) = sigma(-x)
    "log sigma(x) = -log(1 + e^{-x}), computed without forming sigma(x)")

# The names a user may call directly (the rest appear only in derivatives).
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "gelu")


def scalar_definition(function: Function, x):
    """The SymPy scalar formula of ``function`` at ``x``."""
    return function.spec.scalar(x, function.parameter)


def sigmoid(z: Expr) -> Expr:
    return apply("sigmoid", z)


def tanh(z: Expr) -> Expr:
    return apply("tanh", z)


def relu(z: Expr) -> Expr:
    return apply("relu", z)


def leaky_relu(z: Expr, alpha=sympy.Rational(1, 100)) -> Expr:
    return apply("leaky_relu", z, alpha)


def softplus(z: Expr) -> Expr:
    return apply("softplus", z)


def elu(z: Expr, alpha=1) -> Expr:
    return apply("elu", z, alpha)


def gelu(z: Expr) -> Expr:
    return apply("gelu", z)


def exp(z: Expr) -> Expr:
    return apply("exp", z)


def log(z: Expr) -> Expr:
    return apply("log", z)


def sqrt(z: Expr) -> Expr:
    return apply("sqrt", z)


def heaviside(z: Expr) -> Expr:
    return apply("heaviside", z)
