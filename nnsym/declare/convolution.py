"""Convolution and pooling in the matrix form lecturers use: im2col.

Every value in nnsym is a matrix, so an image batch is one too: channels are rows, and the columns
run over the examples, then the image's rows, then its columns (a torch tensor of shape (B, C, H, W)
is ``x.permute(1, 0, 2, 3).reshape(C, B * H * W)``). A 1-D signal is an image of height 1 (C x T for
one example). The kernel of a convolution with C_in inputs and C_out outputs is the C_out x
(C_in k_h k_w) matrix K whose row o is the flattened kernel of output channel o (torch's
``weight.reshape(C_out, -1)``). Then the layer is one matrix product:

    conv(X, K) = K im2col(X),

where im2col(X) has one column per output position holding the patch of X under the kernel there
(cross-correlation, stride 1, zero padding p, as frameworks compute it). im2col is linear, and its
adjoint col2im scatters a patch matrix back into an image, adding where patches overlap. So the
generic rules of the matrix product give the backward pass lecturers write in the im2col form:

    dK = dY im2col(X)^T          (the correlation X * dY: the input correlated with dY)
    dX = col2im(K^T dY)          (the full correlation of dY with the kernel rotated by 180 degrees)

Pooling uses non-overlapping windows (stride = window size): max pooling passes the upstream
gradient to the arg-max of each window, ``dX = maxmask(X) o upsample(dY)`` (the first maximum on
ties, as PyTorch), average pooling spreads it evenly, ``dX = upsample(dY) / k^2``.

The geometry (kernel or window size, image size, padding) is data of the node and is printed in the
operator's subscript, ``\\operatorname{im2col}_{3\\times 3,\\ 32\\times 32,\\ p=1}(X)``, because the
matrix shape alone (C x B H W) does not say how the columns form images.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, show_shape
from nnsym.errors import InputError, ShapeError

# Images larger than this per side are refused: the geometry lives in node data, not in checks.
MAX_SIDE = 4096


@dataclass(frozen=True)
class Geometry:
    """A window of ``kernel`` = (k_h, k_w) over images of ``image`` = (H, W) with zero ``padding`` =
    (p_h, p_w) on each side (a 1-D signal, of height 1, is padded along its length only)."""

    kernel: tuple
    image: tuple
    padding: tuple = (0, 0)

    @property
    def output(self) -> tuple:
        """The output image of a stride-1 correlation."""
        (kh, kw), (h, w), (ph, pw) = self.kernel, self.image, self.padding
        return (h + 2 * ph - kh + 1, w + 2 * pw - kw + 1)

    @property
    def pooled(self) -> tuple:
        """The output image of pooling with non-overlapping windows."""
        (kh, kw), (h, w) = self.kernel, self.image
        return (h // kh, w // kw)

    @property
    def window(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def pixels(self) -> int:
        return self.image[0] * self.image[1]


def _positive_int(value, what) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, sympy.Integer)) or int(value) < 1 or int(value) > MAX_SIDE:
        raise InputError(f"{what} must be a whole number from 1 to {MAX_SIDE}, not {value!r}")
    return int(value)


def _pair(value, what) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InputError(f"{what} is a number or a pair (height, width), not {value!r}")
        return (_positive_int(value[0], what), _positive_int(value[1], what))
    n = _positive_int(value, what)
    return (n, n)


def geometry(kernel, image, padding=0) -> Geometry:
    """``padding`` a number: on every side of an image, along the length of a 1-D signal (height 1)."""
    if isinstance(padding, bool) or not isinstance(padding, (int, sympy.Integer)) or not 0 <= int(padding) <= MAX_SIDE:
        raise InputError(f"padding must be a whole number >= 0, not {padding!r}")
    kernel, image = _pair(kernel, "the kernel size"), _pair(image, "the image size")
    one_d = image[0] == 1 and kernel[0] == 1
    return Geometry(kernel, image, (0 if one_d else int(padding), int(padding)))


def _concrete(size, what):
    if not size.is_Integer:
        raise InputError(f"{what}: convolution and pooling need concrete sizes, not {size}")
    return int(size)


def _batch(X: Expr, g: Geometry, what: str) -> int:
    cols = _concrete(X.cols, what)
    if cols % g.pixels:
        raise ShapeError(f"{what}: {show_shape(X.shape)} has {cols} columns, not a whole number of "
                         f"{g.image[0]}x{g.image[1]} images (columns are batch x height x width)")
    return cols // g.pixels


# --------------------------------------------------------------------------------------------------
# Nodes (structure and shape only; the geometry is their data)
# --------------------------------------------------------------------------------------------------


class Im2col(Expr):
    """The patch matrix: (C k_h k_w) x (B H_out W_out), one column per output position."""

    __slots__ = ()

    def __init__(self, operand, g: Geometry):
        batch = _batch(operand, g, "im2col")
        channels = _concrete(operand.rows, "im2col")
        ho, wo = g.output
        super().__init__((operand,), (g,), (channels * g.window, batch * ho * wo))

    @property
    def geometry(self) -> Geometry:
        return self.params[0]


class Col2im(Expr):
    """The adjoint of im2col: each patch column added back where it came from, padding cropped."""

    __slots__ = ()

    def __init__(self, operand, g: Geometry):
        ho, wo = g.output
        rows, cols = _concrete(operand.rows, "col2im"), _concrete(operand.cols, "col2im")
        if rows % g.window or cols % (ho * wo):
            raise ShapeError(f"col2im: a {show_shape(operand.shape)} matrix is not the patch matrix of "
                             f"{g.kernel[0]}x{g.kernel[1]} windows over {ho}x{wo} output positions")
        super().__init__((operand,), (g,), (rows // g.window, cols // (ho * wo) * g.pixels))

    @property
    def geometry(self) -> Geometry:
        return self.params[0]


class _Pooling(Expr):
    """Shared shape of the pooling family: ``g.kernel`` is the window, ``g.image`` the larger image."""

    __slots__ = ()

    @property
    def geometry(self) -> Geometry:
        return self.params[0]


class MaxPool(_Pooling):
    """The maximum of each window."""

    __slots__ = ()

    def __init__(self, operand, g: Geometry):
        hp, wp = g.pooled
        super().__init__((operand,), (g,), (operand.rows, _batch(operand, g, "max pooling") * hp * wp))


class AvgPool(_Pooling):
    """The mean of each window."""

    __slots__ = ()

    def __init__(self, operand, g: Geometry):
        hp, wp = g.pooled
        super().__init__((operand,), (g,), (operand.rows, _batch(operand, g, "average pooling") * hp * wp))


class MaxMask(_Pooling):
    """1 at the (first) maximum of each window, 0 elsewhere: the input's shape."""

    __slots__ = ()

    def __init__(self, operand, g: Geometry):
        _batch(operand, g, "the max-pooling mask")
        super().__init__((operand,), (g,), operand.shape)


class Upsample(_Pooling):
    """Each entry copied over its window: the pooled image back at the input's size."""

    __slots__ = ()

    def __init__(self, operand, g: Geometry):
        hp, wp = g.pooled
        cols = _concrete(operand.cols, "upsampling")
        if cols % (hp * wp):
            raise ShapeError(f"upsampling: {cols} columns are not whole {hp}x{wp} images")
        super().__init__((operand,), (g,), (operand.rows, cols // (hp * wp) * g.pixels))


# --------------------------------------------------------------------------------------------------
# Constructors
# --------------------------------------------------------------------------------------------------


def _check_image(X, g, what):
    if not isinstance(X, Expr):
        raise InputError(f"{what} takes an nnsym matrix, not {type(X).__name__}")
    (kh, kw), (h, w), (ph, pw) = g.kernel, g.image, g.padding
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ShapeError(f"{what}: a {kh}x{kw} kernel does not fit a {h}x{w} image with padding {pw}")


def im2col(X: Expr, g: Geometry) -> Expr:
    _check_image(X, g, "im2col")
    return Im2col(X, g)


def col2im(G: Expr, g: Geometry) -> Expr:
    if E.is_zero(G):
        return E.Zero(*Col2im(G, g).shape)
    return Col2im(G, g)


def _image_of(X: Expr, image, what):
    """The image size: given, or (1, columns) for a 1-D signal."""
    if image is None:
        return (1, _concrete(X.cols, what))
    return image


def conv2d(X: Expr, K: Expr, image, padding=0, kernel=None) -> Expr:
    """K im2col(X): X is C_in x (B H W), K is C_out x (C_in k k) (``kernel`` = k or (k_h, k_w) when
    the kernel is not square or the channels do not say). Cross-correlation, stride 1."""
    if not isinstance(X, Expr) or not isinstance(K, Expr):
        raise InputError("conv2d takes nnsym matrices X and K")
    channels = _concrete(X.rows, "conv2d")
    per_channel, remainder = divmod(_concrete(K.cols, "conv2d"), channels)
    if remainder:
        raise ShapeError(f"conv2d: the kernel matrix {show_shape(K.shape)} must have C_in k_h k_w columns "
                         f"(C_in = {channels}, the rows of X)")
    if kernel is None:
        side = int(round(per_channel ** 0.5))
        if side * side != per_channel:
            raise ShapeError(f"conv2d: {per_channel} kernel entries per channel are not a square kernel; "
                             "give kernel=(k_h, k_w)")
        kernel = side
    g = geometry(kernel, image, padding)
    if g.window != per_channel:
        raise ShapeError(f"conv2d: a {g.kernel[0]}x{g.kernel[1]} kernel over {channels} channels needs "
                         f"{channels * g.window} columns in K, which has {show_shape(K.shape)}")
    _check_image(X, g, "conv2d")
    return E.matmul(K, im2col(X, g))


def conv1d(X: Expr, K: Expr, padding=0, length=None) -> Expr:
    """K im2col(X) for signals: X is C_in x (B T) (``length`` = T when there is a batch), K is
    C_out x (C_in k)."""
    channels = _concrete(X.rows, "conv1d")
    width, remainder = divmod(_concrete(K.cols, "conv1d"), channels)
    if remainder:
        raise ShapeError(f"conv1d: the kernel matrix {show_shape(K.shape)} must have C_in k columns (C_in = {channels})")
    image = (1, length) if length is not None else _image_of(X, None, "conv1d")
    return conv2d(X, K, image, padding, kernel=(1, width))


def _pool_geometry(X, size, image, what):
    return _tiles(X, geometry(size, image if image is not None else _image_of(X, None, what)), what)


def _tiles(X, g, what):
    (kh, kw), (h, w) = g.kernel, g.image
    if any(g.padding):
        raise InputError(f"{what} has no padding")
    if h % kh or w % kw:
        raise ShapeError(f"{what}: {kh}x{kw} windows do not tile a {h}x{w} image (non-overlapping windows)")
    _batch(X, g, what)
    return g


def max_pool2d(X: Expr, size, image) -> Expr:
    """The maximum over non-overlapping size x size windows."""
    return MaxPool(X, _pool_geometry(X, size, image, "max pooling"))


def avg_pool2d(X: Expr, size, image) -> Expr:
    """The mean over non-overlapping size x size windows."""
    return AvgPool(X, _pool_geometry(X, size, image, "average pooling"))


def max_mask(X: Expr, g: Geometry) -> Expr:
    return MaxMask(X, g)


def upsample(G: Expr, g: Geometry) -> Expr:
    if E.is_zero(G):
        return E.Zero(*Upsample(G, g).shape)
    return Upsample(G, g)


# The reader builds these nodes from their printed subscript (nnsym.declare.reading).
OPERATORS = {
    "im2col": im2col,
    "col2im": col2im,
    "maxpool": lambda X, g: MaxPool(X, _tiles(X, g, "max pooling")),
    "avgpool": lambda X, g: AvgPool(X, _tiles(X, g, "average pooling")),
    "maxmask": lambda X, g: max_mask(X, _tiles(X, g, "the max-pooling mask")),
    "upsample": lambda G, g: upsample(G, _tiles_pooled(G, g)),
}


def _tiles_pooled(G, g):
    if any(g.padding) or g.image[0] % g.kernel[0] or g.image[1] % g.kernel[1]:
        raise ShapeError(f"upsampling: {g.kernel[0]}x{g.kernel[1]} windows do not tile a {g.image[0]}x{g.image[1]} image")
    return g
