"""Batch normalization, layer normalization and dropout (training mode), examples as columns.

Two primitives carry the statistics, so that the generic reverse mode finds the textbook gradients:

- `Normalize` is x-hat: each row of Z (n x B) standardised over the batch (``over="batch"``, batch
  norm) or each column over its n features (``over="features"``, layer norm), with the biased
  variance and epsilon inside the square root: (z - mu) / sqrt(var + eps).
- `StdDev` is that sqrt(var + eps): n x 1 over the batch, 1 x B over the features.

Batch norm is then gamma 1^T o x-hat + beta 1^T (a `Composite` printed BN(Z, gamma, beta)); its
rule in `nnsym.derive.rules` gives the compact dX = (1/B) (gamma / sigma) 1^T o (B dY - dY 1 1^T -
x-hat o ((dY o x-hat) 1 1^T)), with dgamma = (dY o x-hat) 1 and dbeta = dY 1 from the ordinary rules.
Dropout with a fixed 0/1 mask M is (A o M) / keep, ordinary nodes.
"""

from __future__ import annotations

import numbers

import sympy

from nnsym.declare import expressions as E
from nnsym.declare.composite import Composite
from nnsym.declare.expressions import Expr, Ones
from nnsym.errors import InputError, ShapeError

DEFAULT_EPS = sympy.Rational(1, 100000)  # PyTorch's default
OVER = {"batch": "BN", "features": "LayerNorm"}


def as_eps(eps) -> sympy.Expr:
    """epsilon as an exact non-negative SymPy number (1e-5 is 1/100000)."""
    if isinstance(eps, sympy.Basic) and eps.is_number and eps.is_real:
        eps = float(eps) if eps.is_Float else eps
    if not isinstance(eps, (numbers.Real, sympy.Basic)) or isinstance(eps, bool):
        raise InputError(f"epsilon must be a non-negative number, not {eps!r}")
    value = E.lift(eps).value  # a float becomes the short fraction it is (1e-5 is 1/100000)
    if not (value.is_number and value.is_real and value >= 0):
        raise InputError(f"epsilon must be a non-negative number, not {eps!r}")
    return value


class _OverEps(Expr):
    """A statistic of each row (over the batch) or each column (over the features), with an eps: the
    parameters Normalize and StdDev share."""

    __slots__ = ()

    @property
    def over(self) -> str:
        return self.params[0]

    @property
    def eps(self):
        return self.params[1]


class Normalize(_OverEps):
    """x-hat: Z standardised per row over the batch (``over="batch"``) or per column over the features."""

    __slots__ = ()

    def __init__(self, operand, over: str, eps):
        super().__init__((operand,), (over, as_eps(eps)), operand.shape)

    @property
    def count(self):
        """N, the number of values each mean is taken over (B for batch norm, n for layer norm)."""
        return self.cols if self.over == "batch" else self.rows


class StdDev(_OverEps):
    """sqrt(var + eps) of each row (n x 1, over the batch) or each column (1 x B, over the features)."""

    __slots__ = ()

    def __init__(self, operand, over: str, eps):
        shape = (operand.rows, 1) if over == "batch" else (1, operand.cols)
        super().__init__((operand,), (over, as_eps(eps)), shape)


def _over(over):
    if over not in OVER:
        raise InputError(f"normalisation is over 'batch' or 'features', not {over!r}")
    return over


def normalize(Z: Expr, over: str = "batch", eps=DEFAULT_EPS) -> Expr:
    """x-hat = (Z - mu) / sqrt(var + eps), per row over the batch or per column over the features."""
    _over(over)
    count = Z.cols if over == "batch" else Z.rows
    if count == 1:
        raise ShapeError(f"{OVER[over]}: one value per {'row' if over == 'batch' else 'column'} has no variance "
                         f"to normalise by (Z is {E.show_shape(Z.shape)})")
    return Normalize(Z, over, eps)


def std(Z: Expr, over: str = "batch", eps=DEFAULT_EPS) -> Expr:
    """sqrt(var + eps) over the batch (n x 1) or over the features (1 x B)."""
    return StdDev(Z, _over(over), eps)


def _affine(Z, gamma, beta, over, eps, operator):
    gamma, beta = E.lift(gamma), E.lift(beta)
    for label, v in (("gamma", gamma), ("beta", beta)):
        if v.shape != (Z.rows, 1):
            raise ShapeError(f"{operator}: {label} must be an {Z.rows}-vector (one per feature, Z is "
                             f"{E.show_shape(Z.shape)}), got {E.show_shape(v.shape)}")
    ones_row = Ones(1, Z.cols)
    definition = E.add(E.hadamard(E.matmul(gamma, ones_row), normalize(Z, over, eps)), E.matmul(beta, ones_row))
    return Composite(operator, as_eps(eps), definition, Z, gamma, beta)


def batch_norm(Z: Expr, gamma: Expr, beta: Expr, eps=DEFAULT_EPS) -> Expr:
    """BN(Z, gamma, beta) = gamma 1^T o x-hat + beta 1^T, each row of Z (n x B) normalised over the
    batch with its mean and biased variance (training mode)."""
    return _affine(Z, gamma, beta, "batch", eps, "BN")


def layer_norm(Z: Expr, gamma: Expr, beta: Expr, eps=DEFAULT_EPS) -> Expr:
    """LayerNorm(Z, gamma, beta) = gamma 1^T o x-hat + beta 1^T, each column of Z normalised over its
    n features."""
    return _affine(Z, gamma, beta, "features", eps, "LayerNorm")


def dropout(A: Expr, M: Expr, keep) -> Expr:
    """(A o M) / keep with a fixed 0/1 mask M of A's shape (inverted dropout, training mode)."""
    keep = E.lift(keep)
    if not keep.is_scalar:
        raise ShapeError(f"dropout: the keep probability is a scalar, got {E.show_shape(keep.shape)}")
    value = E.number(keep)
    if value is not None and not (0 < value <= 1):
        raise InputError(f"dropout: the keep probability must be in (0, 1], not {value}")
    E._need_same_shape("dropout mask", A, M)
    return E.scale(E.power(keep, -1), E.hadamard(A, M))
