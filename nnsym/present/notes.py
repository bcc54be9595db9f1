"""Lecture notes: a `Note` (text, displayed formulas, step-by-step derivations, plots) written as
Markdown, a standalone LaTeX article (and its PDF) or a MathJax page, every displayed formula verified
first.

A note is built in two stages. `verify_note` checks every formula (`nnsym.verify.formulas`) and every
line of every derivation (finite differences on the line's own claim, see `nnsym.derive.steps`); the
first failure raises `VerificationError` and nothing is written. Only then are the files written,
each ending with the verification table. The topics of the chapter are the scripts in
``derivations/`` (``NN-topic-name.py``, each defining ``note()``).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import sympy

from nnsym.declare.expressions import Expr, Symbol
from nnsym.declare.layers import Forward
from nnsym.derive.backprop import delta_hook
from nnsym.derive.steps import DETAILS, Derivation, derive_steps
from nnsym.emit.latex import latex
from nnsym.emit.steps_latex import rows as step_rows, shown_cotangent, sides, text_escape
from nnsym.errors import InputError, NnsymError, VerificationError, spelled
from nnsym.present.markdown_text import html_paragraphs, tex_paragraphs
from nnsym.present import lint_marks
from nnsym.verify.finite_differences import check_gradients
from nnsym.verify.formulas import EXACT_TOLERANCE, Check, check_formula, check_latex, check_step, read_back

FORMATS = ("md", "tex", "pdf", "html")
PLOTS_LEFT_OUT = "plots left out: matplotlib is not installed (pip install 'nnsym[plot]' to draw them)"
# The chapter's topics: derivations/ in a source checkout (the folder users read and extend), shipped
# in an installed package as nnsym/derivations (pyproject.toml maps the one onto the other).
_CHECKOUT_DERIVATIONS = Path(__file__).resolve().parents[2] / "derivations"
_PACKAGED_DERIVATIONS = Path(__file__).resolve().parents[1] / "derivations"
DERIVATIONS = _PACKAGED_DERIVATIONS if _PACKAGED_DERIVATIONS.is_dir() else _CHECKOUT_DERIVATIONS
TEX_HINT = ("no TeX engine found (pdflatex, latexmk or tectonic): install one, e.g. "
            "`apt-get install texlive-latex-base texlive-latex-recommended` or `brew install tectonic`, "
            "then build again")
TEX_ENGINES = (("pdflatex", ("-interaction=nonstopmode", "-halt-on-error")),
               ("latexmk", ("-pdf", "-interaction=nonstopmode", "-halt-on-error")),
               ("tectonic", ()))


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
    summary: Optional[str] = None  # what the verification table shows for a long display (its result)
    # `nnsym lint` declarations (`lint_marks`) for a display that is a derivation written by hand (in index
    # notation, say): lint then checks it; without them the display is marked --skip (worked numbers).
    lint: Tuple[str, ...] = ()


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


def array_latex(values, digits: int = 4) -> str:
    """A worked number or array as LaTeX (a bmatrix), rounded to ``digits`` significant digits for
    display; the checks compare the unrounded values."""
    array = np.atleast_2d(np.asarray(values, dtype=float))

    def number(v):
        text = f"{v:.{digits}g}"
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
        return text

    if array.size == 1:
        return number(array[0, 0])
    body = r" \\ ".join(" & ".join(number(v) for v in row) for row in array)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


# ----- a derivation written out by hand, checked line by line -----


def worked(start: str, lines: Sequence[Tuple[str, object, str]], function, variable, points) -> Display:
    """A lecturer's derivation: ``start = line_1 = line_2 = ...``, each line (LaTeX, its value as a
    SymPy expression, the rule used: words with maths between $...$). The check evaluates every line (``Derivative`` in a line is
    carried out by SymPy) at each of ``points`` ({symbol: value}) and compares it with SymPy's own
    derivative of ``function`` by ``variable`` there: a line that does not follow fails the build."""
    def reason(rule):  # words, with maths between $...$
        return " ".join(part if i % 2 else rf"\text{{{text_escape(part)}}}"
                        for i, part in enumerate(rule.split("$")) if part)

    rows = [(rf"{start} " if i == 0 else "") + rf"&= {text}" + (rf" && {reason(rule)}" if rule else "")
            for i, (text, _, rule) in enumerate(lines)]
    body = r"\begin{aligned}" + " \\\\\n".join(rows) + r"\end{aligned}"
    expected = sympy.diff(function, variable)

    def check():
        worst = 0.0
        for point in points:
            target = complex(expected.subs(point).evalf())
            for _, value, _ in lines:
                got = complex(sympy.sympify(value, strict=True).doit().subs(point).evalf())
                worst = max(worst, abs(got - target) / max(abs(target), 1e-12))
        return (f"every line equals SymPy's derivative at {len(points)} points", worst)

    return Display(body, check, f"{start} = {lines[-1][0]}")


def steps(f: Expr, variables: Sequence[Symbol], function_name: str = "f", hook=None) -> Steps:
    return Steps(derive_steps(f, variables, hook=hook), function_name)


def backprop_steps(forward: Forward, function_name: str = "L") -> Steps:
    """The steps of a network's backpropagation, each dL/dz^{(l)} named delta^{(l)} where it is formed
    (as `nnsym.derive.backprop` names it), for every weight and bias."""
    return steps(forward.loss, forward.parameters, function_name, hook=delta_hook(forward))


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
        # Markdown only: a text/latex output would be a whole \documentclass article, which MathJax shows as
        # raw text and nbconvert pastes into the middle of its own document.
        return markdown(self, verify_note(self))


# ----- verification: everything or nothing -----


@dataclass(frozen=True)
class Verified:
    """A note whose formulas all passed: one `Check` per displayed formula, in order."""

    note: Note
    detail: str
    checks: Tuple[Check, ...]
    step_lines: Dict[int, tuple] = field(default_factory=dict)  # block index -> lines shown


def _check_line(f: Expr, line, function_name: str, seed: int) -> Check:
    shown = shown_cotangent(line)
    text = " = ".join(sides(line, function_name))
    if line.is_result:
        report = check_gradients(f, {line.node: line.cotangent}, seed=seed)
    else:
        replaced, stand_in = line.stand_in(f)
        report = check_step(f, line.node, stand_in, replaced, line.cotangent, seed=seed)
    if not report.ok:
        raise VerificationError(f"the step {text} failed its check: {report}")
    error = read_back(shown, seed=seed)
    if not error <= EXACT_TOLERANCE:
        raise VerificationError(f"the step {text} does not read back to the same value (error {error:.2e})")
    methods = ("read back by nnsym's reader, evaluated vs NumPy",
               "the step's own claim by central finite differences")
    return Check(text, methods, max(error, report.max_rel_error))


def verify_note(note: Note, detail: str = "key") -> Verified:
    """Check every displayed formula; `VerificationError` (naming the note) at the first failure."""
    if detail not in DETAILS:
        raise InputError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
    checks: List[Check] = []
    shown = {}
    try:
        for index, block in enumerate(note.blocks):
            if isinstance(block, Formula):
                check = check_formula(block.expr, block.reference, block.derivative_of, seed=index)
                checks.append(replace(check, latex=_equation(block)))
            elif isinstance(block, Display):
                method, error = block.check()
                checks.append(check_latex(block.summary or block.latex, method, error))
            elif isinstance(block, Steps):
                lines = tuple(block.derivation.lines(detail))
                shown[index] = lines
                checks.extend(_check_line(block.derivation.function, line, block.function_name, index)
                              for line in lines)
    except NnsymError as error:
        raise VerificationError(f"note {note.stem}: {error}") from error
    return Verified(note, detail, tuple(checks), shown)


# ----- writing -----


def _equation(block: Formula) -> str:
    body = latex(block.expr)
    return f"{block.lhs} = {body}" if block.lhs else body


def _lint_declaration(block, fmt: str) -> List[str]:
    """The hidden `nnsym lint` declaration written before a display (issue 12, `lint_marks`)."""
    if isinstance(block, Display):
        words = list(block.lint) or lint_marks.display()
    elif isinstance(block, Steps):
        words = lint_marks.derivation(block.derivation.function, block.function_name)
    else:
        words = lint_marks.formula(block.expr, block.lhs, block.derivative_of)
    return lint_marks.comment(words, fmt)


def _step_rows(verified: Verified, index: int, block: Steps) -> List[str]:
    return step_rows(verified.step_lines[index], block.function_name)


def _plot_files(note: Note, directory: Optional[Path], messages: List[str]) -> Dict[str, str]:
    """Draw the plots (PNG and PDF beside the notes); without matplotlib, say how to get them."""
    plots = [b for b in note.blocks if isinstance(b, Plot)]
    if not plots or directory is None:
        return {}
    try:
        import matplotlib  # optional extra: nnsym[plot]

        matplotlib.use("Agg")
        # A Figure without pyplot: pyplot's import and figure manager cost a third of a second of
        # `nnsym notes all`, and the figures are only written to files.
        from matplotlib.figure import Figure
    except ImportError:
        messages.append(f"{note.stem}: {PLOTS_LEFT_OUT}")
        return {}
    files = {}
    for plot in plots:
        figure = Figure(figsize=(5, 3.2))
        axes = figure.subplots()
        plot.draw(axes)
        figure.tight_layout()
        stem = f"{note.stem}-{plot.name}"
        figure.savefig(directory / f"{stem}.png", dpi=120)
        figure.savefig(directory / f"{stem}.pdf")
        files[plot.name] = stem
    return files


def _no_plot_sentence(block: Plot) -> str:
    return f"(Figure left out: {block.caption} — install matplotlib, `pip install 'nnsym[plot]'`, to draw it.)"


def _md_cell(text: str) -> str:
    return text.replace("|", r"\|")


def markdown(note: Note, verified: Verified, plots: Optional[Dict[str, str]] = None) -> str:
    """Markdown with $$ blocks; ``plots`` maps a plot's name to its file stem (None: not drawn)."""
    plots = plots or {}
    out = [f"# {note.title}", ""]
    for index, block in enumerate(note.blocks):
        if isinstance(block, Text):
            out += [block.text, ""]
        elif isinstance(block, Formula):
            out += _lint_declaration(block, "md") + ["$$", _equation(block), "$$", ""]
        elif isinstance(block, Display):
            out += _lint_declaration(block, "md") + ["$$", block.latex, "$$", ""]
        elif isinstance(block, Steps):
            out += _lint_declaration(block, "md") + ["$$", r"\begin{aligned}", " \\\\\n".join(_step_rows(verified, index, block)),
                    r"\end{aligned}", "$$", ""]
        elif isinstance(block, Plot):
            out += [f"![{block.caption}]({plots[block.name]}.png)" if block.name in plots
                    else _no_plot_sentence(block), ""]
    out += ["## Verification", "", "| # | formula | checked by | max rel error |", "|---|---|---|---|"]
    for number, check in enumerate(verified.checks, 1):
        out.append(f"| {number} | ${_md_cell(check.latex)}$ | {_md_cell('; '.join(check.methods))} "
                   f"| {check.max_rel_error:.1e} |")
    return "\n".join(out) + "\n"


def _tex_text(text: str) -> str:
    """A paragraph for LaTeX: Markdown emphasis, code and lists as LaTeX, TeX's specials escaped
    outside $...$, maths left alone."""
    return tex_paragraphs(text)


# A conditional page break (the needspace package's macro, defined in the preamble): when less than
# the given space is left on the page, break here, so a heading or an announcing sentence is not
# left alone at the foot of a page.
_KEEP_SPACE = (r"\makeatletter\newcommand{\keepspace}[1]{\par\penalty-100\begingroup\setlength{\dimen@}{#1}"
               r"\dimen@ii\pagegoal\advance\dimen@ii-\pagetotal\ifdim\dimen@>\dimen@ii\ifdim\dimen@ii>\z@\vfil\fi"
               r"\break\fi\endgroup}\makeatother")
_KEEP_WITH_NEXT = r"\keepspace{8\baselineskip}"


def tex(note: Note, verified: Verified, plots: Optional[Dict[str, str]] = None) -> str:
    """A standalone article (amsmath) that pdflatex compiles."""
    plots = plots or {}
    out = [r"\documentclass[11pt]{article}", r"\usepackage[margin=2cm]{geometry}",
           r"\usepackage[utf8]{inputenc}", r"\usepackage[T1]{fontenc}",
           r"\usepackage{amsmath,amssymb}", r"\usepackage{graphicx}", r"\usepackage{array,longtable}",
           # A formula wider than its table column is shrunk to fit (no overfull box): a formula cannot break.
           r"\newcommand{\fitwidth}[1]{\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{#1}}",
           # A line that cannot break otherwise (code such as pip install 'nnsym[plot]' cannot be hyphenated)
           # may stretch its spaces rather than stick out into the margin; other paragraphs are set as before.
           r"\setlength{\emergencystretch}{3em}",
           _KEEP_SPACE,
           rf"\title{{{_tex_text(note.title)}}}", r"\author{}", r"\date{}", r"\begin{document}", r"\maketitle", ""]
    for index, block in enumerate(note.blocks):
        if isinstance(block, Text):
            # A sentence announcing a display ("... is:") starts a new page rather than end one.
            out += ([_KEEP_WITH_NEXT] if block.text.rstrip().endswith(":") else []) + [_tex_text(block.text), ""]
        elif isinstance(block, Formula):
            out += _lint_declaration(block, "tex") + [r"\begin{equation*}", _equation(block), r"\end{equation*}", ""]
        elif isinstance(block, Display):
            out += _lint_declaration(block, "tex") + [r"\begin{equation*}", block.latex, r"\end{equation*}", ""]
        elif isinstance(block, Steps):
            out += _lint_declaration(block, "tex") + [r"{\small", r"\begin{align*}", " \\\\\n".join(_step_rows(verified, index, block)),
                    r"\end{align*}}", ""]
        elif isinstance(block, Plot):
            if block.name in plots:
                out += [r"\begin{center}", rf"\includegraphics[width=0.7\linewidth]{{{plots[block.name]}}}",
                        rf"\\ {_tex_text(block.caption)}", r"\end{center}", ""]
            else:
                out += [_tex_text(_no_plot_sentence(block)), ""]
    out += [_KEEP_WITH_NEXT, r"\section*{Verification}", r"{\small",
            r"\begin{longtable}{r >{\raggedright\arraybackslash}p{0.45\linewidth} "
            r">{\raggedright\arraybackslash}p{0.3\linewidth} l}",
            r"\# & formula & checked by & max rel.\ error \\ \hline"]
    for number, check in enumerate(verified.checks, 1):
        out.append(rf"{number} & \fitwidth{{$\displaystyle {check.latex}$}} & {text_escape('; '.join(check.methods))} & "
                   rf"{check.max_rel_error:.1e} \\")
    out += [r"\end{longtable}}", r"\end{document}", ""]
    return "\n".join(out)


def html(note: Note, verified: Verified, plots: Optional[Dict[str, str]] = None) -> str:
    """A page that MathJax typesets (the maths stays LaTeX; the text is escaped)."""
    plots = plots or {}
    out = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{escape(note.title)}</title>",
           '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js" async></script>',
           "</head><body>", f"<h1>{escape(note.title)}</h1>"]
    for index, block in enumerate(note.blocks):
        if isinstance(block, Text):
            out.append(_html_paragraph(block.text))
        elif isinstance(block, Formula):
            out.append(rf"<p>\[{_math(_equation(block))}\]</p>")
        elif isinstance(block, Display):
            out.append(rf"<p>\[{_math(block.latex)}\]</p>")
        elif isinstance(block, Steps):
            body = " \\\\\n".join(_step_rows(verified, index, block))
            out.append(rf"<p>\[\begin{{aligned}}{_math(body)}\end{{aligned}}\]</p>")
        elif isinstance(block, Plot):
            out.append(f'<figure><img src="{plots[block.name]}.png" alt="{escape(block.caption)}">'
                       f"<figcaption>{escape(block.caption)}</figcaption></figure>" if block.name in plots
                       else f"<p>{escape(_no_plot_sentence(block))}</p>")
    out += ["<h2>Verification</h2>", "<table>",
            "<tr><th>#</th><th>formula</th><th>checked by</th><th>max rel error</th></tr>"]
    for number, check in enumerate(verified.checks, 1):
        out.append(rf"<tr><td>{number}</td><td>\({_math(check.latex)}\)</td>"
                   f"<td>{escape('; '.join(check.methods))}</td><td>{check.max_rel_error:.1e}</td></tr>")
    out += ["</table>", "</body></html>", ""]
    return "\n".join(out)


def _html_paragraph(text: str) -> str:
    """$...$ becomes \\(...\\) for MathJax; Markdown emphasis, code and lists become HTML; the rest
    is HTML-escaped."""
    return html_paragraphs(text, lambda p: rf"\({_math(p)}\)")


def _math(text: str) -> str:
    """LaTeX for MathJax inside HTML: <, > and & escaped, quotes and primes left readable."""
    return escape(text, quote=False)


def _check_formats(formats: Sequence[str]) -> None:
    if isinstance(formats, str):  # "md" would be read as the formats m and d
        raise InputError(f"formats is a list such as ['md', 'tex'], not the string {formats!r}")
    if not formats:
        raise InputError(f"name at least one format to write: {', '.join(FORMATS)}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")


def _output_folder(directory) -> Path:
    # Path("") is the current folder: an empty -o would scatter the notes there unasked.
    if directory is None or not str(directory).strip():
        raise InputError("name the folder to write the notes into (-o DIR)")
    return Path(directory)


def write_note(note: Note, directory, formats: Sequence[str] = ("md", "tex"), detail: str = "key",
               verified: Optional[Verified] = None) -> List[str]:
    """Verify (unless ``verified`` is given), then write ``NN-topic-name.<format>`` into ``directory``;
    returns messages for the user."""
    _check_formats(formats)
    directory = _output_folder(directory)
    if verified is None:
        verified = verify_note(note, detail)  # before any file is touched
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file in the way, no permission: bad input, not a bug
        raise InputError(f"cannot write notes into {directory}: {error.strerror}") from None
    messages: List[str] = []
    writers = {"md": markdown, "tex": tex, "html": html}
    try:
        plots = _plot_files(note, directory, messages)
        for kind in formats:
            if kind in writers or (kind == "pdf" and "tex" not in formats):
                writer = writers["tex" if kind == "pdf" else kind]
                (directory / f"{note.stem}.{'tex' if kind == 'pdf' else kind}").write_text(
                    writer(note, verified, plots), encoding="utf-8")
    except OSError as error:  # a folder of that name in the way, a full disk: bad input, not a bug
        raise InputError(f"cannot write {error.filename or directory}: {error.strerror}") from None
    if "pdf" in formats:
        messages.append(compile_pdf(directory / f"{note.stem}.tex"))
        if "tex" not in formats and tex_engine() is not None:
            # Written only to build the PDF: leave the files asked for (without an engine, the .tex
            # stays, for the user to build it where one is installed).
            (directory / f"{note.stem}.tex").unlink()
    messages.append(f"{note.stem}: {len(verified.checks)} formulas verified")
    return messages


def tex_engine() -> Optional[List[str]]:
    """The command that turns a .tex file into a PDF: pdflatex, latexmk or tectonic, if installed."""
    for name, arguments in TEX_ENGINES:
        path = shutil.which(name)
        if path is not None:
            return [path, *arguments]
    return None


def compile_pdf(tex_file: Path) -> str:
    """Build the PDF when a TeX engine is installed; otherwise say how to install one. The engine runs
    in a temporary folder, so only the PDF is left beside the notes (no .aux, .log)."""
    command = tex_engine()
    if command is None:
        return f"{tex_file.stem}: PDF not built: {TEX_HINT}"
    with tempfile.TemporaryDirectory(prefix="nnsym-tex-") as build:
        build = Path(build)
        for path in tex_file.parent.glob(f"{tex_file.stem}*"):  # the .tex and its figures
            if path.is_file() and path.suffix in (".tex", ".png", ".pdf"):
                shutil.copy(path, build / path.name)
        try:
            done = subprocess.run([*command, tex_file.name], cwd=build, capture_output=True, text=True,
                                  timeout=180)
        except subprocess.TimeoutExpired as error:
            raise NnsymError(f"{Path(command[0]).name} took too long on {tex_file.name}") from error
        if done.returncode != 0 or not (build / f"{tex_file.stem}.pdf").is_file():
            tail = " | ".join(line for line in done.stdout.splitlines() if line.startswith("!"))[:300]
            raise NnsymError(f"{Path(command[0]).name} failed on {tex_file.name}: "
                             f"{tail or 'run it on the .tex file to see its log'}")
        shutil.copy(build / f"{tex_file.stem}.pdf", tex_file.parent / f"{tex_file.stem}.pdf")
    return f"{tex_file.stem}: wrote {tex_file.stem}.pdf"


# ----- the chapter's topics -----


def _topic_scripts(directory: Path) -> Dict[str, Path]:
    if not directory.is_dir():
        raise InputError(f"no derivations folder at {directory} (pass {spelled('--derivations DIR', 'the folder of the topic scripts')})")
    found = {path.stem: path for path in sorted(directory.glob("[0-9][0-9]-*.py"))}
    if not found:
        raise InputError(f"no topic scripts (NN-name.py) in {directory}")
    return found


def topics(directory: Optional[Path] = None) -> Dict[str, Path]:
    """``{'04-activation-functions': path, ...}``: the chapter's topics, then those of ``directory``
    (a user's own folder adds to the chapter; a script with a chapter topic's file name replaces it)."""
    found = _topic_scripts(DERIVATIONS)
    if directory is not None:
        found.update(_topic_scripts(Path(directory)))
    return found


def find_topic(name: str, available: Dict[str, Path]) -> List[str]:
    """'all', a number ('4', '04'), a name ('activation-functions') or the whole stem."""
    if name == "all":
        return list(available)
    if name in available:
        return [name]
    matches = [stem for stem in available
               if name == stem.partition("-")[2]
               or (name.isascii() and name.isdigit() and int(name) == int(stem.partition("-")[0]))]
    if len(matches) > 1:
        raise InputError(f"topic {name!r} is ambiguous: {', '.join(matches)}; name one of them")
    if matches:
        return matches
    raise InputError(f"unknown topic {name!r}; known: all, {', '.join(available)}")


def load_note(path: Path) -> Note:
    """Run a topic script (a file of this project, not user text) and call its ``note()``."""
    spec = importlib.util.spec_from_file_location(f"nnsym_topic_{path.stem.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.note()


def build_notes(names: Sequence[str], directory, formats: Sequence[str] = ("md", "tex"), detail: str = "key",
                derivations: Optional[Path] = None) -> List[str]:
    """Load and verify every named topic first, then write them all: one failing formula anywhere
    stops the build before a single file is written."""
    _check_formats(formats)
    _output_folder(directory)
    available = topics(derivations)
    stems = list(dict.fromkeys(stem for name in names for stem in find_topic(name, available)))
    verified = [verify_note(load_note(available[stem]), detail) for stem in stems]
    messages: List[str] = []
    for done in verified:
        messages += write_note(done.note, directory, formats, detail, verified=done)
    return _one_plot_hint(messages)


def _one_plot_hint(messages: List[str]) -> List[str]:
    """Without matplotlib, one line names the notes whose plots were left out and how to get them."""
    left_out = [m.split(":")[0] for m in messages if m.endswith(PLOTS_LEFT_OUT)]
    kept = [m for m in messages if not m.endswith(PLOTS_LEFT_OUT)]
    if left_out:
        kept.append(f"{', '.join(left_out)}: {PLOTS_LEFT_OUT}")
    return kept


def script_main(build: Callable[[], Note], argv: Optional[List[str]] = None) -> int:
    """What ``python3 derivations/NN-topic.py [-o DIR]`` does: the same as ``nnsym notes``."""
    parser = argparse.ArgumentParser(description=build.__doc__)
    parser.add_argument("-o", "--output", default="notes")
    parser.add_argument("--format", default="md,tex")
    parser.add_argument("--detail", default="key", choices=DETAILS)
    args = parser.parse_args(argv)
    try:
        for message in write_note(build(), args.output, args.format.split(","), args.detail):
            print(message)
    except NnsymError as error:
        print(f"nnsym: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0
