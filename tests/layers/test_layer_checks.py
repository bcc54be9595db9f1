"""`nnsym check` and `derive` on the later layers (issue 14): right claims pass, and the classic
mistakes of FINDINGS.md are named."""

import json
import subprocess
import sys

import pytest

import nnsym as ns

BN_SHAPES = {"Z": "3x4", "R": "3x4", r"\gamma": "3", r"\beta": "3"}
BN_F = r"\mathbf{1}^\top (\operatorname{BN}(Z, \gamma, \beta) \odot R) \mathbf{1}"
ATT_SHAPES = {"Q": "4x2", "K": "4x2", "V": "4x3", "G": "4x3"}
ATT_F = r"\mathbf{1}^\top (\operatorname{Attention}(Q, K, V) \odot G) \mathbf{1}"
P = r"\operatorname{softmax}_{\mathrm{row}}(\frac{1}{\sqrt{2}} Q K^\top)"
DS = rf"({P} \odot (G V^\top - ((G V^\top) \odot {P}) \mathbf{{1}} \mathbf{{1}}^\top))"


def test_right_claims_pass():
    compact = (r"\frac{1}{4} ((\gamma \oslash \operatorname{std}_{\mathrm{BN}}(Z)) \mathbf{1}^\top) \odot (4 R - "
               r"R \mathbf{1}\mathbf{1}^\top - \operatorname{BN}(Z) \odot ((R \odot \operatorname{BN}(Z)) \mathbf{1} "
               r"\mathbf{1}^\top))")
    assert ns.check(BN_F, compact, "Z", BN_SHAPES).ok
    assert ns.check(BN_F, r"(R \odot \operatorname{BN}(Z)) \mathbf{1}", r"\gamma", BN_SHAPES).ok
    assert ns.check(ATT_F, rf"\frac{{1}}{{\sqrt{{2}}}} {DS} K", "Q", ATT_SHAPES).ok
    assert ns.check(ATT_F, rf"\frac{{1}}{{\sqrt{{2}}}} {DS}^\top Q", "K", ATT_SHAPES).ok
    assert ns.check(ATT_F, rf"{P}^\top G", "V", ATT_SHAPES).ok


@pytest.mark.parametrize("function, claim, wrt, shapes, diagnosis", [
    (BN_F, r"R \odot (\gamma \oslash \operatorname{std}_{\mathrm{BN}}(Z)) \mathbf{1}^\top", "Z", BN_SHAPES,
     "batch norm with its statistics held constant"),
    (BN_F.replace("BN", "LayerNorm"), r"(R \odot \gamma \mathbf{1}^\top) \oslash (\mathbf{1} \operatorname{std}_{\mathrm{LN}}(Z))",
     "Z", BN_SHAPES, "layer norm with its statistics held constant"),
    (ATT_F, rf"{DS} K", "Q", ATT_SHAPES, "missing 1/sqrt(d)"),
    (ATT_F, rf"\frac{{1}}{{\sqrt{{2}}}} ({P} \odot G V^\top) K", "Q", ATT_SHAPES, "softmax taken elementwise"),
    (ATT_F, rf"\frac{{1}}{{\sqrt{{2}}}} ({P} \odot (\mathbf{{1}}\mathbf{{1}}^\top - {P}) \odot G V^\top) K", "Q",
     ATT_SHAPES, "entry by entry"),
    (r"\mathbf{1}^\top (\tanh(\frac{5}{4} A \odot M) \odot G) \mathbf{1}",
     r"G \odot \tanh'(\frac{5}{4} A \odot M) \odot M", "A", {"A": "3x4", "M": "3x4", "G": "3x4"},
     "dropout without the 1/keep"),
])
def test_classic_mistakes_are_named(function, claim, wrt, shapes, diagnosis):
    verdict = ns.check(function, claim, wrt, shapes)
    assert not verdict.ok
    assert diagnosis in verdict.diagnosis


def test_cli_derives_and_checks_attention():
    shapes = ["--shape", "Q=4x2", "--shape", "K=4x2", "--shape", "V=4x3", "--shape", "G=4x3"]
    trace_form = r"\operatorname{tr}(G^\top \operatorname{Attention}(Q, K, V))"
    out = subprocess.run([sys.executable, "-m", "nnsym.present.cli", "derive", "--function", trace_form, "--wrt", "V",
                          *shapes, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["gradient"] == (r"\operatorname{softmax}_{\mathrm{row}}\left(\frac{1}{\sqrt{2}} "
                                                  r"Q K^\top\right)^\top G")
    out = subprocess.run([sys.executable, "-m", "nnsym.present.cli", "check", "--function", ATT_F, "--wrt", "Q",
                          *shapes, "--claimed", rf"{DS} K"], capture_output=True, text=True)
    assert out.returncode == 1 and "missing 1/sqrt(d)" in out.stdout
    out = subprocess.run([sys.executable, "-m", "nnsym.present.cli", "derive", "--function",
                          r"\operatorname{softmax}_{\mathrm{diagonal}}(Q)", "--wrt", "Q", *shapes],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "softmax" in out.stderr
