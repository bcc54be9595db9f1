"""The transformer block, embeddings, residuals and networks with batch/layer norm and dropout (issue
14): gradients against PyTorch autograd (where installed), exported modules' self-tests."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.attention import embedding, transformer_block
from nnsym.declare.names import identifier
from nnsym.derive.reverse import cotangents
from nnsym.emit.standalone import load
from nnsym.verify.evaluate import evaluate

T, D, HEADS, DFF = 4, 6, 2, 5


def block_symbols():
    return dict(WQ=ns.matrix("W_Q", D, D), WK=ns.matrix("W_K", D, D), WV=ns.matrix("W_V", D, D),
                WO=ns.matrix("W_O", D, D), gamma1=ns.vector(r"\gamma_1", D), beta1=ns.vector(r"\beta_1", D),
                W1=ns.matrix("W_1", D, DFF), b1=ns.vector("b_1", DFF), W2=ns.matrix("W_2", DFF, D),
                b2=ns.vector("b_2", D), gamma2=ns.vector(r"\gamma_2", D), beta2=ns.vector(r"\beta_2", D))


def torch_block(t, causal):
    """The post-norm block written with torch's own layers: H1 = X + MHA(X), Y1 = LN(H1),
    H2 = Y1 + relu(Y1 W1 + b1) W2 + b2, LN(H2)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    X = t["X"]
    split = lambda a: a.reshape(T, HEADS, D // HEADS).transpose(0, 1)  # noqa: E731
    q, k, v = (X @ t[f"W_{{{n}}}"] for n in "QKV")
    heads = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
    H1 = X + heads.transpose(0, 1).reshape(T, D) @ t["W_{O}"]
    Y1 = F.layer_norm(H1, (D,), t[r"\gamma_{1}"][:, 0], t[r"\beta_{1}"][:, 0], eps=1e-5)
    H2 = Y1 + torch.relu(Y1 @ t["W_{1}"] + t["b_{1}"][:, 0]) @ t["W_{2}"] + t["b_{2}"][:, 0]
    return F.layer_norm(H2, (D,), t[r"\gamma_{2}"][:, 0], t[r"\beta_{2}"][:, 0], eps=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_gradients_match_torch(causal):
    torch = pytest.importorskip("torch")
    X, Y = ns.matrix("X", T, D), ns.matrix("Y", T, D)
    P = block_symbols()
    f = ns.sum_entries(ns.hadamard(transformer_block(X, **P, heads=HEADS, causal=causal), Y))
    rng = np.random.default_rng(7)
    values = {s.name: rng.standard_normal(tuple(int(d) for d in s.shape)) for s in f.free_symbols()}
    found = cotangents(f, [X, *P.values()])
    t = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    (torch_block(t, causal) * t["Y"]).sum().backward()
    assert abs(evaluate(f, values)[0, 0] - float((torch_block(t, causal) * t["Y"]).sum().detach())) < 1e-10
    for s in (X, *P.values()):
        np.testing.assert_allclose(evaluate(found[s], values), t[s.name].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=s.name)


def test_transformer_block_exports_and_passes_its_self_test():
    X, Y = ns.matrix("X", 3, 4), ns.matrix("Y", 3, 4)
    P = dict(WQ=ns.matrix("W_Q", 4, 4), WK=ns.matrix("W_K", 4, 4), WV=ns.matrix("W_V", 4, 4),
             WO=ns.matrix("W_O", 4, 4), gamma1=ns.vector(r"\gamma_1", 4), beta1=ns.vector(r"\beta_1", 4),
             W1=ns.matrix("W_1", 4, 3), b1=ns.vector("b_1", 3), W2=ns.matrix("W_2", 3, 4), b2=ns.vector("b_2", 4),
             gamma2=ns.vector(r"\gamma_2", 4), beta2=ns.vector(r"\beta_2", 4))
    f = ns.norm(transformer_block(X, **P, heads=2) - Y, squared=True)
    module = load(ns.export(f, wrt=[s.name for s in P.values()]))
    assert module.self_test() < 1e-6


def test_embedding_gradient_is_a_scatter_add_over_repeated_tokens():
    E, X, G = ns.matrix("E", 3, 5), ns.matrix("X", 5, 4, assume="onehot"), ns.matrix("G", 3, 4)
    f = ns.sum_entries(ns.hadamard(ns.tanh(embedding(E, X)), G))
    found = cotangents(f, [E])[E]
    assert ns.latex(found) == r"\left(G \odot \tanh'\left(E X\right)\right) X^\top"
    tokens = [1, 3, 1, 1]  # token 1 three times: its column of dE must sum three contributions
    values = {"E": np.random.default_rng(1).standard_normal((3, 5)), "X": np.eye(5)[:, tokens],
              "G": np.random.default_rng(2).standard_normal((3, 4))}
    dE = evaluate(found, values)
    upstream = values["G"] * (1 - np.tanh(values["E"][:, tokens]) ** 2)
    np.testing.assert_allclose(dE[:, 1], upstream[:, [0, 2, 3]].sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(dE[:, [0, 2, 4]], 0)


@pytest.mark.parametrize("norm, keep", [("batch", None), ("layer", 0.8), (None, 0.5)])
def test_networks_with_norm_and_dropout_match_torch(norm, keep):
    torch = pytest.importorskip("torch")
    net = ns.network([3, 4, 2], activation="tanh", loss="softmax_cross_entropy", batch=5, mean=True,
                     norm=norm, dropout_keep=keep)
    module = load(ns.export(net))
    assert module.self_test() < 1e-6
    rng = np.random.default_rng(3)
    fw = net.forward()
    values = {s.name: rng.standard_normal(tuple(int(d) for d in s.shape)) for s in fw.loss.free_symbols()}
    values["Y"] = np.eye(2)[:, rng.integers(0, 2, 5)]
    for m in fw.masks:
        values[m.name] = (rng.random((4, 5)) < keep).astype(float)
    loss, grads = module.loss_and_gradients(**{identifier(k): v for k, v in values.items()})
    t = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    F = torch.nn.functional
    u = t["W^{(1)}"] @ t["X"]
    if norm == "batch":
        z = F.batch_norm(u.T, None, None, t[r"\gamma^{(1)}"][:, 0], t[r"\beta^{(1)}"][:, 0], training=True).T
    elif norm == "layer":
        z = F.layer_norm(u.T, (4,), t[r"\gamma^{(1)}"][:, 0], t[r"\beta^{(1)}"][:, 0]).T
    else:
        z = u + t["b^{(1)}"]
    a = torch.tanh(z)
    if keep is not None:
        a = a * t["M^{(1)}"] / keep
    logits = t["W^{(2)}"] @ a + t["b^{(2)}"]
    torch_loss = -(t["Y"] * torch.log_softmax(logits, dim=0)).sum() / 5
    torch_loss.backward()
    assert abs(loss - float(torch_loss.detach())) < 1e-12
    for p in fw.parameters:
        np.testing.assert_allclose(grads[identifier(p.name)], t[p.name].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_large_multi_head_export_is_checked_on_a_copy_with_narrower_heads():
    # 4 heads of 16 columns: the check runs on a copy with 4 heads of 2 columns (issue 14b), not skipped.
    X, G = ns.matrix("X", 16, 64), ns.matrix("G", 16, 64)
    W = [ns.matrix(f"W_{n}", 64, 64) for n in "QKVO"]
    f = ns.sum_entries(ns.hadamard(ns.multi_head_attention(X, *W, heads=4), G))
    module = load(ns.export(f, wrt=[w.name for w in W]))
    assert module.self_test() < 1e-6
