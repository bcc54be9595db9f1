"""The stable primitives of `nnsym.emit.stable`, written for PyTorch tensors.

Generated PyTorch modules copy these functions' source, as NumPy modules copy `stable`'s; each uses
only the name ``torch``, which the generated module imports. PyTorch is an optional extra, so this
module does not import it: reading the source must work without it. Where NumPy takes a Python float
(``np.maximum(z, 0.0)``) PyTorch wants a tensor, hence the ``clamp`` and ``where`` forms.
"""

import math

torch = None  # bound by the generated module's import
np = None  # likewise (float_array converts NumPy arrays)


def sigmoid(z):
    # torch.sigmoid is stable (it never forms exp of a large positive number).
    return torch.sigmoid(z)


def sigmoid_prime(z):
    e = torch.exp(-torch.abs(z))
    return e / (1.0 + e) ** 2


def log_sigmoid(z):
    return torch.nn.functional.logsigmoid(z)


def softplus(z):
    return torch.logaddexp(torch.zeros_like(z), z)


def tanh_prime(z):
    # 1 / cosh(z)^2: relative accuracy of a few ulps everywhere (1 - tanh^2 loses it past |z| ~ 19), two
    # kernels instead of five; cosh overflows to inf past |z| ~ 710 (0 out, as 4 e^{-2|z|} underflows
    # long before), so only results below 1e-308 (subnormal) are flushed to 0.
    return torch.cosh(z) ** -2.0


def relu(z):
    return torch.clamp(z, min=0.0)


def heaviside(z):
    return (z > 0).to(z.dtype)


def step_nonpositive(z):
    return (z <= 0).to(z.dtype)


def leaky_relu(z, alpha):
    return torch.where(z > 0, z, alpha * z)


def leaky_relu_prime(z, alpha):
    return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, alpha))


def elu(z, alpha):
    return torch.where(z > 0, z, alpha * torch.expm1(torch.clamp(z, max=0.0)))


def elu_prime(z, alpha):
    return torch.where(z > 0, torch.ones_like(z), alpha * torch.exp(torch.clamp(z, max=0.0)))


def erf(z):
    return torch.special.erf(z)


def erfc(z):
    return torch.special.erfc(z)


def normal_cdf(z):
    # erfc(-z / sqrt 2) / 2 keeps Phi's digits for z < -8.3, where (1 + erf(z / sqrt 2)) / 2 is 0
    # (torch.special.ndtr is 0 there too)
    return 0.5 * erfc(-z / math.sqrt(2.0))


def normal_pdf(z):
    return torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def gelu(z):
    return z * normal_cdf(z)


def gelu_prime(z):
    return normal_cdf(z) + z * normal_pdf(z)


def logsumexp(z):
    # As `stable.logsumexp`: each column maximum contributes exactly 1, so log1p of the rest keeps
    # logsumexp([0, -40]) = 4.2e-18 (torch.logsumexp returns the log of the rounded sum: 0). amax
    # shares the gradient among tied maxima, which keeps autograd through this form right.
    m = torch.amax(z, dim=0, keepdim=True)
    top = z == m
    ties = torch.sum(top, dim=0, keepdim=True).to(z.dtype)
    rest = torch.sum(torch.where(top, torch.zeros_like(z), torch.exp(z - m)), dim=0, keepdim=True) + (ties - 1.0)
    return m + torch.log1p(rest)


def softmax(z):
    return torch.softmax(z, dim=0)


def log_softmax(z):
    # (z - m) - log1p(rest): torch.log_softmax([40, 0])[0] is 0, not -4.2e-18.
    m = torch.amax(z, dim=0, keepdim=True)
    top = z == m
    ties = torch.sum(top, dim=0, keepdim=True).to(z.dtype)
    rest = torch.sum(torch.where(top, torch.zeros_like(z), torch.exp(z - m)), dim=0, keepdim=True) + (ties - 1.0)
    return (z - m) - torch.log1p(rest)


def softmax_cross_entropy(z, y):
    return -torch.sum(y * log_softmax(z))


def binary_cross_entropy(z, y):
    # Two non-negative terms: softplus(z) - y z would cancel to 0 at y = 1, z = 40.
    return torch.sum(y * softplus(-z) + (1.0 - y) * softplus(z))


def logdet(a):
    sign, value = torch.linalg.slogdet(a)
    return value


# ----- issue 10 -----

def softmax_minus(z, y):
    # As `stable.softmax_minus`: at a column's maximum s - y = (1 - y) - r / (1 + r), no s - 1 cancelling.
    m = torch.amax(z, dim=0, keepdim=True)
    top = z == m
    e = torch.exp(z - m)
    rest = torch.sum(torch.where(top, torch.zeros_like(e), e), dim=0, keepdim=True) + (torch.sum(top, dim=0, keepdim=True).to(e.dtype) - 1.0)
    return torch.where(top, (1.0 - y) - rest / (1.0 + rest), e / (1.0 + rest) - y)


def softmax_vjp(s, g):
    # As `stable.softmax_vjp`: g centred on its value at each column's largest s (the product does not
    # change under a shift of g), so that g_i - s^T g does not cancel at the largest s_i or at ties with it.
    d = g - torch.gather(g, 0, torch.argmax(s, dim=0, keepdim=True))
    q = s * d
    return q - s * torch.sum(q, dim=0, keepdim=True)


def float_array(x):
    # A float32 or float64 tensor or NumPy array keeps its type; anything else (lists, ints) is float64
    # (torch.as_tensor would make a list of floats float32).
    if isinstance(x, torch.Tensor) and x.dtype in (torch.float32, torch.float64):
        return x
    if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64):
        return torch.as_tensor(x)
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def float_dtype(*tensors):
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


# ----- normalization and attention (issue 14) -----


def row_softmax(s):
    return torch.softmax(s, dim=1)


def causal_row_softmax(s):
    # Right of the diagonal: -inf, so the softmax gives exactly 0 there; the diagonal is never masked.
    mask = torch.ones(s.shape, dtype=torch.bool).tril()
    return torch.softmax(torch.where(mask, s, torch.full_like(s, -math.inf)), dim=1)


def std_dev(z, axis, eps):
    c = z - torch.mean(z, dim=axis, keepdim=True)
    return torch.sqrt(torch.mean(c * c, dim=axis, keepdim=True) + eps)


def standardize(z, axis, eps):
    c = z - torch.mean(z, dim=axis, keepdim=True)
    return c / torch.sqrt(torch.mean(c * c, dim=axis, keepdim=True) + eps)


# ----- convolution and pooling (issue 15): defined in nnsym.emit.spatial_torch, copied in by source like the above -----
from nnsym.emit.spatial_torch import (  # noqa: E402,F401
    avg_pool, channel_correlate, channel_correlate_input_adjoint, channel_correlate_kernel_adjoint, col2im, im2col,
    max_mask, max_pool, max_pool_adjoint, upsample,
)

# ----- single-channel correlation as typed (issue 15e): defined in nnsym.emit.correlate_torch, copied in by source -----
from nnsym.emit.correlate_torch import correlate  # noqa: E402,F401


# ----- issue 15h: one kernel for the adjoint of an elementwise activation -----


def sigmoid_vjp(g, s):
    # g * s * (1 - s), s = sigmoid(z) already computed: one kernel instead of three (torch's own
    # backward of sigmoid, the same formula).
    return torch.ops.aten.sigmoid_backward(g, s)


def tanh_vjp(g, t):
    # g * (1 - t * t), t = tanh(z) already computed: one kernel instead of three (torch's own backward of tanh).
    return torch.ops.aten.tanh_backward(g, t)
