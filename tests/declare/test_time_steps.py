"""Issue 15: the reader's families of names over time steps and sums over them (`time_steps`), and definitions
(`nnsym.declare.definitions`). A sum over steps must equal the sum written out term by term, at random points."""

import numpy as np
import pytest

from nnsym.declare.definitions import Definitions
from nnsym.declare.expressions import Named, post_order
from nnsym.declare.reading import read_latex
from nnsym.errors import InputError, ParseError
from nnsym.verify.evaluate import evaluate

SHAPES = {"W": "3x3", "U": "3x2", "V": "2x3", "h_0": "3", "h_1": "3", "h_{2}": "3", "h_3": "3",
          "\\delta_1": "3", "\\delta_2": "3", "\\delta_3": "3", "x_t": "2", "y_t": "2"}


def values(seed=0):
    rng = np.random.default_rng(seed)
    out = {"W": rng.standard_normal((3, 3)), "U": rng.standard_normal((3, 2)), "V": rng.standard_normal((2, 3))}
    for t in range(0, 4):
        out[f"h_{{{t}}}"] = rng.standard_normal((3, 1))
        out[f"\\delta_{{{t}}}"] = rng.standard_normal((3, 1))
        out[f"x_{{{t}}}"], out[f"y_{{{t}}}"] = rng.standard_normal((2, 1)), rng.standard_normal((2, 1))
    return out


def same_value(a, b):
    for seed in range(3):
        point = values(seed)
        assert np.allclose(evaluate(a, point), evaluate(b, point), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("summed, written", [
    (r"\sum_{t=1}^{3} \frac12\|V h_t - y_t\|^2",
     r"\frac12\|V h_1 - y_1\|^2 + \frac12\|V h_2 - y_2\|^2 + \frac12\|V h_3 - y_3\|^2"),
    (r"\sum_{t=1}^{3} (\delta_t \odot (1 - h_t \odot h_t)) h_{t-1}^\top",
     r"(\delta_1 \odot (1 - h_1 \odot h_1)) h_0^\top + (\delta_2 \odot (1 - h_2 \odot h_2)) h_1^\top"
     r" + (\delta_3 \odot (1 - h_3 \odot h_3)) h_2^\top"),
    (r"\sum_{t=1}^{T-1} W^\top \delta_{t+1} x_t^\top", r"W^\top \delta_2 x_1^\top + W^\top \delta_3 x_2^\top"),
    (r"2 \sum_{t=2}^{T} (h_{t} - h_{t-1})", r"2 (h_3 - h_1)"),  # a factor before the sum multiplies it
    (r"\sum_{t=1}^{3} (\delta_t \odot h_{t" + "\u2212" + "1})", r"\delta_1 \odot h_0 + \delta_2 \odot h_1 + \delta_3 \odot h_2"),
    (r"h_{T} + \sum_{t=3}^{T} h_{t}", r"h_3 + h_3"),
])
def test_a_sum_over_steps_equals_its_terms_written_out(summed, written):
    constants = {"T": 3}
    same_value(read_latex(summed, SHAPES, constants=constants), read_latex(written, SHAPES, constants=constants))


def test_an_empty_sum_is_zero_and_one_step_is_one_term():
    assert not np.any(evaluate(read_latex(r"\sum_{t=2}^{T} h_t", SHAPES, constants={"T": 1}), values()))
    same_value(read_latex(r"\sum_{t=1}^{T} W h_{t-1}", SHAPES, constants={"T": 1}), read_latex("W h_0", SHAPES))


def test_a_declared_family_gives_its_steps_their_shape():
    assert read_latex("x_1", SHAPES).shape == (2, 1) and read_latex("x_{3}", SHAPES).shape == (2, 1)
    assert read_latex("h_1", SHAPES) == read_latex("h_{1}", SHAPES)


def test_index_notation_is_untouched():
    shapes = {"x": "3", "W": "3x2"}
    same_shape = read_latex(r"\sum_i x_i", shapes)
    assert same_shape.shape == (1, 1)
    assert read_latex(r"\sum_{k=1}^{n} W_{ik} y_k", {"W": "3x2", "y": "2"}, indices=("i",)).shape == (3, 1)
    with pytest.raises(ParseError, match="a sum runs over all entries"):
        read_latex(r"\sum_{i=2}^{3} x_i", shapes)


@pytest.mark.parametrize("text, constants, said", [
    (r"\sum_{t=1}^{T} \delta_{t+1}", {"T": 3}, r"\delta_{4}, a step that does not exist (\delta has steps 1 to 3)"),
    (r"\sum_{t=1}^{T} h_t", None, "T is not defined"),
    (r"\sum_{t=0}^{3} x_t", None, "x_{0}, a step that does not exist (x has steps from 1)"),
    (r"h_{T+1}", {"T": 3}, "h_{4}, a step that does not exist (h has steps 0 to 3)"),
    (r"\sum_{t=1}^{3} h_t^\top v_t", None, "an index is for steps or for entries, not both"),
    (r"\sum_{t} h_t", None, "needs its limits"),
    (r"\sum_{t=1}^{100} h_t", None, "at most 64"),
    (r"\sum_{t=1}^{3} (\mathbf{1}^\top h_t) + \mathbf{1}^\top h_t", None, "h_{t}: no sum over t encloses it"),
])
def test_what_is_refused_is_refused_with_its_column(text, constants, said):
    with pytest.raises(ParseError) as error:
        read_latex(text, {**SHAPES, "v": "3"}, constants=constants)
    first = str(error.value).splitlines()[0]
    assert first.startswith("col ") and said in first, first


def test_definitions_read_in_order_and_expand_to_named_steps():
    defined = Definitions(["T = 2", r"h_1 = \tanh(W h_0 + U x_1)", r"h_2 = \tanh(W h_1 + U x_2)"],
                          {"W": "3x3", "U": "3x2", "h_0": "3", "x_t": "2"})
    assert defined.constants == {"T": 2}
    f = defined.expand(read_latex(r"\sum_{t=1}^{T} \mathbf{1}^\top h_t", defined.reading_shapes(),
                                  constants=defined.constants))
    assert {n.name for n in post_order([f]) if isinstance(n, Named)} == {"h_{1}", "h_{2}"}
    assert {s.name for s in f.free_symbols()} == {"W", "U", "h_{0}", "x_{1}", "x_{2}"}


@pytest.mark.parametrize("texts, said", [
    ([r"h_2 = \tanh(W h_1)", r"h_1 = \tanh(W h_0)"], "uses h_{1}, which is defined after it"),
    ([r"h_1 = \tanh(W h_0)", r"h_1 = W h_0"], "h_{1} is defined twice"),
    ([r"h_1 = \tanh(W h_1)"], "h_{1} is defined by itself"),
    ([r"h_0 = W h_0"], "h_{0} is declared"),
    ([r"\tanh(W h_0)"], "write NAME = LATEX"),
])
def test_bad_definitions_say_what_is_wrong(texts, said):
    with pytest.raises(InputError, match=None) as error:
        Definitions(texts, {"W": "3x3", "h_0": "3"})
    assert said in str(error.value)


def test_the_python_api_grad_of_a_typed_recurrence_equals_the_written_out_one():
    import nnsym as ns
    defined = ns.Definitions(["T = 2", r"h_1 = \tanh(W h_0 + U x_1)", r"h_2 = \tanh(W h_1 + U x_2)"],
                             {"W": "3x3", "U": "3x2", "h_0": "3", "x_t": "2", "y_t": "3"})
    f = defined.formula(r"L = \sum_{t=1}^{T} \frac12 \|h_t - y_t\|^2")
    W, U = ns.matrix("W", 3, 3), ns.matrix("U", 3, 2)
    h0, x1, x2 = ns.vector("h_{0}", 3), ns.vector("x_{1}", 2), ns.vector("x_{2}", 2)
    y1, y2 = ns.vector("y_{1}", 3), ns.vector("y_{2}", 3)
    h1 = ns.tanh(W @ h0 + U @ x1)
    h2 = ns.tanh(W @ h1 + U @ x2)
    by_hand = ns.norm(h1 - y1, squared=True) / 2 + ns.norm(h2 - y2, squared=True) / 2
    point = {"W": np.eye(3) * 0.5, "U": np.ones((3, 2)), "h_{0}": np.arange(3.0)[:, None],
             "x_{1}": np.ones((2, 1)), "x_{2}": -np.ones((2, 1)), "y_{1}": np.ones((3, 1)), "y_{2}": np.zeros((3, 1))}
    assert np.allclose(evaluate(ns.grad(f, W).expression, point), evaluate(ns.grad(by_hand, W, oracle=False).expression, point))


def test_a_sum_covers_a_hadamard_chain_up_to_the_next_plus():
    """\\sum_t a_t \\odot b_t is the sum of the Hadamard products, as lecturers write it (it used to be
    (\\sum_t a_t) \\odot b_t, refused for the unbound b_t); a + still ends the sum."""
    shapes = {f"{n}_{k}": "3" for n in "ab" for k in (1, 2)} | {"c": "3"}
    names = ("a_{1}", "a_{2}", "b_{1}", "b_{2}", "c")
    v = {name: np.random.default_rng(k).normal(size=(3, 1)) for k, name in enumerate(names)}
    chain = read_latex(r"\sum_{t=1}^{2} a_t \odot b_t + c", shapes)
    assert np.allclose(evaluate(chain, v), v["a_{1}"] * v["b_{1}"] + v["a_{2}"] * v["b_{2}"] + v["c"])
