"""A layer printed by its name and computed as its definition: BN(Z, gamma, beta), Attention(Q, K, V).

A `Composite` is to a layer what `Named` is to an intermediate: it evaluates, differentiates and is
exported as its definition (args[0]), and prints as an operator applied to its inputs (args[1:]), the
way a lecturer writes the layer before opening it up. The inputs are children only so that the node
is rebuilt, resized and substituted with them; reverse mode passes them nothing directly (their
gradients come through the definition).
"""

from __future__ import annotations

from nnsym.declare.expressions import Expr


class Composite(Expr):
    """``operator`` (``"BN"``, ``"LayerNorm"``, ``"Attention"``, ``"MultiHead"``) with an optional
    ``parameter`` (epsilon, causal, the number of heads), defined as ``definition``."""

    __slots__ = ()

    def __init__(self, operator: str, parameter, definition: Expr, *inputs: Expr):
        super().__init__((definition, *inputs), (operator, parameter), definition.shape)

    @property
    def operator(self) -> str:
        return self.params[0]

    @property
    def parameter(self):
        return self.params[1]

    @property
    def definition(self) -> Expr:
        return self.args[0]

    @property
    def inputs(self):
        return self.args[1:]
