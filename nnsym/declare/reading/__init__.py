"""Reading the LaTeX of docs/notation.md into expression nodes: where a notation is read.

One stage per module, in the order a formula goes through them:

- `spellings`: everyday spellings settled on the raw text before it is scanned (``log(x)``, ``1e-3``).
- `scanner`: the text becomes tokens; what a context-free grammar cannot see is settled here.
- `grammar` (``grammar.lark``): Lark's LALR parser checks the structure of the tokens.
- `builder`: the parse tree becomes expression nodes; `index_notation` makes the nodes of ``\\sum_i``,
  ``W_{ij}`` and their matrix form.
- `reader`: the entry points below, claims (``\\frac{\\partial L}{\\partial W} = ...``) and their left sides.
"""

from nnsym.declare.reading.reader import (
    MAX_DEPTH, MAX_LENGTH, MAX_TRANSPOSE_REPAIRS, parse_shape, read_claim, read_claim_indices,
    read_claim_variable, read_definition, read_equations, read_latex, read_name, transpose_repairs,
)

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_TRANSPOSE_REPAIRS", "parse_shape", "read_claim", "read_claim_indices",
           "read_claim_variable", "read_definition", "read_equations", "read_latex", "read_name",
           "transpose_repairs"]
