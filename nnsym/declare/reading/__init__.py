"""Reading the LaTeX of docs/notation.md (the notation nnsym reads) into expression nodes.

Where a notation is read, one stage per module, in the order a formula goes through them; each stage
refuses with a `ParseError` whose first line names a (1-based) column:

0. `spellings`: everyday spellings settled on the raw text before it is scanned (``log(x)`` and
   ``1e-3`` refused saying what to write; ``e^-x``, ``.5x``, ``\\log_2`` rewritten).
1. `scanner`: `_Scanner` turns the text into tokens and settles what a context-free grammar cannot see:
   where a name ends (``Wx`` is one run of letters, ``W^{(1)}_2`` one name), whether a superscript is a
   transpose, an inverse or a layer index, and which ``|`` opens and which closes. It refuses
   unbalanced brackets and nesting deeper than `MAX_DEPTH`; the expression it makes may not be deeper
   either (a product of thousands of factors), so that printers and evaluators downstream, which
   recurse, never meet a RecursionError. The notation's vocabulary (commands, delimiters, operator
   words) lives there too.
2. `grammar` (``grammar.lark``): Lark's LALR parser checks the structure; it builds its tree without
   recursion, so deep input cannot exhaust the stack.
3. `builder`: `_Builder` walks the tree bottom-up, again without recursion, and makes nodes only
   through the constructors of `expressions` and `functions`; their shape errors get the operator's
   column. `index_notation` makes the nodes of ``\\sum_k W_{ik} x_k`` and their matrix form.
4. `reader`: the entry points re-exported here, claims (``\\frac{\\partial L}{\\partial W} = ...``) and
   their left sides, systems of equations.


Decisions a reader must make, made once:

- A symbol without a shape is a scalar (NOTATION). A run of letters that is not itself declared is split
  into letters when every letter is declared (or is ``e`` or ``I``), or when none is (scalar algebra:
  ``3xy``). A run mixing declared and undeclared letters (``Wy`` with only W declared) is refused:
  reading y as a scalar would hide a missing declaration.
- Juxtaposition and ``\\cdot`` multiply: the matrix product of two non-scalars, the scalar multiple when
  a factor is 1x1. ``\\times`` is for scalars only. Juxtaposition binds tighter than ``\\odot``,
  ``\\oslash`` and ``\\otimes``.
- ``e`` is Euler's number and ``I`` the identity unless declared; ``\\sigma`` is always the sigmoid;
  ``A^T`` is refused when a symbol T is declared (write ``^\\top``).
- ``I`` and ``\\mathbf{1}`` take their size from a neighbour in a sum, product or Hadamard product, or
  across ``=``; their subscript (``I_n``) is used when there is none.
- ``\\log\\det(A)`` and ``\\log|A|`` are the log-determinant; ``\\log\\operatorname{softmax}(z)`` is the
  log applied to the softmax.
- As in TeX, ``\\frac`` and ``\\sqrt`` take a digit, a letter or a Greek letter without braces
  (``\\frac12``, ``\\frac1N``); ``\\tanh^2(z)`` is ``\\tanh(z)`` squared, entrywise; ``A^{-2}`` is
  ``(A^{-1})^2``; a norm's subscript may follow its square (``\\|x\\|^2_2``).
- ``\\operatorname{KL}(p \\| q)`` and ``D_{\\mathrm{KL}}(p \\| q)`` are the KL divergence, ``H(p, q)`` the
  cross-entropy, ``H(p)`` the entropy of a declared probability vector or a softmax (else the step).
- Where the shape of the whole formula is known (a claimed gradient has its variable's shape), a bare
  ``I`` or ``\\mathbf{1}`` takes it, and a lone ``0`` or ``\\mathbf{0}`` is the zero of that shape.

Not read: matrices written entry by entry, ``/``, absolute values of non-scalars,
``\\|x\\|_1`` and the spectral norm, symbolic exponents (``x^n``), functions without parentheses.
"""

from nnsym.declare.reading.reader import (
    MAX_DEPTH, MAX_LENGTH, MAX_TRANSPOSE_REPAIRS, parse_shape, read_claim, read_claim_indices,
    read_claim_variable, read_definition, read_equations, read_latex, read_name, transpose_repairs,
)

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_TRANSPOSE_REPAIRS", "parse_shape", "read_claim", "read_claim_indices",
           "read_claim_variable", "read_definition", "read_equations", "read_latex", "read_name",
           "transpose_repairs"]
