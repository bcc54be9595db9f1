"""Reading: the entry points (`read_latex`, `read_claim`, `read_definition`, `read_equations`,
`read_name`, `parse_shape`, `transpose_repairs`), claims and their left sides. `_Reader` runs the stages
of the package (see `nnsym.declare.reading`): spellings, scanner, grammar, builder."""

from __future__ import annotations

import functools

import lark
import sympy
from lark import Token

from nnsym.declare.expressions import (
    Expr, Zero, as_size, matrix, number, ones, scalar, scale, show_shape, vector,
)
from nnsym.declare.limits import measure
from nnsym.declare.names import canonical_name
from nnsym.declare.reading import index_notation, time_steps
from nnsym.declare.reading.builder import _Builder, _Pending, _Unsized
from nnsym.declare.reading.grammar import _expected, _parser
from nnsym.declare.reading.scanner import (
    _CLOSERS, _OPENERS, MAX_DEPTH, MAX_LENGTH, _located, _Scanner, parse_shape,
)
from nnsym.declare.reading.spellings import respell_columns, typed_error
from nnsym.errors import InputError, NnsymError, ParseError, ShapeError

__all__ = ["parse_shape", "read_name", "read_latex", "read_claim", "read_claim_variable", "read_definition",
           "read_equations", "MAX_LENGTH", "MAX_DEPTH", "read_claim_indices"]

# ----- the reader -------------------------------------------------------------------------------------------

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
    def __init__(self, text, shapes, assumptions, constants=None):
        if not isinstance(text, str):
            raise InputError(f"LaTeX must be a string, not {type(text).__name__}")
        if len(text) > MAX_LENGTH:
            raise ParseError(f"col {MAX_LENGTH + 1}: the formula is {len(text):,} characters long; "
                             f"at most {MAX_LENGTH:,} are read")
        symbols = _symbols(shapes, assumptions)
        text = time_steps.respell_minus(text)  # issue 15: h_{t\u22121} (a unicode minus in a subscript)
        # issue 9: log(x), 1e-3, x^12 refused; e^-x, .5x, \log_2 rewritten (spellings.py); issue 17: with
        # where each rewritten character was typed, for the errors (`_guarded`) and the repairs' columns
        text, self.columns = respell_columns(text)
        self.text = text
        self.tokens = _Scanner(text, symbols.keys()).run()
        # issue 15: sums over time steps (\sum_{t=1}^{T} ... h_{t-1}), unrolled by the builder
        steps = time_steps.prepare(text, self.tokens, symbols, constants)
        self.builder = _Builder(text, symbols)
        self.builder.steps = steps

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
            try:
                value = self.builder.solid(self.formula(tokens, after))
            except ShapeError as error:  # issue 15: \sum_t a \odot h_t sums a only; say so
                raise time_steps.with_hint(self.builder.steps, error) from None
            if shape is not None and isinstance(value, _Pending):
                return value.make(*shape)
            value = self.builder.concrete(value)
            time_steps.require_bound(self.builder.steps, self.text, value)  # issue 15: h_t outside any \sum_t
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
    transpose of a product of thousands of factors) becomes a ParseError. Issue 17: every error leaves
    the reader located in the text as typed, not as respelled (`spellings.typed_error`)."""

    @functools.wraps(read)
    def guarded(text, *args, **kwargs):
        try:
            return read(text, *args, **kwargs)
        except RecursionError:
            raise ParseError("col 1: the formula nests too deeply to be read") from None
        except NnsymError as error:
            again = _as_typed(error, text)
            if again is error:
                raise
            raise again from None

    return guarded


def _as_typed(error, text):
    """``error``, raised after ``text`` was respelled, in the columns of ``text``; an error raised before
    (too long, not a string) or by the respelling itself (already in typed columns) as it is."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        return error
    try:
        _, columns = respell_columns(time_steps.respell_minus(text))
    except ParseError:
        return error
    return typed_error(error, text, columns)


def read_name(text: str) -> str:
    """A symbol's name as written in LaTeX -> its canonical spelling, with the reader's own idea of a
    name: ``\\hat y``, ``\\boldsymbol\\theta`` and ``\\mathbf x`` are ``\\hat{y}``, ``\\theta`` and ``x``, as
    they are inside a formula. Anything but one name is left to `canonical_name`, which refuses it."""
    if isinstance(text, str) and len(text) <= 256:  # a name is short; canonical_name says so
        text = time_steps.respell_minus(text)  # issue 15: h_{t\u22121}
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
               indices=None, constants=None) -> Expr:
    """One formula, e.g. ``read_latex(r"W^\\top x", {"W": "3x2", "x": "3"})``.

    ``shapes`` maps a name (LaTeX, e.g. ``W^{(1)}``) to ``(rows, cols)`` or a spec (``'3x2'``, ``'n'``);
    ``assumptions`` maps a name to one or more of `expressions.ASSUMPTIONS`. ``shape``, when the
    formula's shape is known from elsewhere (a gradient has its variable's), sizes an I or 1 that
    nothing in the formula sizes, and makes a lone 0 the zero of that shape. ``indices`` orders the
    free indices of a formula in index notation (``("i", "j")``, or ``{"i": m, "j": n}`` with their
    ranges), whose matrix form is returned (`index_notation.to_matrix`). ``constants`` ({"T": 3}) are the
    defined whole numbers a sum over time steps may run to (`time_steps`)."""
    reader = _Reader(text, shapes, assumptions, constants)
    return reader.expression(reader.tokens, shape=shape, indices=indices)


@_guarded
def read_claim(text: str, shapes: dict | None = None, assumptions: dict | None = None, shape=None, constants=None):
    """``\\frac{\\partial L}{\\partial W} = ...`` or ``\\nabla_W L = ...`` -> ("L", "W", right side);
    a formula without a left side -> (None, None, formula). ``shape`` (rows, cols), when given, is the
    size of an I or 1 that nothing else in the right side sizes (``\\nabla_x \\mathbf{1}^\\top x = \\mathbf{1}``)."""
    reader = _Reader(text, shapes, assumptions, constants)
    function, variable, right, equals = _claim_sides(reader)
    variable, indices = index_notation.entry_variable(variable, reader.builder.symbols) if variable else (None, None)
    if indices:  # the claim's free indices run over the variable's rows and columns
        indices = index_notation.index_ranges(reader.builder.symbols[variable], indices)
    return function, variable, reader.expression(right, equals, shape, indices)


@_guarded
def read_definition(text: str, shapes: dict | None = None, assumptions: dict | None = None, constants=None):
    """A function with or without its name: ``L = \\frac12\\|Wx - y\\|^2`` or ``J(\\theta) = ...`` ->
    ("L", formula); a bare formula -> (None, formula)."""
    reader = _Reader(text, shapes, assumptions, constants)
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
def read_claim_variable(text: str, shapes: dict | None = None, assumptions: dict | None = None, constants=None):
    """The variable named on the left side of a claim (``W`` in ``\\nabla_W L = ...``), or None; the
    right side is not read."""
    reader = _Reader(text, shapes, assumptions, constants)
    variable = _claim_sides(reader)[1]
    # \frac{\partial L}{\partial W_{ij}}: a claim about the gradient by W, entry by entry
    return index_notation.entry_variable(variable, reader.builder.symbols)[0] if variable else None


@_guarded
def read_claim_indices(text: str, shapes: dict | None = None, assumptions: dict | None = None, constants=None):
    """The free indices of an entry-wise claim (``("i", "j")`` for ``\\frac{\\partial L}{\\partial W_{ij}} = ...``),
    or None for a claim about the whole gradient; the right side is not read."""
    reader = _Reader(text, shapes, assumptions, constants)
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
def transpose_repairs(text: str, shapes: dict | None = None, assumptions: dict | None = None, shape=None,
                      constants=None):
    """For a claim whose shapes do not fit: each single edit that adds ``^\\top`` to one written name, or
    removes the ``^\\top`` it has, after which the claim reads; (what was done, in words, its expression).
    Names written together as a product (``Wx``) are not split here."""
    reader = _Reader(text, shapes, assumptions, constants)
    tokens = reader.tokens
    out = []
    names = [i for i, t in enumerate(tokens) if t.type == "NAME" and not getattr(t.value, "splittable", True)]
    for i in names[:MAX_TRANSPOSE_REPAIRS]:
        written = f"{tokens[i].value.base}{tokens[i].value.scripts}"
        col = reader.columns.typed(tokens[i].column)  # issue 17: as typed
        if i + 1 < len(tokens) and tokens[i + 1].type == "TRANSPOSE":
            edited, said = tokens[:i + 1] + tokens[i + 2:], f"{written} without its transpose (col {col})"
        else:
            mark = Token("TRANSPOSE", "\\top", start_pos=tokens[i].end_pos, line=1,
                         column=tokens[i].column, end_pos=tokens[i].end_pos)
            edited, said = tokens[:i + 1] + [mark] + tokens[i + 1:], f"{written}^\\top for the {written} at col {col}"
        reader = _Reader(text, shapes, assumptions, constants)
        reader.tokens = edited
        try:
            _, _, right, equals = _claim_sides(reader)
            out.append((said, reader.expression(right, equals, shape)))
        except NnsymError:
            continue
    return out
