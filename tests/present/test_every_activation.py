"""Every activation of the table goes through backprop and its verification, default parameters included
(a network's "leaky_relu" layer once reached the evaluator without its slope)."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.functions import ACTIVATIONS
from nnsym.present.cli import main


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_verifies_for_every_activation(activation):
    result = ns.backprop(ns.network([2, 3, 1], activation=activation))
    finite_differences = result.reports[0]
    assert finite_differences.ok and finite_differences.max_abs_error < 1e-6


@pytest.mark.parametrize("activation", ["leaky_relu", "elu"])
def test_default_parameter_is_the_documented_one(activation):
    z = ns.vector("z", 3)
    default = ns.apply(activation, z) if hasattr(ns, "apply") else None
    explicit = ns.leaky_relu(z) if activation == "leaky_relu" else ns.elu(z)
    point = {"z": np.array([[-2.0], [0.5], [-0.1]])}
    if default is not None:
        np.testing.assert_allclose(ns.evaluate(default, point), ns.evaluate(explicit, point))
    slope = 0.01 if activation == "leaky_relu" else None
    value = ns.evaluate(explicit, point)
    expected = np.where(point["z"] > 0, point["z"], 0.01 * point["z"] if slope else np.expm1(point["z"]))
    np.testing.assert_allclose(value, expected)


def test_cli_backprop_leaky_relu_exits_zero(capsys):
    assert main(["backprop", "--sizes", "2,2,1", "--activation", "leaky_relu"]) == 0
    assert "LeakyReLU" in capsys.readouterr().out
