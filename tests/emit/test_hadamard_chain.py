"""A chain of Hadamard products prints without the brackets of its nesting (a o b o c), and reads back to
the same tree; sums of several terms under a sum over time keep their brackets (the sum covers only the
product after it)."""

import numpy as np

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.reading import read_latex
from nnsym.emit.latex import latex
from nnsym.verify.evaluate import evaluate

X, Y, Z = (ns.vector(n, 3) for n in "xyz")
SHAPES = {n: (3, 1) for n in "xyz"}


def _values(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.normal(size=(3, 1)) for n in "xyz"}


def test_left_nested_chain_prints_flat_and_reads_back_to_the_same_tree():
    chain = E.hadamard(E.hadamard(X, Y), Z)
    assert latex(chain) == r"x \odot y \odot z"
    assert read_latex(latex(chain), SHAPES) == chain


def test_right_nested_and_mixed_products_keep_their_brackets():
    right = E.hadamard(X, E.hadamard(Y, Z))
    assert latex(right) == r"x \odot \left(y \odot z\right)"
    mixed = E.hadamard(E.add(X, Y), Z)
    text = latex(mixed)
    v = _values()
    assert np.allclose(evaluate(read_latex(text, SHAPES), v), (v["x"] + v["y"]) * v["z"])


def test_bptt_sum_of_a_difference_is_bracketed():
    rows = dict(ns.bptt(ns.rnn(2, 3, 2, 3)).recursion)
    summed = rows[r"\frac{\partial L}{\partial b_{y}}"]
    assert summed.startswith(r"\sum_{t=1}^{T} \left(") and summed.endswith(r"\right)")
