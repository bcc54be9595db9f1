"""The elementwise oracle: every matrix written out as SymPy entries, differentiated entry by entry.

At small concrete sizes each symbol becomes a `sympy.Matrix` of scalar symbols and each node, by its
`ToSympy._<Node>` method, a matrix of entries in terms of its children's entries. This shares
nothing with the closed-form engine (no rules table, no matrix identities, no table of
derivatives: SymPy differentiates the scalar definitions), so agreement is independent evidence.

`check_elementwise` never expands the function into one scalar formula (that grew faster than n^4
and with every nested layer: a 4-layer tanh network took 16 s). Each node's entries become fresh
symbols defined by small local expressions of their children's entries (a straight-line `Program`);
dL/dW_ij is then accumulated backwards over that program by the chain rule, each local partial
derivative taken by `sympy.diff` of one small local expression. The work is linear in the number
of entries and in the depth.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Mapping, Sequence

import numpy as np
import sympy

from nnsym.declare.expressions import Expr, Symbol, post_order
from nnsym.declare.functions import scalar_definition
from nnsym.emit import spatial_sympy
from nnsym.errors import MissingRuleError
from nnsym.verify.evaluate import concrete_shape
from nnsym.verify.finite_differences import Report
from nnsym.verify.points import random_point, small_sizes, symbols_of

ORACLE_SIZES = (3, 2)


def entry_symbols(symbol: Symbol, sizes: Mapping, prefix: str) -> sympy.Matrix:
    # Entries are named as Python identifiers (prefix_i_j, one prefix per symbol): lambdify replaces a
    # name that is not one (W^{(1)}[0,0]) by walking the whole unshared expression tree, which took
    # a 2-3-3 ELU network with a batch of 4 from seconds to 110 s.
    rows, cols = concrete_shape(symbol, sizes)
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{prefix}_{i}_{j}", real=True))


def _softmax_column(column):
    exps = column.applyfunc(sympy.exp)
    return exps / sum(exps)


def _standardized(z, over, eps):
    """(x-hat, sigma) written out: each row (over the batch) or column (over the features) centred and
    divided by sqrt(biased variance + eps)."""
    lines = [z[i, :] for i in range(z.rows)] if over == "batch" else [z[:, j] for j in range(z.cols)]
    hats, sigmas = [], []
    for line in lines:
        mean = sum(line) / len(line)
        sigma = sympy.sqrt(sum((v - mean) ** 2 for v in line) / len(line) + eps)
        hats.append(line.applyfunc(lambda v: (v - mean) / sigma))
        sigmas.append(sigma)
    if over == "batch":
        return sympy.Matrix.vstack(*hats), sympy.Matrix(sigmas)
    return sympy.Matrix.hstack(*hats), sympy.Matrix([sigmas])


class ToSympy:
    """Expression -> explicit `sympy.Matrix` of entries: one ``_<Node>(node, *children's entries)``
    method per node type, the definition of its entries. A method may read its node's type,
    parameters and shape, its children's types and entries, not the children's parameters or names:
    the program (`Program.apply`) runs it once per kind of node and reuses the result for every node
    of that kind."""

    def __init__(self, sizes: Mapping, entries: Dict[Symbol, sympy.Matrix], program: "Program | None" = None):
        self.sizes = sizes
        self.entries = entries
        # With a program, each node's entries are named there and its parents see only the names.
        self.program = program
        self.memo: Dict[Expr, sympy.Matrix] = {}
        self.context = tuple(sorted((str(size), int(value)) for size, value in sizes.items()))

    def __call__(self, node: Expr) -> sympy.Matrix:
        # Iterative (children before parents): a deep network's DAG is deeper than Python's recursion.
        for current in post_order([node], seen=self.memo):
            method = getattr(self, "_" + type(current).__name__, None)
            if method is None:
                raise MissingRuleError(f"the elementwise oracle has no rule for {type(current).__name__}")
            children = [self.memo[child] for child in current.args]
            if self.program is None:
                self.memo[current] = method(current, *children)
            elif not children:
                self.memo[current] = self.program.define(method(current))
            else:
                self.memo[current] = self.program.apply(method, current, children, self.context)
        return self.memo[node]

    def shape(self, node):
        return concrete_shape(node, self.sizes)

    def _Symbol(self, node):
        return self.entries[node]

    def _Constant(self, node):
        return sympy.Matrix([[node.value.subs(self.sizes)]])

    def _Identity(self, node):
        return sympy.eye(self.shape(node)[0])

    def _Ones(self, node):
        return sympy.ones(*self.shape(node))

    def _Zero(self, node):
        return sympy.zeros(*self.shape(node))

    def _Named(self, node, a):
        return a

    def _MatMul(self, node, a, b):
        return a * b

    def _Add(self, node, *terms):
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out

    def _Scale(self, node, c, a):
        return c[0, 0] * a

    def _Transpose(self, node, a):
        return a.T

    def _Hadamard(self, node, a, b):
        return a.multiply_elementwise(b)

    def _HadamardDiv(self, node, a, b):
        return sympy.Matrix(a.rows, a.cols, lambda i, j: a[i, j] / b[i, j])

    def _Kronecker(self, node, a, b):
        return sympy.kronecker_product(a, b)

    def _Power(self, node, a):
        return a.applyfunc(lambda v: v ** node.exponent)

    def _Apply(self, node, a):
        return a.applyfunc(lambda v: scalar_definition(node.function, v))

    def _Softmax(self, node, z):
        return sympy.Matrix.hstack(*[_softmax_column(z[:, j]) for j in range(z.cols)])

    def _LogSoftmax(self, node, z):
        return self._Softmax(node, z).applyfunc(sympy.log)

    def _LogSumExp(self, node, z):
        return sympy.Matrix([[sympy.log(sum(z[:, j].applyfunc(sympy.exp))) for j in range(z.cols)]])

    def _SoftmaxCrossEntropy(self, node, z, y):
        log_p = self._LogSoftmax(node, z)
        return sympy.Matrix([[-sum(y.multiply_elementwise(log_p))]])

    def _BinaryCrossEntropy(self, node, z, y):
        p = z.applyfunc(lambda v: 1 / (1 + sympy.exp(-v)))
        total = sum(y[k] * sympy.log(p[k]) + (1 - y[k]) * sympy.log(1 - p[k]) for k in range(len(y)))
        return sympy.Matrix([[-total]])

    def _Trace(self, node, a):
        return sympy.Matrix([[a.trace()]])

    def _Det(self, node, a):
        return sympy.Matrix([[a.det(method="berkowitz")]])

    def _LogDet(self, node, a):
        return sympy.Matrix([[sympy.log(a.det(method="berkowitz"))]])

    def _Inverse(self, node, a):
        # The adjugate over the determinant, without inv()'s invertibility test: that simplifies the
        # symbolic determinant (4 s at 4 x 4); a singular point divides by zero and fails the check.
        return a.adjugate(method="berkowitz") / a.det(method="berkowitz")

    def _Diag(self, node, v):
        return sympy.diag(*list(v))

    def _DiagPart(self, node, a):
        return sympy.Matrix([a[i, i] for i in range(a.rows)])

    def _Sum(self, node, a):
        return sympy.Matrix([[sum(a)]])

    def _NormSq(self, node, a):
        return sympy.Matrix([[sum(v ** 2 for v in a)]])

    def _Norm(self, node, a):
        return sympy.Matrix([[sympy.sqrt(sum(v ** 2 for v in a))]])


    # ----- convolution, pooling and correlation (issue 15): their entries, written out by emit -----
    def _Im2col(self, node, a):
        return spatial_sympy.im2col(node, a, self.shape(node))

    def _Col2im(self, node, a):
        return spatial_sympy.col2im(node, a, self.shape(node))

    def _MaxPool(self, node, a):
        return spatial_sympy.max_pool(node, a, self.shape(node))

    def _AvgPool(self, node, a):
        return spatial_sympy.avg_pool(node, a, self.shape(node))

    def _MaxMask(self, node, a):
        return spatial_sympy.max_mask(node, a, self.shape(node))

    def _Upsample(self, node, a):
        return spatial_sympy.upsample(node, a, self.shape(node))

    def _Correlate(self, node, x, k):
        return spatial_sympy.correlate(node, x, k, self.shape(node))

    def _Rot180(self, node, k):
        return spatial_sympy.rot180(node, k, self.shape(node))

    # ----- normalization and attention (issue 14) -----
    def _Normalize(self, node, z):
        return _standardized(z, node.over, node.eps)[0]

    def _StdDev(self, node, z):
        return _standardized(z, node.over, node.eps)[1]

    def _RowSoftmax(self, node, s):
        rows = []
        for i in range(s.rows):
            kept = range(min(i + 1, s.cols)) if node.causal else range(s.cols)
            exps = [sympy.exp(s[i, j]) for j in kept]
            total = sum(exps)
            rows.append([exps[j] / total if j < len(exps) else sympy.Integer(0) for j in range(s.cols)])
        return sympy.Matrix(rows)

    def _ColumnBlock(self, node, a):
        return a[:, node.start:node.stop]

    def _PadColumns(self, node, g):
        return sympy.Matrix.hstack(sympy.zeros(g.rows, node.start), g, sympy.zeros(g.rows, node.total - node.stop))

    def _Composite(self, node, value, *inputs):
        return value


class Program:
    """A straight-line program over scalar entries: steps ``t_k = e_k(operands)``, each ``e_k`` a small
    SymPy expression of entry symbols and earlier ``t``s, compiled with its partial derivatives, in
    the order they may be computed; run forward in floats, then backward by the chain rule (the
    adjoint of each step times its local partial derivatives, passed to its operands). No rules
    table, no expanded formula.

    A node's method runs on its children's entries renamed to placeholders, once per distinct kind
    of node (type, parameters, shape, which child entries are equal or numbers): the 8 layers of a
    network differ only in names, so SymPy builds, differentiates and compiles each kind of step
    once, and every further node of that kind only binds its operands."""

    def __init__(self):
        self.steps: List[_Step] = []

    def __len__(self):
        return len(self.steps)

    def apply(self, method, node: Expr, children: Sequence[sympy.Matrix], context) -> sympy.Matrix:
        """``method(node, *children)`` as steps of the program; its entries are named."""
        operands: List[sympy.Symbol] = []
        index: Dict[sympy.Symbol, int] = {}
        pattern = []
        for child in children:
            cells = []
            for entry in child:
                if entry.is_Symbol:
                    if entry not in index:
                        index[entry] = len(operands)
                        operands.append(entry)
                    cells.append(_placeholder(index[entry]))
                else:
                    cells.append(entry)
            pattern.append((child.rows, child.cols, tuple(cells)))
        # The children's types too: a method that looks at its operand's type (log of a sigmoid) then
        # still meets only nodes like the one it was run on.
        key = (type(node).__name__, node.params, node.shape, tuple(type(c).__name__ for c in node.args),
               tuple(pattern), context)
        shape = _NODE_KINDS.get(key)
        if shape is None:
            renamed = [sympy.Matrix(rows, cols, list(cells)) for rows, cols, cells in pattern]
            shape = _node_kind(method(node, *renamed))
            _remember(_NODE_KINDS, key, shape)
        rows, cols, cells = shape
        return sympy.Matrix(rows, cols, [self._bind(cell, operands) for cell in cells])

    def define(self, matrix: sympy.Matrix) -> sympy.Matrix:
        """A leaf's entries: symbols and numbers as they are, any other entry a step."""
        def name(entry):
            if entry.is_Atom or entry.is_number:
                return entry
            symbols = sorted(entry.free_symbols, key=str)
            return self._bind(_step_cell(entry, symbols, range(len(symbols))), symbols)

        return matrix.applyfunc(name)

    def _bind(self, cell, operands):
        kind, content, where = cell
        if kind == "operand":
            return operands[content]
        if kind == "number":
            return content
        symbol = sympy.Symbol(f"t_{len(self.steps)}", real=True)
        self.steps.append(_Step(symbol, content, [operands[k] for k in where]))
        return symbol

    def forward(self, values: Dict) -> Dict:
        """``values`` (entry symbol -> float) extended by every step's value."""
        for step in self.steps:
            values[step.symbol] = step.local.value(*[values[o] for o in step.operands])
        return values

    def gradient(self, values: Dict, output) -> Dict:
        """d output / d s for every symbol s that ``output`` depends on (``values`` from `forward`)."""
        adjoint = defaultdict(float)
        adjoint[output] = 1.0
        for step in reversed(self.steps):
            bar = adjoint.pop(step.symbol, 0.0)
            if bar == 0.0:
                continue
            arguments = [values[o] for o in step.operands]
            for operand, partial in zip(step.operands, step.local.partials):
                adjoint[operand] += bar * partial(*arguments)
        return adjoint


class _Step:
    __slots__ = ("symbol", "local", "operands")

    def __init__(self, symbol, local, operands):
        self.symbol, self.local, self.operands = symbol, local, operands


class _Local:
    """A step's expression over placeholders p_0, p_1, ... (its operands in order), compiled, and
    its partial derivatives by sympy.diff, compiled when first needed (the closed forms' steps are
    only evaluated, never differentiated)."""

    __slots__ = ("expression", "value", "_partials")

    def __init__(self, expression, arity):
        self.expression = expression
        self.value = _scalar_function(_placeholders(arity), expression)
        self._partials = None

    @property
    def partials(self):
        if self._partials is None:
            arguments = _placeholders(len(self.expression.free_symbols))
            self._partials = [_scalar_function(arguments, self.expression.diff(p)) for p in arguments]
        return self._partials


_PLACEHOLDERS: List[sympy.Symbol] = []
_NODE_KINDS: Dict[tuple, tuple] = {}  # (node kind, children's pattern) -> its entries as cells
_LOCALS: Dict[sympy.Expr, _Local] = {}  # a step's expression over placeholders -> compiled
_MAX_REMEMBERED = 20_000  # per process: the notes and the tests meet each kind again and again


def _placeholders(count: int) -> List[sympy.Symbol]:
    while len(_PLACEHOLDERS) < count:
        _PLACEHOLDERS.append(sympy.Symbol(f"p_{len(_PLACEHOLDERS)}", real=True))
    return _PLACEHOLDERS[:count]


def _placeholder(k: int) -> sympy.Symbol:
    return _placeholders(k + 1)[k]


def _remember(memo: Dict, key, value) -> None:
    if len(memo) >= _MAX_REMEMBERED:
        memo.clear()
    memo[key] = value


def _node_kind(value: sympy.Matrix) -> tuple:
    """A node's entries over its operands' placeholders p_k -> (rows, cols, cells): each cell the
    k-th operand itself, a number, or a step over some of the operands."""
    position = {p: k for k, p in enumerate(_PLACEHOLDERS)}
    cells = []
    for entry in value:
        if entry.is_number:
            cells.append(("number", entry, None))
        elif entry in position:
            cells.append(("operand", position[entry], None))
        else:
            symbols = sorted(entry.free_symbols, key=position.__getitem__)
            cells.append(_step_cell(entry, symbols, [position[s] for s in symbols]))
    return value.rows, value.cols, tuple(cells)


def _step_cell(entry, symbols, where) -> tuple:
    """A step computing ``entry`` from ``symbols`` (the operands at positions ``where``), renamed
    p_0, p_1, ... so that steps of one form share their compiled code and derivatives."""
    expression = entry.xreplace(dict(zip(symbols, _placeholders(len(symbols)))))
    local = _LOCALS.get(expression)
    if local is None:
        local = _Local(expression, len(symbols))
        _remember(_LOCALS, expression, local)
    return ("step", local, list(where))


def _scalar_function(arguments, expression):
    # Scalar code (Python's math), not NumPy: differentiated ReLUs nest Piecewise conditions that
    # np.select refuses. The expression is SymPy's own, built from nnsym's nodes: never user text.
    return sympy.lambdify(arguments, expression, modules=_SCALAR_MODULES, docstring_limit=0)


def elementwise_gradient(f: Expr, symbol: Symbol, sizes: Mapping, entries: Dict) -> sympy.Matrix:
    """dL/dW as SymPy formulas, by differentiating the written-out scalar L by each entry of W (at tiny
    sizes only: the formula grows with every nested layer; `check_elementwise` does not expand it)."""
    scalar = ToSympy(sizes, entries)(f)[0, 0]
    return entries[symbol].applyfunc(lambda w: sympy.diff(scalar, w))


def _heaviside(x, at_zero=0.0):
    return 1.0 if x > 0 else (float(at_zero) if x == 0 else 0.0)


def _dirac_delta(x, *order):
    """d/dx of a step: 0 away from the step, where random points are (issue 9: it was a NameError); at
    the step itself no derivative exists: nan, which fails the comparison (never a silent 0)."""
    return 0.0 if x != 0 else float("nan")


_SCALAR_MODULES = [{"Heaviside": _heaviside, "DiracDelta": _dirac_delta}, "math"]


def check_elementwise(f: Expr, gradients: Mapping[Symbol, Expr], points: int = 2, seed: int = 1,
                      sizes: Mapping | None = None, rtol: float = 1e-9, atol: float = 1e-9) -> Report:
    """Compare closed forms with the entry-by-entry derivative (reverse accumulation over the program of
    scalar steps, local derivatives by SymPy) at random points."""
    symbols = symbols_of(f, *gradients.values(), *gradients)
    # Smaller sizes than the numerical checks use: the program has a step per entry.
    sizes = small_sizes(symbols, sizes, choices=ORACLE_SIZES)
    entries = {s: entry_symbols(s, sizes, f"v{k}") for k, s in enumerate(symbols)}
    program = Program()
    converter = ToSympy(sizes, entries, program)
    loss = converter(f)[0, 0]
    closed = {variable: converter(closed_form) for variable, closed_form in gradients.items()}
    worst = _Worst(rtol, atol)
    for values in _evaluated(program, [f], symbols, sizes, entries, points, seed, worst):
        adjoint = program.gradient(values, loss)
        for variable in gradients:
            expected = [[adjoint.get(w, 0.0) for w in row] for row in entries[variable].tolist()]
            worst.add(variable.name, expected, _values(closed[variable], values))
    return worst.report(points, len(program))


def check_elementwise_jacobian(y: Expr, x: Symbol, jacobian: Expr, points: int = 2, seed: int = 1,
                               sizes: Mapping | None = None, rtol: float = 1e-9, atol: float = 1e-9) -> Report:
    """A closed-form Jacobian (numerator layout: row k is y's k-th entry, column j x's j-th, both in
    row-major order) against one reverse pass over the program per entry of y."""
    symbols = symbols_of(y, jacobian, x)
    sizes = small_sizes(symbols, sizes, choices=ORACLE_SIZES)
    entries = {s: entry_symbols(s, sizes, f"v{k}") for k, s in enumerate(symbols)}
    program = Program()
    converter = ToSympy(sizes, entries, program)
    outputs = list(converter(y))
    closed = converter(jacobian)
    worst = _Worst(rtol, atol)
    for values in _evaluated(program, [y, jacobian], symbols, sizes, entries, points, seed, worst):
        rows = []
        for output in outputs:
            adjoint = program.gradient(values, output)
            rows.append([adjoint.get(w, 0.0) for w in entries[x]])
        worst.add(x.name, rows, _values(closed, values))
    return worst.report(points, len(program))


def _evaluated(program: Program, exprs, symbols, sizes, entries, points: int, seed: int, worst: "_Worst"):
    """Values of every entry and step at ``points`` random points where the functions are defined. A
    point where Python's math overflows (the evaluator's stable forms did not) is replaced by another;
    if none of three times as many works, the check fails: it never passes without having compared."""
    rng = np.random.default_rng(seed)
    done = 0
    for _ in range(3 * points):
        drawn = random_point(exprs, symbols, sizes, rng)
        values = {entries[s][index]: float(drawn[s.name][index])
                  for s in symbols for index in np.ndindex(*drawn[s.name].shape)}
        try:
            program.forward(values)
            yield values
        except (ArithmeticError, ValueError):  # math.exp overflowing, math.log(0) after rounding
            continue
        done += 1
        if done == points:
            return
    worst.ok = False


class _Worst:
    """The worst entry over everything compared, and whether every entry was within tolerance."""

    def __init__(self, rtol: float, atol: float):
        self.rtol, self.atol = rtol, atol
        self.ok, self.compared = True, False
        self.abs = self.rel = 0.0
        self.variable = self.index = None

    def add(self, variable: str, expected, actual) -> None:
        expected, actual = np.array(expected, dtype=float), np.array(actual, dtype=float)
        error = np.abs(expected - actual)  # nan (a step undefined at the point) fails below
        self.ok &= bool(np.all(error <= self.atol + self.rtol * np.abs(expected)))
        self.compared = True
        index = np.unravel_index(np.argmax(error), error.shape)
        self.rel = max(self.rel, float(np.max(error / np.maximum(np.abs(expected), 1e-12))))
        if error[index] >= self.abs:
            self.abs, self.variable, self.index = float(error[index]), variable, tuple(int(i) for i in index)

    def report(self, points: int, steps: int) -> Report:
        return Report(self.ok and self.compared, points, self.abs, self.rel, self.variable, self.index,
                      "elementwise SymPy derivation", detail=f"chain rule over {steps} scalar steps")


def _values(matrix: sympy.Matrix, values) -> list:
    return [[_value(e, values) for e in row] for row in matrix.tolist()]


def _value(entry, values) -> float:
    """A closed-form entry: a step's value, an entry symbol's, or a number."""
    return values[entry] if entry in values else float(entry)
