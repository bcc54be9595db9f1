"""Determinism (issue 5): LaTeX, JSON and generated code are byte-identical across runs and across
``PYTHONHASHSEED`` values (set and dict orders of strings change with the seed; nothing nnsym prints
may depend on them).

One script prints everything nnsym writes for a handful of inputs; it runs in fresh interpreters with
different hash seeds, and the outputs are compared byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(r'''
    import contextlib, io, sys
    import nnsym as ns
    from nnsym.emit.numpy_code import module_source, write_function
    from nnsym.present import cli

    out = []
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    b, S = ns.vector("b", "m"), ns.matrix("S", 3, 3, assume="spd")
    loss = ns.norm(W @ x + b - y, squared=True) / 2 + ns.logsumexp(ns.tanh(W @ x)) + ns.sum_entries(ns.softmax(b))
    for wrt in (W, x, b, y):
        g = ns.grad(loss, wrt, oracle=False)  # the elementwise oracle is slow; the CLI below runs it
        out += [g.latex(), g.to_numpy().source, *map(str, g.reports)]
    v = ns.vector("v", 3)
    out.append(ns.hessian(ns.logdet(S) + ns.binary_cross_entropy(S @ v, ns.ones(3)), v).latex())
    out.append(ns.jacobian(ns.softmax(S @ v), v).latex())
    for net in (ns.network([2, 3, 2], activation="tanh", loss="softmax_cross_entropy", batch="B", mean=True),
                ns.network(["n_0", "n_1", 1], activation="relu", weight_decay=True)):
        result = ns.backprop(net, oracle=False)
        out += [result.latex(), result.to_numpy().source, *map(str, result.reports)]
    functions = [write_function("f", {"a": loss, "b": ns.grad(loss, W, verify=False).expression})]
    out.append(module_source(functions, "determinism"))
    commands = [["backprop", "--sizes", "2,1", "--activation", "gelu"]]
    if "derive" in cli.SUBCOMMANDS:
        commands.append(["derive", "--function", r"\frac{1}{2}\|W x - y\|^2 + \log\det(S)", "--wrt", "W",
                         "--shape", "W=3x2", "--shape", "x=2", "--shape", "y=3", "--shape", "S=3x3",
                         "--assume", "S=spd", "--json"])
    if "check" in cli.SUBCOMMANDS:
        commands.append(["check", "--function", r"\frac{1}{2}\|W x - y\|^2", "--claimed", r"(W x - y) x",
                         "--wrt", "W", "--shape", "W=3x2", "--shape", "x=2", "--shape", "y=3", "--json"])
    if "export" in cli.SUBCOMMANDS:
        commands.append(["export", "--sizes", "3,2", "--loss", "softmax_cross_entropy"])
    for argv in commands:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = cli.main(argv)
        out.append(f"{argv[0]} exit {code}\n{buffer.getvalue()}")
    sys.stdout.write("\n=====\n".join(out))
''')


def run(seeds) -> dict:
    """The script's output under each hash seed (the interpreters run side by side)."""
    running = {}
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        running[seed] = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outputs = {}
    for seed, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]
        outputs[seed] = out
    return outputs


def first_difference(a: bytes, b: bytes) -> str:
    k = next((i for i, (p, q) in enumerate(zip(a, b)) if p != q), min(len(a), len(b)))
    return f"at byte {k}:\n{a[max(0, k - 200):k + 200].decode(errors='replace')}\n---\n{b[max(0, k - 200):k + 200].decode(errors='replace')}"


def test_output_is_byte_identical_across_hash_seeds_and_runs():
    outputs = run(("0", "1", "4242"))
    reference = outputs["0"]
    assert len(reference) > 5_000 and b"def gradient" in reference and b"\\begin{align*}" in reference
    for seed, output in outputs.items():
        assert output == reference, f"PYTHONHASHSEED={seed} differs " + first_difference(reference, output)
