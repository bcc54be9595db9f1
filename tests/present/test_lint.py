"""`nnsym lint`: a corpus of realistic notes with planted errors (scalar, vector, matrix, δ-form
backprop, batch form, index notation, numerator layout; .tex and .md). Lint must report exactly the
planted steps as wrong, never a right one. A planted row is marked `% planted` in TeX (a comment lint
does not read) and listed in a `<!-- planted lines: ... -->` header in Markdown."""

import io
import json
import re
from pathlib import Path

import pytest

from nnsym.present.cli import main
from nnsym.present.lint import lint_files, lint_text

CORPUS = Path(__file__).parent / "lint_corpus"
DOCUMENTS = sorted(p.name for p in CORPUS.iterdir())
NOT_READ = {"batch.md": 1}  # the sloppy "\sum \delta^{(1)}" (a sum without its index) is listed, not judged


def planted(path: Path) -> set:
    text = path.read_text()
    if path.suffix == ".tex":
        return {n for n, line in enumerate(text.splitlines(), 1) if "% planted" in line}
    header = re.search(r"<!-- planted lines: ([\d, ]+) -->", text)
    return {int(n) for n in header.group(1).split(",")}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_exactly_the_planted_steps_are_wrong(name):
    report = lint_files([str(CORPUS / name)])
    wrong = {s.line for s in report.steps if s.ok is False}
    assert wrong == planted(CORPUS / name), "\n".join(report.lines())
    assert report.not_read == NOT_READ.get(name, 0), "\n".join(report.lines())
    assert report.right >= 3


def test_the_corpus_covers_every_kind_of_step_and_both_formats():
    kinds = set()
    for name in DOCUMENTS:
        kinds |= {s.kind for s in lint_files([str(CORPUS / name)]).steps if s.ok is not None}
    assert kinds == {"equality", "gradient", "definition"}
    assert {Path(n).suffix for n in DOCUMENTS} == {".tex", ".md"}


def test_a_wrong_line_names_file_line_error_and_diagnosis():
    report = lint_files([str(CORPUS / "backprop.tex")])
    line = str(report.first_wrong)
    assert line.startswith(f"{CORPUS / 'backprop.tex'}:38: wrong: \\delta^{{(1)}} = W^{{(2)\\top}} \\delta^{{(2)}} — max rel error ")
    assert "at z^{(1)}[" in line and "missing factor" in line and "\\tanh'" in line
    assert report.summary() == "19 steps: 15 right, 4 wrong, 0 not read"


def test_an_error_is_reported_once_not_on_every_later_line():
    text = r"""
% nnsym: --shape W=3x2 --shape x=2 --shape y=3
\begin{align*}
L &= \frac12 \|W x - y\|^2 \\
  &= \frac12 (W x - y)^\top (W x + y) \\
  &= \frac12 (x^\top W^\top W x - y^\top y) \\
  &= \frac12 x^\top W^\top W x - \frac12 y^\top y
\end{align*}"""
    report = lint_text(text, "tex")
    assert [s.line for s in report.steps if s.ok is False] == [5]
    assert [s.ok for s in report.steps] == [True, False, True, True]


def test_declarations_from_the_command_line_and_a_function():
    text = "$$\\nabla_W L = (Wx - y)x^\\top$$\n$$\\nabla_x L = W^\\top (W x - y)$$\n"
    report = lint_text(text, "md", shapes={"W": "3x2", "x": "2", "y": "3"}, function=r"L = \frac12\|Wx-y\|^2")
    assert (report.right, report.wrong, report.not_read) == (2, 0, 0)
    # without the function, L is not defined: the steps are not read, never wrong
    report = lint_text(text, "md", shapes={"W": "3x2", "x": "2", "y": "3"})
    assert (report.right, report.wrong, report.not_read) == (0, 0, 2)
    assert "not defined" in report.steps[0].not_read


def test_math_outside_the_notation_is_not_read_with_its_reason():
    text = r"""
\[ \|X\|_1 = 3 \]
\[ \lambda_{\max}(X) = 2.4 < 3 \]
\[ W = \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix} \]"""
    report = lint_text(text, "tex", shapes={"X": "2x2", "W": "2x2"})
    assert report.wrong == 0 and report.not_read == len(report.steps) >= 3
    assert all(s.not_read for s in report.steps)


def run(argv, stdin=""):
    out = io.StringIO()
    import contextlib
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            code = main(argv)
    finally:
        sys.stdin = old
    return code, out.getvalue()


def test_cli_exit_codes_stdin_json_and_strict(capsys):
    code, out = run(["lint", str(CORPUS / "least_squares.md")])
    assert code == 1 and out.splitlines()[-1] == "10 steps: 8 right, 2 wrong, 0 not read"
    assert out.splitlines()[0].startswith(f"{CORPUS / 'least_squares.md'}:24: wrong: ")
    right = "% nnsym: --shape x=3\n\\[ \\|x\\|^2 = x^\\top x \\]\n"
    assert run(["lint", "-", "--format", "tex"], right) == (0, "1 steps: 1 right, 0 wrong, 0 not read\n")
    code, out = run(["lint", "-", "--format", "tex", "--json"], right.replace("x^\\top x", "2 x^\\top x"))
    found = json.loads(out)
    assert code == 1 and found["ok"] is False and found["first_wrong"] == {"file": "-", "line": 2}
    assert (found["right"], found["wrong"], found["not_read"]) == (0, 1, 0)
    step = found["steps"][0]
    assert set(step) == {"file", "line", "lhs", "rhs", "kind", "ok", "max_abs_error", "max_rel_error",
                         "worst_index", "diagnosis", "not_read"}
    assert step["kind"] == "equality" and step["max_rel_error"] > 0.1
    # bad input: exit 2, one line on stderr
    assert run(["lint", "-"], right)[0] == 2
    assert run(["lint", str(CORPUS / "nothing.tex")])[0] == 2
    assert run(["lint", "-", "--format", "md"], "<!-- nnsym: --shape W=3y2 -->")[0] == 2
    unread = "\\[ \\lambda_{\\max} = 2.4 < 3 \\]\n"
    assert run(["lint", "-", "--format", "tex"], unread)[0] == 0
    assert run(["lint", "-", "--format", "tex", "--strict"], unread)[0] == 2
    assert "not read (--strict)" in capsys.readouterr().err


def test_numerator_layout_from_the_command_line():
    path = str(CORPUS / "numerator_layout.tex")
    assert lint_files([path]).wrong == 1
    assert {s.line for s in lint_files([path], layout="denominator").steps if s.ok is False} == {7, 9}


def test_the_readme_example_output_is_real(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Checking a whole derivation: `nnsym lint`")[1]
    document = re.search(r"```latex\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    (tmp_path / "homework.tex").write_text(document)
    monkeypatch.chdir(tmp_path)
    assert "\n".join(lint_files(["homework.tex"]).lines()) + "\n" == shown


def test_identities_of_the_notation_are_read_and_right():
    text = r"""
% nnsym: --shape A=3x3 --shape v=3 --shape X=3x3 --assume X=spd --shape z=3
\begin{align*}
X^{-1} X &= I \\
\mathbb{1}[z > 0] &= H(z) \\
[A v]_i &= \sum_k A_{ik} v_k \\
\sum_k A_{ik} \delta_{kj} &= A_{ij} \\
(A v)_i &= \sum_{k} A_{k,i} v_k % planted
\end{align*}"""
    report = lint_text(text, "tex")
    assert [s.ok for s in report.steps] == [True, True, True, True, False], "\n".join(report.lines(True))


def test_a_display_never_closed_is_said_not_dropped():
    report = lint_text("$$ x = 1 $$\n\n$$ y = 2\n", "md")
    assert [(s.line, s.ok) for s in report.steps] == [(1, True), (3, None)]
    assert str(report.steps[1]) == "-:3: not read: a display — this display is never closed"


def test_declarations_hold_from_their_line_on_with_define_and_skip():
    text = r"""
<!-- nnsym: --shape x=3 --define 'u = 2 x' -->
$$ \|u\|^2 = 4 x^\top x $$
<!-- nnsym: --skip -->
$$ u = \begin{bmatrix} 1 \\ 2 \\ 3 \end{bmatrix} $$
<!-- nnsym: --shape x=3x2 -->
$$ \|x\|_F^2 = \operatorname{tr}(x^\top x) $$
"""
    report = lint_text(text, "md")
    assert [(s.line, s.ok) for s in report.steps] == [(3, True), (7, True)]
    assert report.skipped == 1 and "1 displays marked --skip" in report.summary()
