"""Read the LaTeX of docs/notation.md (the notation nnsym reads) into expression nodes.

Three stages, each refusing with a `ParseError` whose first line names a (1-based) column:

1. `_Scanner` turns the text into tokens and settles what a context-free grammar cannot see: where a
   name ends (``Wx`` is one run of letters, ``W^{(1)}_2`` one name), whether a superscript is a
   transpose, an inverse or a layer index, and which ``|`` opens and which closes. It refuses
   unbalanced brackets and nesting deeper than `MAX_DEPTH`; the expression it makes may not be deeper
   either (a product of thousands of factors), so that printers and evaluators downstream, which
   recurse, never meet a RecursionError.
2. Lark's LALR parser (``latex_grammar.lark``) checks the structure; it builds its tree without
   recursion, so deep input cannot exhaust the stack.
3. `_Builder` walks the tree bottom-up, again without recursion, and makes nodes only through the
   constructors of `expressions` and `functions`; their shape errors get the operator's column.

Decisions a reader must make, made once:

- A symbol without a shape is a scalar (NOTATION). A run of letters that is not itself declared is split
  into letters when every letter is declared (or is ``e`` or ``I``), or when none is (scalar algebra:
  ``3xy``). A run mixing declared and undeclared letters (``Wy`` with only W declared) is refused:
  reading y as a scalar would hide a missing declaration.
- Juxtaposition and ``\\cdot`` multiply: the matrix product of two non-scalars, the scalar multiple when
  a factor is 1x1. ``\\times`` is for scalars only. Juxtaposition binds tighter than ``\\odot``,
  ``\\oslash`` and ``\\otimes``.
- ``e`` is Euler's number and ``I`` the identity unless declared; ``\\sigma`` is always the sigmoid;
  ``A^T`` is refused when a symbol T is declared (write ``^\\top``).
- ``I`` and ``\\mathbf{1}`` take their size from a neighbour in a sum, product or Hadamard product, or
  across ``=``; their subscript (``I_n``) is used when there is none.
- ``\\log\\det(A)`` and ``\\log|A|`` are the log-determinant; ``\\log\\operatorname{softmax}(z)`` is the
  log applied to the softmax.
- As in TeX, ``\\frac`` and ``\\sqrt`` take a digit, a letter or a Greek letter without braces
  (``\\frac12``, ``\\frac1N``); ``\\tanh^2(z)`` is ``\\tanh(z)`` squared, entrywise; ``A^{-2}`` is
  ``(A^{-1})^2``; a norm's subscript may follow its square (``\\|x\\|^2_2``).
- ``\\operatorname{KL}(p \\| q)`` and ``D_{\\mathrm{KL}}(p \\| q)`` are the KL divergence, ``H(p, q)`` the
  cross-entropy, ``H(p)`` the entropy of a declared probability vector or a softmax (else the step).
- Where the shape of the whole formula is known (a claimed gradient has its variable's shape), a bare
  ``I`` or ``\\mathbf{1}`` takes it, and a lone ``0`` or ``\\mathbf{0}`` is the zero of that shape.

Not read: index notation (``\\sum_i``), matrices written entry by entry, ``/``, absolute values of non-scalars,
``\\|x\\|_1`` and the spectral norm, symbolic exponents (``x^n``), functions without parentheses.
"""

from __future__ import annotations

import functools
import re
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import lark
import sympy
from lark import Token

from nnsym.declare import attention as attention_layers
from nnsym.declare import convolution, distributions, functions, index_notation
from nnsym.declare import normalization
from nnsym.declare.expressions import (
    Det, Expr, Norm, Softmax, Symbol, Zero, add, as_size, constant, det, diag, hadamard, hadamard_div, identity, inv, kronecker,
    logdet, logsumexp, matmul, matrix, multiply, neg, norm, number, ones, power, scalar, scale, show_shape,
    softmax, trace, transpose, vector,
)
from nnsym.declare.limits import measure
from nnsym.declare.names import canonical_name
from nnsym.declare.spellings import respell
from nnsym.errors import InputError, NnsymError, ParseError, ShapeError

__all__ = ["parse_shape", "read_name", "read_latex", "read_claim", "read_claim_variable", "read_definition",
           "read_equations", "MAX_LENGTH", "MAX_DEPTH", "read_claim_indices"]

MAX_LENGTH = 10_000
MAX_DEPTH = 200

# ----- vocabulary -----------------------------------------------------------------------------------

_GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu
    nu xi omicron rho varrho tau upsilon phi varphi chi psi omega ell Gamma Delta Theta Lambda Xi Pi Sigma
    Upsilon Phi Psi Omega""".split())  # \sigma is the sigmoid and \pi the number, never names
_ACCENTS = frozenset("hat widehat bar overline tilde widetilde dot ddot check breve mathcal mathscr mathfrak".split())
_BOLD = frozenset("mathbf boldsymbol bm vec mathbfit pmb".split())  # \mathbf{x} is x
_WORDS = frozenset("operatorname mathrm text textrm textup".split())
_OPERATORS = {"ReLU": "relu", "relu": "relu", "softplus": "softplus", "softmax": "softmax",
              "logsumexp": "logsumexp", "LSE": "logsumexp", "diag": "diag", "tr": "trace", "Tr": "trace",
              "trace": "trace", "sigmoid": "sigmoid", "det": "det", "exp": "exp", "tanh": "tanh",
              "LeakyReLU": "leaky_relu", "ELU": "elu", "GELU": "gelu"}
_PARAMETRISED = frozenset({"leaky_relu", "elu"})  # their parameter is a subscript: LeakyReLU_{0.01}
_COMMANDS = {"frac": "FRAC", "dfrac": "FRAC", "tfrac": "FRAC", "sqrt": "SQRT", "cdot": "CDOT",
             "times": "TIMES", "odot": "ODOT", "circ": "ODOT", "oslash": "OSLASH", "otimes": "OTIMES",
             "pi": "PI", "log": "LOG", "ln": "LOG", "max": "MAX", "min": "MAX", "partial": "PARTIAL", "\\": "SEP"}
_FUNCTIONS = {"sigma": "sigmoid", "tanh": "tanh", "exp": "exp", "det": "det"}
_SPACING = frozenset([",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "nonumber",
                      "notag", "big", "Big", "bigg", "Bigg"])
_SIZED = {"left": "open", "right": "close", **{f"{b}{s}": "open" if s == "l" else "close"
                                                for b in ("big", "Big", "bigg", "Bigg") for s in "lr"}}
_LAYOUT_ENVIRONMENTS = frozenset("cases aligned align align* gathered gather gather* split equation equation*".split())
_HINTS = {"sum": "write the sum of a vector's entries as \\mathbf{1}^\\top v",
          "top": "\\top is read only as a superscript: A^\\top",
          "prime": "a prime is read only after a named activation: \\sigma'(z)",
          "nabla": "derivative notation belongs on the left of '=' (read_claim)"}

_FONTS = ("\\mathsf", "\\mathrm", "\\text")  # \mathsf{T} is T, a transpose
_FONT_LETTER = re.compile(r"^(\\(?:mathsf|mathrm|text|rm|sf))\s+([A-Za-z])$")  # {\mathsf T}, {\rm T}
_THIN_SPACE = re.compile(r"\\[!,;:]")  # ^{\!\top}
_TRANSPOSES = ("T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\text{T}", "\\rm{T}", "\\sf{T}")
_SUPERSCRIPTS = {**{t: "TRANSPOSE" for t in _TRANSPOSES}, **{"-" + t: "INVTRANSPOSE" for t in _TRANSPOSES},
                 "-1": "INVERSE", "\\prime": "PRIME", "'": "PRIME"}

# spelling -> (kind, role); a role of None means "opens or closes, whichever fits" (| and \|).
_DELIMITERS = {"(": ("paren", "open"), ")": ("paren", "close"), "[": ("bracket", "open"),
               "]": ("bracket", "close"), "{": ("brace", "open"), "}": ("brace", "close"),
               "\\{": ("curly", "open"), "\\}": ("curly", "close"), "\\lbrace": ("curly", "open"),
               "\\rbrace": ("curly", "close"), "|": ("bar", None), "\\vert": ("bar", None),
               "\\lvert": ("bar", "open"), "\\rvert": ("bar", "close"), "\\|": ("norm", None),
               "\\Vert": ("norm", None), "\\lVert": ("norm", "open"), "\\rVert": ("norm", "close")}
_BRACKET_TOKENS = {"paren": ("_LPAR", "_RPAR"), "bracket": ("_LBRACK", "_RBRACK"), "brace": ("_LBRACE", "_RBRACE"),
                   "curly": ("_LCURLY", "_RCURLY"), "bar": ("LBAR", "_RBAR"), "norm": ("LNORM", "RNORM")}
_OPENERS = frozenset(pair[0] for pair in _BRACKET_TOKENS.values())
_CLOSERS = frozenset(pair[1] for pair in _BRACKET_TOKENS.values())
_PUNCTUATION = {"+": "PLUS", "-": "MINUS", "*": "CDOT", "=": "EQUALS", ",": "_COMMA", ";": "SEP", ">": "_GT",
                "'": "PRIME"}
_OPERAND_ENDS = frozenset({"NAME", "NUMBER", "ONES", "PI", "TRANSPOSE", "INVERSE", "INVTRANSPOSE"}) | _CLOSERS
_OPERAND_STARTS = frozenset({"NAME", "NUMBER", "ONES", "PI", "FRAC", "SQRT", "FUNC", "LOG", "MAX", "INDICATOR",
                             "DIVERGENCE", "LBAR", "LNORM", "_LPAR", "_LBRACK", "_LCURLY", "_LBRACE"})
_OPERAND_STARTS |= {"SUM"}  # index notation: \sum_k starts an operand

_CONTINUATIONS = frozenset({"PLUS", "MINUS", "CDOT", "TIMES", "ODOT", "OSLASH", "OTIMES", "TRANSPOSE", "INVERSE",
                            "INVTRANSPOSE", "CARET", "PRIME", "$END"})
_CONTINUATIONS |= {"SUBSCRIPT"}  # index notation: (Wx)_i

_SPELLED = {"_RPAR": "')'", "_RBRACK": "']'", "_RBRACE": "'}'", "_RCURLY": "'\\}'", "_RBAR": "'|'",
            "RNORM": "'\\|'", "_LPAR": "'('", "_LBRACK": "'['", "_LBRACE": "'{'", "_LCURLY": "'\\{'",
            "_COMMA": "','", "_GT": "'>'", "_DIVIDES": "'\\|'", "DIVERGENCE": "KL", "PRIME": "a prime", "$END": "the end"}
_PRIMES = {"sigmoid": "sigmoid_prime", "tanh": "tanh_prime", "relu": "heaviside", "leaky_relu": "leaky_relu_prime",
           "elu": "elu_prime", "gelu": "gelu_prime"}
# ----- information theory (issue 16): the subscripts of D_{KL}(p \| q) -----
_KL_SUBSCRIPTS = frozenset({"_{KL}", "_{\\mathrm{KL}}", "_{\\text{KL}}", "_{\\operatorname{KL}}", "_{\\rm{KL}}"})
_CALLS = {"softmax": softmax, "logsumexp": logsumexp, "diag": diag, "trace": trace, "det": det}
_RESHAPING = frozenset({"logsumexp", "diag", "trace", "det"})  # the rest keep their argument's shape

# ----- normalization and attention (issue 14) ---------------------------------------------------------------
# \operatorname{word} -> the function its FUNC token names; its subscript is read by _layer_parameter.
_LAYER_WORDS = {"BN": "batch_norm", "LayerNorm": "layer_norm", "LN": "layer_norm", "std": "std",
                "Attention": "attention", "MultiHead": "multi_head", "cols": "cols", "pad": "pad"}
_TAG = re.compile(r"^\\(?:mathrm|text|textrm|mathsf|operatorname)\{(.*)\}$")
_RANGE = re.compile(r"^([0-9]+):([0-9]+)$")


def _tag(text):
    text = text.strip()
    match = _TAG.match(text)
    return (match.group(1) if match else text).strip()


def _eps(text):
    if text is None:
        return normalization.DEFAULT_EPS
    text = text.replace(" ", "")
    fraction = _FRACTION.fullmatch(text)
    if fraction and not fraction.group(1):
        return sympy.Rational(int(fraction.group(2)), int(fraction.group(3)))
    if _NUMBER.fullmatch(text):
        return sympy.Rational(text)
    raise ValueError(f"epsilon is written as a number, e.g. _{{0.001}}, not {text!r}")


def _layer_parameter(kind, content):
    """The parameter in a layer operator's subscript: epsilon (BN_{0.001}), the statistic's layer
    (std_{\\mathrm{BN}}), row or causal (softmax_{\\mathrm{row}}), heads (MultiHead_{4}), a column range
    (cols_{1:4}, pad_{1:4, 8}). Raises ValueError saying what was expected."""
    parts = [] if content is None else [p for p in (_tag(p) for p in content.split(",")) if p]
    if kind in ("batch_norm", "layer_norm") and len(parts) <= 1:
        return _eps(parts[0] if parts else None)
    if kind == "std" and parts and parts[0] in ("BN", "LN", "LayerNorm") and len(parts) <= 2:
        return ("batch" if parts[0] == "BN" else "features", _eps(parts[1] if len(parts) > 1 else None))
    if kind == "row_softmax" and parts in (["row"], ["causal"]):
        return parts[0] == "causal"
    if kind == "attention" and parts in ([], ["causal"]):
        return bool(parts)
    if kind == "multi_head" and parts and parts[0].isdigit() and int(parts[0]) > 0 and parts[1:] in ([], ["causal"]):
        return (int(parts[0]), len(parts) == 2)
    if kind in ("cols", "pad") and parts and _RANGE.match(parts[0]) and len(parts) == (1 if kind == "cols" else 2):
        first, last = (int(g) for g in _RANGE.match(parts[0]).groups())
        if 1 <= first <= last and (kind == "cols" or (parts[1].isdigit() and last <= int(parts[1]))):
            return (first - 1, last) if kind == "cols" else (first - 1, int(parts[1]))
    expected = {"batch_norm": "_{epsilon} or nothing", "layer_norm": "_{epsilon} or nothing",
                "std": "_{\\mathrm{BN}} or _{\\mathrm{LN}} (and , epsilon)",
                "row_softmax": "_{\\mathrm{row}} or _{\\mathrm{causal}}",
                "attention": "_{\\mathrm{causal}} or nothing", "multi_head": "_{heads} or _{heads, \\mathrm{causal}}",
                "cols": "_{first:last}, 1-based", "pad": "_{first:last, total columns}"}[kind]
    raise ValueError(f"the subscript must be {expected}, not {content!r}")


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

# ----- issue 9: vocabulary of the everyday spellings read ---------------------------------------------------
_PRINTED_FUNCTIONS = {"\\varphi": "normal_pdf", "\\bar{H}": "step_nonpositive"}
_SECOND_DERIVATIVES = frozenset({"sigmoid_prime", "tanh_prime"})  # \sigma''(z), \tanh''(z)
_DOUBLE_PRIME = re.compile(r"\s*(?:''|\^\s*\{\s*(?:\\prime\s*\\prime|'')\s*\})")

_LETTERS = re.compile(r"[A-Za-z]+")
_ONE_TOKEN = re.compile(r"[0-9A-Za-z]|\\pi|\\(?:" + "|".join(sorted(_GREEK)) + ")")  # \frac12, \frac\lambda2
_DIGITS = frozenset("0123456789")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_FRACTION = re.compile(r"(-?)\\[dt]?frac\{([0-9]+)\}\{([1-9][0-9]*)\}")
_COMMAND = re.compile(r"\\(?:operatorname\*|[A-Za-z]+|.)", re.S)
_CALL_AHEAD = re.compile(r"\s*(?:\\(?:left|[bB]igg?l?)\s*)?\(")
_INDICATOR_AHEAD = re.compile(r"\s*(?:\\(?:left|[bB]igg?l?)\s*)?(?:\[|\\\{)")
_IDENTITY = re.compile(r"^I(?:_\{(.*)\})?$")
_SIDE = r"\s*([0-9]+)\s*(?:\\times\s*([0-9]+)\s*)?"
_GEOMETRY = re.compile(_SIDE + "," + _SIDE + r"(?:,\s*p\s*=\s*([0-9]+)\s*)?")  # issue 15: 3\times 3, 32\times 32, p=1
_SHAPE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*?|[0-9]+)\s*(?:[x\u00d7*]\s*([A-Za-z][A-Za-z0-9_]*|[0-9]+))?\s*$")

# A name as written: ``base`` (letters, a Greek letter or an accented letter), its scripts (``_{1}``,
# ``^{(2)}``), whether the base is a run of letters that may be a product, and its column.
NameParts = namedtuple("NameParts", "base scripts splittable col")


def _located(cls, text: str, col: int, message: str):
    """An error whose first line names the column, followed by the text and a caret under it."""
    flat = text.replace("\n", " ").replace("\t", " ")
    start = max(0, min(col - 1, len(flat)) - 40)
    shown = ("..." if start else "") + flat[start:start + 80] + ("..." if start + 80 < len(flat) else "")
    caret = " " * ((3 if start else 0) + col - 1 - start) + "^"
    error = cls(f"col {col}: {message}\n  {shown}\n  {caret}")
    error.column = col
    return error


def parse_shape(spec: str):
    """``'3x2'`` -> (3, 2); ``'3'`` -> (3, 1); ``'mxn'`` or ``'m x n'`` -> (m, n) as SymPy size symbols."""
    match = _SHAPE.match(spec) if isinstance(spec, str) else None
    if not match:
        raise ParseError(f"col 1: {spec!r} is not a shape: write ROWSxCOLS (3x2, mxn) or a length (3, n)")
    sizes = tuple(int(s) if s.isdigit() else as_size(s) for s in (match.group(1), match.group(2) or "1"))
    if 0 in sizes:
        raise ParseError(f"col 1: shape {spec!r} has a zero size; sizes are positive")
    return sizes


# ----- stage 1: tokens --------------------------------------------------------------------------------

@dataclass
class _Open:
    kind: str
    col: int
    spelling: str
    sized: bool  # opened by \left or \bigl: must be closed the same way
    divergence: bool = False  # the parenthesis of KL(p \| q): its \| divides, it opens no norm


class _Scanner:
    """LaTeX text -> Lark tokens; types are the terminals of the grammar plus EQUALS, SEP, NEWLINE,
    PARTIAL, NABLA and DIFF, which only read_claim and read_equations use."""

    def __init__(self, text: str, declared):
        self.text, self.declared = text, declared
        self.i, self.tokens, self.open, self.queued = 0, [], [], None
        self.unbraced = {}  # start -> end of a one-token argument of \\frac or \\sqrt (\\frac12)
        self.skipped = {}  # start -> end of text already read (the _2 of \\|x\\|^2_2)

    def error(self, col, message):
        return _located(ParseError, self.text, col, message)

    def emit(self, kind, value, start, end=None):
        end = self.i if end is None else end
        self.tokens.append(Token(kind, value, start_pos=start, line=1, column=start + 1, end_pos=end))

    def skip_spaces(self, i):
        while i < len(self.text) and self.text[i] in " \t\r":
            i += 1
        return i

    def run(self):
        text = self.text
        while self.i < len(text):
            start, ch = self.i, text[self.i]
            if start in self.unbraced:
                self.one_token_argument(start, self.unbraced.pop(start))
            elif start in self.skipped:
                self.i = self.skipped.pop(start)
            elif ch in " \t\r$&":
                self.i += 1
            elif ch == "\n":
                self.i += 1
                self.emit("NEWLINE", ch, start)
            elif ch.isascii() and ch.isalpha():
                self.name(start)
            elif ch in _DIGITS:  # not str.isdigit: that is true of '²' too
                self.i = _NUMBER.match(text, start).end()
                self.emit("NUMBER", text[start:self.i], start)
            elif ch == "\\":
                self.command(start)
            elif ch == "^":
                self.superscript(start)
            elif ch in _DELIMITERS:
                self.i += 1
                self.delimiter(ch, start)
            elif ch in _PUNCTUATION:
                self.i += 1
                self.emit(_PUNCTUATION[ch], ch, start)
            elif ch == "_" and self.tokens and self.tokens[-1].type in ("_RPAR", "_RBRACK"):
                indices = index_notation.subscript_indices(self, start)  # (Wx)_i, [Wx]_i: index notation
                self.emit("SUBSCRIPT", indices, start)
            elif ch == "_":
                raise self.error(start + 1, "a subscript '_' must follow a name (x_1, I_n, \\|X\\|_F)")
            elif ch == "/":
                raise self.error(start + 1, "'/' is not read: write \\frac{a}{b}, or A \\oslash B entrywise")
            else:
                raise self.error(start + 1, f"unexpected character {ch!r}")
        if self.open:
            raise self.error(self.open[-1].col, f"'{self.open[-1].spelling}' is never closed")
        return self.tokens

    # ----- brackets -----
    def delimiter(self, spelling, start, role=None, sized=False):
        if spelling not in _DELIMITERS:
            raise self.error(start + 1, f"'{spelling}' is not a bracket this reader knows")
        kind, own_role = _DELIMITERS[spelling]
        role = role or own_role
        top = self.open[-1] if self.open else None
        if kind in ("norm", "bar") and top is not None and top.divergence:
            self.divides(spelling, start)
            return
        if role is None:  # a bar closes what it can close, right after an operand
            ends = self.tokens and self.tokens[-1].type in _OPERAND_ENDS
            role = "close" if top and top.kind == kind and ends else "open"
        opener, closer = _BRACKET_TOKENS[kind]
        if role == "open":
            if len(self.open) >= MAX_DEPTH:
                raise self.error(start + 1, f"brackets nest more than {MAX_DEPTH} levels deep; simplify the formula")
            divergence = bool(self.tokens) and self.tokens[-1].type == "DIVERGENCE"
            self.open.append(_Open(kind, start + 1, self.text[start:self.i], sized, divergence))
            self.emit(opener, spelling, start)
            return
        if top is None:
            raise self.error(start + 1, f"'{self.text[start:self.i]}' closes nothing")
        if top.kind != kind or top.sized != sized:
            raise self.error(start + 1, f"'{self.text[start:self.i]}' does not close "
                                        f"'{top.spelling}' (col {top.col})")
        self.open.pop()
        self.emit(closer, self.norm_subscript() if kind == "norm" else spelling, start)

    def norm_subscript(self):
        """The subscript of a closing norm bar: '' (none), '2' or 'F'; it may follow the square, as
        in \\|x\\|^2_2, and is then skipped when the scanner gets there."""
        i = self.skip_spaces(self.i)
        after_square = i < len(self.text) and self.text[i] == "^"
        if after_square:
            if self.skip_spaces(i + 1) >= len(self.text):
                return ""  # '^' with nothing after it: superscript() says so
            i = self.skip_spaces(self.argument(i + 1)[3])
        if i >= len(self.text) or self.text[i] != "_":
            return ""
        content, _, _, end = self.argument(i + 1)
        if content.startswith("\\") and self.text[end:end + 1] == "{":  # _\text{F}
            argument, _, _, end = self.argument(end)
            content += "{" + argument + "}"
        which = {"2": "2", "F": "F", "\\mathrm{F}": "F", "\\text{F}": "F"}.get(content.replace(" ", ""))
        if which is None:
            raise self.error(i + 1, "a norm is read only as \\|x\\|, \\|x\\|_2 or \\|X\\|_F")
        if after_square:
            self.skipped[i] = end
        else:
            self.i = end
        return which

    def divides(self, spelling, start):
        """The bar between the arguments of KL(p \\| q): \\|, \\Vert or ||."""
        if spelling == "|":
            if self.text[self.i:self.i + 1] != "|":
                raise self.error(start + 1, "the arguments of KL are divided by \\| (or ||): KL(p \\| q)")
            self.i += 1
        self.emit("_DIVIDES", spelling, start)

    def matching(self, i, opening, closing):
        depth = 0
        for j in range(i, len(self.text)):
            if self.text[j] == "\\":
                continue
            if self.text[j] == opening and self.text[j - 1:j] != "\\":
                depth += 1
            elif self.text[j] == closing and self.text[j - 1:j] != "\\":
                depth -= 1
                if depth == 0:
                    return j
        raise self.error(i + 1, f"'{opening}' is never closed")

    def argument(self, i):
        """The argument of a command or script at i: {...}, one command or one character.
        Returns (content, start, stop, end): the content is text[start:stop], the argument ends at end."""
        i = self.skip_spaces(i)
        if i >= len(self.text):
            raise self.error(i + 1, "the formula ends where an argument was expected")
        if self.text[i] == "{":
            close = self.matching(i, "{", "}")
            return self.text[i + 1:close].strip(), i + 1, close, close + 1
        end = self.command_end(i) if self.text[i] == "\\" else i + 1
        return self.text[i:end], i, end, end

    def command_end(self, i):
        match = _COMMAND.match(self.text, i)
        if match is None:
            raise self.error(i + 1, "a lone backslash ends the formula")
        return match.end()

    def argument_name(self, i, what):
        """The one name that is the argument at i (of \\mathbf, of \\nabla_)."""
        content, start, stop, end = self.argument(i)
        if end == stop and content.isalpha():  # unbraced: LaTeX takes one letter
            self.i = end
            return NameParts(content, "", False, start + 1)
        self.i = self.skip_spaces(start)
        if self.i >= stop or not (self.text[self.i].isalpha() or self.text[self.i] == "\\"):
            raise self.error(start + 1, f"{what} must hold one name")
        parts = self.name_parts()
        if end == stop + 1:  # braced: the name must fill the braces
            if self.skip_spaces(self.i) != stop:
                raise self.error(start + 1, f"{what} must hold one name")
            self.i = end
        return parts

    # ----- names -----
    def name(self, start):
        self.i = start
        parts = self.name_parts()
        if parts.base == "H" and not parts.scripts and "H" not in self.declared \
                and _CALL_AHEAD.match(self.text, self.i):
            self.emit("FUNC", ("heaviside", None), start)  # H(z): the step function, never H times z
            return
        if parts.base in _PRINTED_FUNCTIONS and not parts.scripts and parts.base not in self.declared \
                and _CALL_AHEAD.match(self.text, self.i):  # issue 9: what GELU' and ELU' print reads back
            self.emit("FUNC", (_PRINTED_FUNCTIONS[parts.base], None), start)
            return
        if parts.base == "D" and parts.scripts.replace(" ", "") in _KL_SUBSCRIPTS and "D" not in self.declared \
                and _CALL_AHEAD.match(self.text, self.i):
            self.emit("DIVERGENCE", "KL", start)  # D_{KL}(p \| q)
            return
        self.emit("NAME", parts, start)
        if self.queued:
            self.emit(*self.queued)
            self.queued = None

    def name_parts(self):
        start, text = self.i, self.text
        if text[start].isalpha():
            base = _LETTERS.match(text, start).group()
            self.i = start + len(base)
            return NameParts(base, self.scripts(), len(base) > 1, start + 1)
        self.i = self.command_end(start)
        command = text[start + 1:self.i]
        if command in _GREEK:
            return NameParts("\\" + command, self.scripts(), False, start + 1)
        if command in _ACCENTS:
            content, _, _, self.i = self.argument(self.i)
            return NameParts(f"\\{command}{{{content}}}", self.scripts(), False, start + 1)
        if command in _BOLD:
            parts = self.argument_name(self.i, f"\\{command}{{...}}")
            return parts._replace(scripts=parts.scripts + self.scripts())
        raise self.error(start + 1, f"expected a name, found \\{command}")

    def scripts(self):
        """Subscripts and layer indices after a name: ``_{1}``, ``^{(2)}``, ``^{[l]}``, ``^{(1)\\top}``."""
        out = []
        while True:
            i = self.skip_spaces(self.i)
            if i < len(self.text) and self.text[i] == "_":
                content, _, _, self.i = self.argument(i + 1)
                out.append("_{" + content + "}")
                continue
            index = self.layer_index(i) if i < len(self.text) and self.text[i] == "^" else None
            if index is None:
                return "".join(out)
            out.append(index)

    def layer_index(self, caret):
        """The layer index at a superscript (``^{(1)}``, ``^(1)``, ``^{[2]}``) or None; a transpose or
        inverse written in the same braces (``W^{(1)\\top}``) is queued as the next token."""
        text, i = self.text, self.skip_spaces(caret + 1)
        braced = i < len(text) and text[i] == "{"
        j = self.skip_spaces(i + 1) if braced else i
        if j >= len(text) or text[j] not in "([":
            return None
        close = self.matching(j, text[j], ")" if text[j] == "(" else "]")
        end = self.matching(i, "{", "}") + 1 if braced else close + 1
        rest = _FONT_LETTER.sub(r"\1{\2}", _THIN_SPACE.sub("", text[close + 1:end - 1]).strip()) if braced else ""
        rest = "".join(rest.split())
        if rest:
            if rest not in _SUPERSCRIPTS or _SUPERSCRIPTS[rest] == "PRIME":
                raise self.error(close + 2, "after a layer index only a transpose or an inverse may follow "
                                            "(W^{(1)\\top}); write a power as (W^{(1)})^{2}")
            self.check_transpose(rest, caret)
            self.queued = (_SUPERSCRIPTS[rest], rest, close + 1, end)
        self.i = end
        return "^{" + text[j:close + 1] + "}"

    # ----- superscripts -----
    def check_transpose(self, content, caret):
        if content.lstrip("-") == "T" and "T" in self.declared:
            raise self.error(caret + 1, "'^T' is ambiguous because T is a declared symbol: write ^\\top")

    def superscript(self, start):
        text, i = self.text, self.skip_spaces(start + 1)
        expected = "'^' needs an exponent: a number, T, \\top, -1 or {...}"
        if i >= len(text) or text[i] in "([":
            raise self.error(start + 1, expected if i >= len(text) else
                             "a layer index such as ^{(1)} belongs to a name")
        content, _, _, end = self.argument(i)
        if content in _FONTS and text[end:end + 1] == "{":  # ^\mathsf{T}; but ^\top{A} is A after ^\top
            argument, _, _, end = self.argument(end)
            content += "{" + argument + "}"
        content = _FONT_LETTER.sub(r"\1{\2}", _THIN_SPACE.sub("", content).strip())  # ^{\mathsf T}
        content = "".join(content.split())
        if content in _SUPERSCRIPTS:
            self.check_transpose(content, start)
            self.i = end
            self.emit(_SUPERSCRIPTS[content], content, start)
        elif not content or content[0] in "([":
            raise self.error(start + 1, expected if not content else "a layer index such as ^{(1)} belongs to a name")
        elif text[i] in "{\\":
            self.i = i  # ^{-z}, ^\pi: the exponent is read as a group
            self.emit("CARET", "^", start, start + 1)
        elif text[i].isalnum() and text[i].isascii():
            self.emit("CARET", "^", start, start + 1)
            self.i = i + 1  # LaTeX takes one character: x^2y is x^2 y
            kind = "NUMBER" if text[i] in _DIGITS else "NAME"
            self.emit(kind, text[i] if kind == "NUMBER" else NameParts(text[i], "", False, i + 1), i)
        else:
            raise self.error(start + 1, expected)

    # ----- commands -----
    def command(self, start):
        self.i = self.command_end(start)
        word = self.text[start:self.i]
        name = word[1:]
        if name in _SPACING:
            return
        if name in _SIZED:
            spelling, _, _, self.i = self.argument(self.i)
            if spelling == ".":
                raise self.error(start + 1, f"\\{name}. (an invisible bracket) is not read")
            self.delimiter(spelling, start, _SIZED[name], sized=name in ("left", "right"))
        elif name in ("begin", "end"):
            environment, _, _, self.i = self.argument(self.i)
            if environment not in _LAYOUT_ENVIRONMENTS:
                raise self.error(start + 1, f"the environment {environment!r} is not read (matrices "
                                            "written entry by entry are not part of the notation)")
        elif word in _DELIMITERS:
            self.delimiter(word, start)
        elif name in _GREEK or name in _ACCENTS:
            self.name(start)
        elif name in _BOLD or name == "mathbb":
            self.bold(name, start)
        elif name in _WORDS or name == "operatorname*":
            self.word(start)
        elif name in _COMMANDS:
            self.emit(_COMMANDS[name], word, start)
            if _COMMANDS[name] in ("FRAC", "SQRT"):
                self.unbraced_arguments(word, start, 2 if _COMMANDS[name] == "FRAC" else 1)
        elif name in _FUNCTIONS:
            self.function_command(name, start)
        elif name == "nabla":
            self.nabla(start)
        elif name == "sum":  # index notation: \sum_i, \sum_{i=1}^{n}, \sum_{i,j}
            self.emit("SUM", index_notation.summation_indices(self, start), start)
        else:
            hint = _HINTS.get(name, "see docs/notation.md for what is read")
            raise self.error(start + 1, f"unknown command {word}: {hint}")

    # ----- issue 9: \sigma as a name, second derivatives ------------------------------------------------
    def function_command(self, name, start):
        """\\sigma(z) is the sigmoid; a declared \\sigma (--shape '\\sigma=1') is a symbol: \\frac{x^2}{2\\sigma^2}.
        \\sigma''(z) and \\sigma^{\\prime\\prime}(z) are read as (\\sigma')'(z)."""
        if name == "sigma" and "\\sigma" in self.declared:
            self.emit("NAME", NameParts("\\sigma", self.scripts(), False, start + 1), start)
            return
        function = _FUNCTIONS[name]
        double = _DOUBLE_PRIME.match(self.text, self.i)
        if double is None or function not in _PRIMES:
            self.emit("FUNC", (function, None), start)
            return
        self.emit("FUNC", (_PRIMES[function], None), start)
        self.emit("PRIME", "'", double.start(), double.end())
        self.i = double.end()

    def unbraced_arguments(self, word, col, count):
        """As TeX does, \\frac and \\sqrt take a one-token argument without braces: \\frac12,
        \\frac1N, \\frac{1}{2}x, \\sqrt2. Such an argument is marked here and read, braced, when the
        scanner reaches it (`one_token_argument`); a braced one is read as usual."""
        i = self.i
        for _ in range(count):
            i = self.skip_spaces(i)
            if i >= len(self.text):
                needs, shown = ("two arguments", "{a}{b}") if count == 2 else ("an argument", "{x}")
                raise self.error(col + 1, f"{word} needs {needs}: {word}{shown}")
            token, start, stop, end = self.argument(i)
            if end == stop:
                if not _ONE_TOKEN.fullmatch(token):  # \sqrt(x): the parser asks for braces
                    return
                self.unbraced[start] = end
            i = end

    def one_token_argument(self, start, end):
        token = self.text[start:end]
        self.emit("_LBRACE", "{", start, start)
        if token in _DIGITS:
            self.emit("NUMBER", token, start, end)
        elif token.isascii() and token.isalpha():
            self.emit("NAME", NameParts(token, "", False, start + 1), start, end)
        elif token[1:] in _GREEK:
            self.emit("NAME", NameParts(token, "", False, start + 1), start, end)
        else:
            self.emit("PI", token, start, end)
        self.emit("_RBRACE", "}", end, end)
        self.i = end

    def bold(self, name, start):
        content, _, _, end = self.argument(self.i)
        if content == "0" and name != "mathbb":  # \mathbf{0}: zero, of the needed shape in a claim
            self.i = end
            self.emit("NUMBER", "0", start)
            return
        if content != "1":
            if name == "mathbb":
                raise self.error(start + 1, f"\\mathbb{{{content}}} is not read (only \\mathbb{{1}})")
            self.name(start)
            return
        self.i = end
        if name == "mathbb" and _INDICATOR_AHEAD.match(self.text, end):
            self.emit("INDICATOR", "1", start)
            return
        i = self.skip_spaces(end)
        size = None
        if i < len(self.text) and self.text[i] == "_":
            size, _, _, self.i = self.argument(i + 1)
        self.emit("ONES", size, start)

    def word(self, start):
        """\\operatorname{ReLU}, \\mathrm{tr}, \\mathrm{d}: a function, an operator or a differential."""
        content, _, _, self.i = self.argument(self.i)
        if content == "d":
            self.emit("DIFF", content, start)
        elif content in ("log", "ln"):
            self.emit("LOG", content, start)
        elif content in _LAYER_WORDS or (content == "softmax" and self.subscript_follows()):
            self.emit("FUNC", (_LAYER_WORDS.get(content, "row_softmax"), self.layer_parameter(content, start)), start)
        elif content == "KL":
            self.emit("DIVERGENCE", content, start)
        elif content in _OPERATORS:
            function = _OPERATORS[content]
            self.emit("FUNC", (function, self.parameter(start) if function in _PARAMETRISED else None), start)
        elif content in convolution.OPERATORS:
            self.emit("FUNC", (content, self.geometry(start, content)), start)
        else:
            raise self.error(start + 1, f"unknown operator {content!r}; known: {', '.join(sorted(_OPERATORS))}")

    # ----- normalization and attention (issue 14): BN, LayerNorm, std, softmax_row, Attention, ... -----
    def subscript_follows(self) -> bool:
        i = self.skip_spaces(self.i)
        return i < len(self.text) and self.text[i] == "_"

    def layer_parameter(self, word, start):
        """The subscript of a layer operator, read into its parameter (`_layer_parameter`)."""
        content = None
        if self.subscript_follows():
            content, _, _, self.i = self.argument(self.skip_spaces(self.i) + 1)
        try:
            return _layer_parameter(_LAYER_WORDS.get(word, "row_softmax"), content)
        except ValueError as why:
            raise self.error(start + 1, f"\\operatorname{{{word}}}: {why}") from None

    def parameter(self, start):
        i = self.skip_spaces(self.i)
        if i < len(self.text) and self.text[i] == "_":
            content, _, _, end = self.argument(i + 1)
            if _NUMBER.fullmatch(content.lstrip("-")):
                self.i = end
                return sympy.Rational(content)
            fraction = _FRACTION.fullmatch(content.replace(" ", ""))
            if fraction:  # _{\frac{1}{3}}, as the printer writes a slope without a finite decimal
                self.i = end
                sign = -1 if fraction.group(1) else 1
                return sign * sympy.Rational(int(fraction.group(2)), int(fraction.group(3)))
        raise self.error(start + 1, "this activation needs its parameter as a number: "
                                    "\\operatorname{LeakyReLU}_{0.01}(z), \\operatorname{ELU}_{1}(z)")

    # ----- convolution and pooling (issue 15): \operatorname{im2col}_{3\times 3,\ 32\times 32,\ p=1}(X) -----
    def geometry(self, start, operator):
        """The subscript of a convolution or pooling operator: window, image, optional padding."""
        i = self.skip_spaces(self.i)
        if i < len(self.text) and self.text[i] == "_":
            content, _, _, end = self.argument(i + 1)
            found = _GEOMETRY.fullmatch(_THIN_SPACE.sub(" ", content).replace("\\ ", " ").replace("~", " "))
            if found:
                self.i = end
                pair = lambda a, b: (int(a), int(b)) if b else (1, int(a))  # noqa: E731
                try:
                    return convolution.geometry(pair(*found.group(1, 2)), pair(*found.group(3, 4)),
                                                int(found.group(5) or 0))
                except InputError as error:
                    raise self.error(start + 1, str(error)) from None
        raise self.error(start + 1, f"\\operatorname{{{operator}}} needs its window and image size as a subscript: "
                                    f"\\operatorname{{{operator}}}_{{3\\times 3,\\ 32\\times 32}}(X), padding as "
                                    "a third entry p=1 (a 1-D signal: _{3,\\ 100})")

    def nabla(self, start):
        i = self.skip_spaces(self.i)
        parts = None
        if i < len(self.text) and self.text[i] == "_":
            parts = self.argument_name(i + 1, "\\nabla_{...}")
            if self.queued:
                raise self.error(start + 1, "\\nabla_{...} takes a plain name")
        self.emit("NABLA", parts, start)


# ----- stage 2: structure ------------------------------------------------------------------------------

class _Node:
    """A node of the parse tree; Lark builds it with the rule's name and its children."""

    __slots__ = ("data", "children", "col")

    def __init__(self, data, children, meta=None):
        self.data, self.children = data, children
        self.col = children[0].col if isinstance(children[0], _Node) else children[0].column


class _TokenFeed(lark.lexer.Lexer):
    """Lark's lexer slot, filled with the scanner's tokens."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, tokens):
        return iter(tokens)


@functools.lru_cache(maxsize=None)
def _parser():
    grammar = Path(__file__).with_name("latex_grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", lexer=_TokenFeed, tree_class=_Node)


def _expected(terminals) -> str:
    """Lark's expected terminals in words; after an operand only what must come is named."""
    needed = set(terminals) - _OPERAND_STARTS - _CONTINUATIONS
    if needed:
        return " or ".join(sorted(_SPELLED.get(t, t) for t in needed))
    if set(terminals) & _OPERAND_STARTS:
        return "an operand (a name, a number, a bracket or a function)"
    return " or ".join(sorted(_SPELLED.get(t, t) for t in terminals))


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


def _declare(name, shape, assume):
    rows, cols = shape
    if rows == 1 and cols == 1:
        return scalar(name, assume)
    if cols == 1:
        return vector(name, rows, assume)
    return matrix(name, rows, cols, assume)


def _as_shape(value):
    if isinstance(value, str):
        value = parse_shape(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        value = (value, 1)
    if not isinstance(value, (tuple, list)) or len(value) not in (1, 2):
        raise InputError(f"a shape is (rows, cols), a length or a spec such as '3x2', not {value!r}")
    return tuple(as_size(size) for size in value) + ((sympy.Integer(1),) if len(value) == 1 else ())


class _Builder:
    """Parse tree -> nodes, bottom-up without recursion; every constructor error gets a column."""

    def __init__(self, text, symbols):
        self.text, self.symbols = text, symbols

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
                if result.is_scalar or item.is_scalar:
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


# ----- index notation (nnsym.declare.index_notation makes the nodes and the matrix form) -----

def _summation(self, node, *args):
    """[factors] \\sum_k product: the sum covers the product after it; factors before it multiply it."""
    k = next(n for n, arg in enumerate(args) if isinstance(arg, Token) and arg.type == "SUM")
    token, body = args[k], args[k + 1]
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
_Builder._entry = _entry


# ----- the reader -------------------------------------------------------------------------------------------

def _symbol_table(shapes, assumptions) -> dict:
    shapes = {read_name(k): _as_shape(v) for k, v in (shapes or {}).items()}
    kinds = {read_name(k): v for k, v in (assumptions or {}).items()}
    return {name: _declare(name, shapes.get(name, (1, 1)), kinds.get(name)) for name in shapes.keys() | kinds}


_cached_symbol_table = functools.lru_cache(maxsize=256)(
    lambda shapes, assumptions: _symbol_table(dict(shapes), dict(assumptions)))


def _symbols(shapes, assumptions) -> dict:
    """The declared symbols; the same declarations are declared once (`nnsym lint` reads many formulas
    with one document's declarations). Symbols are immutable, so sharing them is safe."""
    try:
        key = (tuple((shapes or {}).items()), tuple((k, tuple(v) if isinstance(v, list) else v)
                                                    for k, v in (assumptions or {}).items()))
        hash(key)
    except TypeError:  # an unhashable spec: declared afresh, with the same errors
        return _symbol_table(shapes, assumptions)
    return dict(_cached_symbol_table(*key))


class _Reader:
    def __init__(self, text, shapes, assumptions):
        if not isinstance(text, str):
            raise InputError(f"LaTeX must be a string, not {type(text).__name__}")
        if len(text) > MAX_LENGTH:
            raise ParseError(f"col {MAX_LENGTH + 1}: the formula is {len(text):,} characters long; "
                             f"at most {MAX_LENGTH:,} are read")
        symbols = _symbols(shapes, assumptions)
        text = respell(text)  # issue 9: log(x), 1e-3, x^12 refused; e^-x, .5x, \log_2 rewritten (spellings.py)
        self.text = text
        self.tokens = _Scanner(text, symbols.keys()).run()
        self.builder = _Builder(text, symbols)

    def error(self, col, message):
        return _located(ParseError, self.text, col, message)

    def pieces(self, tokens, separators):
        """Split tokens at separators outside brackets."""
        pieces, current, depth = [], [], 0
        for token in tokens:
            depth += (token.type in _OPENERS) - (token.type in _CLOSERS)
            if depth == 0 and token.type in separators:
                pieces.append((current, token))
                current = []
            else:
                current.append(token)
        return pieces + [(current, None)]

    def formula(self, tokens, after):
        """The value of one formula (tokens without separators); ``after`` is the token before it."""
        tokens = [t for t in tokens if t.type != "NEWLINE"]
        if not tokens:
            col = after.end_pos + 1 if after is not None else 1
            raise self.error(col, "nothing to read" if after is None else f"'{after}' needs something after it")
        try:
            tree = _parser().parse(tokens)
        except lark.exceptions.UnexpectedToken as error:
            raise self.syntax_error(error, tokens) from None
        return self.builder.build(tree)

    def syntax_error(self, error, tokens):
        token = error.token
        found = next((k for k, t in enumerate(tokens) if t is token), len(tokens))
        before = tokens[found - 1] if found else None
        raw = self.text[token.start_pos:token.end_pos] if token.type != "$END" else ""
        col = token.column if token.type != "$END" else tokens[-1].end_pos + 1
        said = before and self.text[before.start_pos:before.end_pos]
        if token.type == "PRIME":
            message = ("a prime ' is read only after a named activation (\\sigma'(z), \\tanh'(z), "
                       "\\operatorname{ReLU}'(z)); it is not a transpose: write ^\\top")
        elif token.type == "EQUALS":
            message = "'=' is not part of a formula: use read_equations or read_claim"
        elif token.type in ("PARTIAL", "NABLA", "DIFF"):
            message = f"{raw}: derivative notation belongs on the left of '=' in a claim (read_claim)"
        elif token.type == "_COMMA" and any(t.type == "DIVERGENCE" for t in tokens[:found]):
            message = "the arguments of KL are divided by \\|, not a comma: KL(p \\| q)"
        elif token.type in ("SEP", "_COMMA", "NEWLINE"):
            message = f"'{raw}' separates equations (read_equations); a formula is one expression"
        elif before is not None and before.type == "FUNC" and token.type in ("INVERSE", "INVTRANSPOSE"):
            message = f"{said}^{{-1}} (an inverse function) is not read"
        elif before is not None and before.type == "FUNC" and token.type == "TRANSPOSE":
            message = f"a transpose follows the argument: {said}(z)^\\top"
        elif before is not None and before.type in ("FUNC", "LOG", "MAX", "PRIME") and "_LPAR" in error.expected:
            if before.type == "PRIME":  # \sigma' is said with its function
                said = self.text[tokens[found - 2].start_pos:before.end_pos]
            message = f"{said} needs its argument in parentheses: {said}(...)"
        elif set(error.expected) == {"_LPAR"} and any(t.type == "FUNC" for t in tokens[max(0, found - 6):found]):
            start = next(t for t in reversed(tokens[max(0, found - 6):found]) if t.type == "FUNC")
            said = self.text[start.start_pos:before.end_pos]  # \tanh^2 needs (...)
            message = f"{said} needs its argument in parentheses: {said}(...)"
            if said.startswith("\\sigma"):  # issue 9
                message += "; for a variance \\sigma^2, declare \\sigma a scalar (--shape '\\sigma=1')"
        elif before is not None and before.type in ("FRAC", "SQRT"):
            message = f"{said} needs its arguments in braces: {said}{{...}}"
        elif token.type == "$END":
            message = f"'{said}' needs {_expected(error.expected)} after it"
        else:
            message = f"unexpected '{raw}': expected {_expected(error.expected)}"
        return self.error(col, message)

    def expression(self, tokens, after=None, shape=None, indices=None) -> Expr:
        """The formula's value; ``shape``, when given, sizes an I or 1 that nothing else sizes (the
        claim that d tr(X)/dX = I has the variable's shape), and a lone 0 or \\mathbf{0} is the zero of that shape."""

        def read():
            value = self.builder.solid(self.formula(tokens, after))
            if shape is not None and isinstance(value, _Pending):
                return value.make(*shape)
            value = self.builder.concrete(value)
            if index_notation.has_indices(value):  # its matrix form; errors name the formula (col 1)
                try:
                    value = index_notation.to_matrix(value, indices or ())
                except (ShapeError, ParseError) as error:
                    raise self.error(1, str(error)) if isinstance(error, ParseError) else \
                        _located(ShapeError, self.text, 1, str(error)) from None
            if shape is not None and value.is_scalar and number(value) == 0:  # "= 0": the zero gradient
                return Zero(*shape)
            return value

        return self.shallow(self.finish(read))

    def shallow(self, expr: Expr) -> Expr:
        depth, _, _ = measure(expr)
        if depth > MAX_DEPTH:
            raise self.error(1, f"the formula nests {depth} operations deep (a product of hundreds of factors?); "
                                f"at most {MAX_DEPTH} are read")
        return expr

    def finish(self, read):
        """Run a read, turning an I or 1 whose size nothing fixes into a ParseError."""
        try:
            return read()
        except _Unsized as unsized:
            raise self.error(unsized.col, f"cannot tell the size of {unsized.what} here; write "
                                          f"{unsized.what}_n with a declared size") from None

    def equation(self, tokens) -> tuple:
        sides = self.pieces(tokens, {"EQUALS"})
        if len(sides) != 2:
            col = sides[2][0][0].column - 1 if len(sides) > 2 else tokens[0].column
            raise self.error(col, "an equation needs exactly one '='")
        (left, equals), (right, _) = sides
        if not left:
            raise self.error(equals.column, "nothing on the left of '='")

        def read():
            a = self.builder.solid(self.formula(left, None))
            b = self.builder.solid(self.formula(right, equals))
            a, b = self.builder.same_size(a, b)
            if a.is_scalar and not b.is_scalar:  # A x = 0 means the zero vector: a scalar times ones
                a = scale(a, ones(*b.shape))
            elif b.is_scalar and not a.is_scalar:
                b = scale(b, ones(*a.shape))
            if a.shape != b.shape:
                raise _located(ShapeError, self.text, equals.column,
                               f"equation: the sides are {show_shape(a.shape)} and {show_shape(b.shape)}")
            return self.shallow(a), self.shallow(b)

        return self.finish(read)


def _guarded(read):
    """The reader never raises RecursionError: a constructor recursing on a pathological input (a
    transpose of a product of thousands of factors) becomes a ParseError."""

    @functools.wraps(read)
    def guarded(*args, **kwargs):
        try:
            return read(*args, **kwargs)
        except RecursionError:
            raise ParseError("col 1: the formula nests too deeply to be read") from None

    return guarded


def read_name(text: str) -> str:
    """A symbol's name as written in LaTeX -> its canonical spelling, with the reader's own idea of a
    name: ``\\hat y``, ``\\boldsymbol\\theta`` and ``\\mathbf x`` are ``\\hat{y}``, ``\\theta`` and ``x``, as
    they are inside a formula. Anything but one name is left to `canonical_name`, which refuses it."""
    if isinstance(text, str) and len(text) <= 256:  # a name is short; canonical_name says so
        try:
            tokens = _Scanner(text.strip(), ()).run()
        except (ParseError, RecursionError):
            tokens = []
        if len(tokens) == 1 and tokens[0].type == "NAME":
            parts = tokens[0].value
            return canonical_name(parts.base + parts.scripts)
    return canonical_name(text)


@_guarded
def read_latex(text: str, shapes: dict | None = None, assumptions: dict | None = None, shape=None,
               indices=None) -> Expr:
    """One formula, e.g. ``read_latex(r"W^\\top x", {"W": "3x2", "x": "3"})``.

    ``shapes`` maps a name (LaTeX, e.g. ``W^{(1)}``) to ``(rows, cols)`` or a spec (``'3x2'``, ``'n'``);
    ``assumptions`` maps a name to one or more of `expressions.ASSUMPTIONS`. ``shape``, when the
    formula's shape is known from elsewhere (a gradient has its variable's), sizes an I or 1 that
    nothing in the formula sizes, and makes a lone 0 the zero of that shape. ``indices`` orders the
    free indices of a formula in index notation (``("i", "j")``, or ``{"i": m, "j": n}`` with their
    ranges), whose matrix form is returned (`index_notation.to_matrix`)."""
    reader = _Reader(text, shapes, assumptions)
    return reader.expression(reader.tokens, shape=shape, indices=indices)


@_guarded
def read_claim(text: str, shapes: dict | None = None, assumptions: dict | None = None, shape=None):
    """``\\frac{\\partial L}{\\partial W} = ...`` or ``\\nabla_W L = ...`` -> ("L", "W", right side);
    a formula without a left side -> (None, None, formula). ``shape`` (rows, cols), when given, is the
    size of an I or 1 that nothing else in the right side sizes (``\\nabla_x \\mathbf{1}^\\top x = \\mathbf{1}``)."""
    reader = _Reader(text, shapes, assumptions)
    function, variable, right, equals = _claim_sides(reader)
    variable, indices = index_notation.entry_variable(variable, reader.builder.symbols) if variable else (None, None)
    if indices:  # the claim's free indices run over the variable's rows and columns
        indices = index_notation.index_ranges(reader.builder.symbols[variable], indices)
    return function, variable, reader.expression(right, equals, shape, indices)


@_guarded
def read_definition(text: str, shapes: dict | None = None, assumptions: dict | None = None):
    """A function with or without its name: ``L = \\frac12\\|Wx - y\\|^2`` or ``J(\\theta) = ...`` ->
    ("L", formula); a bare formula -> (None, formula)."""
    reader = _Reader(text, shapes, assumptions)
    sides = reader.pieces(reader.tokens, {"EQUALS"})
    if len(sides) == 1:
        return None, reader.expression(reader.tokens)
    if len(sides) > 2:
        raise reader.error(sides[1][1].column, "a function has at most one '=', after its name: L = ...")
    (left, equals), (right, _) = sides
    left = [t for t in left if t.type != "NEWLINE"]
    kinds = [t.type for t in left]
    if not (kinds[:1] == ["NAME"] and (len(kinds) == 1 or (kinds[1] == "_LPAR" and _one_group(kinds[1:])))):
        col = left[0].column if left else equals.column
        raise reader.error(col, "the left side of '=' must be the function's name: L = ... or L(W) = ...")
    return _plain(reader, left[0].value), reader.expression(right, equals)


@_guarded
def read_claim_variable(text: str, shapes: dict | None = None, assumptions: dict | None = None):
    """The variable named on the left side of a claim (``W`` in ``\\nabla_W L = ...``), or None; the
    right side is not read."""
    reader = _Reader(text, shapes, assumptions)
    variable = _claim_sides(reader)[1]
    # \frac{\partial L}{\partial W_{ij}}: a claim about the gradient by W, entry by entry
    return index_notation.entry_variable(variable, reader.builder.symbols)[0] if variable else None


@_guarded
def read_claim_indices(text: str, shapes: dict | None = None, assumptions: dict | None = None):
    """The free indices of an entry-wise claim (``("i", "j")`` for ``\\frac{\\partial L}{\\partial W_{ij}} = ...``),
    or None for a claim about the whole gradient; the right side is not read."""
    reader = _Reader(text, shapes, assumptions)
    variable = _claim_sides(reader)[1]
    return index_notation.entry_variable(variable, reader.builder.symbols)[1] if variable else None


def _claim_sides(reader):
    """(function, variable, right-side tokens, the '=' token) of a claim; None for a missing left side."""
    sides = reader.pieces(reader.tokens, {"EQUALS"})
    if len(sides) == 1:
        return None, None, reader.tokens, None
    if len(sides) > 2:
        raise reader.error(sides[1][1].column, "a claim has one '='")
    (left, equals), (right, _) = sides
    function, variable = _derivative(reader, [t for t in left if t.type != "NEWLINE"], equals)
    return function, variable, right, equals


def _derivative(reader, tokens, equals):
    """The names in \\frac{\\partial L}{\\partial W}, \\frac{dL}{dW} or \\nabla_W L."""
    kinds = [t.type for t in tokens]
    expected = "the left side of '=' must be a derivative: \\frac{\\partial L}{\\partial W} or \\nabla_W L"
    # L(W), J(\theta): the function's arguments, as often written, say nothing more
    if kinds[2:3] == ["_LPAR"] and kinds[-1] == "_RPAR" and _one_group(kinds[2:]):
        kinds, tokens = kinds[:2], tokens[:2]
    if kinds == ["NABLA", "NAME"] and tokens[0].value is not None:
        return _plain(reader, tokens[1].value), _plain(reader, tokens[0].value)
    if kinds[:2] == ["FRAC", "_LBRACE"] and "_RBRACE" in kinds:
        middle = kinds.index("_RBRACE")
        if kinds[middle + 1:middle + 2] == ["_LBRACE"] and "_RBRACE" in kinds[middle + 2:]:
            end = kinds.index("_RBRACE", middle + 2)
            top, bottom, after = tokens[2:middle], tokens[middle + 2:end], tokens[end + 1:]
            alone = kinds[2:middle] in (["PARTIAL"], ["DIFF"]) or (
                kinds[2:middle] == ["NAME"] and tokens[2].value[:2] == ("d", ""))
            if alone and len(after) == 1 and after[0].type == "NAME":
                top = top + after  # \frac{\partial}{\partial W} L
            elif after:
                top = []  # refused below
            if "_LBRACE" not in kinds[middle + 2:end]:
                return _differential(reader, top), _differential(reader, bottom)
    raise reader.error(tokens[0].column if tokens else equals.column, expected)


def _one_group(kinds) -> bool:
    """Do the tokens form one bracketed group, '(' ... ')', and nothing more?"""
    depth = 0
    for k, kind in enumerate(kinds):
        depth += (kind in _OPENERS) - (kind in _CLOSERS)
        if depth == 0:
            return k == len(kinds) - 1
    return False


def _differential(reader, tokens):
    """``\\partial W``, ``\\mathrm{d}W``, ``d W`` or ``dW`` -> the name W."""
    kinds = [t.type for t in tokens]
    if len(tokens) == 2 and kinds[1] == "NAME" and (
            kinds[0] in ("PARTIAL", "DIFF") or (kinds[0] == "NAME" and tokens[0].value[:2] == ("d", ""))):
        return _plain(reader, tokens[1].value)
    if kinds == ["NAME"] and tokens[0].value.splittable and tokens[0].value.base.startswith("d"):
        parts = tokens[0].value
        return _plain(reader, parts._replace(base=parts.base[1:], splittable=len(parts.base) > 2))
    col = tokens[0].column if tokens else 1
    raise reader.error(col, "expected a differential: \\partial L, dL or \\mathrm{d}L")


def _plain(reader, parts):
    return reader.builder.canonical(parts.base + parts.scripts, parts.col)


@_guarded
def read_equations(text: str, shapes: dict | None = None, assumptions: dict | None = None) -> list:
    """Equations separated by ``\\\\``, ``,``, ``;`` or new lines (``cases`` and ``aligned`` allowed):
    ``a_1 x_1 + a_2 x_2 + b = 0`` or ``A x = b`` -> [(left, right), ...]."""
    reader = _Reader(text, shapes, assumptions)
    equations = []
    for tokens, _ in reader.pieces(reader.tokens, {"SEP", "_COMMA", "NEWLINE"}):
        if tokens:
            equations.append(reader.equation(tokens))
    if not equations:
        raise reader.error(1, "no equation to read")
    return equations


# ----- issue 10: which one transpose would make a claim's shapes agree ---------------------------------

MAX_TRANSPOSE_REPAIRS = 40  # names tried (each a fresh read of a short claim)


@_guarded
def transpose_repairs(text: str, shapes: dict | None = None, assumptions: dict | None = None, shape=None):
    """For a claim whose shapes do not fit: each single edit that adds ``^\\top`` to one written name, or
    removes the ``^\\top`` it has, after which the claim reads; (what was done, in words, its expression).
    Names written together as a product (``Wx``) are not split here."""
    tokens = _Reader(text, shapes, assumptions).tokens
    out = []
    names = [i for i, t in enumerate(tokens) if t.type == "NAME" and not getattr(t.value, "splittable", True)]
    for i in names[:MAX_TRANSPOSE_REPAIRS]:
        written = f"{tokens[i].value.base}{tokens[i].value.scripts}"
        col = tokens[i].column
        if i + 1 < len(tokens) and tokens[i + 1].type == "TRANSPOSE":
            edited, said = tokens[:i + 1] + tokens[i + 2:], f"{written} without its transpose (col {col})"
        else:
            mark = Token("TRANSPOSE", "\\top", start_pos=tokens[i].end_pos, line=1,
                         column=tokens[i].column, end_pos=tokens[i].end_pos)
            edited, said = tokens[:i + 1] + [mark] + tokens[i + 1:], f"{written}^\\top for the {written} at col {col}"
        reader = _Reader(text, shapes, assumptions)
        reader.tokens = edited
        try:
            _, _, right, equals = _claim_sides(reader)
            out.append((said, reader.expression(right, equals, shape)))
        except NnsymError:
            continue
    return out
