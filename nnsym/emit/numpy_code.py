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
import keyword
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence

import numpy as np
import sympy
from sympy.printing.printer import Printer
from sympy.printing.pycode import PythonCodePrinter

from nnsym.declare.expressions import Apply, Constant, Expr, Named, Power, Scale, Symbol, number
from nnsym.declare.names import identifier
from nnsym.derive.canonical import canonical
from nnsym.emit import stable
from nnsym.emit.lowering import lower
from nnsym.emit.spatial_lowering import lower_spatial
from nnsym.emit.stacking import stack_products
from nnsym.errors import InputError, MissingRuleError

HELPERS = {
    "sigmoid", "sigmoid_prime", "log_sigmoid", "softplus", "tanh_prime", "relu", "heaviside",
    "step_nonpositive", "leaky_relu", "leaky_relu_prime", "elu", "elu_prime", "erf", "erfc", "erf_magnitude",
    "normal_cdf", "normal_pdf",
    "gelu", "gelu_prime", "logsumexp", "softmax", "log_softmax", "softmax_cross_entropy",
    "binary_cross_entropy", "logdet",
    "softmax_vjp", "float_array", "float_dtype",  # issue 10
    "softmax_minus",
    "im2col", "col2im", "max_pool", "avg_pool", "max_mask", "upsample",  # issue 15: nnsym.emit.spatial
}
HELPERS |= {"correlate"}  # issue 15e: nnsym.emit.correlate_numpy (and _torch, _jax)
# Helpers that call other helpers.
HELPER_NEEDS = {
    "gelu": {"normal_cdf", "normal_pdf"}, "gelu_prime": {"normal_cdf", "normal_pdf"}, "normal_cdf": {"erfc"},
    "erf": {"erf_magnitude"}, "erfc": {"erf_magnitude"}, "log_softmax": {"logsumexp"},
    "softmax_cross_entropy": {"log_softmax", "logsumexp"}, "binary_cross_entropy": {"softplus"},
    "max_mask": {"max_pool", "upsample", "avg_pool"},  # issue 15: NumPy's mask compares with the upsampled maxima
}


# Python operator precedence, lowest first: a child is parenthesised only when it binds less tightly
# than its place needs (the right operand of a left-associative operator needs strictly more).
SUM, PRODUCT, UNARY, POWER, ATOM = 50, 60, 70, 80, 100


class NumPyPrinter(Printer):
    """Node -> NumPy expression text, given the text of its children (``self.names``).

    Each ``_print_<Node>`` returns text; `precedence` says how tightly that text binds, so that
    children are parenthesised only where Python needs it (``W_1 @ X + b_1``, ``-Y``). Subclasses for
    other array libraries change the prefixes in `functions` and the methods that differ.
    """

    printmethod = "_nnsym_numpy"
    prefix = "np"
    # Elementwise functions: the library's own where it is stable, else the helper of the same name.
    functions = {"tanh": "np.tanh", "exp": "np.exp", "log": "np.log", "sqrt": "np.sqrt"}
    # Where the helpers' source comes from, and the imports a module of this library starts with.
    stable_module = stable
    imports = "import math\n\nimport numpy as np"
    library = "NumPy"

    # issue 10: the caller's float type is kept (float32 in, float32 arithmetic and out); other input
    # (ints, lists) becomes float64. `float_array` and `float_dtype` are helpers of the stable module.
    argument_helper = "float_array"

    @classmethod
    def as_array(cls, text: str) -> str:
        """An argument converted to a float array of this library."""
        return f"float_array({text})"

    @staticmethod
    def scalar_output(text: str) -> str:
        """A 1 x 1 result handed back as a number."""
        return f"float({text}[0, 0])"

    @classmethod
    def full(cls, text: str) -> str:
        """A constant result (d(3x)/dx = 3) as the 1 x 1 array every scalar is."""
        return f"{cls.prefix}.full((1, 1), {text})"

    def __init__(self, sizes: Mapping[sympy.Symbol, str]):
        super().__init__()
        self.names: Dict[Expr, str] = {}
        self.precedences: Dict[Expr, int] = {}
        self.sizes = sizes
        self.used_helpers: set = set()
        self.dtype_name = ""  # the generated function's variable holding its arguments' float type
        self.uses_dtype = False
        # math.sqrt: a size may sit under a root (the 1/sqrt(d) of attention); generated modules import math
        self._python = PythonCodePrinter({"fully_qualified_modules": True})

    def emptyPrinter(self, expr):
        raise MissingRuleError(f"no NumPy rule for {type(expr).__name__}")

    # ---- children and precedence ---------------------------------------------------------------
    def child(self, node, i=0, minimum=ATOM) -> str:
        argument = node.args[i]
        text = self.names[argument]
        return f"({text})" if self.precedences.get(argument, ATOM) < minimum else text

    def arg(self, node, i=0) -> str:
        """A child as a function argument: any expression will do."""
        return self.names[node.args[i]]

    def precedence(self, node) -> int:
        if isinstance(node, Scale):
            return UNARY if number(node.args[0]) == -1 else PRODUCT
        if isinstance(node, Constant):
            return UNARY if node.value.is_number and node.value < 0 else ATOM
        if isinstance(node, Power):
            p = node.exponent
            return ATOM if p == sympy.Rational(1, 2) else PRODUCT if p in (-1, 2) else POWER
        return PRECEDENCE.get(type(node).__name__, ATOM)

    def helper(self, name: str) -> str:
        self.used_helpers.add(name)
        return name

    def size(self, value) -> str:
        if value.is_Integer:
            return str(int(value))
        return self._python.doprint(value.subs({s: sympy.Symbol(n) for s, n in self.sizes.items()}))

    def number_text(self, value) -> str:
        return repr(float(value)) if not value.is_Integer else f"{int(value)}.0"

    def array(self, function: str, node) -> str:
        return f"{self.prefix}.{function}(({self.size(node.rows)}, {self.size(node.cols)}){self.dtype()})"

    def dtype(self) -> str:
        """``, dtype=...`` for a constructed array: the arguments' float type (float64 without any)."""
        self.uses_dtype = True
        return f", dtype={self.dtype_name}" if self.dtype_name else ""

    def scalar_array(self, text: str) -> str:
        """A 0-d result as the 1 x 1 array every scalar is."""
        return f"{self.prefix}.reshape({text}, (1, 1))"

    # ---- leaves --------------------------------------------------------------------------------
    def _print_Constant(self, node):
        value = node.value
        if not value.is_number:  # a size such as the B of 1/B
            return f"float({self.size(value)})"
        return self.number_text(value)

    def _print_Identity(self, node):
        return f"{self.prefix}.eye({self.size(node.rows)}{self.dtype()})"

    def _print_Ones(self, node):
        return self.array("ones", node)

    def _print_Zero(self, node):
        return self.array("zeros", node)

    def _print_Named(self, node):
        return self.arg(node)

    # ---- linear algebra ------------------------------------------------------------------------
    def _print_MatMul(self, node):
        return f"{self.child(node, 0, PRODUCT)} @ {self.child(node, 1, PRODUCT + 1)}"

    def _print_Add(self, node):
        parts = []
        for i, term in enumerate(node.args):
            c = number(term.args[0]) if isinstance(term, Scale) else None
            if i > 0 and c is not None and c < 0 and self.precedences.get(term) != ATOM:
                # a + (-c) t is written a - c t
                rest = self.names[term.args[1]]
                if self.precedences.get(term.args[1], ATOM) < PRODUCT + 1:
                    rest = f"({rest})"
                parts.append(f"- {rest}" if c == -1 else f"- {self.number_text(-c)} * {rest}")
                continue
            text = self.child(node, i, SUM if i == 0 else SUM + 1)
            parts.append(text if i == 0 else f"+ {text}")
        return " ".join(parts)

    def _print_Scale(self, node):
        c = number(node.args[0])
        if c == -1:
            return f"-{self.child(node, 1, UNARY)}"
        return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 1, PRODUCT + 1)}"

    def _print_Transpose(self, node):
        if node.args[0].is_scalar:  # a 1 x 1 may be printed as a Python number, which has no .T
            return self.names[node.args[0]]
        return f"{self.child(node, 0, ATOM)}.T"

    def _print_Hadamard(self, node):
        return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 1, PRODUCT + 1)}"

    def _print_HadamardDiv(self, node):
        return f"{self.child(node, 0, PRODUCT)} / {self.child(node, 1, PRODUCT + 1)}"

    def _print_Kronecker(self, node):
        return f"{self.prefix}.kron({self.arg(node, 0)}, {self.arg(node, 1)})"

    def _print_Power(self, node):
        p = node.exponent
        if p == sympy.Rational(1, 2):
            return f"{self.prefix}.sqrt({self.arg(node)})"
        if p == -1:
            return f"1.0 / {self.child(node, 0, PRODUCT + 1)}"
        if p == 2:
            return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 0, PRODUCT + 1)}"
        return f"{self.child(node, 0, ATOM)} ** {float(p)!r}"

    # ---- elementwise functions and the fused losses ----------------------------------------------
    def _print_Apply(self, node):
        function = node.function
        operand = node.args[0]
        # log sigma(z) is computed as -logaddexp(0, -z): finite at z = -1000.
        if function.name == "log" and isinstance(operand, Apply) and operand.function.name == "sigmoid":
            return f"{self.helper('log_sigmoid')}({self.names[operand.args[0]]})"
        name = self.functions.get(function.name) or self.helper(function.name)
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
        return self.scalar_array(f"{self.helper('softmax_cross_entropy')}({self.arg(node, 0)}, {self.arg(node, 1)})")

    def _print_BinaryCrossEntropy(self, node):
        return self.scalar_array(f"{self.helper('binary_cross_entropy')}({self.arg(node, 0)}, {self.arg(node, 1)})")

    # ---- scalar functions of matrices --------------------------------------------------------------
    def _print_Trace(self, node):
        return self.scalar_array(f"{self.prefix}.trace({self.arg(node)})")

    def _print_Det(self, node):
        return self.scalar_array(f"{self.prefix}.linalg.det({self.arg(node)})")

    def _print_LogDet(self, node):
        return self.scalar_array(f"{self.helper('logdet')}({self.arg(node)})")

    def _print_Inverse(self, node):
        return f"{self.prefix}.linalg.inv({self.arg(node)})"

    def _print_Diag(self, node):
        if node.args[0].is_scalar:  # diag of a 1 x 1 is itself (and it may be a Python number)
            return f"{self.prefix}.reshape({self.arg(node)}, (1, 1))"
        return f"{self.prefix}.diag({self.child(node, 0, ATOM)}[:, 0])"

    def _print_DiagPart(self, node):
        return f"{self.prefix}.diag({self.arg(node)}).reshape(-1, 1)"

    def _print_Sum(self, node):
        return self.scalar_array(f"{self.prefix}.sum({self.arg(node)})")

    def _print_NormSq(self, node):
        return self.scalar_array(f"{self.prefix}.sum({self.child(node, 0, PRODUCT)} * {self.child(node, 0, PRODUCT + 1)})")

    def _print_Norm(self, node):
        return self.scalar_array(f"{self.prefix}.sqrt({self.prefix}.sum({self.child(node, 0, PRODUCT)} * {self.child(node, 0, PRODUCT + 1)}))")

    # ---- lowered forms (nnsym.emit.lowering) ---------------------------------------------------
    def _print_Broadcast(self, node):
        return self.arg(node)

    def _print_RowSums(self, node):
        return f"{self.child(node, 0, ATOM)}.sum(axis=1, keepdims=True)"

    def _print_ColumnSums(self, node):
        return f"{self.child(node, 0, ATOM)}.sum(axis=0, keepdims=True)"

    def _print_ScaleRows(self, node):
        return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 1, PRODUCT + 1)}"

    def _print_ScaleColumns(self, node):
        if node.args[1].is_scalar:  # X diag(c) of a 1 x 1 c is c X (and c may be a Python number)
            return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 1, PRODUCT + 1)}"
        return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 1, ATOM)}.T"

    # ----- lowered linear algebra (issue 16) -----
    def _print_CholeskyLogDet(self, node):
        p = self.prefix
        return self.scalar_array(f"2.0 * {p}.sum({p}.log({p}.diagonal({p}.linalg.cholesky({self.arg(node)}))))")

    def _print_Solve(self, node):
        return f"{self.prefix}.linalg.solve({self.arg(node, 0)}, {self.arg(node, 1)})"

    def _print_TraceOfProduct(self, node):
        return self.scalar_array(f"{self.prefix}.sum({self.child(node, 0, PRODUCT)} * {self.child(node, 1, PRODUCT + 1)})")

    def _print_Gram(self, node):
        return f"{self.child(node, 0, ATOM)}.T @ {self.child(node, 1, PRODUCT + 1)}"

    def _print_SigmoidPrimeOf(self, node):
        s = self.child(node, 0, PRODUCT + 1)
        return f"{self.child(node, 0, PRODUCT)} * (1.0 - {s})"

    def _print_SoftmaxVJP(self, node):
        return f"{self.helper('softmax_vjp')}({self.arg(node, 0)}, {self.arg(node, 1)})"

    def _print_SoftmaxMinus(self, node):
        return f"{self.helper('softmax_minus')}({self.arg(node, 0)}, {self.arg(node, 1)})"

    def _print_TanhPrimeOf(self, node):
        t = self.child(node, 0, PRODUCT + 1)
        return f"1.0 - {self.child(node, 0, PRODUCT)} * {t}"


    # ---- convolution and pooling (issue 15; helpers from nnsym.emit.spatial) --------------------
    def spatial(self, helper, node, padding=False) -> str:
        g = node.geometry
        numbers = [*g.kernel, *g.image] + (list(g.padding) if padding else [])
        return f"{self.helper(helper)}({self.arg(node)}, {', '.join(map(str, numbers))})"

    def _print_Im2col(self, node):
        return self.spatial("im2col", node, padding=True)

    def _print_Col2im(self, node):
        return self.spatial("col2im", node, padding=True)

    def _print_MaxPool(self, node):
        return self.spatial("max_pool", node)

    def _print_AvgPool(self, node):
        return self.spatial("avg_pool", node)

    def _print_MaxMask(self, node):
        return self.spatial("max_mask", node)

    def _print_Upsample(self, node):
        return self.spatial("upsample", node)

    # ---- issue 15h: max pooling's adjoint in one pass; convolution kernels (PyTorch) ----
    convolution_kernels = False  # True: im2col products become the library's correlations (nnsym.emit.spatial_lowering)

    def _print_MaxPoolAdjoint(self, node):
        g = node.geometry
        numbers = ", ".join(map(str, [*g.kernel, *g.image]))
        return f"{self.helper('max_pool_adjoint')}({self.arg(node, 0)}, {self.arg(node, 1)}, {self.arg(node, 2)}, {numbers})"

    def correlation(self, helper, node) -> str:
        g = node.geometry
        numbers = ", ".join(map(str, [*g.kernel, *g.image, *g.padding]))
        return f"{self.helper(helper)}({self.arg(node, 0)}, {self.arg(node, 1)}, {numbers})"

    def _print_ChannelCorrelation(self, node):
        return self.correlation("channel_correlate", node)

    def _print_ChannelCorrelationKernelAdjoint(self, node):
        return self.correlation("channel_correlate_kernel_adjoint", node)

    def _print_ChannelCorrelationInputAdjoint(self, node):
        return self.correlation("channel_correlate_input_adjoint", node)

    # ---- single-channel correlation as typed (issue 15e; helper from nnsym.emit.correlate_numpy) ----
    def _print_Correlate(self, node):
        ph, pw = node.padding
        return f"{self.helper('correlate')}({self.arg(node, 0)}, {self.arg(node, 1)}, {ph}, {pw})"

    def _print_Rot180(self, node):
        return f"{self.child(node, 0, ATOM)}[::-1, ::-1]"

    # ---- normalization and attention (issue 14); lowered forms in nnsym.emit.layer_lowering ----
    axis_keywords = ("axis", "keepdims")  # PyTorch: dim, keepdim

    def axis_text(self, axis: int) -> str:
        return f"{self.axis_keywords[0]}={axis}, {self.axis_keywords[1]}=True"

    def _print_Mean(self, node):
        return f"{self.child(node, 0, ATOM)}.mean({self.axis_text(node.axis)})"

    def _print_BroadcastMul(self, node):
        return f"{self.child(node, 0, PRODUCT)} * {self.child(node, 1, PRODUCT + 1)}"

    def _print_RowSoftmax(self, node):
        return f"{self.helper('causal_row_softmax' if node.causal else 'row_softmax')}({self.arg(node)})"

    def _print_ColumnBlock(self, node):
        return f"{self.child(node, 0, ATOM)}[:, {node.start}:{node.stop}]"

    def _print_PadColumns(self, node):
        return f"{self.prefix}.pad({self.arg(node)}, ((0, 0), ({node.start}, {node.total - node.stop})))"

    def _print_Concatenate(self, node):
        blocks = ", ".join(self.names[a] for a in node.args)
        return f"{self.prefix}.concatenate([{blocks}], {self.axis_keywords[0]}=1)"

    # Unlowered (write_function(lowered=False)): the helpers compute them directly.
    def _print_Normalize(self, node):
        return f"{self.helper('standardize')}({self.arg(node)}, {1 if node.over == 'batch' else 0}, {float(node.eps)!r})"

    def _print_StdDev(self, node):
        return f"{self.helper('std_dev')}({self.arg(node)}, {1 if node.over == 'batch' else 0}, {float(node.eps)!r})"

    def _print_Composite(self, node):
        return self.arg(node)


    # ---- stacked products (issue 15h; nnsym.emit.stacking) ----
    def _print_Stacked(self, node):
        blocks = ", ".join(self.names[a] for a in node.args)
        return f"{self.prefix}.concatenate([{blocks}], {self.axis_keywords[0]}={node.axis})"

    def line_comment(self, node) -> str:
        """What a line computing a product of stacked operands stands for, as block matrices."""
        if type(node).__name__ != "MatMul" or not any(_is_stack(a) for a in node.args):
            return ""
        return "one product of stacked operands: " + " ".join(self.block_matrix(a) for a in node.args)

    def block_matrix(self, node) -> str:
        if type(node).__name__ == "Transpose" and _is_stack(node.args[0]):
            return self.block_matrix(node.args[0]) + "^T"
        if type(node).__name__ == "Ones":
            return "1^T" if node.rows == 1 else "1"
        if not _is_stack(node):
            name = self.names.get(node, "")
            return name if name.isidentifier() else "(...)"
        inner = [self.block_matrix(a)[1:-1] if _is_stack(a) else self.block_matrix(a) for a in node.args]
        if len(inner) > 5:  # x_1 x_2 ... x_16
            inner = inner[:2] + ["..."] + inner[-1:]
        return "[" + ("; " if node.axis == 0 else " ").join(inner) + "]"

    def _print_Block(self, node):
        span = f"{self.size(node.start)}:{self.size(node.stop)}"
        return f"{self.child(node, 0, ATOM)}[{span if node.axis == 0 else ':, ' + span}]"


def _is_stack(node) -> bool:
    return type(node).__name__ == "Stacked"


PRECEDENCE = {
    "Add": SUM, "TanhPrimeOf": SUM,
    "MatMul": PRODUCT, "Hadamard": PRODUCT, "HadamardDiv": PRODUCT, "ScaleRows": PRODUCT,
    "ScaleColumns": PRODUCT, "SigmoidPrimeOf": PRODUCT, "Gram": PRODUCT,
}


# Normalization and attention (issue 14).
HELPERS |= {"row_softmax", "causal_row_softmax", "standardize", "std_dev"}
PRECEDENCE["BroadcastMul"] = PRODUCT

# Stacked products and one-kernel activation adjoints (issue 15h; PyTorch's helpers in stable_torch).
HELPERS |= {"sigmoid_vjp", "tanh_vjp", "max_pool_adjoint", "channel_correlate", "channel_correlate_kernel_adjoint", "channel_correlate_input_adjoint"}
HELPER_NEEDS["max_pool_adjoint"] = {"max_mask", "max_pool", "upsample", "avg_pool"}  # ties: the mask's own tie-break


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


def helper_source(names, module=stable) -> str:
    """Source of the stable helpers (and those they call), in a fixed order; ``module`` holds them
    (`stable`, or its twin for another array library)."""
    wanted, new = set(), set(names)
    while new:  # and what those call, to the end of the chain (gelu -> normal_cdf -> erfc -> erf_magnitude)
        wanted |= new
        new = set().union(*(HELPER_NEEDS.get(name, set()) for name in new)) - wanted
    # A name asked for must be there; one only called by another may be missing from a library's twin
    # module, whose helper is the library's own kernel (torch's erfc needs no erf_magnitude).
    return "\n\n".join(inspect.getsource(getattr(module, n)) for n in sorted(wanted)
                       if n in names or hasattr(module, n))


def write_function(name: str, outputs: Mapping[str, Expr], doc: str = "", *, printer: type = None,
                   lowered: bool = True, variables: Mapping[str, str] = None, inputs: Sequence[Symbol] = (),
                   split_first: bool = False, arrays: Sequence[str] = ()) -> GeneratedFunction:
    """A function ``name(*, <inputs>)`` returning a dict of the named outputs (or the single value
    when there is one output named ``""``; or, with ``split_first``, the first output's value and a
    dict of the others). ``inputs`` are accepted (and shape-checked) even where no output uses them,
    so that sibling functions share one signature. A 1 x 1 output is returned as a number unless its
    key is in ``arrays`` (the gradient of a 1 x 1 bias has the bias's shape).

    The DAG is first lowered (`nnsym.emit.lowering`: broadcasting, row sums, sigma(1 - sigma)) unless
    ``lowered=False``. Named intermediates get a line under their own name (``z_1``, ``delta_2``),
    every other node used more than once a ``t<n>`` line, the rest is written inline. ``variables``
    may name the line of an output (output key -> identifier, e.g. ``dL_dW_1``).
    """
    # The one name written as given: it must be a plain identifier, never code.
    if not (isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)):
        raise InputError(f"a generated function's name must be a Python identifier, not {name!r}")
    printer_class = printer or NumPyPrinter
    roots = list(outputs.values())
    symbols = sorted({s for r in roots for s in r.free_symbols()} | set(inputs), key=lambda s: s.name)
    arguments = {s.name: identifier(s.name) for s in symbols}
    if len(set(arguments.values())) != len(arguments):
        raise InputError(f"two symbols map to one Python name: {sorted(arguments)}")
    size_names: Dict[sympy.Symbol, str] = {}
    lines = _argument_lines(symbols, arguments, size_names, printer_class)
    for size in sorted({d for r in _sizes_used(roots) for d in r.free_symbols}, key=str):
        if size not in size_names:
            raise InputError(f"the size {size} is not fixed by any argument")
    # Typed compositions as the stable primitives (issue 10): log(1^T e^z) is computed as logsumexp.
    memo = {}
    roots = [canonical(r, memo) for r in roots]
    if lowered:
        # issue 15h: convolution kernels where the library has them, many small products as one
        roots = stack_products(lower_spatial(lower(roots), printer_class.convolution_kernels))
    out = printer_class(size_names)
    if symbols and printer_class.argument_helper:
        out.used_helpers.add(printer_class.argument_helper)
        out.dtype_name = _fresh("dtype", set(arguments.values()) | set(size_names.values()))
    order, uses = _parents(roots)
    for node in order:
        if _repeats_child(node):  # its text names the child twice: compute the child once, on a line
            uses[node.args[0]] = uses.get(node.args[0], 0) + 1
    taken = set(arguments.values()) | set(size_names.values())
    counter = 0
    root_variables = {}
    for key, root in zip(outputs, roots):
        if variables and key in variables and not isinstance(root, Named):
            root_variables.setdefault(root, identifier(variables[key]))
    for node in order:
        if isinstance(node, Symbol):
            out.names[node] = arguments[node.name]
            continue
        text = out.doprint(node)
        if node in roots and isinstance(node, Constant):  # a constant result (d(3x)/dx = 3) is a 1 x 1 array too
            text = printer_class.full(text)
        # A number is as short as a name: it is written where it is used, never given a line.
        shared = uses.get(node, 0) > 1 and not isinstance(node, Constant)
        if isinstance(node, Named) or shared or node in roots:
            if isinstance(node, Named):
                var = _fresh(identifier(node.name), taken)
            elif node in root_variables:
                var = _fresh(root_variables[node], taken)
            else:
                counter += 1
                var = _fresh(f"t{counter}", taken)
            comment = out.line_comment(node)
            lines.append(f"{var} = {text}" + (f"  # {comment}" if comment else ""))
            out.names[node] = var
            out.precedences[node] = ATOM
        else:
            out.names[node] = text
            out.precedences[node] = out.precedence(node)
    if out.uses_dtype and out.dtype_name:
        out.used_helpers.add("float_dtype")
        first = next(i for i, line in enumerate(lines) if not _is_argument_line(line, arguments, size_names))\
            if any(not _is_argument_line(line, arguments, size_names) for line in lines) else len(lines)
        lines.insert(first, f"{out.dtype_name} = float_dtype({', '.join(arguments[s.name] for s in symbols)})")
    results = []
    for key, root in zip(outputs, roots):
        value = out.names[root]
        results.append((key, out.scalar_output(value) if root.is_scalar and key not in arrays else value))
    if len(results) == 1 and results[0][0] == "":
        lines.append(f"return {results[0][1]}")
    elif split_first:
        rest = ", ".join(f"{k!r}: {v}" for k, v in results[1:])
        lines.append(f"return {results[0][1]}, {{{rest}}}")
    else:
        lines.append("return {" + ", ".join(f"{k!r}: {v}" for k, v in results) + "}")
    signature = ", ".join(arguments.values())
    body = "\n".join("    " + line for line in lines)
    head = f"def {name}(*, {signature}):" if signature else f"def {name}():"  # a constant needs no argument
    source = "\n".join([head, *docstring_lines(doc), body]) + "\n"
    return GeneratedFunction(name, source, tuple(sorted(out.used_helpers)), arguments, tuple(outputs))


def _is_argument_line(line: str, arguments, size_names) -> bool:
    """A line of the argument conversion and shape checks (the float type is computed after them)."""
    head = line.split(" ", 1)[0]
    if line.startswith(("if not ", "    raise ValueError(")):  # a target's columns-sum-to-one check (issue 9)
        return True
    return line.startswith("assert ") or head in set(arguments.values()) | set(size_names.values())


def _repeats_child(node) -> bool:
    """Whether the printed form uses the child's text twice (x * x, s * (1 - s), sum(x * x))."""
    if isinstance(node, Power):
        return node.exponent == 2
    return type(node).__name__ in ("NormSq", "Norm", "SigmoidPrimeOf", "TanhPrimeOf")


def docstring_lines(doc: str) -> List[str]:
    """A raw docstring (LaTeX is full of backslashes), indented one level. Quotes cannot end it early:
    they are dropped; a final backslash cannot escape the closing quotes: the text ends in a newline."""
    if not doc:
        return []
    text = doc.replace(chr(34), "").rstrip()
    body = "\n".join(("    " + line).rstrip() for line in text.splitlines())
    return [f'    r"""{body.lstrip()}', '    """']


def _fresh(name: str, taken: set) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def _argument_lines(symbols, arguments, size_names, printer_class) -> List[str]:
    """Convert each argument to a float array of its shape, asserting the shape (sizes named by a
    symbol are read from the first argument that has them). Shapes are static under a JIT, so the
    asserts cost nothing there."""
    lines = []
    prefix = printer_class.prefix
    # A size's variable (n_size) must not take the name of an argument (a symbol n_{size}).
    taken = set(arguments.values()) | set(size_names.values())
    for s in symbols:
        arg = arguments[s.name]
        if s.kind == "scalar":
            lines.append(f"{arg} = {prefix}.reshape({printer_class.as_array(arg)}, (1, 1))")
            continue
        lines.append(f"{arg} = {printer_class.as_array(arg)}")
        if s.kind == "vector":
            lines.append(f"{arg} = {arg}.reshape(-1, 1) if {arg}.ndim == 1 else {arg}")
        described = " x ".join(str(size) for size in s.shape)
        new = [(axis, size) for axis, size in enumerate(s.shape) if size.is_Symbol and size not in size_names]
        if new:
            # A size seen here first is read from this argument, and later ones are checked against it.
            lines.append(f"assert {arg}.ndim == 2, '{arg} should be {described}'")
            for axis, size in new:
                size_names[size] = _fresh(identifier(str(size)) + "_size", taken)
                lines.append(f"{size_names[size]} = {arg}.shape[{axis}]")
        # A size that is an expression of others (2n) is not checked.
        known = [(axis, size) for axis, size in enumerate(s.shape)
                 if (axis, size) not in new and (size.is_Integer or size.is_Symbol)]
        if len(known) == 2:
            # One tuple comparison checks the rank too, and costs less than two indexings.
            expected = ", ".join(_size_text(size, size_names) for size in s.shape)
            lines.append(f"assert {arg}.shape == ({expected}), f'{arg} should be {described}, got {{{arg}.shape}}'")
        elif known:
            axis, size = known[0]
            lines.append(f"assert {arg}.shape[{axis}] == {_size_text(size, size_names)}, "
                         f"f'{arg} should be {described}, got {{{arg}.shape}}'")
        lines.extend(_columns_sum_to_one(s, arg, prefix))
    return lines


# ----- issue 9: an assumption the formulas rely on, checked at run time ---------------------------------
# |sum - 1| <= tol as allclose(rtol=0) tests it (NaN fails), in a third of allclose's time (issue 15h: 16
# targets of an unrolled RNN made these checks a tenth of its gradient's time).
SUMS_TO_ONE = {
    "np": "if not np.abs({arg}.sum(axis=0) - 1.0).max(initial=0.0) <= 1e-9 * {arg}.shape[0]:",
    "torch": "if not torch.all(({arg}.sum(0) - 1.0).abs() <= 1e-9 * {arg}.shape[0]):",
}  # jax.numpy: values are traced under jit and cannot be tested; its module's docstring says so


def _columns_sum_to_one(symbol, arg, prefix) -> List[str]:
    """A target declared a probability or one-hot (softmax cross-entropy's y) gets the short gradient
    softmax(z) - y, right only when each column sums to one: a masked (all-zero) or unnormalised column
    is refused with a ValueError instead of a silently wrong gradient."""
    if not symbol.assumptions & {"probability", "onehot"} or prefix not in SUMS_TO_ONE:
        return []
    return [SUMS_TO_ONE[prefix].format(arg=arg),
            f"    raise ValueError('{arg}: every column must sum to one (it is declared a probability "
            f"distribution; the gradient softmax(z) - y relies on it)')"]


def _size_text(size, size_names) -> str:
    return str(int(size)) if size.is_Integer else size_names[size]


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
    # The title is text: quotes that could close the docstring are dropped, as in docstring_lines.
    title = title.replace(chr(34), "").replace(chr(92), "/")
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
