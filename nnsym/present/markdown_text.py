"""The little Markdown a note's text uses, written as LaTeX and as HTML.

A note's `Text` is Markdown (it goes into the .md file as it is): ``**bold**``, ``*emphasis*``,
```code```, ``- item`` and ``1. item`` lists, with maths between ``$...$`` left alone. The .tex and the
.html must show bold as bold, not as asterisks. One small scanner splits a paragraph into maths and
text spans and list items; each target writes them.
"""

from __future__ import annotations

import re
from html import escape
from typing import Callable, List, Tuple

# Inline markup, tried in this order at each position of a text span.
_INLINE = (("code", re.compile(r"`([^`]+)`")),
           ("bold", re.compile(r"\*\*(.+?)\*\*")),
           ("emph", re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")),
           ("emph", re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])")))
_ITEM = re.compile(r"^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$")


def _spans(text: str) -> List[Tuple[str, str]]:
    """(kind, content) with kind 'math' (between $...$) or 'text'."""
    parts = text.split("$")
    return [("math" if i % 2 else "text", p) for i, p in enumerate(parts) if p or i % 2]


def _inline(text: str, plain: Callable[[str], str], wrap: Callable[[str, str], str]) -> str:
    """Markdown inline markup in a text span: ``wrap(kind, inner)`` for each marked piece."""
    out, position = [], 0
    while position < len(text):
        found = None
        for kind, pattern in _INLINE:
            match = pattern.search(text, position)
            if match and (found is None or match.start() < found[1].start()):
                found = (kind, match)
        if found is None:
            out.append(plain(text[position:]))
            break
        kind, match = found
        out.append(plain(text[position:match.start()]))
        inner = match.group(1)
        out.append(wrap(kind, plain(inner) if kind == "code" else _inline(inner, plain, wrap)))
        position = match.end()
    return "".join(out)


def _paragraph(text: str, plain, wrap, math) -> str:
    return "".join(math(content) if kind == "math" else _inline(content, plain, wrap)
                   for kind, content in _spans(text))


def _blocks(text: str):
    """('para', text) and ('list', ordered, [items]) from the lines of a Text."""
    blocks, lines = [], text.split("\n")
    for line in lines:
        item = _ITEM.match(line)
        if item:
            ordered = item.group(2) is not None
            if blocks and blocks[-1][0] == "list" and blocks[-1][1] == ordered:
                blocks[-1][2].append(item.group(3))
            else:
                blocks.append(("list", ordered, [item.group(3)]))
        elif line.strip():
            if blocks and blocks[-1][0] == "para":
                blocks[-1] = ("para", blocks[-1][1] + "\n" + line)
            elif blocks and blocks[-1][0] == "list" and line.startswith("  "):
                blocks[-1][2][-1] += " " + line.strip()  # a continued list item
            else:
                blocks.append(("para", line))
    return blocks


# ----- LaTeX -----

# Backslashes and braces outside $...$ are left alone: a note's text may use a LaTeX command there.
_TEX_SPECIALS = {"%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_", "⊙": r"$\odot$", "—": "---", "–": "--",
                 "σ": r"$\sigma$", "δ": r"$\delta$", "≈": r"$\approx$", "×": r"$\times$", "→": r"$\to$",
                 "≤": r"$\leq$", "≥": r"$\geq$", "′": r"$'$"}
_TEX_WRAP = {"bold": r"\textbf{%s}", "emph": r"\emph{%s}", "code": r"\texttt{%s}"}


def _tex_plain(text: str) -> str:
    return "".join(_TEX_SPECIALS.get(c, c) for c in text)


def tex_paragraphs(text: str) -> str:
    """A note's Markdown text as LaTeX: emphasis, code and lists become LaTeX; maths is left alone."""
    out = []
    for block in _blocks(text):
        render = lambda t: _paragraph(t, _tex_plain, lambda k, s: _TEX_WRAP[k] % s, lambda m: f"${m}$")  # noqa: E731
        if block[0] == "para":
            out.append(render(block[1]))
        else:
            environment = "enumerate" if block[1] else "itemize"
            items = "\n".join(rf"  \item {render(item)}" for item in block[2])
            out.append(rf"\begin{{{environment}}}" + "\n" + items + "\n" + rf"\end{{{environment}}}")
    return "\n\n".join(out)


# ----- HTML -----

_HTML_WRAP = {"bold": "<strong>%s</strong>", "emph": "<em>%s</em>", "code": "<code>%s</code>"}


def html_paragraphs(text: str, math: Callable[[str], str]) -> str:
    """A note's Markdown text as HTML; ``math`` writes one $...$ span (for MathJax)."""
    out = []
    for block in _blocks(text):
        render = lambda t: _paragraph(t, lambda s: escape(s, quote=False),  # noqa: E731
                                      lambda k, s: _HTML_WRAP[k] % s, math)
        if block[0] == "para":
            out.append(f"<p>{render(block[1])}</p>")
        else:
            tag = "ol" if block[1] else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{render(item)}</li>" for item in block[2]) + f"</{tag}>")
    return "\n".join(out)
