"""`nnsym.emit.correlate_numpy` for JAX (copied by source into generated JAX modules, which bind
``jax``): lax's convolution, which is a cross-correlation, at full precision."""

jax = None  # bound by the generated module's import


def correlate(x, k, pad_h, pad_w):
    if pad_h < 0 or pad_w < 0:  # a negative padding crops
        x = x[max(-pad_h, 0):x.shape[0] - max(-pad_h, 0), max(-pad_w, 0):x.shape[1] - max(-pad_w, 0)]
    padding = ((max(pad_h, 0), max(pad_h, 0)), (max(pad_w, 0), max(pad_w, 0)))
    return jax.lax.conv_general_dilated(x[None, None], k[None, None].astype(x.dtype), (1, 1), padding,
                                        precision=jax.lax.Precision.HIGHEST)[0, 0]
