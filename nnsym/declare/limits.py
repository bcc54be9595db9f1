"""How large an expression nnsym will print or check: a bound, with a message, instead of a hang.

Expressions are DAGs, so a small one can stand for a huge formula: ten rounds of ``f = sigma(f f + f)``
make 30 nodes but a written-out formula of millions of symbols. Deriving and evaluating walk the DAG
(linear time); writing LaTeX and the elementwise SymPy oracle write the tree out, so they are bounded
by `written_size`, which is computed on the DAG without writing anything out.
"""

from __future__ import annotations

from typing import Dict, Iterable, Tuple

from nnsym.declare.expressions import Expr
from nnsym.errors import InputError

# Nodes of a formula written out in full (about 20 characters of LaTeX each: 1 MB at most).
MAX_WRITTEN = 50_000
# Nodes that only move, add or scale entries; every other node is a nonlinear step whose derivative
# repeats its argument (sigma' of u has u in it), so SymPy's entry-by-entry derivative grows with
# each nested one (8 nested activations of a scalar take it 40 s).
LINEAR = frozenset({"Symbol", "Constant", "Identity", "Ones", "Zero", "Add", "Scale", "MatMul", "Transpose",
                    "Named", "Sum", "Trace", "Diag", "DiagPart"})

# Normalization and attention (issue 14): x-hat divides by the square root of a sum over the batch,
# so SymPy's derivative of one written-out entry repeats every entry of its row; each counts as
# several nested steps (a 3-4-2 network with batch norm took the oracle 160 s, as 5 steps). A named
# layer, a column block and its padding only move entries.
HEAVY = {"Normalize": 3, "StdDev": 3, "RowSoftmax": 2, "Composite": 0, "ColumnBlock": 0, "PadColumns": 0}
# Convolution and pooling (issue 15): im2col and its kin only move and add entries; a max over a window
# is a nest of comparisons whose Piecewise SymPy differentiates slowly (a small CNN took it minutes).
HEAVY.update({"Im2col": 0, "Col2im": 0, "AvgPool": 0, "Upsample": 0, "MaxPool": 4, "MaxMask": 4})
HEAVY.update({"Correlate": 0, "Rot180": 0})  # issue 15e: X star K is bilinear, rot180 moves entries


def _weight(node: Expr) -> int:
    name = type(node).__name__
    return HEAVY.get(name, name not in LINEAR)


def _printed(node: Expr) -> tuple:
    """The children LaTeX writes out: a name is printed as itself, a named layer as its inputs."""
    kind = type(node).__name__
    return () if kind == "Named" else node.args[1:] if kind == "Composite" else node.args


def measure(*roots: Expr, printed: bool = False) -> Tuple[int, int, int]:
    """(depth, written size, nonlinear depth) of the formulas ``roots``: the longest chain of nested
    nodes, the number of nodes when every shared subexpression is written out where it is used, and
    the most nonlinear nodes on one chain. Iterative, linear in the number of distinct nodes.
    ``printed``: as LaTeX writes them (names not opened up), else as evaluated."""
    depth: Dict[int, int] = {}
    written: Dict[int, int] = {}
    nonlinear: Dict[int, int] = {}
    stack = [(root, False) for root in roots]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if key in written:
            continue
        children = _printed(node) if printed else node.args
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in written)
            continue
        depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        written[key] = 1 + sum(written[id(c)] for c in children)
        nonlinear[key] = _weight(node) + max((nonlinear[id(c)] for c in children), default=0)
    deepest = max((depth[id(r)] for r in roots), default=0)
    return deepest, sum(written[id(r)] for r in roots), max((nonlinear[id(r)] for r in roots), default=0)


def require_writable(roots: Iterable[Expr], what: str, limit: int = MAX_WRITTEN) -> None:
    """Refuse, naming ``what``, to write out formulas larger than ``limit`` nodes."""
    _, size, _ = measure(*roots, printed=True)
    if size > limit:
        raise InputError(f"{what}: the formula has {size:,} nodes when written out (at most {limit:,}); "
                         "name intermediate results or use the NumPy export, which shares them")
