"""The optimizer updates of chapter 3 as formulas: SGD, momentum, RMSProp, Adam (with bias
correction), and weight decay against an L2 penalty.

Each update is a short list of assignments, state before the step on the right (theta_{t-1},
m_{t-1}, ...), the gradient g_t = dL/dtheta at theta_{t-1}; each new value is a `Named` node whose
definition uses the ones above it, so evaluating theta_t evaluates the whole step. The conventions
are PyTorch's (torch.optim), against which the tests check one step of each:

- SGD:       theta_t = theta_{t-1} - eta g_t
- momentum:  b_t = mu b_{t-1} + g_t,  theta_t = theta_{t-1} - eta b_t
- RMSProp:   s_t = rho s_{t-1} + (1 - rho) g_t o g_t,  theta_t = theta_{t-1} - eta g_t / (sqrt(s_t) + eps)
- Adam:      m_t = beta1 m_{t-1} + (1 - beta1) g_t,  v_t = beta2 v_{t-1} + (1 - beta2) g_t o g_t,
             m-hat = m_t / (1 - beta1^t),  v-hat = v_t / (1 - beta2^t),
             theta_t = theta_{t-1} - eta m-hat / (sqrt(v-hat) + eps)
- L2 penalty (lambda/2 ||theta||^2 added to the loss) puts g_t + lambda theta_{t-1} into every moment;
  decoupled weight decay (AdamW) subtracts eta lambda theta_{t-1} from the step instead. For SGD the
  two are one update; for Adam they differ (the penalty's gradient is divided by sqrt(v-hat)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Named, Symbol
from nnsym.declare.functions import sqrt
from nnsym.errors import InputError

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


@dataclass(frozen=True)
class Update:
    """One optimizer step: ``steps`` are the new values in order (each a `Named`), the last is theta_t."""

    name: str
    steps: Tuple[Named, ...]
    state: Tuple[Symbol, ...]  # the symbols of the step's inputs: theta_{t-1}, g_t, moments, rates

    @property
    def parameter(self) -> Named:
        return self.steps[-1]


def _vector(name, n):
    return E.vector(name, n)


def update(optimizer: str, n="n", t: int = 1, weight_decay: str | None = None) -> Update:
    """The step of ``optimizer`` (one of OPTIMIZERS) at step number ``t`` for a parameter vector of
    length ``n``; ``weight_decay`` is None, "l2" (the penalty's gradient in g) or "decoupled" (AdamW)."""
    if optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    if weight_decay not in (None, "l2", "decoupled"):
        raise InputError(f"weight_decay is None, 'l2' or 'decoupled', not {weight_decay!r}")
    if isinstance(t, bool) or not isinstance(t, int) or t < 1:
        raise InputError(f"the step number t counts from 1, not {t!r}")
    theta, g = _vector(r"\theta_{t-1}", n), _vector("g_t", n)
    eta = E.scalar(r"\eta")
    state = [theta, g, eta]
    gradient = g
    lam = None
    if weight_decay is not None:
        lam = E.scalar(r"\lambda")
        state.append(lam)
        if weight_decay == "l2":
            # d/dtheta (lambda/2 ||theta||^2) = lambda theta
            gradient = E.name(r"\tilde{g}_t", E.add(g, E.scale(lam, theta)))
    steps = [gradient] if isinstance(gradient, Named) else []
    one = E.Constant(1)
    if optimizer == "sgd":
        direction = gradient
    elif optimizer == "momentum":
        mu, b = E.scalar(r"\mu"), _vector("b_{t-1}", n)
        state += [mu, b]
        direction = E.name("b_t", E.add(E.scale(mu, b), gradient))
        steps.append(direction)
    elif optimizer == "rmsprop":
        rho, eps, s = E.scalar(r"\rho"), E.scalar(r"\epsilon"), _vector("s_{t-1}", n)
        state += [rho, eps, s]
        s_t = E.name("s_t", E.add(E.scale(rho, s), E.scale(E.add(one, E.neg(rho)), E.hadamard(gradient, gradient))))
        steps.append(s_t)
        direction = E.hadamard_div(gradient, E.add(sqrt(s_t), eps))
    else:
        beta1, beta2, eps = E.scalar(r"\beta_1"), E.scalar(r"\beta_2"), E.scalar(r"\epsilon")
        m, v = _vector("m_{t-1}", n), _vector("v_{t-1}", n)
        state += [beta1, beta2, eps, m, v]
        m_t = E.name("m_t", E.add(E.scale(beta1, m), E.scale(E.add(one, E.neg(beta1)), gradient)))
        v_t = E.name("v_t", E.add(E.scale(beta2, v), E.scale(E.add(one, E.neg(beta2)), E.hadamard(gradient, gradient))))
        # bias correction: the moments start at 0, so early averages are shrunk by 1 - beta^t
        m_hat = E.name(r"\hat{m}_t", E.scale(E.power(E.add(one, E.neg(E.power(beta1, t))), -1), m_t))
        v_hat = E.name(r"\hat{v}_t", E.scale(E.power(E.add(one, E.neg(E.power(beta2, t))), -1), v_t))
        steps += [m_t, v_t, m_hat, v_hat]
        direction = E.hadamard_div(m_hat, E.add(sqrt(v_hat), eps))
    if weight_decay == "decoupled":
        direction = E.add(direction, E.scale(lam, theta))
    steps.append(E.name(r"\theta_t", E.add(theta, E.neg(E.scale(eta, direction)))))
    return Update(optimizer, tuple(steps), tuple(state))
