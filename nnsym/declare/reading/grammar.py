"""Reading, stage 2: structure. Lark's LALR parser (``grammar.lark``) checks the scanner's tokens; it
builds its tree (of `_Node`) without recursion, so deep input cannot exhaust the stack."""

from __future__ import annotations

import functools
from pathlib import Path

import lark

_OPERAND_STARTS = frozenset({"NAME", "NUMBER", "ONES", "PI", "FRAC", "SQRT", "FUNC", "LOG", "MAX", "INDICATOR",
                             "DIVERGENCE", "LBAR", "LNORM", "_LPAR", "_LBRACK", "_LCURLY", "_LBRACE"})
_OPERAND_STARTS |= {"SUM"}  # index notation: \sum_k starts an operand

_CONTINUATIONS = frozenset({"PLUS", "MINUS", "CDOT", "TIMES", "ODOT", "OSLASH", "OTIMES", "TRANSPOSE", "INVERSE",
                            "INVTRANSPOSE", "CARET", "PRIME", "$END"})
_CONTINUATIONS |= {"SUBSCRIPT"}  # index notation: (Wx)_i
_CONTINUATIONS |= {"STAR"}  # issue 15e: X \star K

_SPELLED = {"_RPAR": "')'", "_RBRACK": "']'", "_RBRACE": "'}'", "_RCURLY": "'\\}'", "_RBAR": "'|'",
            "RNORM": "'\\|'", "_LPAR": "'('", "_LBRACK": "'['", "_LBRACE": "'{'", "_LCURLY": "'\\{'",
            "_COMMA": "','", "_GT": "'>'", "_DIVIDES": "'\\|'", "DIVERGENCE": "KL", "PRIME": "a prime", "$END": "the end"}

# ----- stage 2: structure ------------------------------------------------------------------------------

class _Node:
    """A node of the parse tree; Lark builds it with the rule's name and its children."""

    __slots__ = ("data", "children", "col")

    def __init__(self, data, children, meta=None):
        self.data, self.children = data, children
        self.col = children[0].col if isinstance(children[0], _Node) else children[0].column


class _TokenFeed(lark.lexer.Lexer):
    """Lark's lexer slot, filled with the scanner's tokens."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, tokens):
        return iter(tokens)


@functools.lru_cache(maxsize=None)
def _parser():
    grammar = Path(__file__).with_name("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", lexer=_TokenFeed, tree_class=_Node)


def _expected(terminals) -> str:
    """Lark's expected terminals in words; after an operand only what must come is named."""
    needed = set(terminals) - _OPERAND_STARTS - _CONTINUATIONS
    if needed:
        return " or ".join(sorted(_SPELLED.get(t, t) for t in needed))
    if set(terminals) & _OPERAND_STARTS:
        return "an operand (a name, a number, a bracket or a function)"
    return " or ".join(sorted(_SPELLED.get(t, t) for t in terminals))

