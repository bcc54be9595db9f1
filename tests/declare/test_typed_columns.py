"""Issue 17: an error raised after the reader respelled the text (``.5`` -> ``0.5``, ``e^-x`` -> ``e^{-x}``,
``x^{-1/2}`` -> ``x^{-\\frac{1}{2}}``, ``\\log_2(x)`` -> ``\\frac{1}{\\ln(2)}\\log(x)``, ``\\mathrm{e}``) names the
column of the offending character in the text as typed, and shows that text with the caret under it.

Every expected column is the index of the offending character in the typed text (``text.index``), and each
case is checked against the same error in the rewrite-free text, where no map is involved."""

import re
import pytest

from nnsym.declare.reading.reader import read_claim, read_equations, read_latex, transpose_repairs
from nnsym.declare.reading.spellings import respell_columns
from nnsym.errors import NnsymError, ParseError, ShapeError
from nnsym.present.cli import main

# (typed prefix, the same prefix without any spelling the reader rewrites); a is a scalar
PREFIXES = [
    (r".5a", r"0.5a"),
    (r"e^-a", r"e^{-a}"),
    (r"a^{-1/2}", r"a^{-\frac{1}{2}}"),
    (r"\log_2(a)", r"\frac{1}{\ln(2)}\log(a)"),
    (r"\mathrm{e}^{a}", r"e^{a}"),
    (r".5 e^-a", r"0.5 e^{-a}"),
    (r"\log_2(a) + a^{-1/2}", r"\frac{1}{\ln(2)}\log(a) + a^{-\frac{1}{2}}"),
    (r".5 \log_{10}(a) e^-a + a^{-1/2} - .25", r"0.5 \frac{1}{\ln(10)}\log(a) e^{-a} + a^{-\frac{1}{2}} - 0.25"),
]
SHAPES = {"W": "3x2", "x": "3"}

# (error suffix, the substring whose first character the error points at, its offset in it, error type)
ERRORS = [
    (r" + W x", "x", 0, ShapeError),  # the product's right operand
    (r" + \foo", r"\foo", 0, ParseError),  # unknown command
    (r" + (a", "(a", 0, ParseError),  # '(' is never closed
    (r" + a)", ")", 0, ParseError),  # ')' closes nothing
    (r" + \left( a \right]", r"\right]", 0, ParseError),  # does not close '\left(' (col N)
    (r" = a", "=", 0, ParseError),  # the grammar: '=' is not part of a formula
]


def _error(read, text, *args, **kwargs):
    with pytest.raises(NnsymError) as caught:
        read(text, *args, **kwargs)
    return caught.value


def _assert_pictured(error, text, col):
    """The message's first line names the column; the text shown is the typed text, the caret under col."""
    lines = str(error).splitlines()
    assert lines[0].startswith(f"col {col}: ")
    shown, caret = lines[-2][2:], lines[-1][2:]
    assert shown.strip(".") in text  # the typed text (a long one, a window of it between '...')
    assert caret.strip() == "^" and shown[len(caret) - 1] == text[col - 1]
    if not shown.startswith("..."):
        assert shown == text and len(caret) == col
    assert error.column == col


@pytest.mark.parametrize("typed, plain", PREFIXES)
@pytest.mark.parametrize("suffix, offender, offset, kind", ERRORS)
def test_an_error_after_a_respelling_points_at_the_typed_character(typed, plain, suffix, offender, offset, kind):
    text = typed + suffix
    error = _error(read_latex, text, SHAPES)
    assert type(error) is kind
    col = text.rindex(offender) + offset + 1
    _assert_pictured(error, text, col)
    # the same error in the text the reader reads, written out: same message, same character
    again = _error(read_latex, plain + suffix, SHAPES)
    assert (plain + suffix)[again.column - 1] == text[col - 1]
    assert _said(again) == _said(error)


def _said(error):
    """The message's first line without its columns."""
    return re.sub(r"\(col [0-9]+\)", "(col)", str(error).splitlines()[0].split(": ", 1)[1])


def test_a_column_named_in_the_message_is_typed_too():
    text = r".5 e^-a + \left( a \right]"
    error = _error(read_latex, text, {})
    opened = text.index("\\left(") + 1
    assert f"does not close '\\left(' (col {opened})" in str(error)


@pytest.mark.parametrize("typed, plain", PREFIXES)
def test_a_time_step_that_does_not_exist_is_pointed_at_as_typed(typed, plain):
    text = typed + r" + \sum_{t=1}^{T} h_{t+1}^\top h_{t+1}"
    error = _error(read_latex, text, {"h_t": "2"}, constants={"T": 3})
    assert "a step that does not exist" in str(error)
    _assert_pictured(error, text, text.index("h_{t+1}") + 1)


@pytest.mark.parametrize("typed, plain", PREFIXES[:3])
def test_a_step_outside_its_sum_is_pointed_at_as_typed(typed, plain):
    text = typed + r" h_t^\top h_t + \sum_{t=1}^{3} h_t^\top h_t"
    error = _error(read_latex, text, {"h_t": "2"})
    assert "no sum over t encloses it" in str(error)
    _assert_pictured(error, text, text.index("h_t") + 1)


def test_claims_and_equations_point_at_the_typed_character():
    text = r"\frac{\partial L}{\partial a} = .5 e^-a + \foo"
    _assert_pictured(_error(read_claim, text, {}), text, text.index(r"\foo") + 1)
    text = r".5 a = e^-a \\ a^{-1/2} = W x"
    _assert_pictured(_error(read_equations, text, SHAPES), text, text.rindex("x") + 1)


def test_the_refusals_of_the_respelling_itself_are_typed():
    text = r".5 \log_2 a"  # refused after .5 was rewritten
    _assert_pictured(_error(read_latex, text, {}), text, text.index(r"\log") + 1)
    text = r".5 a^{-1/2} e^-ab"  # refused after two rewrites
    _assert_pictured(_error(read_latex, text, {}), text, text.index("^-") + 1)


def test_the_transpose_repairs_name_typed_columns():
    text = r"\nabla_W L = .5 e^-a x W"
    repairs = transpose_repairs(text, {"W": "3x2", "x": "3"})
    assert any(f"at col {text.index(' x ') + 2}" in said for said, _ in repairs)


def test_an_unrewritten_text_reads_and_errs_as_before():
    text = r"0.5 a + W x"
    error = _error(read_latex, text, SHAPES)
    _assert_pictured(error, text, text.index("x") + 1)
    assert read_latex(r".5 e^-a a^{-1/2}", {}) == read_latex(r"0.5 e^{-a} a^{-\frac{1}{2}}", {})


@pytest.mark.parametrize("typed, plain", PREFIXES)
def test_the_column_map_takes_every_kept_character_home(typed, plain):
    """Each character the rewrites kept maps to where it was typed: the map alone, against the texts."""
    text = typed + r" + W x"
    rewritten, columns = respell_columns(text)
    assert "".join(rewritten.split()) == "".join((plain + r" + W x").split())  # (\mathrm{e} is padded with spaces)
    tail = len(" + W x")
    for k in range(1, tail + 1):  # the characters after the rewrites
        assert text[columns.typed(len(rewritten) - k + 1) - 1] == text[-k]
    assert columns.typed(len(rewritten) + 1) == len(text) + 1  # one past the end


CLI = [
    (r".5 e^-a \|W x\|^2", ["--wrt", "W", "--shape", "W=3x2", "--shape", "x=3"], "x\\|"),
    (r"\log_2(a) + a^{-1/2} + \foo", ["--wrt", "a"], r"\foo"),
    (r".5 \sum_{t=1}^{T} h_{t+1}^\top h_{t+1}", ["--define", "T = 3", "--shape", "h_t=2", "--wrt", "h_1"], "h_{t+1}"),
]


@pytest.mark.parametrize("function, options, offender", CLI)
def test_the_command_line_names_the_typed_column(function, options, offender, capsys):
    """The command line prints one line, what and where (cli.py: the caret picture is for the Python API)."""
    assert main(["derive", "--function", function, *options]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"nnsym: function: col {function.index(offender) + 1}: "), line
    assert "Traceback" not in line and "\n" not in line
