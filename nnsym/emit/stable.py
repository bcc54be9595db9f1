"""Numerically stable NumPy primitives, shared by the evaluator and by generated code.

Generated modules copy these functions' source (`inspect.getsource`), so each must be self-contained:
NumPy only, no globals but ``np``. The naive forms overflow: log sigma(-1000) = -inf, softmax of
[1000, 1000, 0] = nan, sigma'(-800) via e^{-z}/(1+e^{-z})^2 = nan. Each form here stays finite and
accurate for |z| <= 1000 (tests compare them with mpmath).
"""

import math

import numpy as np


def sigmoid(z):
    # 1 / (1 + e^{-z}) is accurate to a few ulps wherever e^{-z} is finite; clipping z at -708 keeps it
    # finite, and below that sigma(z) < 3.3e-308 is returned as 3.3e-308. Four array passes, against
    # eight for the where() of two branches (five times slower at 256 x 64).
    # (float32: clipped at -87, where e^{-z} is still finite in float32.)
    return 1.0 / (1.0 + np.exp(-np.maximum(z, -87.0 if np.asarray(z).dtype == np.float32 else -708.0)))


def sigmoid_prime(z):
    # sigma(z) sigma(-z) is symmetric and avoids 1 - sigma(z) cancelling to 0 for large z.
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


def log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def softplus(z):
    return np.logaddexp(0.0, z)


def tanh_prime(z):
    # 1 - tanh^2 loses everything past |z| ~ 19; 4 e^{-2|z|}/(1 + e^{-2|z|})^2 does not.
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def relu(z):
    return np.maximum(z, 0.0)


def heaviside(z):
    z = np.asarray(z)
    return (z > 0).astype(z.dtype if z.dtype == np.float32 else np.float64)


def step_nonpositive(z):
    z = np.asarray(z)
    return (z <= 0).astype(z.dtype if z.dtype == np.float32 else np.float64)


def leaky_relu(z, alpha):
    return np.where(z > 0, z, alpha * z)


def leaky_relu_prime(z, alpha):
    return np.where(z > 0, 1.0, alpha)


def elu(z, alpha):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_prime(z, alpha):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


def erf_magnitude(a, complement=False):
    # fdlibm's erf and erfc (s_erf.c, Sun Microsystems 1993, freely distributable; also FreeBSD's msun),
    # vectorised, for a flat float64 array a >= 0: erf(a), or erfc(a) when ``complement``.
    # Rational approximations, each within 1 ulp, on a in [0, 0.84375): a + a P(a^2) / Q(a^2);
    # [0.84375, 1.25): c + P(s) / Q(s), s = a - 1; [1.25, 28): erfc(a) = exp(-a^2 - 0.5625 + R(1/a^2) / S(1/a^2)) / a,
    # one R / S below 1/0.35 and another above; erf is 1 from 6 on (erf(6) = 1 - 2e-17 rounds to 1), erfc 0
    # from 28 on. erfc is computed as that tail, never as 1 - erf, so it keeps its digits far out
    # (erfc(6.4) = 1.1e-19, where 1 - erf(6.4) is 0). Each entry is evaluated once, by its own interval: the
    # entries are sorted by interval (a stable argsort of a small code), each interval is then a contiguous
    # slice, and one scatter puts the results back. nan falls in the first interval and stays nan, inf in
    # the last. Against math.erf / math.erfc entry by entry: the same to 1 ulp, and 3-4 times faster at 256 x 64.
    # erfc's last interval runs on to 28, where erfc underflows to 0; erf's to 6, where erf rounds to 1
    edges = (0.84375, 1.25, 2.857142857142857, 28.0 if complement else 6.0)
    above = [a >= e for e in edges]
    order = np.argsort(np.add(np.add(above[0], above[1], dtype=np.int8), np.add(above[2], above[3], dtype=np.int8)),
                       kind="stable")
    ends = [a.size - np.count_nonzero(m) for m in above]  # where each interval's slice ends
    b = a.take(order)
    y = np.empty_like(b)

    def rational(t, p, q):
        n = t * p[-1]
        n += p[-2]
        for c in p[-3::-1]:
            n *= t
            n += c
        d = t * q[-1]
        d += q[-2]
        for c in q[-3::-1]:
            d *= t
            d += c
        n /= d
        return n

    with np.errstate(under="ignore"):  # x^2 of a tiny x
        t = b[:ends[0]]
        y[:ends[0]] = t + t * rational(t * t, (
            1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
            -5.77027029648944159157e-03, -2.37630166566501626084e-05), (
            1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
            1.32494738004321644526e-04, -3.96022827877536812320e-06))
        y[ends[0]:ends[1]] = 8.45062911510467529297e-01 + rational(b[ends[0]:ends[1]] - 1.0, (
            -2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
            3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
            -2.16637559486879084300e-03), (
            1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
            1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02))
        if complement:  # erf < 0.85 here: 1 - erf loses nothing
            y[:ends[1]] = 1.0 - y[:ends[1]]
        y[ends[1]:ends[2]] = rational(1.0 / np.square(b[ends[1]:ends[2]]), (
            -9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
            -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
            -8.12874355063065934246e+01, -9.81432934416914548592e+00), (
            1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
            6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
            6.57024977031928170135e+00, -6.04244152148580987438e-02))
        y[ends[2]:ends[3]] = rational(1.0 / np.square(b[ends[2]:ends[3]]), (
            -9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
            -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
            -4.83519191608651397019e+02), (
            1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
            3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
            -2.24409524465858183362e+01))
        # x^2 = h^2 - (h - x)(h + x) with h = x cut to 21 mantissa bits, so that h^2 is exact.
        t = b[ends[1]:ends[3]]
        h = (t.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
        tail = np.exp(-h * h - 0.5625) * np.exp((h - t) * (h + t) + y[ends[1]:ends[3]]) / t  # erfc(t)
        y[ends[1]:ends[3]] = tail if complement else 1.0 - tail
    y[ends[3]:] = 0.0 if complement else 1.0
    a = a.copy()
    a[order] = y
    return a


def erf(z):
    # Computed on |x| and given x's sign at the end, so erf is exactly odd (erf(-0) = -0).
    x = np.asarray(z, dtype=float)
    dtype = np.float32 if np.asarray(z).dtype == np.float32 else np.float64  # float32 in, float32 out
    if x.size <= 64:
        # A few entries (the verification checks' small sizes): the forty array operations of
        # erf_magnitude cost NumPy's call overhead each, 235 us for 12 entries against 5 us for C's erf
        # entry by entry (within 1 ulp of it; exactly odd; nan stays nan, +-inf gives +-1).
        return np.array([math.erf(v) for v in x.ravel().tolist()], dtype=dtype).reshape(x.shape)
    return np.copysign(erf_magnitude(np.abs(x).ravel()).reshape(x.shape), x).astype(dtype)


def erfc(z):
    # 1 - erf(z) without the cancellation: for z > 0 the tail itself, for z < 0 2 - erfc(|z|) (no loss there).
    x = np.asarray(z, dtype=float)
    dtype = np.float32 if np.asarray(z).dtype == np.float32 else np.float64
    if x.size <= 64:  # as in erf: C's erfc entry by entry beats forty array operations
        return np.array([math.erfc(v) for v in x.ravel().tolist()], dtype=dtype).reshape(x.shape)
    tail = erf_magnitude(np.abs(x).ravel(), complement=True).reshape(x.shape)
    return np.where(x < 0, 2.0 - tail, tail).astype(dtype)


def normal_cdf(z):
    # Phi(z) = erfc(-z / sqrt 2) / 2. The textbook (1 + erf(z / sqrt 2)) / 2 cancels to 0 for z < -8.3
    # (Phi(-9) = 1.1e-19): GELU(-9) came out 0 and GELU'(-9) 1 % off.
    return 0.5 * erfc(-np.asarray(z) / math.sqrt(2.0))


def normal_pdf(z):
    return np.exp(-0.5 * np.square(z)) / math.sqrt(2.0 * math.pi)


def gelu(z):
    return z * normal_cdf(z)


def gelu_prime(z):
    return normal_cdf(z) + z * normal_pdf(z)


def logsumexp(z):
    # Column-wise, shifted by the column maximum m. Each maximum contributes exactly e^0 = 1, so the
    # sum is 1 + rest and log1p(rest) keeps logsumexp([0, -40]) = 4.2e-18 (log of the rounded sum: 0).
    m = np.max(z, axis=0, keepdims=True)
    top = z == m
    rest = np.sum(np.where(top, 0.0, np.exp(z - m)), axis=0, keepdims=True) + (np.sum(top, axis=0, keepdims=True, dtype=z.dtype) - 1.0)
    return m + np.log1p(rest)


def softmax(z):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def log_softmax(z):
    # (z - m) - log1p(rest), not z - logsumexp(z): for the largest entry the two terms would cancel
    # (log_softmax([40, 0])[0] = -4.2e-18 would come out 0).
    m = np.max(z, axis=0, keepdims=True)
    top = z == m
    rest = np.sum(np.where(top, 0.0, np.exp(z - m)), axis=0, keepdims=True) + (np.sum(top, axis=0, keepdims=True, dtype=z.dtype) - 1.0)
    return (z - m) - np.log1p(rest)


def softmax_cross_entropy(z, y):
    # -sum y log softmax(z), through log-softmax: finite when a probability underflows to 0.
    return -np.sum(y * log_softmax(z))


def binary_cross_entropy(z, y):
    # From the logits: -[y log sigma(z) + (1 - y) log(1 - sigma(z))] = y softplus(-z) + (1 - y) softplus(z),
    # two non-negative terms (softplus(z) - y z would cancel to 0 at y = 1, z = 40).
    return np.sum(y * softplus(-z) + (1.0 - y) * softplus(z))


def logdet(a):
    sign, value = np.linalg.slogdet(a)
    return value


# ----- issue 10 -----

def softmax_minus(z, y):
    # softmax(z) - y column by column. At a column's maximum s = 1 / (1 + r), r = the sum of the other
    # exp(z_j - m), so s - y = (1 - y) - r / (1 + r): a confident right prediction (y = 1, s = 1 - 6.6e-10)
    # keeps all its digits, where s - 1 keeps 9 (the extreme-point fuzzer's seed 3890; torch's too).
    m = np.max(z, axis=0, keepdims=True)
    top = z == m
    e = np.exp(z - m)
    rest = np.sum(np.where(top, 0.0, e), axis=0, keepdims=True) + (np.sum(top, axis=0, keepdims=True, dtype=e.dtype) - 1.0)
    return np.where(top, (1.0 - y) - rest / (1.0 + rest), e / (1.0 + rest) - y)


def softmax_vjp(s, g):
    # (diag(s) - s s^T) g by columns, as s_i (g_i - s^T g) = s_i sum_j s_j (g_i - g_j) (sum_j s_j = 1). The
    # product does not change when a column of g is shifted (s_i (c - s^T c) = 0), so g is first centred
    # on its value at the column's largest s: d = g - g_top, s o d - s (s^T d). Uncentred, g_i - s^T g
    # cancels wherever the s-weighted mean of g is g_i to the last bits: at the largest s_i when it rounds
    # to 1 (1 - s_i is 0), and at an entry tied with it (softmax of [1, -40, 1]: s = [.5, 4e-18, .5], g_1 =
    # g_3), where the answer s_3 s_2 (g_3 - g_2) came out 0. Centred, d_top = 0 and a tied entry's d_i = 0
    # exactly, so both are -s_i sum_j s_j d_j over the other entries, without cancellation.
    d = g - np.take_along_axis(g, np.argmax(s, axis=0)[None, :], axis=0)
    q = s * d
    return q - s * np.sum(q, axis=0, keepdims=True)


def float_array(x):
    # An argument as an array of the caller's float type: float32 stays float32 (and the arithmetic with
    # it), anything else (ints, lists, float64) becomes float64.
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def float_dtype(*arrays):
    return np.result_type(*arrays)


# ----- normalization and attention (issue 14) -----


def row_softmax(s):
    # Each row shifted by its maximum: softmax of a row of [1000, 1000, 0] is [0.5, 0.5, 0], not nan.
    e = np.exp(s - np.max(s, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def causal_row_softmax(s):
    # Entries right of the diagonal are -inf before the shift (exp gives exactly 0); the diagonal is
    # never masked, so every row's maximum is finite.
    masked = np.where(np.tri(s.shape[0], s.shape[1], dtype=bool), s, -np.inf)
    e = np.exp(masked - np.max(masked, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def std_dev(z, axis, eps):
    # Two passes (centre, then the mean square): E[z^2] - E[z]^2 cancels to nothing, or below 0,
    # when the spread is small against the mean (1e8 + 1e-3 noise).
    c = z - np.mean(z, axis=axis, keepdims=True)
    return np.sqrt(np.mean(c * c, axis=axis, keepdims=True) + eps)


def standardize(z, axis, eps):
    c = z - np.mean(z, axis=axis, keepdims=True)
    return c / np.sqrt(np.mean(c * c, axis=axis, keepdims=True) + eps)


# ----- convolution and pooling (issue 15): defined in nnsym.emit.spatial, copied in by source like the above -----
from nnsym.emit.spatial import avg_pool, col2im, im2col, max_mask, max_pool, max_pool_adjoint, upsample  # noqa: E402,F401

# ----- single-channel correlation as typed (issue 15e): defined in nnsym.emit.correlate_numpy, copied in by source -----
from nnsym.emit.correlate_numpy import correlate  # noqa: E402,F401
