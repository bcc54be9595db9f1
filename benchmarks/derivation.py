"""Time to derive the backpropagation equations of an L-layer network with symbolic sizes.

Baseline: the goal of 20 ms per layer, growing linearly (issue 2). Deriving never expands a matrix
into entries, so the cost should be linear in L. Verification is switched off here: this measures
the derivation (and, separately, printing the LaTeX of every equation).

    python benchmarks/derivation.py [--max-layers 20] [--repeats 5]
"""

import argparse
import statistics
import time

import nnsym as ns
from nnsym.derive.backprop import backprop
from nnsym.emit.latex import latex


def derive(layers: int):
    sizes = [f"n_{i}" for i in range(layers + 1)]
    forward = ns.network(sizes, activation="sigmoid", loss="softmax_cross_entropy", batch="B").forward()
    return backprop(forward)


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-layers", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'L':>3} {'derive ms':>10} {'ms/layer':>9} {'+latex ms':>10}")
    per_layer = []
    for layers in range(1, args.max_layers + 1):
        t_derive = median_time(lambda: derive(layers), args.repeats)

        def derive_and_print():
            equations = derive(layers)
            for _, G in equations.deltas:
                latex(G)
            for g in equations.gradients.values():
                latex(g)

        t_total = median_time(derive_and_print, args.repeats)
        per_layer.append(1000 * t_derive / layers)
        print(f"{layers:>3} {1000 * t_derive:>10.2f} {per_layer[-1]:>9.2f} {1000 * t_total:>10.2f}")
    worst = max(per_layer)
    print(f"RESULT derive.ms_per_layer.max={worst:.2f} derive.ms_per_layer.L{args.max_layers}={per_layer[-1]:.2f} "
          f"goal=20.00 baseline=goal")


if __name__ == "__main__":
    main()
