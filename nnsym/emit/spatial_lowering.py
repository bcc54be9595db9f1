"""Convolution and pooling rewritten for array code (issue 15h), after `nnsym.emit.lowering`.

The derivation speaks im2col, the matrix form lecturers use: the layer is K im2col(X), the kernel's
gradient G im2col(X)^T, the input's col2im(K^T G). A library with convolution kernels (PyTorch) computes
each of these without forming the patch matrix, k_h k_w times the image's size; the rewrites below say
which kernel each product is. NumPy has none, and keeps im2col (computed once, shared by the forward
product and the kernel's gradient).

| maths                      | lowered node                                | PyTorch                     |
|----------------------------|---------------------------------------------|-----------------------------|
| K im2col(X)                | ChannelCorrelation(X, K)                    | F.conv2d                    |
| G im2col(X)^T              | ChannelCorrelationKernelAdjoint(X, G)       | torch.nn.grad.conv2d_weight |
| col2im(K^T G)              | ChannelCorrelationInputAdjoint(K, G)        | torch.nn.grad.conv2d_input  |
| maxmask(X) o upsample(G)   | MaxPoolAdjoint(X, maxpool(X), G)            | (every target) one pass     |

The last applies to every target: the mask is found from the pooled maxima the forward pass has
(no second max pooling, no upsampled copy of the maxima or of G).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

from nnsym.declare.convolution import Col2im, Im2col, MaxMask, MaxPool, Upsample
from nnsym.declare.expressions import Expr, Hadamard, MatMul, Transpose, post_order


class _Kernel(Expr):
    """A framework kernel call; its geometry is node data, as for the im2col and pooling nodes it replaces."""

    __slots__ = ()

    @property
    def geometry(self):
        return self.params[0]


class ChannelCorrelation(_Kernel):
    """K im2col(X): the cross-correlation of the images X with the kernels K (rows of K)."""

    __slots__ = ()

    def __init__(self, images, kernels, g):
        super().__init__((images, kernels), (g,), (kernels.rows, Im2col(images, g).cols))


class ChannelCorrelationKernelAdjoint(_Kernel):
    """G im2col(X)^T: the kernels' gradient, the correlation of the input with the upstream G."""

    __slots__ = ()

    def __init__(self, images, upstream, g):
        super().__init__((images, upstream), (g,), (upstream.rows, Im2col(images, g).rows))


class ChannelCorrelationInputAdjoint(_Kernel):
    """col2im(K^T G): the input's gradient, the full correlation of G with the kernels rotated by 180 degrees."""

    __slots__ = ()

    def __init__(self, kernels, upstream, g):
        super().__init__((kernels, upstream), (g,), Col2im(MatMul(Transpose(kernels), upstream), g).shape)


class MaxPoolAdjoint(_Kernel):
    """maxmask(X) o upsample(G), from X, its pooled maxima and G."""

    __slots__ = ()

    def __init__(self, images, largest, upstream, g):
        super().__init__((images, largest, upstream), (g,), images.shape)


def _max_pool_adjoint(node: Expr, args):
    if not isinstance(node, Hadamard):
        return None
    for mask, spread in (args, args[::-1]):
        if isinstance(mask, MaxMask) and isinstance(spread, Upsample) and mask.geometry == spread.geometry:
            X, g = mask.args[0], mask.geometry
            return MaxPoolAdjoint(X, MaxPool(X, g), spread.args[0], g)
    return None


def _correlation(node: Expr, args):
    if isinstance(node, MatMul):
        left, right = args
        if isinstance(right, Im2col):
            return ChannelCorrelation(right.args[0], left, right.geometry)
        if isinstance(right, Transpose) and isinstance(right.args[0], Im2col):
            return ChannelCorrelationKernelAdjoint(right.args[0].args[0], left, right.args[0].geometry)
    if isinstance(node, Col2im) and isinstance(args[0], MatMul):
        left, upstream = args[0].args
        kernels = left.args[0] if isinstance(left, Transpose) else Transpose(left)
        return ChannelCorrelationInputAdjoint(kernels, upstream, node.geometry)
    return None


def lower_spatial(roots: Sequence[Expr], kernels: bool) -> List[Expr]:
    """The roots with max pooling's adjoint fused, and (``kernels``: the target has convolution
    kernels) the im2col products as correlations."""
    memo: Dict[Expr, Expr] = {}
    for node in post_order(roots):
        args = tuple(memo[a] for a in node.args)
        memo[node] = (_max_pool_adjoint(node, args) or (_correlation(node, args) if kernels else None)
                      or node.rebuilt(args))
    return [memo[r] for r in roots]
