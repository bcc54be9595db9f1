"""Named adjoints: the cotangent of every named intermediate gets a name of its own.

A network's backpropagation names dL/dz^{(l)} delta^{(l)}; a function built from other named
intermediates (the H^{(1)}, Y^{(1)}, H^{(2)} of a transformer block) gets the same treatment with the
adjoint notation of automatic differentiation: dL/dH^{(1)} is written \\bar{H}^{(1)}. Every gradient
upstream then uses the name, so formulas stay the size of one layer's rule instead of repeating
everything downstream of it.
"""

from __future__ import annotations

from typing import Callable, Optional

from nnsym.declare.expressions import Expr, Named, post_order


def adjoint_name(name: str) -> str:
    """H^{(1)} -> \\bar{H}^{(1)}; a name with a command (\\gamma_1) -> \\bar{\\gamma}_1."""
    cut = min((i for i in (name.find("^"), name.find("_")) if i > 0), default=len(name))
    return rf"\bar{{{name[:cut]}}}{name[cut:]}"


def adjoint_hook(f: Expr, record: Optional[Callable] = None):
    """A cotangent hook (`nnsym.derive.reverse.cotangents`) naming the cotangent of each named node
    of ``f``; ``record(adjoint, definition)``, if given, sees each one. None when f has no names."""
    named = {node for node in post_order([f]) if isinstance(node, Named)}
    if not named:
        return None

    def name_adjoint(node, G):
        if node not in named or isinstance(G, Named):
            return G
        adjoint = Named(adjoint_name(node.name), G)
        if record is not None:
            record(adjoint, G)
        return adjoint

    return name_adjoint
