"""Attention and the transformer block: scaled dot-product attention, its backward pass through the
row-wise softmax, the causal mask, multi-head attention and a post-norm block in adjoint form."""

import numpy as np
import sympy

import nnsym as ns
from nnsym.declare.attention import row_softmax, scaled_scores
from nnsym.derive.adjoints import adjoint_hook
from nnsym.derive.reverse import cotangents
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error


def _by_hand(Q, K, V, G, causal=False):
    """The textbook backward pass of attention, in NumPy: (dQ, dK, dV) for upstream G."""
    d = Q.shape[1]
    S = Q @ K.T / np.sqrt(d)
    if causal:
        S = np.where(np.tri(*S.shape, dtype=bool), S, -np.inf)
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dP = G @ V.T
    dS = P * (dP - (dP * P).sum(axis=1, keepdims=True))
    return dS @ K / np.sqrt(d), dS.T @ Q / np.sqrt(d), P.T @ G, P


def _row_softmax_explicit(S, T):
    """softmax of each row from its definition: e^S / (e^S 1 1^T), independent of the row-softmax rule."""
    E = ns.exp(S)
    return ns.hadamard_div(E, E @ ns.ones(T) @ ns.transpose(ns.ones(T)))


def note() -> Note:
    """15: attention and the transformer block."""
    T, d, dv = 4, 2, 3
    Q, K, V, G = ns.matrix("Q", T, d), ns.matrix("K", T, d), ns.matrix("V", T, dv), ns.matrix("G", T, dv)
    # The intermediates named as on the board; their cotangents are named \bar{S}, \bar{P} (adjoints).
    S = ns.declare.expressions.name("S", scaled_scores(Q, K))
    P_ = ns.declare.expressions.name("P", row_softmax(S))
    O = P_ @ V
    loss = ns.trace(ns.transpose(G) @ O)  # dL/dO = G: the layer's backward pass for any upstream G
    hook = adjoint_hook(loss)
    scores = ns.transpose(K @ ns.transpose(Q)) / sympy.sqrt(d)  # Q K^T / sqrt(d), built apart
    explicit = ns.trace(ns.transpose(G) @ _row_softmax_explicit(scores, T) @ V)
    found = ns.gradients(loss, [Q, K, V], oracle=False, hook=hook)
    Pc_ = ns.declare.expressions.name("P", row_softmax(S, causal=True))
    causal_loss = ns.trace(ns.transpose(G) @ Pc_ @ V)
    causal = ns.gradients(causal_loss, [Q], oracle=False, hook=adjoint_hook(causal_loss))

    rng = np.random.default_rng(15)
    Q0, K0, V0, G0 = (rng.standard_normal(shape) for shape in ((T, d), (T, d), (T, dv), (T, dv)))
    dQ0 = found[Q].to_numpy()(Q=Q0, K=K0, V=V0, G=G0)
    P0 = _by_hand(Q0, K0, V0, G0)[3]
    Xs = rng.standard_normal((8, 4))
    Pc = _by_hand(Xs, Xs, Xs, Xs, causal=True)[3]

    # A post-norm transformer block (2 heads, d_model = 4, feed-forward width 3) in adjoint form.
    X, Yt = ns.matrix("X", 3, 4), ns.matrix("Y", 3, 4)
    P = dict(WQ=ns.matrix("W_Q", 4, 4), WK=ns.matrix("W_K", 4, 4), WV=ns.matrix("W_V", 4, 4),
             WO=ns.matrix("W_O", 4, 4), gamma1=ns.vector(r"\gamma_1", 4), beta1=ns.vector(r"\beta_1", 4),
             W1=ns.matrix("W_1", 4, 3), b1=ns.vector("b_1", 3), W2=ns.matrix("W_2", 3, 4), b2=ns.vector("b_2", 4),
             gamma2=ns.vector(r"\gamma_2", 4), beta2=ns.vector(r"\beta_2", 4))
    block = ns.transformer_block(X, **P, heads=2)
    block_loss = ns.trace(ns.transpose(Yt) @ block)
    adjoints = []
    block_grads = cotangents(block_loss, [P["W1"], P["gamma2"]], adjoint_hook(block_loss, lambda a, g: adjoints.append(a)))
    forward = [n for n in ns.declare.expressions.post_order([block]) if isinstance(n, ns.declare.expressions.Named)]

    def draw(axes):
        axes.imshow(Pc, cmap="viridis")
        axes.set_title("causal attention weights P (row i attends to j <= i)")
        axes.set_xlabel("key j")
        axes.set_ylabel("query i")

    return Note(15, "attention-transformer", "Attention and the transformer block", (
        Text("Scaled dot-product attention (Vaswani et al., 2017) takes queries $Q$ ($T \\times d$), keys $K$ "
             "($S \\times d$) and values $V$ ($S \\times d_v$), tokens as rows. The scores "
             "$S = Q K^\\top / \\sqrt{d}$ are turned into weights by a softmax of each row, "
             "$P = \\operatorname{softmax}_{\\mathrm{row}}(S)$ (each row sums to one: a different function from "
             "the column softmax of classification), and the output is $O = P V$:"),
        Formula(ns.attention(Q, K, V), "O", reference=_row_softmax_explicit(scores, T) @ V),
        Text("Take $L$ with $\\partial L / \\partial O = G$. Reverse mode meets the product $PV$, the row softmax "
             "and the scaled product $QK^\\top$; step by step:"),
        steps(loss, [Q, K, V], "L", hook=hook),
        Text("The row softmax's Jacobian gives $dS = P \\odot (dP - ((dP \\odot P)\\mathbf{1})\\mathbf{1}^\\top)$ "
             "with $dP = G V^\\top$; then $dQ = dS\\,K / \\sqrt{d}$, $dK = dS^\\top Q / \\sqrt{d}$ and "
             "$dV = P^\\top G$ (here $d = 2$, so $1/\\sqrt{d}$ prints as $\\frac{\\sqrt{2}}{2}$):"),
        Formula(found[Q].expression, r"\frac{\partial L}{\partial Q}", derivative_of=(explicit, Q)),
        Formula(found[K].expression, r"\frac{\partial L}{\partial K}", derivative_of=(explicit, K)),
        Formula(found[V].expression, r"\frac{\partial L}{\partial V}", derivative_of=(explicit, V)),
        Text("Each is checked by finite differences of the loss with the softmax written from its definition. "
             "A worked example, four tokens, from the exported NumPy function, against the textbook formulas "
             "written out in NumPy:"),
        Display(rf"P = {array_latex(P0, 3)}, \quad \frac{{\partial L}}{{\partial Q}} = {array_latex(dQ0, 3)}",
                lambda: ("against dS K / sqrt(d) in hand-written NumPy",
                         relative_error(dQ0, _by_hand(Q0, K0, V0, G0)[0]))),
        Text("The classic mistakes: the softmax differentiated entry by entry ($dS = P \\odot (1 - P) \\odot dP$, "
             "no row Jacobian), the $1/\\sqrt{d}$ left out of $dQ$ and $dK$, transposes. `nnsym check` names "
             "the first two. **Causal attention** leaves out the entries right of the diagonal (token $i$ sees "
             "tokens $j \\le i$): there $P = 0$, so the same rule gives $dS = 0$ there and nothing else changes:"),
        Formula(causal[Q].expression, r"\frac{\partial L}{\partial Q}", derivative_of=(causal_loss, Q)),
        Plot("causal-attention", "causal self-attention weights of eight random tokens", draw),
        Text("**Multi-head attention** splits the columns of $X W_Q$, $X W_K$, $X W_V$ into $h$ blocks "
             "($\\operatorname{cols}_{1:2}$, ...), attends in each, and concatenates the heads "
             "($\\operatorname{pad}$ places a head's columns) before $W_O$. **The transformer block** (post-norm) "
             "adds the input back and normalises each token: "
             "$H^{(1)} = X + \\operatorname{MultiHead}(X)$, $Y^{(1)} = \\operatorname{LayerNorm}(H^{(1)})$, "
             "$H^{(2)} = Y^{(1)} + \\operatorname{ReLU}(Y^{(1)} W_1 + \\mathbf{1} b_1^\\top) W_2 + \\mathbf{1} b_2^\\top$ "
             "and the output $\\operatorname{LayerNorm}(H^{(2)})$. Its intermediates are named:"),
        *[Formula(n.definition, n.name) for n in reversed(forward) if n.name != "H^{(1)}"],
        Text("and so are their adjoints $\\bar{H} = \\partial L / \\partial H$, as a network names its "
             "$\\delta^{(l)}$. With $\\partial L / \\partial \\operatorname{block} = Y$, $\\bar{H}^{(2)}$ is the "
             "layer-norm backward pass of note 13 applied to $Y$ (transposed: tokens are rows), and the residual "
             "adds the paths:"),
        *[Formula(a.definition, a.name) for a in adjoints if a.name == r"\bar{Y}^{(1)}"],
        Formula(block_grads[P["W1"]], r"\frac{\partial L}{\partial W_1}", derivative_of=(block_loss, P["W1"])),
        Formula(block_grads[P["gamma2"]], r"\frac{\partial L}{\partial \gamma_2}",
                derivative_of=(block_loss, P["gamma2"])),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
