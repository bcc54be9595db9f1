"""Convolution, pooling and correlation entry by entry, as SymPy matrices (issue 15).

Their geometry is concrete (node data), so each is written out over its image positions: the
elementwise oracle (nnsym.verify.elementwise) differentiates these entries, and ``to_sympy`` hands them
to a SymPy user. The operands are anything indexable as ``a[i, j]`` with ``rows`` and ``cols``: an explicit
SymPy matrix, or a matrix expression (a MatrixSymbol gives its elements X[i, j]).
"""

from __future__ import annotations

import sympy

from nnsym.declare.convolution import Upsample


def _patches(geometry, channels: int, batch: int):
    """(row, column) of each entry of im2col's matrix with the image column (b H + y) W + x of the pixel
    of channel c it copies; padding copies none. im2col reads these pairs and col2im, its transpose, adds
    along them."""
    (kh, kw), (h, w), (ph, pw) = geometry.kernel, geometry.image, geometry.padding
    ho, wo = geometry.output
    for c in range(channels):
        for b in range(batch):
            for oy in range(ho):
                for ox in range(wo):
                    for i in range(kh):
                        for j in range(kw):
                            y, x = oy + i - ph, ox + j - pw
                            if 0 <= y < h and 0 <= x < w:
                                yield (c * kh + i) * kw + j, (b * ho + oy) * wo + ox, c, (b * h + y) * w + x


def im2col(node, a, shape):
    h, w = node.geometry.image
    out = sympy.zeros(*shape)
    for row, column, c, pixel in _patches(node.geometry, a.rows, a.cols // (h * w)):
        out[row, column] = a[c, pixel]
    return out


def col2im(node, a, shape):
    h, w = node.geometry.image
    out = sympy.zeros(*shape)
    for row, column, c, pixel in _patches(node.geometry, shape[0], shape[1] // (h * w)):
        out[c, pixel] += a[row, column]
    return out


def _windows(node, a):
    """(row, column) of each pooled entry, and the list of its window's entries in row-major order"""
    (kh, kw), (h, w) = node.geometry.kernel, node.geometry.image
    hp, wp = h // kh, w // kw
    for c in range(a.rows):
        for b in range(a.cols // (h * w) if not isinstance(node, Upsample) else a.cols // (hp * wp)):
            for py in range(hp):
                for px in range(wp):
                    window = [(c, (b * h + py * kh + i) * w + px * kw + j) for i in range(kh) for j in range(kw)]
                    yield (c, (b * hp + py) * wp + px), window


def _first_maximum(values, n):
    """values[n] is the window's first maximum: above every earlier entry, not below any later one"""
    return sympy.And(*[values[n] > v for v in values[:n]], *[values[n] >= v for v in values[n + 1:]])


def max_pool(node, a, shape):
    # A Piecewise, not sympy.Max: SymPy differentiates Max of Max-free but long entries very slowly.
    out = sympy.zeros(*shape)
    for target, window in _windows(node, a):
        values = [a[k] for k in window]
        out[target] = sympy.Piecewise(*[(values[n], _first_maximum(values, n)) for n in range(len(values) - 1)],
                                      (values[-1], True))
    return out


def avg_pool(node, a, shape):
    out = sympy.zeros(*shape)
    for target, window in _windows(node, a):
        out[target] = sympy.Add(*[a[k] for k in window]) / len(window)
    return out


def max_mask(node, a, shape):
    out = sympy.zeros(*shape)
    for _, window in _windows(node, a):
        values = [a[k] for k in window]
        for n, k in enumerate(window):
            out[k] = sympy.Piecewise((1, _first_maximum(values, n)), (0, True))
    return out


def upsample(node, a, shape):
    out = sympy.zeros(*shape)
    for target, window in _windows(node, a):
        for k in window:
            out[k] = a[target]
    return out


def correlate(node, x, k, shape):
    """X star_p K by its definition: the padded (or cropped) input's window times the kernel, summed."""
    (ph, pw), (kh, kw) = node.padding, (k.rows, k.cols)

    def pixel(u, v):  # zero outside X
        u, v = u - ph, v - pw
        return x[u, v] if 0 <= u < x.rows and 0 <= v < x.cols else 0

    # one Add of all the window's terms (Python's sum nests k_h k_w Adds, each rebuilt)
    return sympy.Matrix(*shape, lambda i, j: sympy.Add(*[pixel(i + a, j + b) * k[a, b]
                                                         for a in range(kh) for b in range(kw)]))


def rot180(node, k, shape):
    return sympy.Matrix(*shape, lambda a, b: k[k.rows - 1 - a, k.cols - 1 - b])
