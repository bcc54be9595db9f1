"""Lecture notes: a `Note` (text, displayed formulas, step-by-step derivations, plots) written as
Markdown and as a standalone LaTeX article, every displayed formula verified first.

A note is built in two stages. `verify_note` checks every formula (`nnsym.verify.formulas`) and every
line of every derivation (finite differences on the line's own claim, see `nnsym.derive.steps`); the
first failure raises `VerificationError` and nothing is written. Only then are the files written,
each ending with the verification table. The topics of the chapter are the scripts in
``derivations/`` (``NN-topic-name.py``, each defining ``note()``).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from nnsym.declare.expressions import Expr, Symbol
from nnsym.derive.steps import DETAILS, Derivation, derive_steps
from nnsym.emit.latex import latex
from nnsym.emit.steps_latex import partial, shape_latex, text_escape
from nnsym.errors import InputError, NnsymError, VerificationError
from nnsym.verify.finite_differences import check_gradients
from nnsym.verify.formulas import Check, check_formula, check_latex, read_back

FORMATS = ("md", "tex", "pdf")
DERIVATIONS = Path(__file__).resolve().parents[2] / "derivations"
TEX_HINT = ("no pdflatex found: install a TeX engine, e.g. "
            "`apt-get install texlive-latex-base texlive-latex-recommended`, then build again")


# ----- the blocks a note is made of -----


@dataclass(frozen=True)
class Text:
    """A paragraph; inline maths between $...$."""

    text: str


@dataclass(frozen=True)
class Formula:
    """A displayed formula ``lhs = expr`` (or ``expr`` alone) and what it claims beyond its value:
    equal to an independent ``reference``, or the derivative of ``derivative_of = (f, x)``."""

    expr: Expr
    lhs: Optional[str] = None
    reference: Optional[Expr] = None
    derivative_of: Optional[Tuple[Expr, Symbol]] = None


@dataclass(frozen=True)
class Display:
    """A displayed formula that is not an nnsym expression (a worked SymPy matrix, a number), with
    the check its author ran: ``check()`` returns (how, relative error)."""

    latex: str
    check: Callable[[], Tuple[str, float]]


@dataclass(frozen=True)
class Steps:
    """The step-by-step derivation of df/dv for the ``variables``."""

    derivation: Derivation
    function_name: str = "f"


@dataclass(frozen=True)
class Plot:
    """A figure drawn by ``draw(axes)`` (matplotlib), saved as ``NN-topic-name-<name>.png``."""

    name: str
    caption: str
    draw: Callable


Block = Union[Text, Formula, Display, Steps, Plot]


def steps(f: Expr, variables: Sequence[Symbol], function_name: str = "f", hook=None) -> Steps:
    return Steps(derive_steps(f, variables, hook=hook), function_name)


@dataclass(frozen=True)
class Note:
    """One topic: ``number`` and ``name`` give the file name (``04-activation-functions``)."""

    number: int
    name: str
    title: str
    blocks: Tuple[Block, ...]

    @property
    def stem(self) -> str:
        return f"{self.number:02d}-{self.name}"

    def _repr_markdown_(self):
        return markdown(self, verify_note(self))

    def _repr_latex_(self):
        return tex(self, verify_note(self))


# ----- verification: everything or nothing -----


@dataclass(frozen=True)
class Verified:
    """A note whose formulas all passed: one `Check` per displayed formula, in order."""

    note: Note
    detail: str
    checks: Tuple[Check, ...]
    step_lines: Dict[int, tuple] = field(default_factory=dict)  # block index -> lines shown


def _check_line(f: Expr, line, seed: int) -> Check:
    text = latex(line.cotangent)
    if line.is_result:
        report = check_gradients(f, {line.node: line.cotangent}, seed=seed)
    else:
        try:
            g, s, G = line.as_gradient(f)
            report = check_gradients(g, {s: G}, seed=seed)
        except InputError:
            # The node is the argument of a log or a square root: stand in a positive symbol.
            g, s, G = line.as_gradient(f, {"positive"})
            report = check_gradients(g, {s: G}, seed=seed)
    if not report.ok:
        raise VerificationError(f"the step {text} failed its check: {report}")
    error = read_back(line.cotangent, seed=seed)
    if not error <= 1e-9:
        raise VerificationError(f"the step {text} does not read back to the same value (error {error:.2e})")
    method = "read back by nnsym's reader; d f / d(node) by central finite differences"
    return Check(text, (method,), max(error, report.max_rel_error))


def verify_note(note: Note, detail: str = "key") -> Verified:
    """Check every displayed formula; `VerificationError` (naming the note) at the first failure."""
    if detail not in DETAILS:
        raise InputError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
    checks: List[Check] = []
    shown = {}
    try:
        for index, block in enumerate(note.blocks):
            if isinstance(block, Formula):
                checks.append(check_formula(block.expr, block.reference, block.derivative_of, seed=index))
            elif isinstance(block, Display):
                method, error = block.check()
                checks.append(check_latex(block.latex, method, error))
            elif isinstance(block, Steps):
                lines = tuple(block.derivation.lines(detail))
                shown[index] = lines
                checks.extend(_check_line(block.derivation.function, line, index) for line in lines)
    except NnsymError as error:
        raise VerificationError(f"note {note.stem}: {error}") from error
    return Verified(note, detail, tuple(checks), shown)


# ----- writing -----


def _equation(block: Formula) -> str:
    body = latex(block.expr)
    return f"{block.lhs} = {body}" if block.lhs else body


def _step_rows(verified: Verified, index: int, block: Steps) -> List[str]:
    rows = []
    for line in verified.step_lines[index]:
        why = "; ".join(line.rules) if line.rules else "result"
        rows.append(rf"{partial(block.function_name, line)} &= {latex(line.cotangent)} "
                    rf"&& \text{{{text_escape(why)}}},\ {shape_latex(line.shape)}")
    return rows


def _plot_files(note: Note, directory: Optional[Path], messages: List[str]) -> Dict[str, str]:
    """Draw the plots (PNG beside the notes); without matplotlib, say how to get them."""
    plots = [b for b in note.blocks if isinstance(b, Plot)]
    if not plots or directory is None:
        return {}
    try:
        import matplotlib  # optional extra: nnsym[plot]

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        messages.append(f"{note.stem}: plots left out: matplotlib is not installed (pip install 'nnsym[plot]')")
        return {}
    files = {}
    for plot in plots:
        figure, axes = pyplot.subplots(figsize=(5, 3.2))
        plot.draw(axes)
        figure.tight_layout()
        filename = f"{note.stem}-{plot.name}.png"
        figure.savefig(directory / filename, dpi=120)
        pyplot.close(figure)
        files[plot.name] = filename
    return files


def _md_cell(text: str) -> str:
    return text.replace("|", r"\|")


def markdown(note: Note, verified: Verified, plots: Optional[Dict[str, str]] = None) -> str:
    plots = plots or {}
    out = [f"# {note.title}", ""]
    for index, block in enumerate(note.blocks):
        if isinstance(block, Text):
            out += [block.text, ""]
        elif isinstance(block, Formula):
            out += ["$$", _equation(block), "$$", ""]
        elif isinstance(block, Display):
            out += ["$$", block.latex, "$$", ""]
        elif isinstance(block, Steps):
            out += ["$$", r"\begin{aligned}", " \\\\\n".join(_step_rows(verified, index, block)),
                    r"\end{aligned}", "$$", ""]
        elif isinstance(block, Plot) and block.name in plots:
            out += [f"![{block.caption}]({plots[block.name]})", ""]
    out += ["## Verification", "", "| # | formula | checked by | max rel error |", "|---|---|---|---|"]
    for number, check in enumerate(verified.checks, 1):
        out.append(f"| {number} | ${_md_cell(check.latex)}$ | {_md_cell('; '.join(check.methods))} "
                   f"| {check.max_rel_error:.1e} |")
    return "\n".join(out) + "\n"


def _tex_text(text: str) -> str:
    """A paragraph for LaTeX: TeX's specials escaped outside $...$, maths left alone."""
    parts = text.split("$")
    return "$".join(p if i % 2 else "".join({"%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_"}.get(c, c) for c in p)
                    for i, p in enumerate(parts))


def tex(note: Note, verified: Verified, plots: Optional[Dict[str, str]] = None) -> str:
    plots = plots or {}
    out = [r"\documentclass[11pt]{article}", r"\usepackage[margin=2cm]{geometry}",
           r"\usepackage{amsmath,amssymb}", r"\usepackage{graphicx}", r"\usepackage{array}",
           rf"\title{{{_tex_text(note.title)}}}", r"\date{}", r"\begin{document}", r"\maketitle", ""]
    for index, block in enumerate(note.blocks):
        if isinstance(block, Text):
            out += [_tex_text(block.text), ""]
        elif isinstance(block, Formula):
            out += [r"\begin{equation*}", _equation(block), r"\end{equation*}", ""]
        elif isinstance(block, Display):
            out += [r"\begin{equation*}", block.latex, r"\end{equation*}", ""]
        elif isinstance(block, Steps):
            out += [r"\begin{align*}", " \\\\\n".join(_step_rows(verified, index, block)), r"\end{align*}", ""]
        elif isinstance(block, Plot) and block.name in plots:
            out += [r"\begin{center}", rf"\includegraphics[width=0.7\linewidth]{{{plots[block.name]}}}",
                    rf"\\ {_tex_text(block.caption)}", r"\end{center}", ""]
    out += [r"\section*{Verification}", r"\begin{small}",
            r"\begin{tabular}{r >{\raggedright\arraybackslash}p{0.5\linewidth} "
            r">{\raggedright\arraybackslash}p{0.3\linewidth} l}",
            r"\# & formula & checked by & max rel.\ error \\ \hline"]
    for number, check in enumerate(verified.checks, 1):
        out.append(rf"{number} & ${check.latex}$ & {text_escape('; '.join(check.methods))} & "
                   rf"{check.max_rel_error:.1e} \\")
    out += [r"\end{tabular}", r"\end{small}", r"\end{document}", ""]
    return "\n".join(out)


def write_note(note: Note, directory, formats: Sequence[str] = ("md", "tex"), detail: str = "key") -> List[str]:
    """Verify, then write ``NN-topic-name.<format>`` into ``directory``; returns messages for the user."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    verified = verify_note(note, detail)  # before any file is touched
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    messages: List[str] = []
    plots = _plot_files(note, directory, messages)
    if "md" in formats:
        (directory / f"{note.stem}.md").write_text(markdown(note, verified, plots), encoding="utf-8")
    if "tex" in formats or "pdf" in formats:
        (directory / f"{note.stem}.tex").write_text(tex(note, verified, plots), encoding="utf-8")
    if "pdf" in formats:
        messages.append(compile_pdf(directory / f"{note.stem}.tex"))
    messages.append(f"{note.stem}: {len(verified.checks)} formulas verified")
    return messages


def compile_pdf(tex_file: Path) -> str:
    """pdflatex, when installed; otherwise how to install it."""
    engine = shutil.which("pdflatex")
    if engine is None:
        return f"{tex_file.stem}: PDF not built: {TEX_HINT}"
    command = [engine, "-interaction=nonstopmode", "-halt-on-error", tex_file.name]
    done = subprocess.run(command, cwd=tex_file.parent, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        tail = " | ".join(line for line in done.stdout.splitlines() if line.startswith("!"))[:300]
        raise NnsymError(f"pdflatex failed on {tex_file.name}: {tail or 'see ' + tex_file.stem + '.log'}")
    return f"{tex_file.stem}: wrote {tex_file.stem}.pdf"


# ----- the chapter's topics -----


def topics(directory: Optional[Path] = None) -> Dict[str, Path]:
    """``{'04-activation-functions': path, ...}`` from the scripts in ``derivations/``."""
    directory = Path(directory) if directory is not None else DERIVATIONS
    if not directory.is_dir():
        raise InputError(f"no derivations folder at {directory} (pass --derivations DIR)")
    return {path.stem: path for path in sorted(directory.glob("[0-9][0-9]-*.py"))}


def find_topic(name: str, available: Dict[str, Path]) -> List[str]:
    """'all', a number ('4', '04'), a name ('activation-functions') or the whole stem."""
    if name == "all":
        return list(available)
    for stem in available:
        number, _, rest = stem.partition("-")
        if name in (stem, rest) or (name.isdigit() and int(name) == int(number)):
            return [stem]
    raise InputError(f"unknown topic {name!r}; known: all, {', '.join(available)}")


def load_note(path: Path) -> Note:
    """Run a topic script (a file of this project, not user text) and call its ``note()``."""
    spec = importlib.util.spec_from_file_location(f"nnsym_topic_{path.stem.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.note()


def script_main(build: Callable[[], Note], argv: Optional[List[str]] = None) -> int:
    """What ``python3 derivations/NN-topic.py [-o DIR]`` does: the same as ``nnsym notes``."""
    import argparse

    parser = argparse.ArgumentParser(description=build.__doc__)
    parser.add_argument("-o", "--output", default="notes")
    parser.add_argument("--format", default="md,tex")
    parser.add_argument("--detail", default="key", choices=DETAILS)
    args = parser.parse_args(argv)
    try:
        for message in write_note(build(), args.output, args.format.split(","), args.detail):
            print(message)
    except NnsymError as error:
        print(f"nnsym: {error}", file=sys.stderr)
        return 2
    return 0
