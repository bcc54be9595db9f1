"""Wall time of one `nnsym derive` and one `nnsym check` call, start-up included (issue 3: at most 1.0 s).

Each command runs as a fresh subprocess of this interpreter (`python -m nnsym.present.cli`, what the
`nnsym` script does), so the time includes starting Python and importing nnsym, SymPy, NumPy and Lark.

    python benchmarks/cli_latency.py [--repeats 7]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

BUDGET = 1.0  # seconds per call, start-up included

SHAPES = ["--shape", "W=3x2", "--shape", "x=2", "--shape", "y=3"]
CALLS = {
    "derive": ["derive", "--function", r"\frac{1}{2}\|Wx-y\|^2", "--wrt", "W", *SHAPES],
    "derive --json": ["derive", "--function", r"\frac{1}{2}\|Wx-y\|^2", "--wrt", "W", *SHAPES, "--json"],
    "check (right)": ["check", "--function", r"\frac{1}{2}\|Wx-y\|^2", "--wrt", "W", *SHAPES,
                      "--claimed", r"W x x^\top - y x^\top"],
    "check (wrong, diagnosed)": ["check", "--function", r"\frac{1}{2}\|\sigma(Wx)-y\|^2", "--wrt", "W", *SHAPES,
                                 "--claimed", r"(\sigma(Wx) - y) x^\top"],
}


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(arguments):
    """(wall, CPU) seconds of one call. CPU time barely depends on what else the machine runs; wall
    time does, so both are printed with the load average."""
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nnsym.present.cli", *arguments], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"nnsym {' '.join(arguments)} failed: {done.stderr.strip()}")
    return elapsed, children_cpu() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    baseline = statistics.median(
        [wall_time_of([sys.executable, "-c", "pass"]) for _ in range(args.repeats)])
    print(f"python start-up alone: {baseline * 1000:.0f} ms")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    medians, cpus = {}, {}
    for name, arguments in CALLS.items():
        timed(arguments)  # warm the file cache
        runs = [timed(arguments) for _ in range(args.repeats)]
        medians[name] = statistics.median(wall for wall, _ in runs)
        cpus[name] = statistics.median(cpu for _, cpu in runs)
        print(f"{name:>26}: median wall {medians[name] * 1000:.0f} ms, CPU {cpus[name] * 1000:.0f} ms "
              f"over {args.repeats} runs")
    worst = max(medians.values())
    verdict = "within" if worst <= BUDGET else "OVER"
    print(f"RESULT worst median {worst * 1000:.0f} ms wall ({max(cpus.values()) * 1000:.0f} ms CPU) per call, "
          f"{verdict} the {BUDGET:.1f} s budget; load average {os.getloadavg()[0]:.2f}")


def wall_time_of(command):
    start = time.perf_counter()
    subprocess.run(command, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
