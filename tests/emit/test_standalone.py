"""Exported modules (`nnsym.export` -> `nnsym.emit.standalone`): standalone, correct against finite
differences and hand-written backprop, stable at |z| = 1000, the same text on every run, and the
same gradients from the NumPy, JAX and PyTorch printers."""

import os
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

import nnsym as ns
from nnsym.emit.standalone import load

ROOT = Path(__file__).resolve().parents[2]


def xor_net():
    return ns.network([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy", batch=4, mean=True)


def mlp_net():
    return ns.network([5, 4, 3], activation="tanh", loss="softmax_cross_entropy", batch="B", mean=True)


def logistic_loss():
    X, w, y = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    return ns.mean_over_batch(ns.binary_cross_entropy(X @ w, y), "N")


@pytest.fixture(scope="module")
def sources():
    return {
        "xor": ns.export(xor_net()),
        "mlp": ns.export(mlp_net()),
        "logistic": ns.export(logistic_loss(), "w", hessians=True),
    }


def mlp_values(rng, batch=6):
    Y = np.zeros((3, batch))
    Y[rng.integers(0, 3, batch), np.arange(batch)] = 1.0
    return {"W_1": rng.standard_normal((4, 5)), "b_1": rng.standard_normal((4, 1)),
            "W_2": rng.standard_normal((3, 4)), "b_2": rng.standard_normal((3, 1)),
            "X": rng.standard_normal((5, batch)), "Y": Y}


def hand_backprop(W_1, b_1, W_2, b_2, X, Y):
    """Textbook backprop for the tanh / softmax cross-entropy network, mean over the batch."""
    B = X.shape[1]
    a_1 = np.tanh(W_1 @ X + b_1)
    z_2 = W_2 @ a_1 + b_2
    p = np.exp(z_2 - z_2.max(axis=0)) / np.exp(z_2 - z_2.max(axis=0)).sum(axis=0)
    d_2 = (p - Y) / B
    d_1 = (W_2.T @ d_2) * (1 - a_1 ** 2)
    return {"W_1": d_1 @ X.T, "b_1": d_1.sum(axis=1, keepdims=True), "W_2": d_2 @ a_1.T,
            "b_2": d_2.sum(axis=1, keepdims=True)}


# ----- standalone -------------------------------------------------------------------------------

def test_modules_import_without_sympy_and_pass_their_self_test(sources, tmp_path):
    for name, source in sources.items():
        (tmp_path / f"exported_{name}.py").write_text(source)
    script = (
        "import sys\n"
        "sys.modules['sympy'] = None  # any import of SymPy now fails\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "for name in ('xor', 'mlp', 'logistic'):\n"
        "    module = __import__('exported_' + name)\n"
        "    print(name, module.self_test())\n"
        "print('nnsym' in sys.modules, 'sympy' in sys.modules and sys.modules['sympy'] is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "False False"
    for line in lines[:-1]:
        assert float(line.split()[1]) < 1e-6


def test_output_is_identical_across_runs_and_hash_seeds(sources):
    script = ("import nnsym as ns, sys\n"
              "net = ns.network([2, 2, 1], activation='sigmoid', loss='binary_cross_entropy', batch=4, mean=True)\n"
              "sys.stdout.write(ns.export(net))\n")
    outputs = set()
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert outputs == {sources["xor"]}


# ----- correctness -------------------------------------------------------------------------------

def test_gradients_match_hand_written_backprop_and_finite_differences(sources):
    module = load(sources["mlp"])
    rng = np.random.default_rng(7)
    values = mlp_values(rng)
    found = module.gradients(**values)
    expected = hand_backprop(**values)
    assert sorted(found) == sorted(expected) == sorted(module.PARAMETERS)
    for name in expected:
        np.testing.assert_allclose(found[name], expected[name], rtol=1e-10, atol=1e-13)
    # every entry of W_1 by central differences of the module's own forward
    h = 1e-6
    numeric = np.zeros_like(values["W_1"])
    for index in np.ndindex(*numeric.shape):
        up, down = values["W_1"].copy(), values["W_1"].copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (module.forward(**{**values, "W_1": up}) - module.forward(**{**values, "W_1": down})) / (2 * h)
    np.testing.assert_allclose(found["W_1"], numeric, rtol=1e-6, atol=1e-9)
    loss, together = module.loss_and_gradients(**values)
    assert loss == pytest.approx(module.forward(**values), rel=1e-14)
    for name in expected:
        np.testing.assert_allclose(together[name], found[name], rtol=1e-14)


def test_a_symbolic_batch_size_takes_any_batch(sources):
    module = load(sources["mlp"])
    for batch in (1, 9):
        values = mlp_values(np.random.default_rng(batch), batch)
        np.testing.assert_allclose(module.gradients(**values)["W_2"], hand_backprop(**values)["W_2"], rtol=1e-10)


def test_shapes_are_asserted(sources):
    module = load(sources["xor"])
    good = {"W_1": np.ones((2, 2)), "b_1": np.ones(2), "W_2": np.ones((1, 2)), "b_2": np.ones(1),
            "X": np.ones((2, 4)), "Y": np.ones((1, 4))}
    assert module.gradients(**good)["b_1"].shape == (2, 1)  # a 1-D vector is taken as a column
    with pytest.raises(AssertionError, match=r"W_1 should be 2 x 2, got \(2, 3\)"):
        module.gradients(**{**good, "W_1": np.ones((2, 3))})


def test_hessian_is_closed_form_without_a_diagonal_matrix(sources):
    source = sources["logistic"]
    hessian_source = source[source.index("def hessian"):source.index("def _draw")]
    assert "diag" not in hessian_source.split('"""')[-1]  # the code, not the docstring's LaTeX
    module = load(source)
    rng = np.random.default_rng(3)
    X, w, y = rng.standard_normal((40, 6)), rng.standard_normal((6, 1)), rng.integers(0, 2, (40, 1)).astype(float)
    s = 1 / (1 + np.exp(-X @ w))
    textbook = X.T @ np.diag((s * (1 - s))[:, 0]) @ X / 40
    np.testing.assert_allclose(module.hessian(X=X, w=w, y=y), textbook, rtol=1e-12)
    np.testing.assert_allclose(module.gradients(X=X, w=w, y=y)["w"], X.T @ (s - y) / 40, rtol=1e-12)


def test_a_wrong_self_test_fails(sources):
    """The generated check can fail: a module whose gradient is off by a factor does not pass."""
    module = load(sources["xor"])
    right = module.gradients
    module.gradients = lambda **values: {k: 1.01 * v for k, v in right(**values).items()}
    with pytest.raises(AssertionError, match="finite differences"):
        module.self_test()


# ----- stability ---------------------------------------------------------------------------------

def _exact(function, z):
    return np.array([float(function(mpmath.mpf(float(v)))) for v in np.ravel(z)]).reshape(np.shape(z))


def test_stable_primitives_are_finite_and_accurate_at_1000(sources):
    module = load(sources["xor"])
    z = np.array([[-1000.0, -745.0, -40.0, -1.0, 0.0, 2.5, 40.0, 745.0, 1000.0]])
    mpmath.mp.dps = 50
    sigma = _exact(lambda t: 1 / (1 + mpmath.exp(-t)), z)
    softplus = _exact(lambda t: mpmath.log(1 + mpmath.exp(t)), z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is right
        got_sigma, got_softplus = module.sigmoid(z), module.softplus(z)
    # relative accuracy wherever sigma is a normal float, absolute below (sigma(-1000) underflows anyway)
    np.testing.assert_allclose(got_sigma, sigma, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(got_softplus, softplus, rtol=1e-14, atol=1e-300)
    # cross-entropy from logits: the loss of confident right and wrong answers at |z| = 1000
    loss = module.forward(W_1=np.zeros((2, 2)), b_1=np.zeros(2), W_2=np.zeros((1, 2)), b_2=[[1000.0]],
                          X=np.zeros((2, 4)), Y=np.array([[1.0, 1.0, 0.0, 0.0]]))
    assert loss == pytest.approx(1000.0 / 2, rel=1e-14)  # two examples wrong by 1000 each, mean over 4
    mlp = load(sources["mlp"])
    big = np.array([[1000.0], [-1000.0], [0.0]])
    log_softmax = mlp.log_softmax(big)
    assert np.all(np.isfinite(log_softmax))
    np.testing.assert_allclose(log_softmax[:, 0], [0.0, -2000.0, -1000.0], atol=1e-12)


# ----- other array libraries ---------------------------------------------------------------------

def test_torch_module_gives_the_numpy_gradients(sources):
    torch = pytest.importorskip("torch")
    module = load(ns.export(mlp_net(), target="torch"))
    values = mlp_values(np.random.default_rng(11))
    found = module.gradients(**{k: torch.from_numpy(v) for k, v in values.items()})
    expected = load(sources["mlp"]).gradients(**values)
    for name in expected:
        assert isinstance(found[name], torch.Tensor) and found[name].dtype == torch.float64
        np.testing.assert_allclose(found[name].numpy(), expected[name], rtol=1e-12)
    assert module.self_test() < 1e-6


def test_jax_module_is_jit_friendly_and_gives_the_numpy_gradients(sources):
    jax = pytest.importorskip("jax")
    module = load(ns.export(mlp_net(), target="jax"))
    values = mlp_values(np.random.default_rng(12))
    found = jax.jit(module.gradients)(**values)
    loss = jax.jit(module.forward)(**values)
    expected_loss, expected = load(sources["mlp"]).loss_and_gradients(**values)
    # float32 unless jax_enable_x64 is on; either way the jitted code computes the same thing
    tolerance = 1e-12 if found["W_1"].dtype == np.float64 else 1e-4
    for name in expected:
        np.testing.assert_allclose(np.asarray(found[name]), expected[name], rtol=tolerance, atol=tolerance)
    assert float(loss) == pytest.approx(expected_loss, rel=tolerance)
    assert module.self_test() < 2e-2
    hessian_module = load(ns.export(logistic_loss(), "w", hessians=True, target="jax"))
    assert hessian_module.self_test() < 2e-2


def test_unknown_target_and_bad_variables_are_input_errors():
    with pytest.raises(ns.InputError, match="unknown target 'fortran'"):
        ns.export(xor_net(), target="fortran")
    with pytest.raises(ns.InputError, match="cannot differentiate with respect to 'v'"):
        ns.export(r"\frac{1}{2}\|x\|^2", "v", shapes={"x": "3"})
    with pytest.raises(ns.InputError, match="Hessians are exported for vectors"):
        ns.export(r"\frac{1}{2}\|W x\|^2", "W", shapes={"W": "2x3", "x": "3"}, hessians=True)


def test_a_title_cannot_escape_the_docstring():
    hostile = 'XOR"""\nraise SystemExit("escaped")\nr"""\\'
    module = load(ns.export(xor_net(), title=hostile, verify=False))
    assert module.__doc__.startswith("XOR\nraise SystemExit(escaped)")
    assert module.self_test() < 1e-6
