"""Generated NumPy code computes what the node evaluator computes, for every node type the printer
knows, and accepts arguments by LaTeX name or Python identifier."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.emit.numpy_code import compile_function, write_function
from nnsym.verify.evaluate import evaluate
from nnsym.verify.points import random_point, small_sizes, symbols_of

W1 = ns.matrix("W^{(1)}", "m", "n")
x, y = ns.vector("x", "n"), ns.vector("y", "m")
A = ns.matrix("A", "n", "n", assume="spd")
z = ns.vector("z", "m")

EXPRESSIONS = [
    ns.sigmoid(W1 @ x) - y,
    ns.hadamard(ns.tanh(z), ns.relu(z)),
    ns.softmax(W1 @ x),
    ns.logsumexp(z) * z,
    ns.inv(A) @ x,
    ns.logdet(A) * x + ns.det(A) * x,
    ns.diag(x) @ A,
    ns.norm(z) * z + ns.norm(W1, squared=True) * z,
    ns.gelu(z) + ns.elu(z) + ns.leaky_relu(z) + ns.softplus(z),
    ns.softmax_cross_entropy(z, y) * x,
    ns.binary_cross_entropy(z, y) * x,
    ns.hadamard_div(ns.exp(z), ns.exp(y)),
    ns.trace(A) * x + ns.sum_entries(A) * x,
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=range(len(EXPRESSIONS)))
def test_generated_code_matches_the_evaluator(expr):
    symbols = symbols_of(expr)
    sizes = small_sizes(symbols)
    values = random_point([expr], symbols, sizes, np.random.default_rng(3))
    function = compile_function(write_function("f", {"": expr}))
    generated = write_function("f", {"": expr})
    kwargs = {generated.arguments[name]: value for name, value in values.items()}
    np.testing.assert_allclose(function(**kwargs), evaluate(expr, values, sizes), rtol=1e-12, atol=1e-14)


def test_to_numpy_takes_latex_names_or_identifiers():
    g = ns.grad(ns.squared_error(ns.sigmoid(W1 @ x), y), W1)
    f = g.to_numpy()
    rng = np.random.default_rng(0)
    values = {"W^{(1)}": rng.standard_normal((3, 2)), "x": rng.standard_normal(2), "y": rng.standard_normal(3)}
    by_latex = f(values)
    by_identifier = f(W_1=values["W^{(1)}"], x=values["x"], y=values["y"])
    np.testing.assert_array_equal(by_latex, by_identifier)
    np.testing.assert_allclose(by_latex, evaluate(g.expression, values), rtol=1e-12)


def test_generated_code_checks_shapes():
    f = ns.grad(ns.norm(W1 @ x - y, squared=True), W1).to_numpy()
    # The compiled callable reports the generated assert as nnsym's own error (issue 5: only documented types).
    with pytest.raises(ns.InputError, match=r"y should be m x 1, got \(4, 1\)"):
        f(W_1=np.ones((3, 2)), x=np.ones(2), y=np.ones(4))
