"""NumPy source code for expressions: one straight-line function, shared subexpressions computed once.

`NumPyPrinter` is a visitor (SymPy's `Printer` dispatch, one ``_print_<Node>`` method each) that
turns a node into a NumPy expression given the names of its children; `FunctionWriter` orders the
DAG, gives every node used more than once its own line (common-subexpression elimination across all
outputs) and writes the function. Identifiers come from `nnsym.declare.names.identifier`, never from
pasting user text. The stable primitives are the functions of `nnsym.emit.stable`, copied in by
source, so a generated module needs NumPy only.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence

import numpy as np
import sympy
from sympy.printing.printer import Printer
from sympy.printing.pycode import PythonCodePrinter

from nnsym.declare.expressions import Apply, Constant, Expr, Named, Symbol
from nnsym.declare.names import identifier
from nnsym.emit import stable
from nnsym.errors import InputError, MissingRuleError

# Elementwise functions: NumPy's own where it is stable, else the helper of the same name.
NUMPY_FUNCTIONS = {"tanh": "np.tanh", "exp": "np.exp", "log": "np.log", "sqrt": "np.sqrt"}
HELPERS = {
    "sigmoid", "sigmoid_prime", "log_sigmoid", "softplus", "tanh_prime", "relu", "heaviside",
    "step_nonpositive", "leaky_relu", "leaky_relu_prime", "elu", "elu_prime", "erf", "normal_pdf",
    "gelu", "gelu_prime", "logsumexp", "softmax", "log_softmax", "softmax_cross_entropy",
    "binary_cross_entropy", "logdet",
}
# Helpers that call other helpers.
HELPER_NEEDS = {
    "gelu": {"erf", "normal_pdf"}, "gelu_prime": {"erf", "normal_pdf"}, "log_softmax": {"logsumexp"},
    "softmax_cross_entropy": {"log_softmax", "logsumexp"}, "binary_cross_entropy": {"softplus"},
}


class NumPyPrinter(Printer):
    """Node -> NumPy expression text, given the text of its children (``self.names``)."""

    printmethod = "_nnsym_numpy"

    def __init__(self, sizes: Mapping[sympy.Symbol, str]):
        super().__init__()
        self.names: Dict[Expr, str] = {}
        self.sizes = sizes
        self.used_helpers: set = set()
        self._python = PythonCodePrinter({"fully_qualified_modules": False})

    def emptyPrinter(self, expr):
        raise MissingRuleError(f"no NumPy rule for {type(expr).__name__}")

    def arg(self, node, i=0) -> str:
        return self.names[node.args[i]]

    def helper(self, name: str) -> str:
        self.used_helpers.add(name)
        return name

    def size(self, value) -> str:
        if value.is_Integer:
            return str(int(value))
        return self._python.doprint(value.subs({s: sympy.Symbol(n) for s, n in self.sizes.items()}))

    def _print_Constant(self, node):
        value = node.value
        if not value.is_number:  # a size such as the B of 1/B
            return f"float({self.size(value)})"
        return repr(float(value)) if not value.is_Integer else f"{int(value)}.0"

    def _print_Identity(self, node):
        return f"np.eye({self.size(node.rows)})"

    def _print_Ones(self, node):
        return f"np.ones(({self.size(node.rows)}, {self.size(node.cols)}))"

    def _print_Zero(self, node):
        return f"np.zeros(({self.size(node.rows)}, {self.size(node.cols)}))"

    def _print_Named(self, node):
        return self.arg(node)

    def _print_MatMul(self, node):
        return f"{self.arg(node, 0)} @ {self.arg(node, 1)}"

    def _print_Add(self, node):
        return " + ".join(f"({self.names[a]})" for a in node.args)

    def _print_Scale(self, node):
        return f"({self.arg(node, 0)}) * ({self.arg(node, 1)})"

    def _print_Transpose(self, node):
        return f"({self.arg(node)}).T"

    def _print_Hadamard(self, node):
        return f"({self.arg(node, 0)}) * ({self.arg(node, 1)})"

    def _print_HadamardDiv(self, node):
        return f"({self.arg(node, 0)}) / ({self.arg(node, 1)})"

    def _print_Kronecker(self, node):
        return f"np.kron({self.arg(node, 0)}, {self.arg(node, 1)})"

    def _print_Power(self, node):
        p = node.exponent
        if p == sympy.Rational(1, 2):
            return f"np.sqrt({self.arg(node)})"
        if p == -1:
            return f"1.0 / ({self.arg(node)})"
        if p == 2:
            return f"np.square({self.arg(node)})"
        return f"({self.arg(node)}) ** {float(p)!r}"

    def _print_Apply(self, node):
        function = node.function
        operand = node.args[0]
        # log sigma(z) is computed as -logaddexp(0, -z): finite at z = -1000.
        if function.name == "log" and isinstance(operand, Apply) and operand.function.name == "sigmoid":
            return f"{self.helper('log_sigmoid')}({self.names[operand.args[0]]})"
        name = NUMPY_FUNCTIONS.get(function.name) or self.helper(function.name)
        if function.parameter is not None:
            return f"{name}({self.arg(node)}, {float(function.parameter)!r})"
        return f"{name}({self.arg(node)})"

    def _print_Softmax(self, node):
        return f"{self.helper('softmax')}({self.arg(node)})"

    def _print_LogSoftmax(self, node):
        return f"{self.helper('log_softmax')}({self.arg(node)})"

    def _print_LogSumExp(self, node):
        return f"{self.helper('logsumexp')}({self.arg(node)})"

    def _print_SoftmaxCrossEntropy(self, node):
        return f"np.reshape({self.helper('softmax_cross_entropy')}({self.arg(node, 0)}, {self.arg(node, 1)}), (1, 1))"

    def _print_BinaryCrossEntropy(self, node):
        return f"np.reshape({self.helper('binary_cross_entropy')}({self.arg(node, 0)}, {self.arg(node, 1)}), (1, 1))"

    def _print_Trace(self, node):
        return f"np.reshape(np.trace({self.arg(node)}), (1, 1))"

    def _print_Det(self, node):
        return f"np.reshape(np.linalg.det({self.arg(node)}), (1, 1))"

    def _print_LogDet(self, node):
        return f"np.reshape({self.helper('logdet')}({self.arg(node)}), (1, 1))"

    def _print_Inverse(self, node):
        return f"np.linalg.inv({self.arg(node)})"

    def _print_Diag(self, node):
        return f"np.diag(({self.arg(node)})[:, 0])"

    def _print_DiagPart(self, node):
        return f"np.diag({self.arg(node)}).reshape(-1, 1)"

    def _print_Sum(self, node):
        return f"np.reshape(np.sum({self.arg(node)}), (1, 1))"

    def _print_NormSq(self, node):
        return f"np.reshape(np.sum(np.square({self.arg(node)})), (1, 1))"

    def _print_Norm(self, node):
        return f"np.reshape(np.sqrt(np.sum(np.square({self.arg(node)}))), (1, 1))"


def _parents(roots: Sequence[Expr]) -> tuple:
    """Topological order of the DAG below ``roots`` and how many times each node is used."""
    order: List[Expr] = []
    uses: Dict[Expr, int] = {}
    done = set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, ready = stack.pop()
        if ready:
            if node not in done:
                done.add(node)
                order.append(node)
            continue
        uses[node] = uses.get(node, 0) + 1
        if node in done or uses[node] > 1:
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.args))
    return order, uses


@dataclass(frozen=True)
class GeneratedFunction:
    name: str
    source: str  # the def, without the helpers
    helpers: tuple  # names of `stable` helpers it calls
    arguments: Dict[str, str]  # LaTeX name -> keyword argument name
    outputs: tuple


def helper_source(names) -> str:
    """Source of the stable helpers (and those they call), in a fixed order."""
    wanted = set(names)
    for name in list(wanted):
        wanted |= HELPER_NEEDS.get(name, set())
    return "\n\n".join(inspect.getsource(getattr(stable, n)) for n in sorted(wanted))


def write_function(name: str, outputs: Mapping[str, Expr], doc: str = "") -> GeneratedFunction:
    """A function ``name(*, <inputs>)`` returning a dict of the named outputs (or the single value
    when there is one output named ``""``)."""
    roots = list(outputs.values())
    symbols = sorted({s for r in roots for s in r.free_symbols()}, key=lambda s: s.name)
    arguments = {s.name: identifier(s.name) for s in symbols}
    if len(set(arguments.values())) != len(arguments):
        raise InputError(f"two symbols map to one Python name: {sorted(arguments)}")
    size_names: Dict[sympy.Symbol, str] = {}
    lines = []
    for s in symbols:
        arg = arguments[s.name]
        if s.kind == "scalar":
            lines.append(f"{arg} = np.reshape(np.asarray({arg}, dtype=float), (1, 1))")
            continue
        lines.append(f"{arg} = np.asarray({arg}, dtype=float)")
        if s.kind == "vector":
            lines.append(f"{arg} = {arg}.reshape(-1, 1) if {arg}.ndim == 1 else {arg}")
        for axis, size in enumerate(s.shape):
            if size.is_Integer:
                lines.append(f"assert {arg}.shape[{axis}] == {int(size)}, '{arg}: axis {axis} should be {int(size)}'")
            elif size.is_Symbol and size not in size_names:
                size_names[size] = identifier(str(size)) + "_size"
                lines.append(f"{size_names[size]} = {arg}.shape[{axis}]")
            elif size.is_Symbol:
                lines.append(f"assert {arg}.shape[{axis}] == {size_names[size]}, '{arg}: axis {axis} should be {size}'")
    for size in sorted({d for r in _sizes_used(roots) for d in r.free_symbols}, key=str):
        if size not in size_names:
            raise InputError(f"the size {size} is not fixed by any argument")
    printer = NumPyPrinter(size_names)
    order, uses = _parents(roots)
    counter = 0
    for node in order:
        if isinstance(node, Symbol):
            printer.names[node] = arguments[node.name]
            continue
        text = printer.doprint(node)
        if isinstance(node, Named) or uses.get(node, 0) > 1 or node in roots:
            counter += 1
            var = f"t{counter}"
            lines.append(f"{var} = {text}")
            printer.names[node] = var
        else:
            printer.names[node] = f"({text})" if not isinstance(node, Constant) else text
    results = []
    for key, root in outputs.items():
        value = printer.names[root]
        results.append((key, f"float({value}[0, 0])" if root.is_scalar else value))
    if len(results) == 1 and results[0][0] == "":
        lines.append(f"return {results[0][1]}")
    else:
        lines.append("return {" + ", ".join(f"{k!r}: {v}" for k, v in results) + "}")
    signature = ", ".join(arguments.values())
    # A raw docstring: LaTeX is full of backslashes. Quotes cannot end it early: they are dropped.
    doc_lines = [f'    r"""{doc.replace(chr(34), "")}"""'] if doc else []
    body = "\n".join("    " + line for line in lines)
    source = "\n".join([f"def {name}(*, {signature}):", *doc_lines, body]) + "\n"
    return GeneratedFunction(name, source, tuple(sorted(printer.used_helpers)), arguments, tuple(outputs))


def _sizes_used(roots):
    seen, stack, out = set(), list(roots), []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.extend(d for d in node.shape if not d.is_Integer)
        stack.extend(node.args)
    return out


def module_source(functions: Sequence[GeneratedFunction], title: str) -> str:
    """A standalone module: NumPy import, the helpers the functions need, the functions."""
    helpers = sorted({h for f in functions for h in f.helpers})
    parts = [f'"""{title}\n\nGenerated by nnsym; needs NumPy only."""', "import math\n\nimport numpy as np"]
    if helpers:
        parts.append(helper_source(helpers))
    parts.extend(f.source for f in functions)
    return "\n\n\n".join(parts) + "\n"


def compile_function(function: GeneratedFunction):
    """Turn generated source into a callable.

    This is nnsym's one use of `exec`, and it runs only text this module wrote: identifiers come from
    `identifier()` (a whitelist), numbers from `float`, and no character of user input is copied in.
    """
    namespace = {"np": np, "math": math}
    exec(compile(module_source([function], "compiled"), "<nnsym generated>", "exec"), namespace)  # noqa: S102
    return namespace[function.name]
