"""Reading, stage 1: the text becomes tokens (`_Scanner`), with the vocabulary of the notation.

The scanner settles what a context-free grammar cannot see: where a name ends (``Wx`` is one run of
letters, ``W^{(1)}_2`` one name), whether a superscript is a transpose, an inverse or a layer index, and
which ``|`` opens and which closes. It refuses unbalanced brackets and nesting deeper than `MAX_DEPTH`; the
expression it makes may not be deeper either (a product of thousands of factors), so that printers and
evaluators downstream, which recurse, never meet a RecursionError. Its refusals are `ParseError`s whose
first line names a (1-based) column (`_located`).
"""

from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass

import sympy
from lark import Token

from nnsym.declare import convolution, normalization
from nnsym.declare.expressions import as_size
from nnsym.declare.reading import index_notation
from nnsym.errors import InputError, ParseError

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
_PRIMES = {"sigmoid": "sigmoid_prime", "tanh": "tanh_prime", "relu": "heaviside", "leaky_relu": "leaky_relu_prime",
           "elu": "elu_prime", "gelu": "gelu_prime"}
# ----- information theory (issue 16): the subscripts of D_{KL}(p \| q) -----
_KL_SUBSCRIPTS = frozenset({"_{KL}", "_{\\mathrm{KL}}", "_{\\text{KL}}", "_{\\operatorname{KL}}", "_{\\rm{KL}}"})

# ----- normalization and attention (issue 14) ---------------------------------------------------------------
# \operatorname{word} -> the function its FUNC token names; its subscript is read by _layer_parameter.
_LAYER_WORDS = {"BN": "batch_norm", "LayerNorm": "layer_norm", "LN": "layer_norm", "std": "std",
                "Attention": "attention", "MultiHead": "multi_head", "cols": "cols", "pad": "pad"}
_TAG = re.compile(r"^\\(?:mathrm|text|textrm|mathsf|operatorname)\{(.*)\}$")
_RANGE = re.compile(r"^([0-9]+):([0-9]+)$")


# ----- single-channel correlation as typed (issue 15e): \star, \star_{\mathrm{full}}, \star_{p=1}, rot180 -----
_STAR_FULL = frozenset({"full", "\\mathrm{full}", "\\text{full}", "\\textrm{full}", "\\operatorname{full}",
                        "\\rm{full}", "\\mathsf{full}"})
_STAR_FULL |= {"\\rmfull", "\\rm{full}", "\\textup{full}"}  # {\rm full}: spaces are dropped before the lookup
_HINTS.update({w: "\\star is the correlation nnsym reads (X \\star K, as frameworks compute it); \\ast and "
                  "\\circledast usually mean the convolution, the kernel flipped: write X \\star "
                  "\\operatorname{rot180}(K)" for w in ("ast", "circledast", "circledstar")})
_STAR_VALID = frozenset({"valid", "\\mathrm{valid}", "\\text{valid}", "\\textrm{valid}", "\\operatorname{valid}"})
_STAR_PADDING = re.compile(r"^p=(-?[0-9]+)$|^p=\(?(-?[0-9]+),(-?[0-9]+)\)?$")
_STAR_HINT = ("\\star takes no subscript (no padding), _{\\mathrm{full}} (padding k-1, the input gradient's) or "
              "_{p=1} (zero padding p on every side; _{p=(1, 2)} for rows and columns apart)")


def _star_padding(content):
    """The padding written in \\star's subscript: 0, "full", an int or a pair; None if not read."""
    text = "".join(content.split())
    if text in _STAR_FULL:
        return "full"
    if text in _STAR_VALID:
        return 0
    found = _STAR_PADDING.match(text)
    if found is None:
        return None
    if found.group(1) is not None:
        return int(found.group(1))
    return (int(found.group(2)), int(found.group(3)))


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


# ----- issue 9: vocabulary of the everyday spellings read ---------------------------------------------------
_PRINTED_FUNCTIONS = {"\\varphi": "normal_pdf", "\\bar{H}": "step_nonpositive"}
_DOUBLE_PRIME = re.compile(r"\s*(?:''|\^\s*\{\s*(?:\\prime\s*\\prime|'')\s*\})")

_LETTERS = re.compile(r"[A-Za-z]+")
_ONE_TOKEN = re.compile(r"[0-9A-Za-z]|\\pi|\\(?:" + "|".join(sorted(_GREEK)) + ")")  # \frac12, \frac\lambda2
_DIGITS = frozenset("0123456789")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_FRACTION = re.compile(r"(-?)\\[dt]?frac\{([0-9]+)\}\{([1-9][0-9]*)\}")
_COMMAND = re.compile(r"\\(?:operatorname\*|[A-Za-z]+|.)", re.S)
_CALL_AHEAD = re.compile(r"\s*(?:\\(?:left|[bB]igg?l?)\s*)?\(")
_INDICATOR_AHEAD = re.compile(r"\s*(?:\\(?:left|[bB]igg?l?)\s*)?(?:\[|\\\{)")
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
        elif name == "star":  # issue 15e: X \star K, X \star_{\mathrm{full}} K, X \star_{p=1} K
            self.emit("STAR", self.star_subscript(start), start)
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
        elif content == "rot180" or (content == "rot" and self.rotation_subscript(start)):  # issue 15e
            self.emit("FUNC", ("rot180", None), start)
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

    # ----- single-channel correlation as typed (issue 15e) -----
    def star_subscript(self, start):
        """The padding in \\star's subscript (0 without one): see `_star_padding`."""
        i = self.skip_spaces(self.i)
        if i >= len(self.text) or self.text[i] != "_":
            return 0
        content, _, _, end = self.argument(i + 1)
        if content.startswith("\\") and self.text[end:end + 1] == "{":  # _\mathrm{full}
            argument, _, _, end = self.argument(end)
            content += "{" + argument + "}"
        padding = _star_padding(content)
        if padding is None:
            raise self.error(i + 1, f"unknown subscript {content!r} of \\star: {_STAR_HINT}")
        self.i = end
        return padding

    def rotation_subscript(self, start) -> bool:
        """\\operatorname{rot}_{180}(K): the subscript must be 180."""
        i = self.skip_spaces(self.i)
        if i < len(self.text) and self.text[i] == "_":
            content, _, _, end = self.argument(i + 1)
            degrees = "".join(_tag(content).split())
            for mark in ("^{\\circ}", "^\\circ", "\\circ", "\u00b0", "^{\\degree}", "\\degree"):
                degrees = degrees.replace(mark, "")
            if degrees == "180":
                self.i = end
                return True
        raise self.error(start + 1, "\\operatorname{rot} is read only as the rotation by 180 degrees: "
                                    "\\operatorname{rot}_{180}(K) or \\operatorname{rot180}(K)")

    def nabla(self, start):
        i = self.skip_spaces(self.i)
        parts = None
        if i < len(self.text) and self.text[i] == "_":
            parts = self.argument_name(i + 1, "\\nabla_{...}")
            if self.queued:
                raise self.error(start + 1, "\\nabla_{...} takes a plain name")
        self.emit("NABLA", parts, start)

