"""Single-channel cross-correlation (`nnsym.declare.correlation`) for NumPy: the evaluator computes
``X \\star_p K`` with `correlate`, and generated NumPy modules copy its source (as they copy
`nnsym.emit.stable`), so it uses only ``np``."""

import numpy as np


def correlate(x, k, pad_h, pad_w):
    x, k = np.atleast_2d(x), np.atleast_2d(k)  # a scalar is a 1 x 1 image or kernel
    # Zero padding on every side; a negative padding crops (the input gradient of a correlation padded
    # by more than k - 1).
    if pad_h > 0 or pad_w > 0:
        x = np.pad(x, ((max(pad_h, 0), max(pad_h, 0)), (max(pad_w, 0), max(pad_w, 0))))
    if pad_h < 0 or pad_w < 0:
        x = x[max(-pad_h, 0):x.shape[0] - max(-pad_h, 0), max(-pad_w, 0):x.shape[1] - max(-pad_w, 0)]
    # (H_out, W_out, k_h, k_w) views of x, no copy; einsum sums each window times the kernel in C.
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape)
    return np.einsum("ijab,ab->ij", windows, k)
