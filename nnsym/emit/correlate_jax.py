"""`nnsym.emit.correlate_numpy` for JAX (copied by source into generated JAX modules, which bind
``jax``): lax's convolution, which is a cross-correlation, at full precision."""

jax = None  # bound by the generated module's import


def correlate(x, k, pad_h, pad_w):
    x = jax.numpy.atleast_2d(x)  # a scalar is a 1 x 1 image or kernel
    k = jax.numpy.atleast_2d(k).astype(x.dtype)
    if pad_h < 0 or pad_w < 0:  # a negative padding crops
        x = x[max(-pad_h, 0):x.shape[0] - max(-pad_h, 0), max(-pad_w, 0):x.shape[1] - max(-pad_w, 0)]
    padding = ((max(pad_h, 0), max(pad_h, 0)), (max(pad_w, 0), max(pad_w, 0)))
    return jax.lax.conv_general_dilated(x[None, None], k[None, None], (1, 1), padding,
                                        precision=jax.lax.Precision.HIGHEST)[0, 0]
