"""Single-channel cross-correlation as lecturers write it: ``Y = X \\star K``.

An H x W matrix X (an image, one channel) correlated with a k_h x k_w kernel K, stride 1, zero padding
p on every side, is the (H + 2p - k_h + 1) x (W + 2p - k_w + 1) matrix

    (X \\star_p K)[i, j] = sum_{a, b} Xpad[i + a, j + b] K[a, b],   Xpad[u, v] = X[u - p, v - p] (0 outside),

which is what frameworks call a convolution (torch's F.conv2d). A column vector (T x 1) with a k x 1
kernel is the 1-D correlation: an int padding pads a column along its length only (a row along its
width), so ``x \\star_{p=1} k`` of a column is torch's F.conv1d with padding 1.

The backward pass (the rules in `nnsym.derive.rules`) is closed in this notation:

    dK = X \\star_p G,    dX = G \\star_{k-1-p} rot180(K),

so with p = 0 the input gradient is the *full* correlation (padding k - 1) with the kernel rotated by
180 degrees. When p > k - 1 the padding k - 1 - p is negative: a crop of that many rows and columns on
every side of G. Negative padding is therefore allowed in the node (written ``\\star_{p=-1}``).

This is the same operation as `nnsym.declare.convolution` (K im2col(X), many channels, batches); this
form is the one typed on a board, with one channel and no batch.
"""

from __future__ import annotations

import sympy

from nnsym.declare.expressions import Expr, Zero, show_shape
from nnsym.errors import InputError, ShapeError

MAX_PADDING = 4096


class Correlate(Expr):
    """X \\star_p K: params = ((p_h, p_w),), the zero padding on each side (negative: a crop)."""

    __slots__ = ()

    def __init__(self, image, kernel, padding):
        (h, w), (kh, kw), (ph, pw) = _sizes(image, "the image"), _sizes(kernel, "the kernel"), padding
        rows, cols = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
        if (rows < 1 or cols < 1) and image.is_scalar:
            raise ShapeError(f"a \\star between a scalar and a {kh}x{kw} matrix: \\star correlates an image with a "
                             "kernel no larger than the (padded) image; a scalar multiple is written as a product, "
                             "c X (a scalar after \\star is a 1x1 kernel: X \\star c = c X)")
        if rows < 1 or cols < 1:
            raise ShapeError(f"correlation {h}x{w} \\star {kh}x{kw}: the {kh}x{kw} kernel does not fit the {h}x{w} "
                             f"image{_padded(padding)} (the output would be {rows}x{cols}); a kernel gradient puts the "
                             "input first (X \\star dY), an input gradient needs the full correlation, "
                             "\\star_{\\mathrm{full}} (padding k-1 on every side)")
        super().__init__((image, kernel), ((int(ph), int(pw)),), (rows, cols))

    @property
    def padding(self) -> tuple:
        return self.params[0]

    @property
    def full(self) -> bool:
        """Padded by k - 1 in both directions: the full correlation."""
        kh, kw = (int(s) for s in self.args[1].shape)
        return self.padding == (kh - 1, kw - 1)


class Rot180(Expr):
    """K rotated by 180 degrees: rot180(K)[a, b] = K[k_h - 1 - a, k_w - 1 - b]."""

    __slots__ = ()

    def __init__(self, kernel):
        super().__init__((kernel,), (), kernel.shape)


def _padded(padding) -> str:
    ph, pw = padding
    if (ph, pw) == (0, 0):
        return ""
    return f" padded by {ph}" if ph == pw else f" padded by ({ph}, {pw})"


def _sizes(node, what) -> tuple:
    if not all(s.is_Integer for s in node.shape):
        raise InputError(f"correlation: {what} has symbolic size {show_shape(node.shape)}; correlation needs "
                         "concrete sizes (--shape X=5x5)")
    return int(node.rows), int(node.cols)


def _whole(value, what) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, sympy.Integer)) or abs(int(value)) > MAX_PADDING:
        raise InputError(f"correlation: {what} must be a whole number (at most {MAX_PADDING}), not {value!r}")
    return int(value)


def paddings(image: Expr, kernel: Expr, padding) -> tuple:
    """(p_h, p_w) from what is written: a number (on every side; along the length only of a column
    with a column kernel, or of a row with a row kernel), a pair (p_h, p_w), or "full" (k - 1)."""
    kh, kw = _sizes(kernel, "the kernel")
    if isinstance(padding, str):
        if padding != "full":
            raise InputError(f"correlation: padding is a number, a pair or 'full', not {padding!r}")
        return (kh - 1, kw - 1)
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise InputError(f"correlation: padding is a number or a pair (p_h, p_w), not {padding!r}")
        return (_whole(padding[0], "the padding"), _whole(padding[1], "the padding"))
    p = _whole(padding, "the padding")
    along = _one_dimensional(image, kernel)
    return (p, 0) if along == "column" else (0, p) if along == "row" else (p, p)


def _one_dimensional(image, kernel):
    """'column' for a column signal with a column kernel (padded along its length), 'row' likewise."""
    (h, w), (kh, kw) = _sizes(image, "the image"), _sizes(kernel, "the kernel")
    if w == 1 and kw == 1 and h > 1:
        return "column"
    if h == 1 and kh == 1 and w > 1:
        return "row"
    return None


def written_padding(image, kernel, pair):
    """The padding as written after \\star_{p=...}: one number when `paddings` reads it back as ``pair``."""
    along = _one_dimensional(image, kernel)
    if along == "column" and pair[1] == 0:
        return pair[0]
    if along == "row" and pair[0] == 0:
        return pair[1]
    return pair[0] if along is None and pair[0] == pair[1] else tuple(pair)


def _need_matrices(image, kernel):
    if not isinstance(image, Expr) or not isinstance(kernel, Expr):
        raise InputError(f"correlate takes nnsym matrices X and K, not {type(image).__name__} and "
                         f"{type(kernel).__name__}")


def correlate(X: Expr, K: Expr, padding=0) -> Expr:
    """X \\star_p K, the 2-D cross-correlation of X with the kernel K, stride 1 (torch's F.conv2d of
    one channel). ``padding``: a number, a pair (p_h, p_w) or "full" (k - 1, the input gradient's)."""
    _need_matrices(X, K)
    pair = paddings(X, K, padding)
    if isinstance(X, Zero) or isinstance(K, Zero):
        probe = Correlate(X, K, pair)
        return Zero(*probe.shape)
    return Correlate(X, K, pair)


def rot180(K: Expr) -> Expr:
    """K rotated by 180 degrees (flipped upside down and left to right); rot180(rot180(K)) = K."""
    if not isinstance(K, Expr):
        raise InputError(f"rot180 takes an nnsym matrix, not {type(K).__name__}")
    if isinstance(K, Rot180):
        return K.args[0]
    if isinstance(K, Zero) or K.is_scalar:
        return K
    return Rot180(K)
