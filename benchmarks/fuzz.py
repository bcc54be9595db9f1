"""Fuzz the derivative engine: random well-typed scalar expressions, every gradient against central
finite differences (issue 5). Each case is seeded by its number, so a reported case is reproduced by
``random_expression(seed)`` from ``tests/fuzz/strategies.py``.

Verdicts: right (matches finite differences, and the generated NumPy code of the gradients agrees
with the evaluator), refused (a MissingRuleError naming the node), jump (the function is
discontinuous at the point, so differences cannot decide), wrong (anything else: a disagreement, a
crash). The goal is 0 wrong.

    python benchmarks/fuzz.py            # 10 000 cases
    python benchmarks/fuzz.py --quick    # 500 cases
    python benchmarks/fuzz.py --extreme  # issue 10: generated code at |z| <= 1000 (tests/fuzz/extreme.py)
    python benchmarks/fuzz.py --round2   # with the constructs of issue 9
"""

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from strategies import WRONG, judge, random_expression, random_round2_expression  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="500 cases")
    parser.add_argument("--seed", type=int, default=0, help="number of the first case")
    parser.add_argument("--depth", type=int, default=5, help="maximum nesting of the expressions")
    parser.add_argument("--extreme", action="store_true",
                        help="fuzz generated code at extreme points against mpmath instead (issue 10)")
    parser.add_argument("--targets", default="numpy", help="with --extreme: numpy,torch,jax")
    parser.add_argument("--show-bad", action="store_true",
                        help="with --extreme: print every nonfinite/inaccurate case in full (seed, expression, "
                             "point, got and true values), not the first 20 abridged")
    parser.add_argument("--round2", action="store_true",
                        help="the issue-9 constructs too: powers of powers, thresholds, max/min/|x|, symmetric "
                             "symbols, almost-nice numbers, tiny and huge scales")
    args = parser.parse_args(argv)
    cases = 500 if args.quick else args.cases
    if args.extreme:
        return extreme_main(cases, args.seed, args.targets.split(","), args.show_bad)
    counts = collections.Counter()
    timings = []
    wrong = []
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + cases):
        began = time.perf_counter()
        f = (random_round2_expression if args.round2 else random_expression)(seed, args.depth)
        verdict, detail = judge(f, seed=seed)
        timings.append((time.perf_counter() - began, seed, f))
        counts[verdict] += 1
        if verdict == WRONG:
            wrong.append((seed, detail, f))
    total = time.perf_counter() - start
    print(f"{cases} cases in {total:.1f} s: " + ", ".join(
        f"{counts[v]} {v}" for v in ("right", "refused", "jump", "wrong")))
    print("slowest cases:")
    for seconds, seed, f in sorted(timings, key=lambda t: t[0], reverse=True)[:5]:
        print(f"  seed {seed}: {seconds * 1000:.0f} ms  {f!r:.160}")
    for seed, detail, f in wrong:
        print(f"WRONG seed {seed}: {detail}\n  {f!r}")
    return 1 if wrong else 0


# ----- issue 10: extreme points -------------------------------------------------------------------

def extreme_main(cases: int, first: int, targets, show_bad: bool = False) -> int:
    import extreme  # noqa: E402 - tests/fuzz/extreme.py (needs mpmath, which SymPy brings)

    counts = collections.Counter()
    bad = []
    start = time.perf_counter()
    for seed in range(first, first + cases):
        verdict, detail, f = extreme.judge(seed, targets=tuple(targets))
        counts[verdict] += 1
        if verdict in ("nonfinite", "inaccurate"):
            bad.append((seed, verdict, detail, f))
        if (seed - first + 1) % 500 == 0:
            print(f"  {seed - first + 1} cases: " + ", ".join(f"{counts[v]} {v}" for v in extreme.VERDICTS), flush=True)
    total = time.perf_counter() - start
    print(f"{cases} extreme-point cases ({', '.join(targets)}) in {total:.1f} s: "
          + ", ".join(f"{counts[v]} {v}" for v in extreme.VERDICTS))
    for seed, verdict, detail, f in (bad if show_bad else bad[:20]):
        if show_bad:
            print(f"{verdict.upper()} seed {seed}: {detail}\n  {f!r}", flush=True)
        else:
            print(f"{verdict.upper()} seed {seed}: {detail[:400]}\n  {f!r:.400}")
    return 1 if counts["nonfinite"] else 0


if __name__ == "__main__":
    sys.exit(main())
