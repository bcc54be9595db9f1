"""Optimizer updates (issue 14): one step of each formula, evaluated by nnsym, against a hand-written
NumPy step and against torch.optim (where installed); L2 against decoupled weight decay."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.optimizers import update
from nnsym.declare.names import canonical_name
from nnsym.verify.evaluate import evaluate as evaluate_by_name


def evaluate(expr, values):
    """nnsym's evaluator with the values keyed as written here (g_t for g_{t})."""
    return evaluate_by_name(expr, {canonical_name(k): v for k, v in values.items()})

RATES = {r"\eta": 0.1, r"\mu": 0.9, r"\rho": 0.99, r"\epsilon": 1e-8, r"\beta_1": 0.9, r"\beta_2": 0.999,
         r"\lambda": 0.01}


def _state(rng, n=5):
    return {r"\theta_{t-1}": rng.standard_normal(n), "g_t": rng.standard_normal(n), "b_{t-1}": rng.standard_normal(n),
            "s_{t-1}": rng.random(n), "m_{t-1}": rng.standard_normal(n), "v_{t-1}": rng.random(n), **RATES}


def _hand(optimizer, x, t, decay):
    """The textbook step, written out in NumPy."""
    theta, g = x[r"\theta_{t-1}"], x["g_t"]
    eta, lam = x[r"\eta"], x[r"\lambda"]
    if decay == "l2":
        g = g + lam * theta
    if optimizer == "sgd":
        step = g
    elif optimizer == "momentum":
        step = x[r"\mu"] * x["b_{t-1}"] + g
    elif optimizer == "rmsprop":
        s = x[r"\rho"] * x["s_{t-1}"] + (1 - x[r"\rho"]) * g * g
        step = g / (np.sqrt(s) + x[r"\epsilon"])
    else:
        b1, b2 = x[r"\beta_1"], x[r"\beta_2"]
        m = b1 * x["m_{t-1}"] + (1 - b1) * g
        v = b2 * x["v_{t-1}"] + (1 - b2) * g * g
        step = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + x[r"\epsilon"])
    if decay == "decoupled":
        step = step + lam * theta
    return theta - eta * step


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("decay", [None, "l2", "decoupled"])
def test_updates_match_a_hand_written_step(optimizer, decay):
    rng = np.random.default_rng(3)
    for t in (1, 4):
        values = _state(rng)
        found = evaluate(update(optimizer, 5, t, decay).parameter, values)[:, 0]
        np.testing.assert_allclose(found, _hand(optimizer, values, t, decay), rtol=1e-14, atol=1e-15)


def test_adam_and_adamw_match_torch_optim_over_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for decay, torch_class in ((None, torch.optim.Adam), ("l2", torch.optim.Adam), ("decoupled", torch.optim.AdamW)):
        theta0 = rng.standard_normal(4)
        p = torch.tensor(theta0, requires_grad=True)
        options = dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01 if decay else 0.0)
        optimizer = torch_class([p], **options)
        state = {r"\theta_{t-1}": theta0, "m_{t-1}": np.zeros(4), "v_{t-1}": np.zeros(4), **RATES}
        if decay is None:
            state[r"\lambda"] = 0.0
        for t in range(1, 4):
            g = rng.standard_normal(4)
            p.grad = torch.tensor(g)
            optimizer.step()
            step = update("adam", 4, t, decay or "l2")
            values = dict(state, g_t=g)
            new = {s.name.replace("{", "").replace("}", ""): evaluate(s, values)[:, 0] for s in step.steps}
            np.testing.assert_allclose(new[r"\theta_t"], p.detach().numpy(), rtol=1e-12, atol=1e-14)
            state.update({r"\theta_{t-1}": new[r"\theta_t"], "m_{t-1}": new["m_t"], "v_{t-1}": new["v_t"]})


@pytest.mark.parametrize("optimizer, torch_name, options", [
    ("sgd", "SGD", dict(lr=0.1)), ("momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("rmsprop", "RMSprop", dict(lr=0.1, alpha=0.99, eps=1e-8)),
])
def test_sgd_momentum_rmsprop_match_torch_optim(optimizer, torch_name, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    theta = rng.standard_normal(4)
    p = torch.tensor(theta, requires_grad=True)
    opt = getattr(torch.optim, torch_name)([p], **options)
    state = {r"\theta_{t-1}": theta, "b_{t-1}": np.zeros(4), "s_{t-1}": np.zeros(4), **RATES}
    for t in range(1, 4):
        g = rng.standard_normal(4)
        p.grad = torch.tensor(g)
        opt.step()
        step = update(optimizer, 4, t)
        new = {s.name.replace("{", "").replace("}", ""): evaluate(s, dict(state, g_t=g))[:, 0] for s in step.steps}
        # torch's momentum buffer starts as g itself: b_1 = g_1 = mu 0 + g_1, the formula at b_0 = 0
        np.testing.assert_allclose(new[r"\theta_t"], p.detach().numpy(), rtol=1e-12, atol=1e-14)
        state.update({r"\theta_{t-1}": new[r"\theta_t"], "b_{t-1}": new.get("b_t", state["b_{t-1}"]),
                      "s_{t-1}": new.get("s_t", state["s_{t-1}"])})


def test_l2_and_weight_decay_agree_for_sgd_and_differ_for_adam():
    rng = np.random.default_rng(9)
    values = _state(rng)
    sgd = [evaluate(update("sgd", 5, 1, d).parameter, values) for d in ("l2", "decoupled")]
    np.testing.assert_allclose(sgd[0], sgd[1], rtol=1e-15)
    adam = [evaluate(update("adam", 5, 2, d).parameter, values) for d in ("l2", "decoupled")]
    assert np.max(np.abs(adam[0] - adam[1])) > 1e-4
    # the penalty's gradient, derived: d/dtheta (lambda/2 ||theta||^2) = lambda theta
    theta, lam = ns.vector(r"\theta", 5), ns.scalar(r"\lambda")
    assert ns.grad(lam / 2 * ns.norm(theta, squared=True), theta).latex() == r"\lambda \theta"


def test_update_formulas_print_and_refuse_bad_input():
    step = update("adam", "n", 3, "decoupled")
    lines = {s.name: ns.latex(s.definition) for s in step.steps}
    assert lines[r"\hat{m}_{t}"] == r"\frac{m_{t}}{1 - \beta_{1}^{3}}"
    assert lines[r"\theta_{t}"].startswith(r"\theta_{t-1} - \eta")
    with pytest.raises(ns.InputError):
        update("adagrad")
    with pytest.raises(ns.InputError):
        update("adam", t=0)
