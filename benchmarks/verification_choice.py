"""How long verification takes, and whether it can fail, at the issue-15 sizes (nnsym.verify.budget).

Every gradient `export` writes is checked first; `verify.budget` chooses how, per model: entry by entry
at the sizes given, on a copy with smaller sizes (multi-head attention's heads kept), or at full size
along random directions (`verify.directional`) where the sizes cannot shrink (a convolution's geometry)
or the copy would cost as much (an unrolled recurrence). This prints, at the issue's sizes (LSTM, GRU,
RNN: 32 inputs, 64 hidden, T = 16, batch 16; conv2d 3 -> 16 channels, 3 x 3, 32 x 32, batch 16):

- the wall time of `ns.export(...)` with verification (median of --repeat runs and their spread), and
  which check ran at which sizes (the reports);
- false alarms: how many of --seeds seeds fail the full-size directional check on the right gradients
  (every variable, two points per seed);
- planted wrong rules (tanh's derivative without its square, the Hadamard rule's factors swapped,
  im2col's adjoint averaging overlapping patches): how many seeds reject them.

NumPy at one thread. The machine is shared (2 cores, 4 engineers): timings are noisy; medians and spreads
are printed. The last line is

    RESULT rnn.export_s=S lstm.export_s=S gru.export_s=S conv2d.export_s=S false_alarms=N planted_caught=K/M

    python benchmarks/verification_choice.py [--repeat 3] [--seeds 20]
"""

import argparse
import os
import statistics
import sys
import time

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import sympy  # noqa: E402

import nnsym as ns  # noqa: E402
from nnsym.declare import convolution as C  # noqa: E402
from nnsym.declare import expressions as E  # noqa: E402
from nnsym.declare.expressions import Apply, Hadamard  # noqa: E402
from nnsym.declare.functions import apply  # noqa: E402
from nnsym.declare.recurrent import unroll  # noqa: E402
from nnsym.derive import rules  # noqa: E402
from nnsym.derive.reverse import cotangents  # noqa: E402
from nnsym.present.results import gradients  # noqa: E402
from nnsym.verify.directional import check_directional  # noqa: E402


def conv2d_case():
    X, K = ns.matrix("X", 3, 16 * 32 * 32), ns.matrix("K", 16, 27)
    Y = C.conv2d(X, K, (32, 32), padding=1)
    return ns.sum_entries(ns.tanh(Y - ns.matrix("T", 16, Y.cols))), [X, K]


def recurrent_case(cell):
    model = unroll(cell, 32, 64, 32, 16, batch=16)
    return model.loss, list(model.parameters)


CASES = {"rnn": lambda: recurrent_case("rnn"), "lstm": lambda: recurrent_case("lstm"),
         "gru": lambda: recurrent_case("gru"), "conv2d": conv2d_case}


def export_times(name, repeat):
    times = []
    for _ in range(repeat):
        loss, variables = CASES[name]()
        start = time.perf_counter()
        ns.export(loss, wrt=variables)
        times.append(time.perf_counter() - start)
    loss, variables = CASES[name]()
    reports = gradients(loss, variables)[variables[0]].reports
    return times, reports


def tanh_without_the_square(real):
    def rule(node, G):
        if node.function.name != "tanh":
            return real(node, G)
        (A,) = node.args
        return [E.hadamard(G, E.add(E.Ones(*A.shape), E.neg(apply("tanh", A))))]
    return rule


def hadamard_swapped(node, G):
    A, B = node.args
    return [E.hadamard(G, A), E.hadamard(G, B)]


def im2col_averaged(node, G):
    g = node.geometry
    return [E.scale(E.Constant(sympy.Rational(1, g.window)), C.col2im(G, g))]


PLANTED = {
    "lstm: tanh' = 1 - tanh": ("lstm", Apply, lambda: tanh_without_the_square(rules.VJP[Apply])),
    "lstm: Hadamard factors swapped": ("lstm", Hadamard, lambda: hadamard_swapped),
    "conv2d: im2col adjoint averaged": ("conv2d", C.Im2col, lambda: im2col_averaged),
}


def planted(seeds):
    caught = total = 0
    for label, (case, kind, make) in PLANTED.items():
        loss, variables = CASES[case]()
        real = rules.VJP[kind]
        rules.VJP[kind] = make()
        try:
            wrong = cotangents(loss, variables)
        finally:
            rules.VJP[kind] = real
        rejected = sum(not check_directional(loss, wrong, points=1, seed=seed).ok for seed in range(seeds))
        print(f"planted {label}: rejected at {rejected}/{seeds} seeds", flush=True)
        caught += rejected
        total += seeds
    return caught, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="exports timed per model")
    parser.add_argument("--seeds", type=int, default=20, help="seeds for the false-alarm and planted-rule counts")
    args = parser.parse_args()
    medians = {}
    for name in CASES:
        times, reports = export_times(name, args.repeat)
        medians[name] = statistics.median(times)
        print(f"{name}: export verified in median {medians[name]:.2f} s (spread {min(times):.2f}-{max(times):.2f}, "
              f"{len(times)} runs)", flush=True)
        for report in reports:
            print(f"    {report}", flush=True)
    false_alarms = 0
    for name in CASES:
        loss, variables = CASES[name]()
        right = cotangents(loss, variables)
        start = time.perf_counter()
        failed = [seed for seed in range(args.seeds) if not check_directional(loss, right, points=2, seed=seed).ok]
        false_alarms += len(failed)
        print(f"{name}: right gradients failed the full-size check at {len(failed)}/{args.seeds} seeds {failed} "
              f"({(time.perf_counter() - start) / args.seeds:.2f} s per seed)", flush=True)
    caught, total = planted(args.seeds)
    print("RESULT " + " ".join(f"{name}.export_s={value:.2f}" for name, value in medians.items())
          + f" false_alarms={false_alarms} planted_caught={caught}/{total}")


if __name__ == "__main__":
    main()
