"""Convolution and pooling on image matrices (channels x batch*height*width), for NumPy.

The evaluator computes the nodes of `nnsym.declare.convolution` with these functions, and generated
NumPy modules copy their source (as they copy `nnsym.emit.stable`), so each uses only ``np``. The
layout and the meaning of each function are those of the nodes: im2col is the patch matrix of a
stride-1 cross-correlation, col2im its adjoint (overlaps added, padding cropped), pooling uses
non-overlapping windows and the max-pooling mask marks the first maximum of each window.
"""

import numpy as np


def im2col(x, kh, kw, height, width, pad_h, pad_w):
    channels = x.shape[0]
    images = x.reshape(channels, -1, height, width)
    if pad_h or pad_w:  # zeros and one slice assignment: np.pad's own bookkeeping costs more (issue 15h)
        padded = np.zeros(images.shape[:2] + (height + 2 * pad_h, width + 2 * pad_w), dtype=x.dtype)
        padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width] = images
        images = padded
    # (C, B, H_out, W_out, k_h, k_w) views, copied once into (C k_h k_w) x (B H_out W_out).
    patches = np.lib.stride_tricks.sliding_window_view(images, (kh, kw), axis=(2, 3))
    return patches.transpose(0, 4, 5, 1, 2, 3).reshape(channels * kh * kw, -1)


def col2im(columns, kh, kw, height, width, pad_h, pad_w):
    out_h = height + 2 * pad_h - kh + 1
    out_w = width + 2 * pad_w - kw + 1
    channels = columns.shape[0] // (kh * kw)
    patches = columns.reshape(channels, kh, kw, -1, out_h, out_w)
    images = np.zeros((channels, patches.shape[3], height + 2 * pad_h, width + 2 * pad_w))
    for i in range(kh):
        for j in range(kw):
            images[:, :, i:i + out_h, j:j + out_w] += patches[:, i, j]
    return images[:, :, pad_h:pad_h + height, pad_w:pad_w + width].reshape(channels, -1)


def max_pool(x, kh, kw, height, width):
    # kh kw elementwise maxima of strided slices: NumPy reduces over two strided axes far slower
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    largest = windows[:, :, :, 0, :, 0]
    for i in range(kh):
        for j in range(kw):
            if i or j:
                largest = np.maximum(largest, windows[:, :, :, i, :, j])
    return largest.reshape(x.shape[0], -1)


def avg_pool(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    total = windows[:, :, :, 0, :, 0].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                total += windows[:, :, :, i, :, j]
    return total.reshape(x.shape[0], -1) / (kh * kw)


def max_mask(x, kh, kw, height, width):
    largest = max_pool(x, kh, kw, height, width)
    mask = (x == upsample(largest, kh, kw, height, width)).astype(x.dtype)
    if avg_pool(mask, kh, kw, height, width).max(initial=0.0) * (kh * kw) <= 1.0:
        return mask  # no ties (the usual case)
    windows = mask.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    taken = np.zeros(windows[:, :, :, 0, :, 0].shape, dtype=bool)
    for i in range(kh):  # row-major through each window: the first maximum on ties, as PyTorch
        for j in range(kw):
            hit = (windows[:, :, :, i, :, j] > 0) & ~taken
            windows[:, :, :, i, :, j] = hit
            taken |= hit
    return mask


def upsample(g, kh, kw, height, width):
    small = g.reshape(g.shape[0], -1, height // kh, 1, width // kw, 1)
    shape = (small.shape[0], small.shape[1], height // kh, kh, width // kw, kw)
    return np.broadcast_to(small, shape).reshape(g.shape[0], -1)


def max_pool_adjoint(x, largest, g, kh, kw, height, width):
    # maxmask(x) * upsample(g) in one pass over windows compared with their maxima (broadcast, no copies)
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    hit = windows == largest.reshape(x.shape[0], -1, height // kh, 1, width // kw, 1)
    if np.count_nonzero(hit) > largest.size:  # a tie: the first maximum only, as max_mask picks it
        return max_mask(x, kh, kw, height, width) * upsample(g, kh, kw, height, width)
    return (hit * g.reshape(x.shape[0], -1, height // kh, 1, width // kw, 1)).reshape(x.shape[0], -1)
