"""`nnsym notes`: every topic builds in md and tex, every note ends with its verification table, a
formula that fails stops the build with nothing written, and the LaTeX compiles where a TeX engine is
installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

import nnsym as ns
from nnsym.present import notes
from nnsym.present.cli import main
from nnsym.present.notes import Formula, Note, Text, markdown, tex_engine, topics, verify_note, write_note

TOPICS = [
    "01-linear-equations", "02-vectors-and-matrices", "03-derivatives-and-chain-rule", "04-activation-functions",
    "05-cost-functions", "06-gradient-descent", "07-backpropagation", "08-xor-network",
    "09-logistic-regression", "10-softmax-regression",
    "11-probability-information",
    # issue 14: the later layers
    "12-regularization-dropout", "13-normalization", "14-optimizers", "15-attention-transformer",
    # issue 15: convolution, pooling and recurrent networks
    "16-convolution-pooling", "17-recurrent-bptt", "18-lstm-gru",
    "19-index-notation",  # issue 12
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`nnsym notes all` in md and tex (about 7 s for the ten topics)."""
    out = tmp_path_factory.mktemp("notes")
    assert main(["notes", "all", "-o", str(out), "--format", "md,tex"]) == 0
    return out


def test_the_chapter_has_every_topic():
    assert list(topics()) == TOPICS


def test_all_builds_every_topic_in_md_and_tex(built, capsys):
    for stem in TOPICS:
        md = (built / f"{stem}.md").read_text(encoding="utf-8")
        tex = (built / f"{stem}.tex").read_text(encoding="utf-8")
        assert md.startswith("# ") and "$$\n" in md
        assert tex.startswith(r"\documentclass") and r"\usepackage{amsmath,amssymb}" in tex
        assert tex.rstrip().endswith(r"\end{document}")
        # The note ends with its verification table, one row per displayed formula.
        table = md.split("## Verification")[1]
        rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
        displayed = md.split("## Verification")[0].count("$$\n") // 2
        assert len(rows) >= displayed > 0
        assert all(float(row.rsplit("|", 2)[1]) <= 1e-3 for row in rows)
    plots = sorted(p.name for p in built.glob("04-activation-functions-*.png"))
    if _has_matplotlib():  # plots are an optional extra
        assert plots == ["04-activation-functions-relu.png", "04-activation-functions-sigmoid-tanh.png",
                         "04-activation-functions-softplus-gelu.png"]


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_tex_compiles_with_pdflatex(built, tmp_path):
    command = tex_engine()
    if command is None:
        pytest.skip("no TeX engine installed (pdflatex, latexmk or tectonic); "
                    "apt-get install texlive-latex-base texlive-latex-recommended")
    for path in built.iterdir():
        shutil.copy(path, tmp_path / path.name)
    for stem in TOPICS:
        done = subprocess.run([*command, f"{stem}.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (stem, [l for l in done.stdout.splitlines() if l.startswith("!")])
        assert (tmp_path / f"{stem}.pdf").stat().st_size > 10_000
        # No formula sticks out into the margin (long ones in the verification table did) and no warnings.
        log = (tmp_path / f"{stem}.log").read_text(encoding="latin-1")
        assert "Overfull \\hbox" not in log and "LaTeX Warning" not in log, stem


def test_a_sentence_ending_in_a_colon_leads_into_what_it_announces():
    """Not into another paragraph (note 06 announced w* and then talked about the step size)."""
    for stem, path in topics().items():
        blocks = notes.load_note(path).blocks
        for before, after in zip(blocks, blocks[1:]):
            if isinstance(before, Text) and before.text.rstrip().endswith(":"):
                assert not isinstance(after, Text), (stem, before.text[-60:])


def test_worked_examples_name_their_matrices(built):
    """Note 02 showed ||P||_F without ever saying which matrix P is."""
    md = (built / "02-vectors-and-matrices.md").read_text(encoding="utf-8")
    assert md.index("P Q = ") < md.index(r"\left\|P\right\|_F")


def test_pdf_without_a_tex_engine_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(notes.shutil, "which", lambda name: None)
    assert main(["notes", "2", "-o", str(tmp_path), "--format", "pdf"]) == 0
    out = capsys.readouterr().out
    assert "02-vectors-and-matrices: PDF not built: no TeX engine found" in out
    assert "apt-get install texlive-latex-base" in out
    assert (tmp_path / "02-vectors-and-matrices.tex").exists()


def test_html_is_a_mathjax_page(tmp_path):
    assert main(["notes", "activation-functions", "-o", str(tmp_path), "--format", "html", "--detail", "result"]) == 0
    page = (tmp_path / "04-activation-functions.html").read_text(encoding="utf-8")
    assert "mathjax" in page and r"\[\frac{d}{dz}\operatorname{ReLU}\left(z\right) = H\left(z\right)\]" in page
    assert "<h2>Verification</h2>" in page


BAD_TOPIC = '''
import nnsym as ns
from nnsym.present.notes import Formula, Note, Text

def note():
    W, x, y = ns.matrix("W", 3, 2), ns.vector("x", 2), ns.vector("y", 3)
    f = ns.norm(W @ x - y, squared=True) / 2
    wrong = 2 * ns.grad(f, W).expression  # off by the factor the 1/2 cancels
    return Note(2, "bad", "Bad", (Text("A wrong gradient."), Formula(wrong, "G", derivative_of=(f, W))))
'''

GOOD_TOPIC = '''
import nnsym as ns
from nnsym.present.notes import Formula, Note

def note():
    x = ns.vector("x", "n")
    return Note(1, "good", "Good", (Formula(2 * x, r"\\nabla \\|x\\|^2", derivative_of=(ns.norm(x, squared=True), x)),))
'''


def test_a_failing_formula_stops_the_build_and_nothing_is_written(tmp_path, capsys):
    scripts = tmp_path / "derivations"
    scripts.mkdir()
    (scripts / "01-good.py").write_text(GOOD_TOPIC)
    (scripts / "02-bad.py").write_text(BAD_TOPIC)
    out = tmp_path / "out"
    code = main(["notes", "good", "bad", "-o", str(out), "--derivations", str(scripts)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("nnsym: note 02-bad: the formula 2 \\left(W x - y\\right) x^\\top failed its check")
    assert not out.exists()  # not even the good note: all topics are verified before any is written
    assert main(["notes", "good", "-o", str(out), "--derivations", str(scripts)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01-good.md", "01-good.tex"]


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["notes", "no-such-topic", "-o", str(tmp_path)]) == 2
    assert "unknown topic 'no-such-topic'; known: all, 01-linear-equations" in capsys.readouterr().err
    assert main(["notes", "1", "-o", str(tmp_path), "--format", "docx"]) == 2
    assert "unknown format 'docx'" in capsys.readouterr().err
    assert main(["notes", "1", "-o", str(tmp_path), "--detail", "most"]) == 2
    assert "invalid choice: 'most'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_notes_display_in_jupyter():
    x = ns.vector("x", "n")
    note = Note(1, "demo", "Demo", (Text("Take $x$."), Formula(2 * x, r"\nabla \|x\|^2",
                                                                derivative_of=(ns.norm(x, squared=True), x))))
    assert note._repr_markdown_() == markdown(note, verify_note(note))
    assert "$$\n\\nabla \\|x\\|^2 = 2 x\n$$" in note._repr_markdown_()
    # No text/latex: it would be a whole article, shown raw by MathJax and pasted mid-document by nbconvert.
    assert not hasattr(note, "_repr_latex_")
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    shown, _ = formatter.format(note)
    assert "text/latex" not in shown and shown["text/markdown"] == note._repr_markdown_()


def test_detail_levels_change_the_steps_shown(tmp_path):
    counts = {}
    for detail in ("result", "key", "every"):
        write_note(_chapter_note("07-backpropagation"), tmp_path / detail, ("md",), detail)
        md = (tmp_path / detail / "07-backpropagation.md").read_text(encoding="utf-8")
        counts[detail] = md.count(r"\frac{\partial L}{\partial")
    assert counts["result"] < counts["key"] < counts["every"]


def _chapter_note(stem):
    return notes.load_note(topics()[stem])


def test_a_folder_of_ones_own_adds_to_the_chapter(tmp_path, capsys):
    scripts = tmp_path / "derivations"
    scripts.mkdir()
    (scripts / "01-good.py").write_text(GOOD_TOPIC)
    available = topics(scripts)
    assert list(available)[: len(TOPICS)] == TOPICS and list(available)[-1] == "01-good"
    out = tmp_path / "out"
    # The chapter's topics stay reachable beside one's own, several at once.
    assert main(["notes", "good", "linear-equations", "-o", str(out), "--derivations", str(scripts)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01-good.md", "01-good.tex",
                                                     "01-linear-equations.md", "01-linear-equations.tex"]
    capsys.readouterr()
    # A number two topics share is refused with both names, not resolved to either silently.
    assert main(["notes", "1", "-o", str(out), "--derivations", str(scripts)]) == 2
    assert "topic '1' is ambiguous: 01-linear-equations, 01-good" in capsys.readouterr().err
