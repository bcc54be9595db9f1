"""The stable primitives of `nnsym.emit.stable`, written for JAX (``jnp`` is ``jax.numpy``).

Generated JAX modules copy these functions' source, as NumPy modules copy `stable`'s; each uses only
the names ``jnp`` and ``jax``, which the generated module imports. JAX is an optional extra, so this
module does not import it: reading the source must work without it. Every function is jit-friendly:
no Python branching on values, no conversion of traced arrays to Python numbers.
"""

jax = jnp = None  # bound by the generated module's imports


def sigmoid(z):
    # exp of a non-positive number never overflows; both branches are the same function.
    e = jnp.exp(-jnp.abs(z))
    r = 1.0 / (1.0 + e)
    return jnp.where(z >= 0, r, e * r)


def sigmoid_prime(z):
    e = jnp.exp(-jnp.abs(z))
    return e / (1.0 + e) ** 2


def log_sigmoid(z):
    return -jnp.logaddexp(0.0, -z)


def softplus(z):
    return jnp.logaddexp(0.0, z)


def tanh_prime(z):
    e = jnp.exp(-2.0 * jnp.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def relu(z):
    return jnp.maximum(z, 0.0)


def heaviside(z):
    return (z > 0).astype(z.dtype)


def step_nonpositive(z):
    return (z <= 0).astype(z.dtype)


def leaky_relu(z, alpha):
    return jnp.where(z > 0, z, alpha * z)


def leaky_relu_prime(z, alpha):
    return jnp.where(z > 0, 1.0, alpha)


def elu(z, alpha):
    return jnp.where(z > 0, z, alpha * jnp.expm1(jnp.minimum(z, 0.0)))


def elu_prime(z, alpha):
    return jnp.where(z > 0, 1.0, alpha * jnp.exp(jnp.minimum(z, 0.0)))


def erf(z):
    return jax.scipy.special.erf(z)


def erfc(z):
    return jax.scipy.special.erfc(z)


def normal_cdf(z):
    # erfc(-z / sqrt 2) / 2 keeps Phi's digits for z < -8.3, where (1 + erf(z / sqrt 2)) / 2 is 0
    # (as jax.scipy.special.ndtr does)
    return 0.5 * erfc(-z / jnp.sqrt(2.0))


def normal_pdf(z):
    return jnp.exp(-0.5 * jnp.square(z)) / jnp.sqrt(2.0 * jnp.pi)


def gelu(z):
    return z * normal_cdf(z)


def gelu_prime(z):
    return normal_cdf(z) + z * normal_pdf(z)


def logsumexp(z):
    # As `stable.logsumexp`: each column maximum contributes exactly 1, so log1p of the rest keeps
    # logsumexp([0, -40]) = 4.2e-18 (the log of the rounded sum is 0). No stop_gradient on m: through
    # the mask, jax.grad of this form is softmax only if m's own derivative is kept.
    m = jnp.max(z, axis=0, keepdims=True)
    top = z == m
    rest = jnp.sum(jnp.where(top, 0.0, jnp.exp(z - m)), axis=0, keepdims=True) + (jnp.sum(top, axis=0, keepdims=True) - 1.0)
    return m + jnp.log1p(rest)


def softmax(z):
    e = jnp.exp(z - jnp.max(z, axis=0, keepdims=True))
    return e / jnp.sum(e, axis=0, keepdims=True)


def log_softmax(z):
    # (z - m) - log1p(rest), not z - logsumexp(z), which cancels for the largest entry.
    m = jnp.max(z, axis=0, keepdims=True)
    top = z == m
    rest = jnp.sum(jnp.where(top, 0.0, jnp.exp(z - m)), axis=0, keepdims=True) + (jnp.sum(top, axis=0, keepdims=True) - 1.0)
    return (z - m) - jnp.log1p(rest)


def softmax_cross_entropy(z, y):
    return -jnp.sum(y * log_softmax(z))


def binary_cross_entropy(z, y):
    # Two non-negative terms: softplus(z) - y z would cancel to 0 at y = 1, z = 40.
    return jnp.sum(y * softplus(-z) + (1.0 - y) * softplus(z))


def logdet(a):
    sign, value = jnp.linalg.slogdet(a)
    return value


# ----- issue 10 -----

def softmax_minus(z, y):
    # As `stable.softmax_minus`: at a column's maximum s - y = (1 - y) - r / (1 + r), no s - 1 cancelling.
    m = jnp.max(z, axis=0, keepdims=True)
    top = z == m
    e = jnp.exp(z - m)
    rest = jnp.sum(jnp.where(top, 0.0, e), axis=0, keepdims=True) + (jnp.sum(top, axis=0, keepdims=True).astype(e.dtype) - 1.0)
    return jnp.where(top, (1.0 - y) - rest / (1.0 + rest), e / (1.0 + rest) - y)


def softmax_vjp(s, g):
    # As `stable.softmax_vjp`: g centred on its value at each column's largest s (the product does not
    # change under a shift of g), so that g_i - s^T g does not cancel at the largest s_i or at ties with it.
    d = g - jnp.take_along_axis(g, jnp.argmax(s, axis=0)[None, :], axis=0)
    q = s * d
    return q - s * jnp.sum(q, axis=0, keepdims=True)


# ----- normalization and attention (issue 14) -----


def row_softmax(s):
    e = jnp.exp(s - jnp.max(s, axis=1, keepdims=True))
    return e / jnp.sum(e, axis=1, keepdims=True)


def causal_row_softmax(s):
    # Right of the diagonal: -inf, so exp gives exactly 0; the diagonal keeps each row's maximum finite.
    masked = jnp.where(jnp.tri(s.shape[0], s.shape[1], dtype=bool), s, -jnp.inf)
    e = jnp.exp(masked - jnp.max(masked, axis=1, keepdims=True))
    return e / jnp.sum(e, axis=1, keepdims=True)


def std_dev(z, axis, eps):
    c = z - jnp.mean(z, axis=axis, keepdims=True)
    return jnp.sqrt(jnp.mean(c * c, axis=axis, keepdims=True) + eps)


def standardize(z, axis, eps):
    c = z - jnp.mean(z, axis=axis, keepdims=True)
    return c / jnp.sqrt(jnp.mean(c * c, axis=axis, keepdims=True) + eps)


# ----- convolution and pooling (issue 15): defined in nnsym.emit.spatial_jax, copied in by source like the above -----
from nnsym.emit.spatial_jax import avg_pool, col2im, im2col, max_mask, max_pool, max_pool_adjoint, upsample  # noqa: E402,F401

# ----- single-channel correlation as typed (issue 15e): defined in nnsym.emit.correlate_jax, copied in by source -----
from nnsym.emit.correlate_jax import correlate  # noqa: E402,F401
