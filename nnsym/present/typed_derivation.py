"""A derivation typed as a student writes it (issue 15: an unrolled recurrent network, its deltas and the
weight gradients as sums over time), shown in lecture notes and checked row by row by `nnsym lint`.

`typed` makes a `notes.Display` of the rows (an ``aligned`` block) with the declarations lint reads it with
(``--shape``, ``--define 'T = 3'``); its check is `nnsym lint` itself on those rows, every step right.
"""

from __future__ import annotations

from typing import Sequence, Tuple

from nnsym.errors import VerificationError
from nnsym.present import lint_marks
from nnsym.present.lint import lint_text
from nnsym.present.notes import Display


def aligned(rows: Sequence[Tuple[str, str]]) -> str:
    return r"\begin{aligned} " + r" \\ ".join(f"{lhs} &= {rhs}" for lhs, rhs in rows) + r" \end{aligned}"


def lint_rows(rows: Sequence[Tuple[str, str]], declarations: Sequence[str]):
    """`nnsym lint` of the rows under the declarations: the report."""
    text = lint_marks.comment(list(declarations), "tex") + [r"\begin{equation*}", aligned(rows), r"\end{equation*}"]
    return lint_text("\n".join(text), "tex", "typed derivation")


def typed(rows: Sequence[Tuple[str, str]], declarations: Sequence[str], summary: str) -> Display:
    """The rows as one display, checked by `nnsym lint`: every step right, or the notes are not built."""

    def check():
        report = lint_rows(rows, declarations)
        if report.wrong or report.not_read:
            raise VerificationError("a typed derivation does not lint clean:\n" + "\n".join(report.lines()))
        worst = max((s.max_rel_error or 0.0 for s in report.steps), default=0.0)
        return (f"nnsym lint: {report.right} steps right (definitions, sums over time unrolled, "
                "claims compared with nnsym's gradients at random points)", worst)

    return Display(aligned(rows), check, summary=summary, lint=tuple(declarations))
