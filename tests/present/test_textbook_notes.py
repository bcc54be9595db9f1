"""Notes that read like a textbook: Markdown becomes LaTeX/HTML, a PDF build leaves only the files asked
for, and hand-written derivations are checked line by line."""

import re

import pytest
import sympy

import nnsym as ns

from nnsym.errors import VerificationError
from nnsym.present import notes
from nnsym.present.markdown_text import html_paragraphs, tex_paragraphs
from nnsym.present.notes import Note, Text, tex_engine, verify_note, worked, write_note

MARKDOWN = ("**Logistic sigmoid** $\\sigma(z) = 1/(1 + e^{-z})$, *where it comes from*, `pip install x_y`, 5% off:\n"
            "- first $a_1 * b_1$\n- **second**\n\n1. one\n2. two")


def test_markdown_becomes_latex():
    tex = tex_paragraphs(MARKDOWN)
    assert r"\textbf{Logistic sigmoid}" in tex and r"\emph{where it comes from}" in tex
    assert r"\texttt{pip install x\_y}" in tex and r"5\% off" in tex
    assert r"$\sigma(z) = 1/(1 + e^{-z})$" in tex and "$a_1 * b_1$" in tex  # maths untouched
    assert tex.count(r"\begin{itemize}") == 1 and tex.count(r"\begin{enumerate}") == 1 and tex.count(r"\item") == 4
    assert "**" not in tex and "`" not in tex


def test_markdown_becomes_html():
    page = html_paragraphs(MARKDOWN, lambda m: f"\\({m}\\)")
    assert "<strong>Logistic sigmoid</strong>" in page and "<em>where it comes from</em>" in page
    assert "<ul><li>" in page and "<ol><li>one</li><li>two</li></ol>" in page and "**" not in page


def test_every_chapter_text_shows_no_markdown_in_latex():
    for stem, path in notes.topics().items():
        for block in notes.load_note(path).blocks:
            if isinstance(block, Text):
                prose = re.sub(r"\$[^$]*\$", "", tex_paragraphs(block.text))  # outside maths
                assert "**" not in prose and "`" not in prose, (stem, block.text[:60])


_z = sympy.Symbol("z", real=True)
_s = 1 / (1 + sympy.exp(-_z))
POINTS = [{_z: 0.3}, {_z: -1.1}]


def test_a_wrong_line_of_a_worked_derivation_stops_the_build():
    right = worked(r"\sigma'(z)", [(r"\sigma(z)(1 - \sigma(z))", _s * (1 - _s), "")], _s, _z, POINTS)
    wrong = worked(r"\sigma'(z)", [(r"\sigma(z)(1 + \sigma(z))", _s * (1 + _s), "")], _s, _z, POINTS)
    assert verify_note(Note(1, "right", "Right", (right,))).checks[0].max_rel_error < 1e-12
    with pytest.raises(VerificationError, match="failed its check"):
        verify_note(Note(1, "wrong", "Wrong", (wrong,)))


def test_the_activation_and_cross_entropy_derivations_are_written_out():
    stems = notes.topics()
    activation = notes.load_note(stems["04-activation-functions"])
    shown = " ".join(b.latex for b in activation.blocks if isinstance(b, notes.Display))
    assert r"\sigma(z)\left(1 - \sigma(z)\right)" in shown and "quotient rule" in shown
    assert r"1 - \tanh^{2} z" in shown and r"&= \sigma(z)" in shown and r"\Phi(z) + z\, \varphi(z)" in shown
    cost = notes.load_note(stems["05-cost-functions"])
    shown = " ".join(b.latex for b in cost.blocks if isinstance(b, notes.Display))
    assert r"\sigma(z_i) - y_i" in shown and r"\operatorname{softmax}(z)_k - y_k" in shown
    # No tautology d/dz sigma(z) = sigma'(z) is displayed any more: the results show the identity.
    for block in activation.blocks:
        if isinstance(block, notes.Formula) and block.lhs.startswith(r"\frac{d}{dz}"):
            assert "'" not in ns.latex(block.expr), block.lhs


def test_a_pdf_build_leaves_only_the_files_asked_for(tmp_path):
    if tex_engine() is None:
        pytest.skip("no TeX engine installed")
    note = Note(1, "plain", "Plain", (Text("Some **bold** text and a list:\n- one\n- two"),))
    write_note(note, tmp_path, ["pdf"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01-plain.pdf"]
    write_note(note, tmp_path / "both", ["tex", "pdf"])
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["01-plain.pdf", "01-plain.tex"]
