"""Speed of the stable forms issue 17 introduced, against the forms they replace, at 256 x 64 (float64,
one thread): softmax's VJP centred on the column's largest entry against the where() of two forms it
had, and sigma'' = sigma'(z) (-tanh(z / 2)) against sigma'(z) (1 - 2 sigma(z)). Median of 5 samples
(each the best of 3 repeats of 20 calls) and the spread; the machine is shared, so timings are noisy.

    python benchmarks/stable_forms.py
"""

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"  # read when NumPy loads

import statistics  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

from nnsym.emit import stable  # noqa: E402


def softmax_vjp_before(s, g):
    # The form before issue 17 (exact at the largest entry, cancelling at entries tied with it).
    p = s * g
    top = np.argmax(s, axis=0)[None, :]
    at_top = np.sum(s * (np.take_along_axis(g, top, axis=0) - g), axis=0, keepdims=True)
    return np.where(np.arange(s.shape[0])[:, None] == top, s * at_top, p - s * np.sum(p, axis=0, keepdims=True))


def main():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 5, (256, 64))
    s, g = stable.softmax(z), rng.normal(size=(256, 64))
    ones = np.ones((256, 64))
    pairs = {
        "softmax_vjp": (lambda: softmax_vjp_before(s, g), lambda: stable.softmax_vjp(s, g)),
        "sigma''": (lambda: stable.sigmoid_prime(z) * (ones - 2.0 * stable.sigmoid(z)),
                    lambda: stable.sigmoid_prime(z) * -np.tanh(0.5 * z)),
    }
    for name, (before, after) in pairs.items():
        np.testing.assert_allclose(after(), before(), rtol=1e-9, atol=1e-15)  # the same values (to rounding)
        times = {}
        for label, f in (("before", before), ("after", after)):
            runs = [min(timeit.repeat(f, number=20, repeat=3)) / 20 * 1e6 for _ in range(5)]
            times[label] = statistics.median(runs)
            print(f"{name:12s} {label:6s} median {times[label]:7.1f} us  spread {min(runs):.1f}-{max(runs):.1f} us")
        print(f"{name:12s} after/before = {times['after'] / times['before']:.2f}")


if __name__ == "__main__":
    main()
