"""The softmax vector-Jacobian product in generated code (issue 10): s o g - (s^T g) s without the
1 - s_i that cancels where s_i rounds to 1, against mpmath, in NumPy, JAX and PyTorch."""

import mpmath
import mp_reference as mp
import numpy as np
import pytest

import nnsym as ns
from nnsym.emit import stable
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.derive.reverse import cotangents

LOGITS = ([0.0, 40.0, -1.0], [1000.0, 0.0, -1000.0], [0.3, -0.2, 0.1], [800.0, 799.0, -800.0])


def _reference(z, g):
    with mpmath.workdps(600):
        e = [mpmath.exp(mpmath.mpf(v)) for v in z]
        s = [v / mpmath.fsum(e) for v in e]
        sg = mpmath.fsum(a * b for a, b in zip(s, g))
        return np.array([[si * (gi - sg)] for si, gi in zip(s, g)], dtype=object)


@pytest.mark.parametrize("z", LOGITS)
def test_kernels_agree_with_mpmath(z, monkeypatch):
    g = [0.7, -1.3, 2.0]
    reference = _reference(z, g)
    s = stable.softmax(np.array(z).reshape(-1, 1))
    assert mp.agrees(stable.softmax_vjp(s, np.array(g).reshape(-1, 1)), reference, rtol=1e-12)
    torch = pytest.importorskip("torch")
    from nnsym.emit import stable_torch

    monkeypatch.setattr(stable_torch, "torch", torch)  # the module copies its source; torch comes from the importer
    st = stable_torch.softmax(torch.tensor(z, dtype=torch.float64).reshape(-1, 1))
    got = stable_torch.softmax_vjp(st, torch.tensor(g, dtype=torch.float64).reshape(-1, 1))
    assert mp.agrees(got.numpy(), reference, rtol=1e-12)


def test_jax_kernel(monkeypatch):
    jax = pytest.importorskip("jax")
    from nnsym.emit import stable_jax

    monkeypatch.setattr(stable_jax, "jnp", jax.numpy)
    monkeypatch.setattr(stable_jax, "jax", jax)
    manager = getattr(jax, "enable_x64", None)
    if manager is None:
        from jax.experimental import enable_x64 as manager
    with manager(True):
        _jax_kernel_checks(stable_jax)


def _jax_kernel_checks(stable_jax):
    z, g = np.array([[0.0, 1.0], [40.0, 2.0], [-1.0, -3.0]]), np.array([[0.7, 1.0], [-1.3, 0.0], [2.0, 5.0]])
    got = np.asarray(stable_jax.softmax_vjp(stable_jax.softmax(z), g))
    for j in range(2):
        assert mp.agrees(got[:, [j]], _reference(z[:, j], g[:, j]), rtol=1e-12)


def test_generated_gradient_uses_it_and_is_accurate():
    z, y = ns.vector("z", 3), ns.vector("y", 3)
    f = y.T @ ns.softmax(z)
    generated = write_function("gradient", {"": cotangents(f, [z])[z]})
    assert "softmax_vjp" in generated.helpers
    code = compile_function(generated)
    values = {"z": np.array([[0.0], [40.0], [-1.0]]), "y": np.array([[0.7], [-1.3], [2.0]])}
    # true gradient entry for the largest logit is ~ -8.5e-18 (1 - s cancels to 0 in s o y - (s^T y) s)
    assert mp.agrees(code(**values), _reference([0.0, 40.0, -1.0], [0.7, -1.3, 2.0]), rtol=1e-12)
    Z, Y = ns.matrix("Z", 3, 2), ns.matrix("Y", 3, 2)
    batch = compile_function(write_function("gradient", {"": cotangents(ns.sum_entries(ns.hadamard(Y, ns.softmax(Z))), [Z])[Z]}))
    Zv, Yv = np.array([[0.0, 1.0], [40.0, 2.0], [-1.0, -3.0]]), np.array([[0.7, 1.0], [-1.3, 0.0], [2.0, 5.0]])
    got = batch(Z=Zv, Y=Yv)
    for j in range(2):
        assert mp.agrees(got[:, [j]], _reference(Zv[:, j], Yv[:, j]), rtol=1e-12)
