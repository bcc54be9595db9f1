"""Newton's method for logistic regression with exported closed-form derivatives.

f(w) = (1/N) sum_i [softplus(x_i^T w) - y_i x_i^T w], the mean binary cross-entropy from the logits
Xw. nnsym exports its gradient X^T (sigma(Xw) - y) / N and its Hessian
X^T diag(sigma'(Xw)) X / N, computed as X^T (sigma'(Xw) * X) without forming the N x N diagonal, and
Newton's step w <- w - H^{-1} g converges quadratically: the gradient norm falls to rounding level in
a handful of steps.

    python derivations/newton_logistic.py [--samples 500] [--features 10] [--seed 0]

`newton` is what the tests (and a lecture note) call.
"""

import argparse
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nnsym as ns  # noqa: E402
from nnsym.emit.standalone import load  # noqa: E402


@lru_cache(maxsize=None)
def exported_module():
    X, w, y = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    loss = ns.mean_over_batch(ns.binary_cross_entropy(X @ w, y), "N")
    return load(ns.export(loss, "w", hessians=True), "logistic_newton")


def problem(samples: int, features: int, seed: int):
    """Labels drawn from a logistic model, so the classes overlap and the minimum is finite."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((samples, features))
    truth = rng.standard_normal((features, 1))
    y = (rng.uniform(size=(samples, 1)) < 1.0 / (1.0 + np.exp(-X @ truth))).astype(float)
    return X, y


def newton(seed: int = 0, steps: int = 8, samples: int = 500, features: int = 10):
    """Newton's method from w = 0; returns (w, [gradient norm before each step and after the last])."""
    module = exported_module()
    X, y = problem(samples, features, seed)
    w = np.zeros((features, 1))
    norms = []
    for _ in range(steps):
        g = module.gradients(X=X, w=w, y=y)["w"]
        norms.append(float(np.linalg.norm(g)))
        w = w - np.linalg.solve(module.hessian(X=X, w=w, y=y), g)
    norms.append(float(np.linalg.norm(module.gradients(X=X, w=w, y=y)["w"])))
    return w, norms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    _, norms = newton(args.seed, args.steps, args.samples, args.features)
    for step, norm in enumerate(norms):
        print(f"step {step}: |gradient| = {norm:.3e}")


if __name__ == "__main__":
    main()
