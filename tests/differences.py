"""Central finite differences written apart from nnsym, for tests that check its gradients against them."""

import numpy as np


def central_differences(forward, value, eps=1e-6):
    """d forward / d value entry by entry: (f(v + eps e_i) - f(v - eps e_i)) / (2 eps)."""
    value = np.array(value, dtype=float)
    out = np.zeros_like(value)
    for index in np.ndindex(*value.shape):
        up, down = value.copy(), value.copy()
        up[index] += eps
        down[index] -= eps
        out[index] = (forward(up) - forward(down)) / (2 * eps)
    return out
