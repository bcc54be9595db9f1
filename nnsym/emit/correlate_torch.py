"""`nnsym.emit.correlate_numpy` for PyTorch (copied by source into generated PyTorch modules, which
bind ``torch``): torch's own conv2d, which is a cross-correlation."""

torch = None  # bound by the generated module's import


def correlate(x, k, pad_h, pad_w):
    x = torch.atleast_2d(torch.as_tensor(x))  # a scalar is a 1 x 1 image or kernel
    k = torch.atleast_2d(torch.as_tensor(k, dtype=x.dtype))
    if pad_h < 0 or pad_w < 0:  # a negative padding crops; conv2d pads only
        x = x[max(-pad_h, 0):x.shape[0] - max(-pad_h, 0), max(-pad_w, 0):x.shape[1] - max(-pad_w, 0)]
    return torch.nn.functional.conv2d(x[None, None], k[None, None],
                                      padding=(max(pad_h, 0), max(pad_w, 0)))[0, 0]
