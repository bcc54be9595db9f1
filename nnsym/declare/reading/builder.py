"""Reading, stage 3: nodes. `_Builder` walks the parse tree bottom-up, without recursion, and makes
nodes only through the constructors of `expressions`, `functions` and the layer modules; their shape
errors get the operator's column. Index notation (``\\sum_k``, ``(Wx)_i``) is built by `index_notation`
at two hooks at the end of this module."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import sympy
from lark import Token

from nnsym.declare import attention as attention_layers
from nnsym.declare import convolution, correlation, distributions, functions, normalization
from nnsym.declare.expressions import (
    Det, Expr, Norm, Softmax, Symbol, add, as_size, constant, det, diag, hadamard, hadamard_div, identity, inv,
    kronecker, logdet, logsumexp, matmul, multiply, neg, norm, number, ones, power, scalar, scale, show_shape,
    softmax, trace, transpose,
)
from nnsym.declare.names import canonical_name
from nnsym.declare.reading import index_notation, time_steps
from nnsym.declare.reading.grammar import _Node
from nnsym.declare.reading.scanner import _PRIMES, _located
from nnsym.errors import InputError, ParseError, ShapeError

# ----- vocabulary of the builder -------------------------------------------------------------------------
_CALLS = {"softmax": softmax, "logsumexp": logsumexp, "diag": diag, "trace": trace, "det": det}
_RESHAPING = frozenset({"logsumexp", "diag", "trace", "det"})  # the rest keep their argument's shape

def _normalized(over):
    def build(eps, Z, gamma=None, beta=None):
        if gamma is None:
            return normalization.normalize(Z, over, eps)
        return (normalization.batch_norm if over == "batch" else normalization.layer_norm)(Z, gamma, beta, eps)
    return build


# function -> (build(parameter, *inputs), the numbers of inputs it takes)
_LAYER_CALLS = {
    "batch_norm": (_normalized("batch"), (1, 3)),
    "layer_norm": (_normalized("features"), (1, 3)),
    "std": (lambda p, Z: normalization.std(Z, *p), (1,)),
    "row_softmax": (lambda causal, S: attention_layers.row_softmax(S, causal), (1,)),
    "attention": (lambda causal, Q, K, V: attention_layers.attention(Q, K, V, causal), (3,)),
    "multi_head": (lambda p, X, WQ, WK, WV, WO: attention_layers.multi_head_attention(X, WQ, WK, WV, WO, *p), (5,)),
    "cols": (lambda p, A: attention_layers.column_block(A, *p), (1,)),
    "pad": (lambda p, G: attention_layers.pad_columns(G, p[0], p[1]), (1,)),
}

# issue 15e: \operatorname{rot180}(K), the kernel rotated by 180 degrees (nnsym.declare.correlation)
_CALLS["rot180"] = correlation.rot180

_SECOND_DERIVATIVES = frozenset({"sigmoid_prime", "tanh_prime"})  # \sigma''(z), \tanh''(z)
_IDENTITY = re.compile(r"^I(?:_\{(.*)\})?$")


# ----- stage 3: nodes ------------------------------------------------------------------------------------

class _Unsized(Exception):
    def __init__(self, col, what):
        super().__init__(col, what)
        self.col, self.what = col, what


@dataclass(frozen=True)
class _Pending:
    """I, 1 or an expression built on them, waiting for a size: ``make(rows, cols)`` builds it (either
    may be None) or raises `_Unsized`."""

    col: int
    what: str
    make: Callable


@dataclass(frozen=True)
class _Letters:
    """A run of letters read as a product (Wx is W times x); a superscript binds to the last letter."""

    items: tuple
    cols: tuple

    def with_last(self, value):
        return _Letters(self.items[:-1] + (value,), self.cols)


class _Builder:
    """Parse tree -> nodes, bottom-up without recursion; every constructor error gets a column."""

    def __init__(self, text, symbols):
        self.text, self.symbols = text, symbols
        self.star_paddings = {}  # issue 15e: column of a \\star -> the padding its subscript gives

    def error(self, cls, col, message):
        return _located(cls, self.text, col, message)

    @contextmanager
    def at(self, col):
        try:
            yield
        except (ShapeError, InputError) as error:
            if getattr(error, "column", None) is not None:
                raise
            raise self.error(type(error), col, str(error)) from None

    def build(self, root):
        values, stack = {}, [(root, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in node.children if isinstance(child, _Node))
                continue
            args = [values.pop(id(c)) if isinstance(c, _Node) else c for c in node.children]
            values[id(node)] = getattr(self, "_" + node.data)(node, *args)
        return values[id(root)]

    # ----- values that are not yet expressions -----
    def solid(self, value):
        if isinstance(value, _Letters):
            return self.multiply(list(value.items), [("JUXT", col) for col in value.cols[1:]])
        return value

    def concrete(self, value) -> Expr:
        value = self.solid(value)
        return value.make(None, None) if isinstance(value, _Pending) else value

    def on_last(self, value, fn):
        return value.with_last(fn(value.items[-1])) if isinstance(value, _Letters) else fn(self.solid(value))

    def apply(self, x, col, fn, keeps_shape=True, swap=False):
        """fn(x) at col; a pending x stays pending when fn keeps (or, with swap, transposes) its shape."""
        x = self.solid(x)
        if isinstance(x, _Pending):
            if keeps_shape:
                return _Pending(x.col, x.what,
                                lambda r, c: self.apply(x.make(*((c, r) if swap else (r, c))), col, fn))
            x = x.make(None, None)
        with self.at(col):
            return fn(x)

    def placeholder(self, what, hint, col, construct, square):
        if hint is not None:
            if not hint.isascii() or not (hint.isdigit() or hint.isidentifier()):
                raise self.error(ParseError, col, f"the size in {what}_{{{hint}}} must be a number or a name")
            hint = as_size(int(hint) if hint.isdigit() else hint)

        def make(rows, cols):
            context = rows if rows is not None or not square else cols
            if context is None and hint is None:
                raise _Unsized(col, what)
            if hint is not None and context is not None and hint != context and not (
                    hint.is_Symbol and context.is_Integer):
                raise self.error(ShapeError, col, f"{what}_{{{hint}}} must have size {context} here")
            return construct(hint if context is None else context)

        return _Pending(col, what, make)

    # ----- names -----
    def canonical(self, text, col):
        try:
            return canonical_name(text)
        except InputError as error:
            raise self.error(ParseError, col, str(error)) from None

    def leaf(self, name, col):
        if name in self.symbols:
            return self.symbols[name]
        with self.at(col):
            entry = index_notation.named_entry(name, self.symbols)  # W_{ij}, x_k, \delta_{ij}
        if entry is not None:
            return entry
        if name == "e":
            return constant(sympy.E)
        if name.startswith("e^{"):  # a layer index on Euler's number is surely a power in parentheses
            raise self.error(ParseError, col, "e^{(...)} reads as a layer index, not a power: "
                                              "write e^{x + 1} or \\exp(...)")
        identity_size = _IDENTITY.match(name)
        if identity_size:
            return self.placeholder("I", identity_size.group(1), col, identity, square=True)
        # issue 10: the B of \frac{1}{B} with --shape X=4xB is that size, one quantity, not a new input.
        for symbol in self.symbols.values():
            for size in symbol.shape:
                if isinstance(size, sympy.Symbol) and str(size) == name:
                    return constant(size)
        return scalar(name)

    def _name(self, node, token):
        parts = token.value
        whole = self.canonical(parts.base + parts.scripts, parts.col)
        if whole in self.symbols or not parts.splittable:
            return self.leaf(whole, parts.col)
        letters = list(parts.base[:-1]) + [self.canonical(parts.base[-1] + parts.scripts, parts.col)]
        declared = [n for n in letters if n in self.symbols]
        unknown = [n for n in letters if n not in self.symbols and n != "e" and not _IDENTITY.match(n)]
        if declared and unknown:
            raise self.error(ParseError, parts.col,
                             f"unknown name '{whole}' ({', '.join(declared)} declared, {', '.join(unknown)} "
                             f"not): declare {' and '.join(unknown)} (or '{whole}') with a shape, or write "
                             f"the letters apart if {', '.join(unknown)} {'is a scalar' if len(unknown) == 1 else 'are scalars'}")
        cols = tuple(parts.col + k for k in range(len(letters)))
        return _Letters(tuple(self.leaf(n, c) for n, c in zip(letters, cols)), cols)

    def _number(self, node, token):
        return constant(sympy.Rational(token.value))

    def _pi(self, node, token):
        return constant(sympy.pi)

    def _ones(self, node, token):
        return self.placeholder("\\mathbf{1}", token.value, node.col, ones, square=False)

    # ----- sums and products -----
    def _start(self, node, value):
        return value

    def _sum(self, node, *args):
        signs, terms, cols, sign, col = [], [], [], 1, node.col
        for arg in args:
            if isinstance(arg, Token):
                sign, col = (-1 if arg.type == "MINUS" else 1), arg.column
                continue
            signs.append(sign)
            terms.append(self.solid(arg))
            cols.append(col)
            sign = 1
        pending = [t for t in terms if isinstance(t, _Pending)]
        if pending:
            shape = next((t.shape for t in terms if isinstance(t, Expr) and not t.is_scalar), None)
            if shape is None:
                return _Pending(pending[0].col, pending[0].what, lambda r, c: self.add_terms(
                    signs, [t.make(r, c) if isinstance(t, _Pending) else t for t in terms], cols))
            terms = [t.make(*shape) if isinstance(t, _Pending) else t for t in terms]
        return self.add_terms(signs, terms, cols)

    def add_terms(self, signs, terms, cols):
        signed = []
        for sign, term, col in zip(signs, terms, cols):
            with self.at(col):
                signed.append(neg(term) if sign < 0 else term)
        if len(signed) == 1:
            return signed[0]
        try:
            return add(*signed)
        except ShapeError as error:  # point at the operator before the first term that does not fit
            reference = next(t.shape for t in signed if not t.is_scalar)
            col = next(c for t, c in zip(signed, cols) if not t.is_scalar and t.shape != reference)
            raise self.error(ShapeError, col, str(error)) from None

    def _elementwise(self, node, first, *rest):
        result = self.solid(first)
        for operator, operand in zip(rest[::2], rest[1::2]):
            right = self.solid(operand)
            if operator.type == "OTIMES":
                result, right, combine = self.concrete(result), self.concrete(right), kronecker
            else:
                result, right = self.same_size(result, right)
                combine = hadamard if operator.type == "ODOT" else hadamard_div
            with self.at(operator.column):
                result = combine(result, right)
        return result

    def same_size(self, a, b):
        if isinstance(a, _Pending) and isinstance(b, Expr):
            return a.make(*b.shape), b
        if isinstance(b, _Pending) and isinstance(a, Expr):
            return a, b.make(*a.shape)
        return self.concrete(a), self.concrete(b)

    def _product(self, node, *args):
        items, ops, operator = [], [], None
        for child, arg in zip(node.children, args):
            if isinstance(arg, Token):
                operator = (arg.type, arg.column)
                if arg.type == "STAR":  # issue 15e: its padding, by the operator's column
                    self.star_paddings[arg.column] = arg.value
                continue
            pieces, cols = (arg.items, arg.cols) if isinstance(arg, _Letters) else ((arg,), (child.col,))
            for k, (piece, col) in enumerate(zip(pieces, cols)):
                if items:
                    ops.append(operator if k == 0 and operator else ("JUXT", col))
                items.append(piece)
            operator = None
        return self.multiply(items, ops)

    def multiply(self, items, ops):
        if len(items) == 1:
            return items[0]
        try:
            return self.resolve_product(items, ops, None, None)
        except _Unsized:
            summed = self.sum_of_one_entry(items)
            if summed is not None:
                return self.multiply(summed, ops)
            first = next(item for item in items if isinstance(item, _Pending))
            return _Pending(first.col, first.what, lambda r, c: self.resolve_product(items, ops, r, c))

    def resolve_product(self, items, ops, rows, cols):
        """Size each I and 1 from its nearest non-scalar neighbours (or the product's own rows and
        columns at the ends), then multiply left to right."""
        items = list(items)
        waiting = [k for k, item in enumerate(items) if isinstance(item, _Pending)]
        self.no_pending_beside_star(items, ops, waiting)
        waiting = [k for k in waiting if isinstance(items[k], _Pending)]
        while waiting:
            sized = []
            for k in waiting:
                try:
                    items[k] = items[k].make(self.beside(items, k, -1, rows), self.beside(items, k, 1, cols))
                    sized.append(k)
                except _Unsized:
                    pass
            if not sized:
                raise _Unsized(items[waiting[0]].col, items[waiting[0]].what)
            waiting = [k for k in waiting if k not in sized]
        result = items[0]
        for (kind, col), item in zip(ops, items[1:]):
            with self.at(col):
                if kind == "STAR":
                    result = correlation.correlate(result, item, self.star_paddings[col])
                elif result.is_scalar or item.is_scalar:
                    result = multiply(result, item)
                elif kind == "TIMES":
                    raise self.error(ParseError, col, f"\\times between a {show_shape(result.shape)} and a "
                                                      f"{show_shape(item.shape)}: write the matrix product as "
                                                      "juxtaposition or \\cdot")
                elif kind == "CDOT" and result.cols == 1 and result.shape == item.shape:
                    result = matmul(transpose(result), item)  # issue 9: x \cdot y of two vectors is x^T y
                else:
                    result = matmul(result, item)
        return result

    # ----- single-channel correlation as typed (issue 15e): X \star K -----
    def no_pending_beside_star(self, items, ops, waiting):
        """I and 1 take their size from a matrix product's neighbours; a correlation's do not say it."""
        for k in waiting:
            beside = [ops[j] for j in (k - 1, k) if 0 <= j < len(ops)]
            star = next((col for kind, col in beside if kind == "STAR"), None)
            if star is None:
                continue
            try:
                items[k] = items[k].make(None, None)  # sized by its own subscript (\\mathbf{1}_{3})
                continue
            except _Unsized:
                raise self.error(ParseError, items[k].col, f"{items[k].what} next to \\star needs its size: "
                                                           f"write {items[k].what}_{{n}} or a declared matrix")

    @staticmethod
    def beside(items, k, step, outer):
        """The size a pending factor must match on one side: the nearest non-scalar factor's, or the
        product's own when there is none."""
        k += step
        while 0 <= k < len(items):
            if isinstance(items[k], _Pending):
                return None
            if not items[k].is_scalar:
                return items[k].cols if step < 0 else items[k].rows
            k += step
        return outer

    # ----- superscripts -----
    def _transpose(self, node, base, token):
        return self.on_last(base, lambda x: self.apply(x, token.column, transpose, swap=True))

    def _inverse(self, node, base, token):
        return self.on_last(base, lambda x: self.apply(x, token.column, inv))

    def _inverse_transpose(self, node, base, token):
        return self.on_last(base, lambda x: self.apply(x, token.column, lambda a: transpose(inv(a)), swap=True))

    def _power(self, node, base, caret, exponent):
        return self.on_last(base, lambda b: self.raise_to(self.concrete(b), self.concrete(exponent), caret.column))

    def raise_to(self, base, exponent, col):
        if number(base) == sympy.E:  # e^{...}: exp, entrywise for a non-scalar exponent
            return self.apply(exponent, col, functions.exp)
        if number(base) is not None and number(exponent) is None and number(base) > 0:
            # issue 9: 2^{x} = exp(x log 2)
            return self.apply(exponent, col, lambda z: functions.exp(scale(functions.log(base), z)))
        k = self.exponent(exponent, col)
        with self.at(col):
            if isinstance(base, Norm) and k == 2:
                return norm(base.args[0], squared=True)
            if base.is_scalar:
                return power(base, k)
            if base.is_square and k.is_Integer and k != 0:  # A^{-2} is (A^{-1})^2
                return base ** int(k) if k > 0 else inv(base) ** int(-k)
            what = "nonzero whole-number powers" if base.is_square else "powers"
            raise ShapeError(f"power of a {show_shape(base.shape)}: only scalars and square matrices have "
                             f"{what} (entrywise: ^{{\\circ {k}}}; a squared norm: \\|x\\|^2)")

    def exponent(self, value, col):
        k = number(value)
        if k is None:
            raise self.error(ParseError, col, "the exponent must be a number (x^n with a symbol n is not read)")
        return k

    def _hadamard_power(self, node, base, caret, circle, exponent):
        k = self.exponent(self.concrete(exponent), caret.column)
        return self.on_last(base, lambda b: self.apply(b, caret.column, lambda a: power(a, k)))

    # ----- fractions, functions, reductions -----
    def _frac(self, node, token, numerator, denominator):
        denominator = self.concrete(denominator)
        if not denominator.is_scalar:
            raise self.error(ParseError, node.col, f"\\frac{{A}}{{B}} needs a scalar denominator, not a "
                                                   f"{show_shape(denominator.shape)} (entrywise: A \\oslash B)")
        return self.apply(numerator, node.col, lambda a: a / denominator)

    def _sqrt(self, node, token, x):
        return self.apply(x, node.col, functions.sqrt)

    def _call(self, node, token, prime, x):
        name, parameter = token.value
        if name in _LAYER_CALLS:
            return self._call_many(node, token, x)
        if prime is not None and name in _SECOND_DERIVATIVES:  # issue 9: \sigma''(z) = (\sigma')'(z)
            spec = functions.ELEMENTWISE[name]
            return self.apply(x, node.col, lambda z: spec.derivative(z, functions.Function(name, parameter)))
        if name in ("softmax", "logsumexp"):
            self.need_column(name, self.solid(x), node.col)
        if name == "heaviside" and prime is None and self._probability_symbol(self.solid(x)):
            # H(p) of a declared probability vector is its entropy (the step of a probability is 1).
            with self.at(node.col):
                return distributions.entropy(self.solid(x))
        if prime is not None:
            if name not in _PRIMES:
                raise self.error(ParseError, prime.column, "a prime is read only after \\sigma, \\tanh, ReLU, "
                                                           "LeakyReLU, ELU or GELU")
            name = _PRIMES[name]
        if name in convolution.OPERATORS:  # issue 15: the parameter is the geometry
            return self.apply(x, node.col, lambda z: convolution.OPERATORS[name](z, parameter), keeps_shape=False)
        fn = _CALLS.get(name) or (lambda z: functions.apply(name, z, parameter))
        return self.apply(x, node.col, fn, keeps_shape=name not in _RESHAPING)

    def _call_many(self, node, token, *xs):
        """A layer operator with its inputs: BN(Z, \\gamma, \\beta), Attention(Q, K, V), MultiHead_{h}(X, ...)."""
        name, parameter = token.value
        if name not in _LAYER_CALLS and len(xs) == 2:
            return self._call_pair(node, token, *xs)  # H(p, q)
        if name not in _LAYER_CALLS:
            raise self.error(ParseError, node.col, "only layers (BN, LayerNorm, Attention, MultiHead) and H(p, q) "
                                                   "take more than one argument")
        build, counts = _LAYER_CALLS[name]
        if len(xs) not in counts:
            raise self.error(ParseError, node.col, f"this operator takes {' or '.join(map(str, counts))} "
                                                   f"argument(s), got {len(xs)}")
        inputs = [self.concrete(x) for x in xs]
        with self.at(node.col):
            return build(parameter, *inputs)

    def _call_power(self, node, token, caret, exponent, x):
        """\\tanh^2(z): the function's value squared, entrywise (a positive integer power only:
        \\tanh^{-1} would be the inverse function)."""
        k = self.exponent(self.concrete(exponent), caret.column)
        if not (k.is_Integer and k > 0):
            raise self.error(ParseError, caret.column, f"a power of a function is read only as a positive "
                                                       f"whole number (\\tanh^2(z)), not {k}")
        value = self._call(node, token, None, x)
        return self.apply(value, caret.column, lambda a: power(a, k))

    def _log(self, node, token, x):
        x = self.solid(x)
        if isinstance(x, Det):  # \log\det(A), \log|A|
            with self.at(node.col):
                return logdet(x.args[0])
        return self.apply(x, node.col, functions.log)

    def _bars(self, node, token, x):
        x = self.concrete(x)
        if x.is_scalar:  # issue 9: |x| of a scalar, as ReLU(x) + ReLU(-x) (its derivative is the sign)
            with self.at(node.col):
                return add(functions.relu(x), functions.relu(neg(x)))
        if x.cols == 1:
            raise self.error(ParseError, node.col, "|...| is read only as the determinant of a square matrix "
                                                   "or the absolute value of a scalar; bars around a vector are "
                                                   "not read (a norm is \\|x\\|)")
        with self.at(node.col):
            return det(x)

    def _norm(self, node, token, x, closer):
        x = self.concrete(x)
        if closer.value == "2" and x.rows != 1 and x.cols != 1:
            raise self.error(ParseError, closer.column, "\\|X\\|_2 of a matrix is the spectral norm, which is "
                                                        "not read; write \\|X\\|_F for the Frobenius norm")
        return norm(x)

    def _max(self, node, token, a, b):
        a, b = self.solid(a), self.solid(b)
        zero = [v for v in (a, b) if isinstance(v, Expr) and number(v) == 0]
        if token.value == "\\min" or not zero:  # issue 9: max(a, b) = a + ReLU(b - a), min(a, b) = a - ReLU(a - b)
            return self.max_min(node.col, token.value == "\\min", self.concrete(a), self.concrete(b))
        return self.apply(b if zero[0] is a else a, node.col, functions.relu)

    # ----- issue 9: max(a, b), min(a, b), softmax of a column ------------------------------------------
    def max_min(self, col, is_min, a, b):
        with self.at(col):
            if is_min:
                return add(a, neg(functions.relu(add(a, neg(b)))))
            return add(a, functions.relu(add(b, neg(a))))

    @staticmethod
    def sum_of_one_entry(items):
        """\\mathbf{1}^\\top x of a 1x1 x (--shape x=1): the row of ones has length 1. Only a transposed
        1 right before a 1x1 symbol-bearing factor: c \\mathbf{1} in a claim still takes the claim's shape."""
        for k, item in enumerate(items[:-1]):
            after = items[k + 1]
            if isinstance(item, _Pending) and isinstance(after, Expr) and after.is_scalar and number(after) is None:
                try:
                    row = item.make(None, 1)  # succeeds only for a transposed 1: its length is the 1 given
                except _Unsized:
                    continue
                return items[:k] + [row] + items[k + 1:]
        return None

    def need_column(self, name, x, col):
        if isinstance(x, Expr) and x.rows == 1 and x.cols > 1:
            raise self.error(ShapeError, col, f"{name} of a row ({show_shape(x.shape)}) would be taken column by "
                                              f"column, one entry each: {name} works on columns; write "
                                              f"\\operatorname{{{name}}}(z)^\\top for a row z^\\top")

    def _indicator(self, node, token, x, bound):
        if number(self.concrete(bound)) != 0:
            raise self.error(ParseError, node.col, "\\mathbb{1}[...] is read only as \\mathbb{1}[z > 0], the step")
        return self.apply(x, node.col, functions.heaviside)

    # ----- information theory (issue 16) -----
    def _divergence(self, node, token, p, q):
        p, q = self.concrete(p), self.concrete(q)
        with self.at(node.col):
            return distributions.kl_divergence(p, q)

    def _call_pair(self, node, token, a, b):
        name, _ = token.value
        if name != "heaviside":
            raise self.error(ParseError, node.col, "only H(p, q), the cross-entropy, takes two arguments here")
        a, b = self.concrete(a), self.concrete(b)
        with self.at(node.col):
            return distributions.cross_entropy(a, b)

    def _probability_symbol(self, x) -> bool:
        """A declared probability vector or a softmax: what H(...) is the entropy of."""
        return (isinstance(x, Symbol) and "probability" in x.assumptions) or (isinstance(x, Softmax) and x.cols == 1)


# ----- index notation (nnsym.declare.reading.index_notation makes the nodes and the matrix form) -----

def _summation(self, node, *args):
    """[factors] \\sum_k body: the sum covers the products after it, \\odot and \\oslash included, up to
    the next + or - (\\sum_t \\delta_t \\odot \\tanh'(z_t), as lecturers write it); factors before it multiply it."""
    k = next(n for n, arg in enumerate(args) if isinstance(arg, Token) and arg.type == "SUM")
    token, body = args[k], args[k + 1]
    star = next((a for a in args[:k] if isinstance(a, Token) and a.type == "STAR"), None)
    if star is not None:  # issue 15e: the grammar shares the product's repetition, \star included
        raise self.error(ParseError, star.column, "\\star before a sum \\sum_k: put the sum in parentheses")
    if isinstance(token.value, time_steps.TimeSum):  # issue 15: a sum over time steps, unrolled
        total = time_steps.unroll(self.steps, self.text, token.value, self.concrete(body))
    else:
        with self.at(token.column):
            total = index_notation.summation(self.concrete(body), token.value)
    prefix = [a for a in args[:k] if not (isinstance(a, Token) and a.type in ("CDOT", "TIMES"))]
    if not prefix:
        return total
    factor = self._product(_Node("product", node.children[:len(prefix)]), *prefix)
    return self.multiply([self.solid(factor), total], [("JUXT", token.column)])


def _entry(self, node, value, token):
    with self.at(token.column):
        return index_notation.bracket_entry(self.concrete(value), token.value)


_Builder._summation = _summation
_Builder.steps = None  # issue 15: the time steps of the formula (time_steps.prepare), set by the reader
_Builder._entry = _entry

