"""Speed of the exported gradient of a typed single-channel correlation (issue 15e) against PyTorch autograd.

f = 1/2 ||X \\star_p K - Y||_F^2, typed as LaTeX, exported by `nnsym export` (NumPy and PyTorch targets);
its gradients dX = (X \\star_p K - Y) \\star_{k-1-p} rot180(K) and dK = X \\star_p (X \\star_p K - Y) are
timed against torch autograd of F.conv2d, float64, one thread for every library (set before NumPy and
torch load). Every implementation's gradients are checked against torch's before anything is timed.
Each timing is the median of 11 runs (5 with --quick) of several calls, the implementations interleaved
run by run; the spread (min-max over the runs) is printed beside it. The machine is shared (2 cores, other jobs running): expect noise of tens of percent.

The last line is

    RESULT corr32.numpy/torch=R corr32.torchexport/torch=R corr128.numpy/torch=R corr128.torchexport/torch=R

(ratios of median times; below 1 the exported code is faster).

    python benchmarks/correlation.py [--quick]
"""

import argparse
import os
import statistics
import sys
import time

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--quick", action="store_true", help="fewer repeats")
ARGS = ARGS.parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import numpy as np  # noqa: E402

import nnsym as ns  # noqa: E402
from nnsym.declare.reading import read_latex  # noqa: E402
from nnsym.emit.standalone import load  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    print("PyTorch is not installed: nothing to compare with")
    sys.exit(0)

CASES = {"corr32": (32, 3, 1), "corr128": (128, 5, 2)}  # name: (image side, kernel side, padding)


def timed(calls, number, repeats):
    """Per call: the median, min and max over ``repeats`` runs of ``number`` calls. The calls are
    interleaved run by run, so that load from other jobs on the machine falls on all of them alike."""
    runs = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(number):
                call()
            runs[name].append((time.perf_counter() - start) / number)
    return {name: (statistics.median(r), min(r), max(r)) for name, r in runs.items()}


def main():
    repeats, results = (5 if ARGS.quick else 11), []
    for name, (side, k, p) in CASES.items():
        out = side + 2 * p - k + 1
        shapes = {"X": f"{side}x{side}", "K": f"{k}x{k}", "Y": f"{out}x{out}"}
        f = read_latex(rf"\frac12\|X \star_{{p={p}}} K - Y\|_F^2", shapes)
        symbols = {s.name: s for s in f.free_symbols()}
        wrt = [symbols["X"], symbols["K"]]
        numpy_module = load(ns.export(f, wrt=wrt))
        torch_module = load(ns.export(f, wrt=wrt, target="torch"))
        rng = np.random.default_rng(0)
        x, kern, y = rng.standard_normal((side, side)), rng.standard_normal((k, k)), rng.standard_normal((out, out))
        tx, tk, ty = torch.tensor(x), torch.tensor(kern), torch.tensor(y)

        def autograd():
            a, b = tx.clone().requires_grad_(), tk.clone().requires_grad_()
            r = torch.nn.functional.conv2d(a[None, None], b[None, None], padding=p)[0, 0] - ty
            ((r * r).sum() / 2).backward()
            return a.grad, b.grad

        def exported_numpy():
            return numpy_module.gradients(X=x, K=kern, Y=y)

        def exported_torch():
            return torch_module.gradients(X=tx, K=tk, Y=ty)

        truth = autograd()
        for got in (exported_numpy(), exported_torch()):
            for key, want in zip("XK", truth):
                value = np.asarray(got[key])
                assert np.allclose(value, want.numpy(), rtol=1e-10, atol=1e-10), (name, key)
        number = max(3, int(2e4 // (side * side)))
        times = timed({"torch": autograd, "numpy": exported_numpy, "torchexport": exported_torch}, number, repeats)
        base = times["torch"]
        for label in ("numpy", "torchexport"):
            median, low, high = times[label]
            ratio = median / base[0]
            print(f"{name} ({side}x{side} image, {k}x{k} kernel, p={p}) {label:11s} {median * 1e6:8.1f} us "
                  f"[{low * 1e6:.1f}-{high * 1e6:.1f}]  torch autograd {base[0] * 1e6:8.1f} us "
                  f"[{base[1] * 1e6:.1f}-{base[2] * 1e6:.1f}]  ratio {ratio:.2f}")
            results.append(f"{name}.{label}/torch={ratio:.2f}")
    print("RESULT " + " ".join(results))


if __name__ == "__main__":
    main()
