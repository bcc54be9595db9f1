"""Issue 14b: an exported JAX module computes and self-tests in JAX's default float type; it never
enables x64 itself, and with x64 enabled by the caller its self_test checks in float64."""

import subprocess
import sys
import textwrap

import pytest

import nnsym as ns


def test_jax_module_self_tests_in_float64_when_the_caller_enables_x64():
    pytest.importorskip("jax")
    W, x, y = ns.matrix("W", 3, 2), ns.vector("x", 2), ns.vector("y", 3)
    source = ns.export(ns.norm(ns.tanh(W @ x) - y, squared=True), wrt=["W"], target="jax")
    assert "jax_enable_x64" in source.split('"""')[1]  # the docstring says how to get float64
    # x64 is process-wide: a fresh interpreter, so this test's setting leaks nowhere.
    script = textwrap.dedent("""
        import sys, types
        import jax
        import numpy as np
        module = types.ModuleType("exported")
        exec(compile(sys.stdin.read(), "<exported>", "exec"), module.__dict__)
        assert not jax.config.jax_enable_x64, "loading the module switched x64 on"
        single = module.self_test()
        dtype32 = np.asarray(module.gradients(W=np.ones((3, 2)), x=np.ones(2), y=np.ones(3))["W"]).dtype
        jax.config.update("jax_enable_x64", True)
        double = module.self_test()
        dtype64 = np.asarray(module.gradients(W=np.ones((3, 2)), x=np.ones(2), y=np.ones(3))["W"]).dtype
        print(single, dtype32, double, dtype64)
    """)
    run = subprocess.run([sys.executable, "-c", script], input=source, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    single, dtype32, double, dtype64 = run.stdout.split()
    assert (dtype32, dtype64) == ("float32", "float64")
    assert float(double) < 1e-8 < float(single) < 2e-2  # float64 checks far tighter than float32 can
