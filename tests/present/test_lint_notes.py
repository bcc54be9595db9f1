"""The project's own notes lint clean: every derivation step `nnsym notes all` writes (.tex and .md)
is read and right. Displays that are no derivation step (worked numbers, systems of equations, the
general recursion) carry a hidden `--skip` declaration and are counted apart."""

from nnsym.present.lint import lint_files
from nnsym.present.notes import build_notes


def test_the_notes_lint_clean(tmp_path):
    build_notes(["all"], tmp_path, ["md", "tex"], "key")
    # every .tex, and the .md of the backpropagation note (the same maths in Markdown's $$ blocks)
    for files in (sorted(str(p) for p in tmp_path.glob("*.tex")), [str(tmp_path / "07-backpropagation.md")]):
        report = lint_files(files)
        assert (report.wrong, report.not_read) == (0, 0), "\n".join(report.lines())
        assert report.right >= (100 if len(files) >= 10 else 30)
        assert {s.kind for s in report.steps} >= {"definition", "gradient"}
        assert report.skipped <= report.right // 2  # worked numbers, systems, labels: most displays are read
