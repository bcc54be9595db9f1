"""The functions of `nnsym.emit.spatial` for PyTorch (copied by source into generated PyTorch modules,
which bind ``torch``): im2col and col2im are torch's own unfold and fold; the correlations of issue 15h
(nnsym.emit.spatial_lowering) are torch's convolution kernels."""

torch = None  # bound by the generated module's import


def im2col(x, kh, kw, height, width, pad_h, pad_w):
    channels = x.shape[0]
    images = x.reshape(channels, -1, height, width).transpose(0, 1)
    patches = torch.nn.functional.unfold(images, (kh, kw), padding=(pad_h, pad_w))  # B x (C k_h k_w) x L
    return patches.transpose(0, 1).reshape(channels * kh * kw, -1)


def col2im(columns, kh, kw, height, width, pad_h, pad_w):
    out_h = height + 2 * pad_h - kh + 1
    out_w = width + 2 * pad_w - kw + 1
    patches = columns.reshape(columns.shape[0], -1, out_h * out_w).transpose(0, 1)
    images = torch.nn.functional.fold(patches, (height, width), (kh, kw), padding=(pad_h, pad_w))
    return images.transpose(0, 1).reshape(images.shape[1], -1)


def max_pool(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    return windows.amax(dim=(3, 5)).reshape(x.shape[0], -1)


def avg_pool(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw)
    return windows.mean(dim=(3, 5)).reshape(x.shape[0], -1)


def max_mask(x, kh, kw, height, width):
    windows = x.reshape(x.shape[0], -1, height // kh, kh, width // kw, kw).permute(0, 1, 2, 4, 3, 5)
    first = windows.reshape(windows.shape[:4] + (kh * kw,)).argmax(dim=-1)  # the first maximum on ties
    mask = (torch.arange(kh * kw) == first[..., None]).to(x.dtype)
    return mask.reshape(windows.shape).permute(0, 1, 2, 4, 3, 5).reshape(x.shape[0], -1)


def upsample(g, kh, kw, height, width):
    small = g.reshape(g.shape[0], -1, height // kh, 1, width // kw, 1)
    return small.expand(-1, -1, -1, kh, -1, kw).reshape(g.shape[0], -1)


def max_pool_adjoint(x, largest, g, kh, kw, height, width):
    return max_mask(x, kh, kw, height, width) * upsample(g, kh, kw, height, width)


def channel_correlate(x, k, kh, kw, height, width, pad_h, pad_w):
    # K im2col(X); C x (B H W) is viewed as the B x C x H x W images torch's kernels take
    images = x.reshape(x.shape[0], -1, height, width).transpose(0, 1)
    out = torch.nn.functional.conv2d(images, k.reshape(k.shape[0], -1, kh, kw), padding=(pad_h, pad_w))
    return out.transpose(0, 1).reshape(k.shape[0], -1)


def channel_correlate_kernel_adjoint(x, g, kh, kw, height, width, pad_h, pad_w):
    # G im2col(X)^T
    out_h, out_w = height + 2 * pad_h - kh + 1, width + 2 * pad_w - kw + 1
    images = x.reshape(x.shape[0], -1, height, width).transpose(0, 1)
    upstream = g.reshape(g.shape[0], -1, out_h, out_w).transpose(0, 1)
    kernels = torch.nn.grad.conv2d_weight(images, (g.shape[0], x.shape[0], kh, kw), upstream, padding=(pad_h, pad_w))
    return kernels.reshape(g.shape[0], -1)


def channel_correlate_input_adjoint(k, g, kh, kw, height, width, pad_h, pad_w):
    # col2im(K^T G)
    out_h, out_w = height + 2 * pad_h - kh + 1, width + 2 * pad_w - kw + 1
    upstream = g.reshape(g.shape[0], -1, out_h, out_w).transpose(0, 1)
    kernels = k.reshape(k.shape[0], -1, kh, kw)
    shape = (upstream.shape[0], kernels.shape[1], height, width)
    images = torch.nn.grad.conv2d_input(shape, kernels, upstream, padding=(pad_h, pad_w))
    return images.transpose(0, 1).reshape(images.shape[1], -1)
