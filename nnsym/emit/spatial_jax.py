"""The functions of `nnsym.emit.spatial` for JAX (copied by source into generated JAX modules, which
bind ``jnp``): slices and ``.at[].add`` instead of NumPy's strided views and in-place adds."""

jnp = None  # bound by the generated module's import


def im2col(x, kh, kw, height, width, pad_h, pad_w):
    channels = x.shape[0]
    images = x.reshape(channels, -1, height, width)
    if pad_h or pad_w:
        images = jnp.pad(images, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    out_h = height + 2 * pad_h - kh + 1
    out_w = width + 2 * pad_w - kw + 1
    patches = jnp.stack([images[:, :, i:i + out_h, j:j + out_w] for i in range(kh) for j in range(kw)], axis=1)
    return patches.reshape(channels * kh * kw, -1)


def col2im(columns, kh, kw, height, width, pad_h, pad_w):
    out_h = height + 2 * pad_h - kh + 1
    out_w = width + 2 * pad_w - kw + 1
    channels = columns.shape[0] // (kh * kw)
    patches = columns.reshape(channels, kh, kw, -1, out_h, out_w)
    images = jnp.zeros((channels, patches.shape[3], height + 2 * pad_h, width + 2 * pad_w), dtype=columns.dtype)
    for i in range(kh):
        for j in range(kw):
            images = images.at[:, :, i:i + out_h, j:j + out_w].add(patches[:, i, j])
    return images[:, :, pad_h:pad_h + height, pad_w:pad_w + width].reshape(channels, -1)


def max_pool(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    return windows.max(axis=(3, 5)).reshape(x.shape[0], -1)


def avg_pool(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    return windows.mean(axis=(3, 5)).reshape(x.shape[0], -1)


def max_mask(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw).transpose(0, 1, 2, 4, 3, 5)
    first = windows.reshape(windows.shape[:4] + (kh * kw,)).argmax(axis=-1)  # the first maximum on ties
    mask = (jnp.arange(kh * kw) == first[..., None]).astype(x.dtype)
    return mask.reshape(windows.shape).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape[0], -1)


def upsample(g, kh, kw, height, width):
    small = g.reshape(g.shape[0], -1, height // kh, 1, width // kw, 1)
    shape = (small.shape[0], small.shape[1], height // kh, kh, width // kw, kw)
    return jnp.broadcast_to(small, shape).reshape(g.shape[0], -1)


def max_pool_adjoint(x, largest, g, kh, kw, height, width):
    # traced values cannot be tested for ties under jit: the mask's own (argmax) form
    return max_mask(x, kh, kw, height, width) * upsample(g, kh, kw, height, width)
