"""LaTeX as a lecturer writes it on the board: ``(W x - y) x^\\top``, ``\\sigma'(z) \\odot \\delta``.

A visitor over the nodes (SymPy's `Printer` dispatch: one ``_print_<Node>`` method each); numbers and
symbolic sizes go through SymPy's own `LatexPrinter`. Every notation choice is in `Notation`.
Everything printed here reads back with `nnsym.declare.reading` to the same value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

import sympy
from sympy.printing.latex import LatexPrinter as SympyLatexPrinter
from sympy.printing.printer import Printer

from nnsym.declare.expressions import (
    Add, Constant, Expr, Hadamard, HadamardDiv, Inverse, MatMul, Named, Power, Scale, Sum, Symbol, number,
)
from nnsym.declare.correlation import written_padding
from nnsym.declare.limits import require_writable
from nnsym.errors import InputError, MissingRuleError, refuse_deep_nesting


# ----- issue 9: numbers as written ----------------------------------------------------------------------
class DecimalLatexPrinter(SympyLatexPrinter):
    """A fraction whose denominator is a product of 2s and 5s above 100 (not a power of two) is a decimal
    the user wrote (2.71828182, 0.001): printed as that decimal, exactly, not as \\frac{135914091}{50000000}."""

    def _print_Rational(self, expr):
        q = int(expr.q)
        twos = (q & -q).bit_length() - 1
        rest = q >> twos
        fives = 0
        while rest % 5 == 0:
            rest //= 5
            fives += 1
        if rest != 1 or q <= 100 or fives == 0:
            return super()._print_Rational(expr)
        digits = max(twos, fives)
        scaled = abs(int(expr.p)) * 10 ** digits // q
        whole, fraction = divmod(scaled, 10 ** digits)
        text = f"{whole}.{fraction:0{digits}d}".rstrip("0").rstrip(".")
        return ("-" if expr.p < 0 else "") + text

    # ----- issue 14c: a square root from a denominator stays there -----
    def _print_Mul(self, expr):
        """SymPy stores 1/sqrt(2) as sqrt(2)/2 and 3/(2 sqrt(2)) as 3 sqrt(2)/4; a lecturer writes the
        root where it came from, \\frac{1}{\\sqrt{2}} (the attention scale 1/sqrt(d)). Only when the
        rational part's denominator holds n, so sqrt(3)/2 stays \\frac{\\sqrt{3}}{2}."""
        r, root = expr.as_coeff_Mul()
        if (r.is_Rational and root.is_Pow and root.base.is_Integer and root.base > 1
                and root.exp == sympy.Rational(1, 2) and r.q % int(root.base) == 0):
            top = r * root.base  # r sqrt(n) = (r n) / sqrt(n)
            sign = "-" if top < 0 else ""
            below = (f"{abs(top.q)} " if top.q != 1 else "") + rf"\sqrt{{{root.base}}}"
            return rf"{sign}\frac{{{abs(top.p)}}}{{{below}}}"
        return super()._print_Mul(expr)


@dataclass(frozen=True)
class Notation:
    """Notation choices, all in one place."""

    transpose: str = r"^\top"
    hadamard: str = r"\odot"
    bold_vectors: bool = False
    ones: str = r"\mathbf{1}"


# Precedences: a child binding more loosely than its parent's slot is parenthesised.
ADD, HADAMARD, PRODUCT, POSTFIX, ATOM = 10, 15, 20, 30, 40
# issue 15e: \star is read at the level of a product, left to right; printed, a correlation is
# parenthesised as a factor of a product and its operands are atoms (or parenthesised), so that
# nobody has to know how \star and juxtaposition group: \left(A B\right) \star K, \left(X \star K\right) W.
CORRELATE = 18


class LatexPrinter(Printer):
    printmethod = "_nnsym_latex"
    _default_settings = {"notation": Notation()}

    def __init__(self, notation: Notation = Notation()):
        super().__init__({"notation": notation})
        self.notation = notation
        self._numbers = DecimalLatexPrinter()
        self.sized = set()  # ids of the I and 1 whose size the formula must state (I_n, 1_n)

    def doprint(self, expr):
        # A formula that is only I or 1 (times a number) must say its size: nothing else in it does.
        self.sized = {id(expr), id(expr.args[1]) if isinstance(expr, Scale) else None}
        return super().doprint(expr)

    def needs_size(self, node) -> bool:
        return id(node) in self.sized

    def emptyPrinter(self, expr):
        raise MissingRuleError(f"no LaTeX rule for {type(expr).__name__}")

    # ----- precedence plumbing -----
    def precedence(self, node) -> int:
        kind = type(node).__name__
        if kind == "Add":
            return ADD
        if kind == "Scale":
            c = number(node.args[0])
            if c is not None and c < 0:
                return ADD
            if self.negated_loss(node.args[1]):
                return ADD  # c (-1^T (...) 1) prints as -c 1^T (...) 1
            return HADAMARD if self.scaled_hadamard(node) else PRODUCT
        if kind == "Constant":
            v = node.value
            if v < 0 or (v.is_Rational and not v.is_Integer):
                return ADD if v < 0 else PRODUCT
            return ATOM
        if kind in ("Hadamard", "HadamardDiv", "Kronecker"):
            return HADAMARD
        if kind == "Correlate":
            return CORRELATE  # issue 15e: X \star K - Y, but \left(X \star K\right) W
        if kind == "MatMul":
            return PRODUCT
        if kind in ("SoftmaxCrossEntropy", "BinaryCrossEntropy"):
            return ADD
        if kind == "Sum":
            return PRODUCT
        if kind == "Power" and node.args[0].is_scalar and node.exponent < 0:
            # \frac{1}{s^2} is a unit in a product (no parentheses), not under a superscript
            return POSTFIX
        if kind == "Ones" and node.rows != 1 and node.cols != 1:
            return PRODUCT
        return ATOM

    def wrap(self, node, level: int) -> str:
        text = self._print(node)
        if self.precedence(node) < level:
            return rf"\left({text}\right)"
        return text

    def number(self, value) -> str:
        return self._numbers.doprint(value)

    # ----- leaves -----
    def _print_Symbol(self, node: Symbol):
        if self.notation.bold_vectors and node.kind in ("vector", "matrix"):
            return rf"\mathbf{{{node.name}}}"
        return node.name

    def _print_Named(self, node):
        return node.name

    def _print_Constant(self, node: Constant):
        return self.number(node.value)

    def _print_Identity(self, node):
        return rf"I_{{{self.number(node.rows)}}}" if self.needs_size(node) else "I"

    def _print_Zero(self, node):
        return "0"

    def _print_Ones(self, node):
        one = self.notation.ones
        if node.cols == 1:
            return one + (rf"_{{{self.number(node.rows)}}}" if self.needs_size(node) else "")
        if node.rows == 1:
            return one + (rf"_{{{self.number(node.cols)}}}" if self.needs_size(node) else "") + self.notation.transpose
        return rf"{one}_{{{self.number(node.rows)}}} {one}_{{{self.number(node.cols)}}}{self.notation.transpose}"

    # ----- sums and products -----
    # ----- products and sums of scalars, as on the board: 2 x y^{2}, \frac{4 x}{1 + x^{2}} -----
    def monomial(self, node):
        """A scalar product as (coefficient, {factor: exponent}) in first-seen order, or None when the
        node is not a product of scalars. Reverse mode builds such products in whatever order the
        chain rule meets them ((2 x) y) y); a lecturer collects the number and the powers."""
        if not node.is_scalar or not isinstance(node, (Scale, MatMul, Hadamard, HadamardDiv, Power, Constant)):
            return None
        if any(not a.is_scalar for a in node.args):
            return None
        coefficient, factors = sympy.Integer(1), {}

        def walk(n, sign):
            nonlocal coefficient
            c = number(n)
            if c is not None:
                coefficient *= c ** sign
            elif isinstance(n, (Scale, MatMul, Hadamard)) and all(a.is_scalar for a in n.args):
                walk(n.args[0], sign)
                walk(n.args[1], sign)
            elif isinstance(n, HadamardDiv) and all(a.is_scalar for a in n.args):
                walk(n.args[0], sign)
                walk(n.args[1], -sign)
            elif isinstance(n, Power) and n.args[0].is_scalar and n.exponent.is_Integer:
                base = n.args[0]
                if isinstance(base, (Scale, MatMul, Hadamard)) and all(a.is_scalar for a in base.args):
                    walk(base, sign * int(n.exponent))  # (2 N)^{-1} = 2^{-1} N^{-1}
                else:
                    factors[base] = factors.get(base, 0) + sign * int(n.exponent)
            else:
                factors[n] = factors.get(n, 0) + sign

        walk(node, 1)
        return coefficient, {f: k for f, k in factors.items() if k != 0}

    def print_monomial(self, coefficient, factors) -> str:
        # Symbols first, by name, then the rest as met: 3 y \sigma'(3 x).
        ordered = sorted(factors, key=lambda f: (0, f.name) if isinstance(f, (Symbol, Named)) else (1, ""))
        # a cross-entropy's own minus joins the coefficient: -\frac{1}{4} 1^T (...) 1, not \frac{1}{4} (-1^T (...) 1)
        losses = {f for f in ordered if factors[f] == 1 and self.negated_loss(f)}
        coefficient = coefficient * (-1) ** len(losses)
        sign = "-" if coefficient.could_extract_minus_sign() else ""
        c = -coefficient if sign else coefficient

        def power(f, k):
            if f in losses:
                return self.loss_body(f)
            # juxtaposition is associative: a product of matrices (r^T r, 1^T x) needs no parentheses
            return self.wrap(f, PRODUCT + (0 if isinstance(f, (MatMul, Sum)) else 1)) if k == 1 else f"{self.base(f)}^{{{k}}}"

        top = [power(f, factors[f]) for f in ordered if factors[f] > 0]
        below = [f for f in ordered if factors[f] < 0]
        bottom = [power(f, -factors[f]) for f in below]
        if len(below) == 1 and factors[below[0]] == -1:
            bottom = [self._print(below[0])]  # \frac{4 x}{1 + x^{2}}: the fraction bar groups it
        if bottom:
            p, q = sympy.fraction(c)
            top = ([self.number(p)] if p != 1 or not top else []) + top
            bottom = ([self.number(q)] if q != 1 else []) + bottom
            return rf"{sign}\frac{{{' '.join(top)}}}{{{' '.join(bottom)}}}"
        if not top:
            return sign + self.number(c)
        p, q = sympy.fraction(c)
        symbols = [f for f in ordered if isinstance(f, Symbol) and factors[f] > 0]
        if q != 1 and q.is_Integer and symbols and len(symbols) < len(top):
            # \frac{\lambda}{2} \|W\|_F^2: a parameter joins the number's fraction before a compound factor
            numerator = ([self.number(p)] if p != 1 else []) + [power(f, factors[f]) for f in symbols]
            rest = [power(f, factors[f]) for f in ordered if factors[f] > 0 and f not in symbols]
            return sign + rf"\frac{{{' '.join(numerator)}}}{{{self.number(q)}}} " + " ".join(rest)
        return sign + " ".join(([self.number(c)] if c != 1 else []) + top)

    def scalar_product(self, node):
        """The board form of a scalar product, or None when the node is not one."""
        found = self.monomial(node)
        if found is None or (not found[1] and isinstance(node, Constant)):
            return None
        return self.print_monomial(*found)

    def _print_Add(self, node):
        if node.is_scalar:
            merged = self.merged_terms(node)
            if merged is not None:
                return merged
        parts = []
        for i, term in enumerate(node.args):
            c = number(term.args[0]) if isinstance(term, Scale) else None
            if isinstance(term, Constant) and term.value < 0:
                text, sign = self.number(-term.value), "-"
            elif c is not None and c < 0:
                text, sign = self._print_Scale(Scale(Constant(-c), term.args[1])) if c != -1 else self.wrap(
                    term.args[1], ADD + 1), "-"
            else:
                text, sign = self._print(term), "+"
                if text.startswith("-") and i > 0:
                    text, sign = text[1:], "-"  # a term that prints with its own minus (a loss): x - 1^T ...
            if i == 0:
                parts.append(text if sign == "+" else f"-{text}")
            else:
                parts.append(f"{sign} {text}")
        return " ".join(parts)

    def merged_terms(self, node):
        """x y + y x written 2 x y: the terms of a scalar sum collected by their factors. None when
        nothing merges (the sum is then printed term by term as built)."""
        terms = []  # [coefficient, factors]
        for term in node.args:
            found = self.monomial(term) or (sympy.Integer(1), {term: 1})
            key = frozenset(found[1].items())
            for entry in terms:
                if frozenset(entry[1].items()) == key:
                    entry[0] += found[0]
                    break
            else:
                terms.append([found[0], found[1]])
        if len(terms) == len(node.args):
            return None
        parts = []
        for coefficient, factors in terms:
            if coefficient == 0:
                continue
            text = self.print_monomial(coefficient, factors)
            if len(factors) == 1 and coefficient == 1:
                text = self._print(next(iter(factors)))  # a lone term prints as itself
            if parts:
                parts.append(f"- {text[1:]}" if text.startswith("-") else f"+ {text}")
            else:
                parts.append(text)
        return " ".join(parts) if parts else "0"

    def _print_Scale(self, node):
        product = self.scalar_product(node)
        if product is not None:
            return product
        factor, operand = node.args
        if isinstance(operand, Scale) and not operand.is_scalar:
            merged = self.nested_scale(node)
            if merged is not None:
                return merged
        c = number(factor)
        if type(factor).__name__ == "Power" and factor.exponent == -1:
            # x / ||x|| rather than (1 / ||x||) x
            return rf"\frac{{{self._print(operand)}}}{{{self._print(factor.args[0])}}}"
        if c is not None and c < 0:
            if c == -1:
                return f"-{self.wrap(operand, PRODUCT)}"
            return f"-{self._print_Scale(Scale(Constant(-c), operand))}"
        head = self.number(c) if c is not None else self.wrap(factor, PRODUCT + 1)
        if self.negated_loss(operand):
            # \frac{1}{N}(-1^T (...) 1) is written -\frac{1}{N} 1^T (...) 1: c (-x) = -c x
            return f"-{head} {self.loss_body(operand)}"
        if self.scaled_hadamard(node):
            # \frac{1}{B} (a - y) o sigma'(z), not \frac{1}{B} ((a - y) o sigma'(z)): c (A o B) = (c A) o B
            left, right = operand.args
            return f"{head} {self.wrap(left, PRODUCT + 1)} {self.notation.hadamard} {self.wrap(right, PRODUCT + 1)}"
        body = self.wrap(operand, PRODUCT + 1 if c is None and operand.is_scalar else PRODUCT)
        return f"{head} {body}"

    def nested_scale(self, node):
        """c (s v) with scalars c, s written as one coefficient: 2 (\frac{1}{2N} v) is \frac{v}{N}.
        None when the innermost operand needs its own form (a loss, a scaled Hadamard product)."""
        scalars, inner = [], node
        while isinstance(inner, Scale) and not inner.is_scalar:
            scalars.append(inner.args[0])
            inner = inner.args[1]
        if self.negated_loss(inner) or isinstance(inner, Hadamard):
            return None
        product = scalars[0]
        for s in scalars[1:]:
            product = MatMul(product, s)
        coefficient, factors = self.monomial(product) or (None, None)
        if coefficient is None:
            return None
        body = self.wrap(inner, PRODUCT)
        if not factors:
            if coefficient == 1:
                return self._print(inner)
            if coefficient == -1:
                return f"-{body}"
            sign = "-" if coefficient.could_extract_minus_sign() else ""
            return f"{sign}{self.number(abs(coefficient))} {body}"
        below = {f: k for f, k in factors.items() if k < 0}
        if below:
            # the vector goes over the fraction bar with the scalars: \frac{X^\top (X w - y)}{N}
            top = {f: k for f, k in factors.items() if k > 0}
            return self.fraction_with(coefficient, top, below, inner)
        return f"{self.print_monomial(coefficient, factors)} {body}"

    def fraction_with(self, coefficient, top, below, inner):
        sign = "-" if coefficient.could_extract_minus_sign() else ""
        c = -coefficient if sign else coefficient
        p, q = sympy.fraction(c)
        numerator = ([self.number(p)] if p != 1 else []) + [
            self.wrap(f, PRODUCT + 1) if k == 1 else f"{self.base(f)}^{{{k}}}" for f, k in top.items()]
        numerator.append(self.wrap(inner, PRODUCT))
        below_items = list(below.items())
        if len(below_items) == 1 and below_items[0][1] == -1 and q == 1:
            denominator = [self._print(below_items[0][0])]
        else:
            denominator = ([self.number(q)] if q != 1 else []) + [
                self.wrap(f, PRODUCT + 1) if k == -1 else f"{self.base(f)}^{{{-k}}}" for f, k in below_items]
        return rf"{sign}\frac{{{' '.join(numerator)}}}{{{' '.join(denominator)}}}"

    def scaled_hadamard(self, node) -> bool:
        """c (A o B) with a matrix A o B, written c A o B (not a scalar product, not x / ||x||)."""
        factor, operand = node.args
        c = number(factor)
        return (isinstance(operand, Hadamard) and not operand.is_scalar and (c is None or not c < 0)
                and not (isinstance(factor, Power) and factor.exponent == -1))

    @staticmethod
    def negated_loss(node) -> bool:
        """A cross-entropy, which prints as a minus sign before a product or a parenthesis."""
        return type(node).__name__ in ("SoftmaxCrossEntropy", "BinaryCrossEntropy")

    def _print_MatMul(self, node):
        product = self.scalar_product(node)
        if product is not None:
            return product
        factors = []

        def flatten(n):
            if isinstance(n, MatMul):
                flatten(n.args[0])
                flatten(n.args[1])
            else:
                factors.append(n)

        flatten(node)
        first, last = factors[0], factors[-1]
        if (node.is_scalar and len(factors) == 2 and type(first).__name__ == "Transpose"
                and type(last).__name__ == "Ones"):
            # the sum of the entries of u is written 1^T u, not u^T 1
            return self._print_Sum(Sum(first.args[0]))
        # b 1^T: the length of a ones vector at the open end of a product is the product's own size,
        # which nothing else in the formula may fix, so it is written: b \mathbf{1}_{B}^\top.
        self.sized.update(id(f) for f in (first,) if type(f).__name__ == "Ones" and f.cols == 1)
        self.sized.update(id(f) for f in (last,) if type(f).__name__ == "Ones" and f.rows == 1)
        return " ".join(self.wrap(f, PRODUCT + (1 if isinstance(f, Scale) else 0)) for f in factors)

    def _print_Hadamard(self, node):
        # Products inside a Hadamard product get parentheses: (W^T delta) o sigma'(z), as on the board.
        product = self.scalar_product(node)
        if product is not None:
            return product
        left, right = node.args
        # (a o b) o c is written a o b o c, as the reader reads it back (left to right)
        chained = type(left) is type(node) and self.scalar_product(left) is None
        first = self._print(left) if chained else self.wrap(left, PRODUCT + 1)
        return f"{first} {self.notation.hadamard} {self.wrap(right, PRODUCT + 1)}"

    def _print_HadamardDiv(self, node):
        left, right = node.args
        return rf"{self.wrap(left, HADAMARD)} \oslash {self.wrap(right, HADAMARD + 1)}"

    def _print_Kronecker(self, node):
        left, right = node.args
        return rf"{self.wrap(left, HADAMARD)} \otimes {self.wrap(right, HADAMARD + 1)}"

    # ----- postfix -----
    def base(self, node) -> str:
        """A node about to take a superscript: W^{(1)} becomes {W^{(1)}} (no double superscript)."""
        text = self.wrap(node, ATOM)
        return f"{{{text}}}" if "^" in text and not text.endswith(r"\right)") else text

    def _print_Transpose(self, node):
        (operand,) = node.args
        if isinstance(operand, Inverse):
            return rf"{self.base(operand.args[0])}^{{-\top}}"
        text = self.wrap(operand, ATOM)
        if isinstance(operand, (Symbol, Named)) and text.endswith((")}", "]}")) and ("^{(" in text or "^{[" in text):
            # W^{(2)} transposed is written W^{(2)\top}, one superscript (^{\mathsf{T}} loses its braces).
            mark = self.notation.transpose[1:]
            mark = mark[1:-1] if mark.startswith("{") and mark.endswith("}") else mark
            return text[:-1] + mark + "}"
        return f"{self.base(operand)}{self.notation.transpose}"

    def _print_Inverse(self, node):
        return f"{self.base(node.args[0])}^{{-1}}"

    def _print_Power(self, node):
        (base,) = node.args
        p = node.exponent
        if base.is_scalar:
            if p == sympy.Rational(1, 2):
                return rf"\sqrt{{{self._print(base)}}}"
            if p < 0:
                inner = self._print(base) if p == -1 else self._print_Power(type(node)(base, -p))
                return rf"\frac{{1}}{{{inner}}}"
            return f"{self.base(base)}^{{{self.number(p)}}}"
        return rf"{self.base(base)}^{{\circ {self.number(p)}}}"

    # ----- functions -----
    def _print_Apply(self, node):
        function = node.function
        (operand,) = node.args
        argument = self._print(operand)
        if function.name == "exp" and operand.is_scalar:
            return f"e^{{{argument}}}"
        if function.name == "sqrt":
            return rf"\sqrt{{{argument}}}"
        head = function.spec.latex
        if function.parameter is not None:
            # the parameter before a prime: \operatorname{LeakyReLU}_{0.01}'
            prime = "'" if head.endswith("'") else ""
            head = rf"{head.removesuffix(prime)}_{{{self.parameter(function.parameter)}}}{prime}"
        return rf"{head}\left({argument}\right)"

    def parameter(self, value) -> str:
        """A slope as a lecturer writes it: 0.01 rather than \frac{1}{100} where the decimal ends."""
        if value.is_Rational and not value.is_Integer:
            q = int(value.q)
            for prime in (2, 5):
                while q % prime == 0:
                    q //= prime
            if q == 1:  # the decimal ends; exact, whatever its length
                with localcontext() as context:
                    context.prec = len(str(value.p)) + int(value.q).bit_length() + 2
                    return format(Decimal(int(value.p)) / Decimal(int(value.q)), "f")
        return self.number(value)

    def _print_Softmax(self, node):
        return rf"\operatorname{{softmax}}\left({self._print(node.args[0])}\right)"

    def _print_LogSoftmax(self, node):
        return rf"\log \operatorname{{softmax}}\left({self._print(node.args[0])}\right)"

    def _print_LogSumExp(self, node):
        return rf"\operatorname{{logsumexp}}\left({self._print(node.args[0])}\right)"

    def _print_SoftmaxCrossEntropy(self, node):
        return f"-{self.loss_body(node)}"

    _print_BinaryCrossEntropy = _print_SoftmaxCrossEntropy

    def loss_body(self, node) -> str:
        """A cross-entropy without its leading minus sign: a product (1^T (...) 1) or a parenthesis."""
        z, y = node.args
        one, t, odot = self.notation.ones, self.notation.transpose, self.notation.hadamard
        if type(node).__name__ == "SoftmaxCrossEntropy":
            log_p = rf"\log \operatorname{{softmax}}\left({self._print(z)}\right)"
            if y.cols == 1:
                return rf"{self.wrap(y, ATOM)}{t} {log_p}"
            return rf"{one}{t} \left({self.wrap(y, HADAMARD)} {odot} {log_p}\right) {one}"
        p = rf"\sigma\left({self._print(z)}\right)"
        yy = self.wrap(y, ATOM)
        if y.is_scalar:
            return rf"\left({yy} \log {p} + \left(1 - {yy}\right) \log\left(1 - {p}\right)\right)"
        if y.cols == 1:
            return (rf"\left({yy}{t} \log {p} + \left({one} - {yy}\right){t} "
                    rf"\log\left({one} - {p}\right)\right)")
        if y.rows == 1:
            # one output unit over a batch (XOR): the targets are a row, the ones a row 1^T, summed by 1
            return (rf"\left({yy} {odot} \log {p} + \left({one}{t} - {yy}\right) {odot} "
                    rf"\log\left({one}{t} - {p}\right)\right) {one}")
        return (rf"{one}{t} \left({yy} {odot} \log {p} + \left({one}{one}{t} - {yy}\right) {odot} "
                rf"\log\left({one}{one}{t} - {p}\right)\right) {one}")

    # ----- reductions -----
    def _print_Trace(self, node):
        return rf"\operatorname{{tr}}\left({self._print(node.args[0])}\right)"

    def _print_Det(self, node):
        return rf"\det\left({self._print(node.args[0])}\right)"

    def _print_LogDet(self, node):
        return rf"\log\det\left({self._print(node.args[0])}\right)"

    def _print_Diag(self, node):
        return rf"\operatorname{{diag}}\left({self._print(node.args[0])}\right)"

    _print_DiagPart = _print_Diag

    def _print_Sum(self, node):
        (operand,) = node.args
        one, t = self.notation.ones, self.notation.transpose
        if operand.cols == 1:
            return f"{one}{t} {self.wrap(operand, PRODUCT + 1)}"
        if operand.rows == 1:
            return f"{self.wrap(operand, PRODUCT + 1)} {one}"
        return f"{one}{t} {self.wrap(operand, PRODUCT + 1)} {one}"

    def _print_NormSq(self, node):
        (operand,) = node.args
        sub = "_F" if not operand.is_column and not operand.is_scalar and operand.rows != 1 else ""
        return rf"\left\|{self._print(operand)}\right\|{sub}^{{2}}"

    def _print_Norm(self, node):
        (operand,) = node.args
        sub = "_F" if not operand.is_column and not operand.is_scalar and operand.rows != 1 else ""
        return rf"\left\|{self._print(operand)}\right\|{sub}"


    # ----- convolution and pooling (issue 15; nnsym.declare.convolution) -----
    @staticmethod
    def geometry(g) -> str:
        """The operator's subscript: window, image (1-D: one number each), padding when not 0."""
        size = lambda pair: str(pair[1]) if pair[0] == 1 else rf"{pair[0]} \times {pair[1]}"  # noqa: E731
        text = rf"{size(g.kernel)},\ {size(g.image)}"
        return text + (rf",\ p={g.padding[1]}" if g.padding[1] else "")

    def spatial(self, operator, node) -> str:
        return (rf"\operatorname{{{operator}}}_{{{self.geometry(node.geometry)}}}"
                rf"\left({self._print(node.args[0])}\right)")

    def _print_Im2col(self, node):
        return self.spatial("im2col", node)

    def _print_Col2im(self, node):
        return self.spatial("col2im", node)

    def _print_MaxPool(self, node):
        return self.spatial("maxpool", node)

    def _print_AvgPool(self, node):
        return self.spatial("avgpool", node)

    def _print_MaxMask(self, node):
        return self.spatial("maxmask", node)

    def _print_Upsample(self, node):
        return self.spatial("upsample", node)

    # ----- single-channel correlation as typed (issue 15e; nnsym.declare.correlation) -----
    def star(self, node) -> str:
        r"""\star for no padding, \star_{\mathrm{full}} for k - 1 in both directions, else \star_{p=...}."""
        if node.padding == (0, 0):
            return r"\star"
        if node.full:
            return r"\star_{\mathrm{full}}"
        written = written_padding(*node.args, node.padding)
        return rf"\star_{{p={written}}}" if isinstance(written, int) else rf"\star_{{p=({written[0]}, {written[1]})}}"

    def _print_Correlate(self, node):
        image, kernel = node.args
        for child in node.args:  # a correlation's neighbours do not size an I or 1 as a product's do
            self.sized |= {id(child), id(child.args[1]) if isinstance(child, Scale) else None}
        return f"{self.wrap(image, POSTFIX)} {self.star(node)} {self.wrap(kernel, POSTFIX)}"

    def _print_Rot180(self, node):
        return rf"\operatorname{{rot180}}\left({self._print(node.args[0])}\right)"

    # ----- normalization and attention (issue 14): operator names the reader reads back -----
    def layer_subscript(self, *parts) -> str:
        parts = [p for p in parts if p]
        return f"_{{{', '.join(parts)}}}" if parts else ""

    def epsilon(self, eps) -> str:
        """epsilon is written only where it is not PyTorch's default 1e-5."""
        return "" if eps == sympy.Rational(1, 100000) else self.parameter(eps)

    def _print_Normalize(self, node):
        head = "BN" if node.over == "batch" else "LayerNorm"
        return (rf"\operatorname{{{head}}}{self.layer_subscript(self.epsilon(node.eps))}"
                rf"\left({self._print(node.args[0])}\right)")

    def _print_StdDev(self, node):
        tag = r"\mathrm{BN}" if node.over == "batch" else r"\mathrm{LN}"
        return (rf"\operatorname{{std}}{self.layer_subscript(tag, self.epsilon(node.eps))}"
                rf"\left({self._print(node.args[0])}\right)")

    def _print_RowSoftmax(self, node):
        tag = r"\mathrm{causal}" if node.causal else r"\mathrm{row}"
        return rf"\operatorname{{softmax}}_{{{tag}}}\left({self._print(node.args[0])}\right)"

    def _print_ColumnBlock(self, node):
        # 1-based and inclusive, as a lecturer numbers columns: columns 1 to 4 of A
        return rf"\operatorname{{cols}}_{{{node.start + 1}:{node.stop}}}\left({self._print(node.args[0])}\right)"

    def _print_PadColumns(self, node):
        return (rf"\operatorname{{pad}}_{{{node.start + 1}:{node.stop}, {node.total}}}"
                rf"\left({self._print(node.args[0])}\right)")

    def _print_Composite(self, node):
        operator, parameter = node.operator, node.parameter
        if operator in ("BN", "LayerNorm"):
            sub = self.layer_subscript(self.epsilon(parameter))
        elif operator == "Attention":
            sub = self.layer_subscript(r"\mathrm{causal}" if parameter else "")
        else:  # MultiHead: the number of heads
            heads, causal = parameter
            sub = self.layer_subscript(str(heads), r"\mathrm{causal}" if causal else "")
        inputs = ", ".join(self._print(a) for a in node.inputs)
        return rf"\operatorname{{{operator}}}{sub}\left({inputs}\right)"


@refuse_deep_nesting
def latex(expr: Expr, notation: Notation = Notation()) -> str:
    if not isinstance(expr, Expr) or not isinstance(notation, Notation):
        raise InputError(f"latex() takes an nnsym expression and a Notation, not {type(expr).__name__} "
                         f"and {type(notation).__name__}")
    require_writable([expr], "LaTeX")
    return LatexPrinter(notation).doprint(expr)



# ----- issue 10: expressions and networks display as LaTeX in Jupyter ----------------------------------
def network_repr_latex(network) -> str:
    """A network's forward pass as an aligned display (Network._repr_latex_)."""
    forward = network.forward()
    rows = [rf"{latex(z)} &= {latex(z.definition)}" for z in forward.pre_activations]
    rows.append(rf"L &= {latex(forward.loss)}")
    return "$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$"


