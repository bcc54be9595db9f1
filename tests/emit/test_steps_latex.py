"""Board lines as LaTeX: rules in \\text{...}, shapes, delta named where it is formed; every right side
reads back to the value it was printed from."""

from __future__ import annotations

import nnsym as ns
from nnsym.declare.expressions import Named
from nnsym.derive.backprop import delta_name
from nnsym.derive.steps import derive_steps
from nnsym.emit.steps_latex import rows, shown_cotangent, steps_latex, text_escape
from nnsym.verify.formulas import read_back


def test_least_squares_align_block():
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    text = steps_latex(derive_steps(ns.norm(W @ x - y, squared=True) / 2, [W]), "key")
    assert text.startswith("\\begin{align*}\n") and text.endswith("\n\\end{align*}")
    assert text.splitlines()[1:-1] == [
        r"\frac{\partial f}{\partial \left(W x - y\right)} &= W x - y && "
        r"\text{chain rule},\ \text{squared-norm rule}\quad [m \times 1] \\",
        r"\frac{\partial f}{\partial W} &= \left(W x - y\right) x^\top && "
        r"\text{chain rule},\ \text{product rule, trace cyclicity}\quad [m \times n]",
    ]


def test_delta_is_named_where_it_is_formed_and_lines_read_back():
    forward = ns.network([2, 3, 1], loss="squared_error").forward()
    named = set(forward.pre_activations)
    derivation = derive_steps(forward.loss, forward.parameters,
                              hook=lambda node, G: Named(delta_name(node), G) if node in named else G)
    lines = derivation.lines("key")
    text = rows(lines, "L")
    assert any(row.startswith(r"\delta^{(1)} = \frac{\partial L}{\partial z^{(1)}} &= \left(W^{(2)\top} \delta^{(2)}"
                              r"\right) \odot \sigma'\left(z^{(1)}\right) && \text{chain rule},\ "
                              r"\odot/\operatorname{diag}\text{ rule}\quad [3 \times 1]") for row in text)
    assert any(row.startswith(r"\frac{\partial L}{\partial b^{(1)}} &= \delta^{(1)} &&") for row in text)
    for line in lines:
        assert read_back(shown_cotangent(line)) <= 1e-12


def test_text_escape_keeps_tex_specials_out_of_text_mode():
    assert text_escape(r"a_b & 50% {x}^2 \ ") == r"a\_b \& 50\% \{x\}\^{}2 \textbackslash{} "


def test_only_sums_and_products_are_parenthesised_under_the_partial():
    """d sigma(Wx), d x^T and d ||r||^2 are units on the board; d(W x) and d(x^T A) need their parentheses."""
    W, x, y = ns.matrix("W", "m", "n"), ns.vector("x", "n"), ns.vector("y", "m")
    text = steps_latex(derive_steps(ns.norm(ns.sigmoid(W @ x) - y, squared=True) / 2, [W]), "every")
    lefts = [row.split(" &= ")[0] for row in text.splitlines()[1:-1]]
    assert lefts == [r"\frac{\partial f}{\partial \left\|\sigma\left(W x\right) - y\right\|^{2}}",
                     r"\frac{\partial f}{\partial \left(\sigma\left(W x\right) - y\right)}",
                     r"\frac{\partial f}{\partial \sigma\left(W x\right)}",
                     r"\frac{\partial f}{\partial \left(W x\right)}",
                     r"\frac{\partial f}{\partial W}"]
    A = ns.matrix("A", "n", "n")
    text = steps_latex(derive_steps(ns.transpose(x) @ A @ x, [x]), "every")
    assert r"\frac{\partial f}{\partial \left(x^\top A\right)} &= x^\top" in text
    assert r"\frac{\partial f}{\partial x^\top} &= x^\top A^\top" in text
