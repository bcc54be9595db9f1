"""Issue 10: exported code keeps the caller's float type. float32 in: float32 arithmetic and out, the
stable kernels finite at |z| = 1000 in float32 too; other input (lists, ints) is float64."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.emit import stable
from nnsym.emit.standalone import load

NET = ns.network([4, 5, 3], activation="sigmoid", loss="softmax_cross_entropy", batch=6, mean=True)


def _arguments(scale=1.0):
    rng = np.random.default_rng(0)
    return dict(W_1=scale * rng.normal(size=(5, 4)), b_1=rng.normal(size=(5, 1)), W_2=rng.normal(size=(3, 5)),
                b_2=rng.normal(size=(3, 1)), X=rng.normal(size=(4, 6)), Y=np.eye(3)[:, [0, 1, 2, 0, 1, 2]])


def test_float32_network_in_float32_out():
    module = load(ns.export(NET))
    args = _arguments()
    loss64, grads64 = module.loss_and_gradients(**args)
    loss32, grads32 = module.loss_and_gradients(**{k: v.astype(np.float32) for k, v in args.items()})
    assert all(g.dtype == np.float32 for g in grads32.values())
    assert np.isclose(loss32, loss64, rtol=1e-5)
    for k in grads64:
        assert np.allclose(grads32[k], grads64[k], rtol=1e-4, atol=1e-5)
    assert all(g.dtype == np.float64 for g in module.gradients(**{k: v.tolist() for k, v in args.items()}).values())
    # saturated sigmoids and logits of thousands: finite in float32 too
    loss, grads = module.loss_and_gradients(**{k: v.astype(np.float32) for k, v in _arguments(1000.0).items()})
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_typed_loss_float32_at_extreme_logits():
    module = load(ns.export(r"-y^\top \log\sigma(Xw) - (\mathbf{1}-y)^\top \log(\mathbf{1}-\sigma(Xw))", ["w"],
                            shapes={"X": "3x2", "w": "2", "y": "3"}))
    X = np.array([[1000.0, 0.0], [-800.0, 1.0], [40.5, 2.0]], dtype=np.float32)
    w, y = np.array([1.0, 0.5], dtype=np.float32), np.array([0.0, 1.0, 1.0], dtype=np.float32)
    loss, grads = module.loss_and_gradients(X=X, w=w, y=y)
    assert grads["w"].dtype == np.float32 and np.isfinite(loss) and np.all(np.isfinite(grads["w"]))
    loss64, grads64 = module.loss_and_gradients(X=X.astype(float), w=w.astype(float), y=y.astype(float))
    assert np.isclose(loss, loss64, rtol=1e-6) and np.allclose(grads["w"], grads64["w"], rtol=1e-5)


def test_torch_float32():
    torch = pytest.importorskip("torch")
    module = load(ns.export(NET, target="torch"))
    args = {k: torch.from_numpy(v.astype(np.float32)) for k, v in _arguments().items()}
    loss, grads = module.loss_and_gradients(**args)
    assert loss.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads.values())


@pytest.mark.parametrize("name", ["sigmoid", "sigmoid_prime", "log_sigmoid", "softplus", "tanh_prime", "heaviside",
                                  "erf", "gelu", "logsumexp", "softmax", "log_softmax"])
def test_kernels_keep_float32_and_stay_finite(name):
    z = np.array([[-1000.0, -800.0, -40.0, 0.0, 40.0, 800.0, 1000.0]], dtype=np.float32).T
    with np.errstate(over="raise", invalid="raise"):
        value = getattr(stable, name)(z)
    assert value.dtype == np.float32 and np.all(np.isfinite(value))
    assert np.allclose(value, getattr(stable, name)(z.astype(float)), rtol=1e-6, atol=1e-30)
