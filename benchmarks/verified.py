"""Wall time of the verified commands users run, start-up included (issue 11).

Every call is a fresh subprocess of this interpreter (`python -m nnsym.present.cli`, what the `nnsym`
script does), so each figure includes starting Python, importing nnsym and both checks (central
finite differences and the elementwise SymPy oracle) on every result:

- `nnsym backprop` for depth 1 ... 8, every activation with every loss, with and without a batch,
  widths from 2 to 1024 (a covering set: each activation meets each loss once; `--full` runs the grid);
- `nnsym derive` and `nnsym check` on a corpus of typical functions (least squares, logistic,
  softmax cross-entropy, two-layer nets, log det, trace forms);
- `nnsym notes all`.

Goal: backprop at most 2 s, median 1 s; derive and check median 0.5 s; notes all 5 s. Each case runs
``--repeats`` times; its figure is the median, printed with the spread (min-max) and the CPU time
(user + system of the child), which depends far less than wall time on what else the machine runs.
The machine is shared (2 cores, several engineers): say so when quoting wall times. With
``--baseline DIR`` the same calls also run against another checkout (e.g. the code before issue 11;
PYTHONPATH=DIR), each cut off at ``--timeout`` seconds, and the ratios of medians are printed.

    python benchmarks/verified.py [--repeats 3] [--full] [--baseline /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "gelu")
LOSSES = ("squared_error", "binary_cross_entropy", "softmax_cross_entropy")
WIDTHS = ((2, 3, 2), (16, 8, 4), (128, 64, 10), (1024, 256, 10), (784, 1024, 512, 10))
GOAL = {"backprop.max_s": 2.0, "backprop.median_s": 1.0, "derive.median_s": 0.5, "check.median_s": 0.5,
        "notes.all_s": 5.0}


def _sizes(depth: int, pattern: tuple, loss: str) -> str:
    """depth + 1 sizes cycling through ``pattern``; binary cross-entropy has one output."""
    sizes = [pattern[k % (len(pattern) - 1)] for k in range(depth)] + [pattern[-1]]
    if loss == "binary_cross_entropy":
        sizes[-1] = 1
    return ",".join(map(str, sizes))


def backprop_calls(full: bool):
    """(name, arguments): the issue's four commands, then every activation x loss pair (each at its
    own depth 1..8, width pattern and batch), or with ``full`` the whole grid at one width pattern."""
    calls = [
        ("2,2,1", ["--sizes", "2,2,1"]),
        ("784,256,10 softmax CE", ["--sizes", "784,256,10", "--loss", "softmax_cross_entropy"]),
        ("3,3,3,3,2 tanh", ["--sizes", "3,3,3,3,2", "--activation", "tanh"]),
        ("3,3,3,3,2 gelu", ["--sizes", "3,3,3,3,2", "--activation", "gelu"]),
    ]
    pairs = list(itertools.product(ACTIVATIONS, LOSSES))
    depths = itertools.cycle(range(1, 9))
    batches = itertools.cycle((None, "64", None, "4"))
    widths = itertools.cycle(WIDTHS)
    for k, (activation, loss) in enumerate(pairs):
        for depth in (range(1, 9) if full else [next(depths)]):
            batch = next(batches)
            sizes = _sizes(depth, WIDTHS[k % len(WIDTHS)] if full else next(widths), loss)
            arguments = ["--sizes", sizes, "--activation", activation, "--loss", loss]
            if batch:
                arguments += ["--batch", batch, "--mean"]
            calls.append((f"{sizes} {activation} {loss}{' batch ' + batch if batch else ''}", arguments))
    return [(name, ["backprop", *arguments]) for name, arguments in calls]


def _shapes(*pairs):
    return [item for pair in pairs for item in ("--shape", pair)]


LSQ = _shapes("W=mxn", "x=n", "y=m")
LOGISTIC = _shapes("X=Nxd", "w=d", "y=N")
SOFTMAX = _shapes("W=kxd", "x=d", "y=k") + ["--assume", "y=probability"]
TWO_LAYER = _shapes("W_1=hxd", "W_2=kxh", "x=d", "y=k")
CORPUS = {
    # name: (function, wrt, shapes and assumptions, a right claim, a wrong claim)
    "least squares": (r"\frac{1}{2}\|Wx-y\|^2", "W", LSQ, r"(Wx - y)x^\top", r"x(Wx - y)^\top"),
    "least squares, data matrix": (r"\frac{1}{2}\|Xw-y\|^2", "w", LOGISTIC, r"X^\top(Xw - y)", r"X^\top X w"),
    "logistic regression": (r"-y^\top \log \sigma(Xw) - (1 - y)^\top \log(1 - \sigma(Xw))", "w", LOGISTIC,
                            r"X^\top(\sigma(Xw) - y)", r"X^\top(y - \sigma(Xw))"),
    "softmax cross-entropy": (r"-y^\top \log \operatorname{softmax}(Wx)", "W", SOFTMAX,
                              r"(\operatorname{softmax}(Wx) - y)x^\top", r"(\operatorname{softmax}(Wx))x^\top"),
    "two-layer sigmoid net": (r"\frac{1}{2}\|W_2 \sigma(W_1 x) - y\|^2", "W_1", TWO_LAYER,
                              r"((W_2^\top(W_2 \sigma(W_1 x) - y)) \odot \sigma'(W_1 x)) x^\top",
                              r"(W_2^\top(W_2 \sigma(W_1 x) - y)) x^\top"),
    "two-layer tanh softmax": (r"-y^\top \log \operatorname{softmax}(W_2 \tanh(W_1 x))", "W_2",
                               TWO_LAYER + ["--assume", "y=probability"],
                               r"(\operatorname{softmax}(W_2 \tanh(W_1 x)) - y)\tanh(W_1 x)^\top",
                               r"(\operatorname{softmax}(W_2 \tanh(W_1 x)) - y)\tanh(W_1 x)"),
    "log det": (r"\log\det(X)", "X", _shapes("X=nxn") + ["--assume", "X=spd"], r"X^{-1}", r"X"),
    "log det of a product": (r"\log\det(A^\top A)", "A", _shapes("A=3x3"), r"2A^{-\top}", r"A^{-\top}"),
    "trace of a product": (r"\operatorname{tr}(A X B)", "X", _shapes("A=mxn", "X=nxk", "B=kxm"),
                           r"A^\top B^\top", r"B A"),
    "trace quadratic form": (r"\operatorname{tr}(X^\top A X)", "X", _shapes("A=nxn", "X=nxk"),
                             r"(A + A^\top) X", r"2 A X"),
    "quadratic form": (r"x^\top A x", "x", _shapes("A=3x3", "x=3"), r"(A + A^\top)x", r"2Ax"),
}


def derive_calls():
    return [(name, ["derive", "--function", f, "--wrt", wrt, *options]) for name, (f, wrt, options, _, _) in
            CORPUS.items()]


def check_calls():
    calls = []
    for name, (f, wrt, options, right, wrong) in CORPUS.items():
        calls.append((f"{name} (right)", ["check", "--function", f, "--wrt", wrt, *options, "--claimed", right]))
        calls.append((f"{name} (wrong)", ["check", "--function", f, "--wrt", wrt, *options, "--claimed", wrong]))
    return calls


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(arguments, expect, pythonpath=None, timeout=None):
    """(wall, CPU, output, exit code) of one call; None for the times if it was cut off at ``timeout``."""
    environment = dict(os.environ)
    if pythonpath:
        environment["PYTHONPATH"] = pythonpath
    cpu, start = children_cpu(), time.perf_counter()
    try:
        # From a neutral folder: `python -m` puts the working folder first on sys.path, which would
        # shadow the baseline's PYTHONPATH with the checkout the benchmark is started from.
        done = subprocess.run([sys.executable, "-m", "nnsym.present.cli", *arguments], capture_output=True,
                              text=True, env=environment, timeout=timeout, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return None, None, "", None
    elapsed = time.perf_counter() - start
    if done.returncode not in expect:
        raise SystemExit(f"nnsym {' '.join(arguments)} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed, children_cpu() - cpu, done.stdout, done.returncode


def measure(group, calls, repeats, expect, baseline, timeout, table, cpu_medians):
    """Median wall and CPU of each call over ``repeats`` runs; prints one line per call."""
    medians = []
    for name, arguments in calls:
        runs = [timed(arguments, expect) for _ in range(repeats)]
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        medians.append(wall)
        cpu_medians.setdefault(group, []).append(cpu)
        checks = sum(line.startswith("% verified") for line in runs[0][2].splitlines())
        line = (f"{group:>8} {name:<52} {wall:6.2f} s  [{min(walls):.2f}-{max(walls):.2f}]  CPU {cpu:5.2f} s"
                + (f"  checks {checks}" if group in ("backprop", "derive") else ""))
        if baseline:
            old, _, _, code = timed(arguments, expect + (2, 3), baseline, timeout)
            if old is None:
                line += f"  before >{timeout:.0f} s"
            elif code in expect:
                line += f"  before {old:.2f} s"
            else:  # e.g. sizes too large to check: refused then, verified on a smaller copy now
                line += f"  before refused (exit {code})"
                old = "refused"
            table.append((group, wall, old))
        print(line, flush=True)
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="every depth x activation x loss (168 calls)")
    parser.add_argument("--baseline", default=None, help="a checkout to compare with (its PYTHONPATH)")
    parser.add_argument("--timeout", type=float, default=30.0, help="cut-off for baseline calls, seconds")
    args = parser.parse_args()
    # What every backprop call imports before any work: Python, SymPy, NumPy and nnsym's pipeline.
    start_up = statistics.median(timed_plain([sys.executable, "-c", "import nnsym.present.results"]) for _ in range(5))
    print(f"start-up (python -c 'import nnsym.present.results'): {start_up:.2f} s; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine: wall times are noisy; CPU less so)")
    table, cpu = [], {}
    backprop = measure("backprop", backprop_calls(args.full), args.repeats, (0,), args.baseline, args.timeout, table, cpu)
    derive = measure("derive", derive_calls(), args.repeats, (0,), args.baseline, args.timeout, table, cpu)
    check = measure("check", check_calls(), args.repeats, (0, 1), args.baseline, args.timeout, table, cpu)
    with tempfile.TemporaryDirectory() as folder:
        notes = statistics.median(timed(["notes", "all", "-o", folder], (0,))[0] for _ in range(args.repeats))
    print(f"   notes all: {notes:.2f} s")
    result = {"backprop.max_s": max(backprop), "backprop.median_s": statistics.median(backprop),
              "derive.median_s": statistics.median(derive), "check.median_s": statistics.median(check),
              "notes.all_s": notes}
    print(f"load average after: {os.getloadavg()[0]:.2f}; CPU medians: backprop {statistics.median(cpu['backprop']):.2f} s "
          f"(max {max(cpu['backprop']):.2f}), derive {statistics.median(cpu['derive']):.2f} s, "
          f"check {statistics.median(cpu['check']):.2f} s")
    for key, value in result.items():
        verdict = "met" if value <= GOAL[key] else "NOT met"
        print(f"goal {key} <= {GOAL[key]}: {value:.2f} ({verdict})")
    if table:
        for group in ("backprop", "derive", "check"):
            pairs = [(new, old) for g, new, old in table if g == group]
            finished = [old / new for new, old in pairs if isinstance(old, float)]
            cut = sum(old is None for _, old in pairs)
            refused = sum(old == "refused" for _, old in pairs)
            print(f"before/after {group} (wall before / wall now): median {statistics.median(finished):.2f} over "
                  f"{len(finished)} calls that ran before; {cut} cut off at {args.timeout:.0f} s before; "
                  f"{refused} refused before")
    print("RESULT " + " ".join(f"{key}={value:.2f}" for key, value in result.items()))


def timed_plain(command) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
