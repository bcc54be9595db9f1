r"""Issue 14c: the attention scale 1/sqrt(d) prints as a lecturer writes it (\frac{1}{\sqrt{2}}, not SymPy's
\frac{\sqrt{2}}{2}), and a claim with the scale forgotten inside the softmax (dV, dS written with P unscaled)
is named "missing 1/sqrt(d)"."""

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy

import nnsym as ns
from nnsym.declare import expressions as E
from nnsym.declare.reading import read_latex

x = ns.vector("x", 3)


@pytest.mark.parametrize("value, text", [
    (1 / sympy.sqrt(2), r"\frac{1}{\sqrt{2}} x"),
    (1 / sympy.sqrt(8), r"\frac{1}{2 \sqrt{2}} x"),
    (3 / (2 * sympy.sqrt(2)), r"\frac{3}{2 \sqrt{2}} x"),
    (-1 / sympy.sqrt(3), r"-\frac{1}{\sqrt{3}} x"),
    (sympy.sqrt(3) / 2, r"\frac{\sqrt{3}}{2} x"),  # no root came from a denominator: left as it is
    (sympy.sqrt(2), r"\sqrt{2} x"),
])
def test_root_coefficients_print_with_the_root_below(value, text):
    printed = ns.latex(E.scale(E.Constant(value), x))
    assert printed == text
    # read back by value, against the coefficient computed in floating point here
    point = np.array([[0.3], [-1.2], [2.5]])
    back = ns.evaluate(read_latex(printed, {"x": 3}), {"x": point})
    assert np.allclose(back, float(value) * point, rtol=1e-14, atol=0)


SHAPES = ["--shape", "Q=4x2", "--shape", "K=3x2", "--shape", "V=3x2", "--shape", "R=4x2"]
F = r"\mathbf{1}^\top (\operatorname{Attention}(Q,K,V) \odot R) \mathbf{1}"
SHAPE_MAP = {"Q": "4x2", "K": "3x2", "V": "3x2", "R": "4x2"}
P0 = r"\operatorname{softmax}_{\mathrm{row}}(Q K^\top)"
P = r"\operatorname{softmax}_{\mathrm{row}}(\frac{1}{\sqrt{2}} Q K^\top)"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "nnsym.present.cli", *args], capture_output=True, text=True)


def test_cli_derive_prints_the_attention_scale_as_one_over_root_d():
    out = _cli("derive", "--function", F, "--wrt", "V", *SHAPES, "--json")
    assert out.returncode == 0, out.stderr
    gradient = json.loads(out.stdout)["gradient"]
    assert gradient == r"\operatorname{softmax}_{\mathrm{row}}\left(\frac{1}{\sqrt{2}} Q K^\top\right)^\top R"
    assert ns.check(F, gradient, "V", SHAPE_MAP).ok  # what is printed is read back as the gradient


def test_symbolic_d_still_prints_over_root_d():
    d = sympy.Symbol("d", positive=True, integer=True)
    Q, K, V = ns.matrix("Q", 4, d), ns.matrix("K", 3, d), ns.matrix("V", 3, 2)
    printed = ns.grad(ns.sum_entries(ns.attention(Q, K, V)), V).latex()
    assert printed == r"\operatorname{softmax}_{\mathrm{row}}\left(\frac{1}{\sqrt{d}} Q K^\top\right)^\top \mathbf{1}_{4} \mathbf{1}_{2}^\top"


def dS(p):
    return rf"({p} \odot (R V^\top - ((R V^\top) \odot {p}) \mathbf{{1}} \mathbf{{1}}^\top))"


@pytest.mark.parametrize("claim, wrt", [
    (rf"{P0}^\top R", "V"),                                       # dV = P^T dY with P = softmax(Q K^T)
    (rf"\frac{{1}}{{\sqrt{{2}}}} {dS(P0)} K", "Q"),               # the outside factor kept, the inside one lost
    (rf"\frac{{1}}{{\sqrt{{2}}}} {dS(P0)}^\top Q", "K"),    (rf"{dS(P0)} K", "Q"),                                       # lost in both places
])
def test_scale_forgotten_inside_the_softmax_is_named(claim, wrt):
    verdict = ns.check(F, claim, wrt, SHAPE_MAP)
    assert not verdict.ok
    assert "missing 1/sqrt(d)" in verdict.diagnosis


@pytest.mark.parametrize("claim, wrt", [
    (rf"{P}^\top R", "V"), (rf"\frac{{1}}{{\sqrt{{2}}}} {dS(P)} K", "Q"), (rf"\frac{{1}}{{\sqrt{{2}}}} {dS(P)}^\top Q", "K"),
])
def test_right_claims_get_no_diagnosis(claim, wrt):
    verdict = ns.check(F, claim, wrt, SHAPE_MAP)
    assert verdict.ok and verdict.diagnosis is None


def test_cli_check_names_the_forgotten_scale():
    out = _cli("check", "--function", F, "--wrt", "V", *SHAPES, "--claimed", rf"{P0}^\top R")
    assert out.returncode == 1 and "missing 1/sqrt(d)" in out.stdout
    out = _cli("check", "--function", F, "--wrt", "V", *SHAPES, "--claimed", rf"{P}^\top R")
    assert out.returncode == 0 and "missing" not in out.stdout
