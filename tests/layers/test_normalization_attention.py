"""Batch norm, layer norm, dropout, attention and multi-head attention (issue 14): every gradient
against PyTorch autograd (where installed) and against central finite differences written here, the
textbook forms as printed, and the LaTeX read back."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.declare.attention import attention, multi_head_attention
from nnsym.declare.reading import read_latex
from nnsym.declare.normalization import batch_norm, dropout, layer_norm, normalize, std
from nnsym.derive.reverse import cotangents
from nnsym.errors import ParseError, ShapeError
from nnsym.verify.evaluate import evaluate

RNG = np.random.default_rng(14)


def values_for(*symbols, scale=1.0):
    return {s.name: scale * RNG.standard_normal(tuple(int(d) for d in s.shape)) for s in symbols}


def finite_differences(f, symbol, values, h=1e-6):
    """Central differences of the scalar f in every entry of symbol, written out here."""
    x = values[symbol.name]
    out = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        plus, minus = dict(values), dict(values)
        plus[symbol.name], minus[symbol.name] = x.copy(), x.copy()
        plus[symbol.name][index] += h
        minus[symbol.name][index] -= h
        out[index] = (evaluate(f, plus)[0, 0] - evaluate(f, minus)[0, 0]) / (2 * h)
    return out


def derived(f, symbols, values):
    found = cotangents(f, symbols)
    return {s.name: evaluate(found[s], values) for s in symbols}


# ----- batch norm and layer norm -----

Z, R = ns.matrix("Z", 4, 6), ns.matrix("R", 4, 6)
GAMMA, BETA = ns.vector(r"\gamma", 4), ns.vector(r"\beta", 4)


@pytest.mark.parametrize("layer", [batch_norm, layer_norm])
def test_normalization_gradients_match_finite_differences_and_torch(layer):
    torch = pytest.importorskip("torch")
    f = ns.sum_entries(ns.hadamard(layer(Z, GAMMA, BETA), R))
    values = values_for(Z, R, GAMMA, BETA)
    ours = derived(f, [Z, GAMMA, BETA], values)
    for s in (Z, GAMMA, BETA):
        np.testing.assert_allclose(ours[s.name], finite_differences(f, s, values), rtol=1e-6, atol=1e-7)
    z, g, b = (torch.tensor(values[k], requires_grad=True) for k in ("Z", r"\gamma", r"\beta"))
    x = z.T  # torch: examples as rows
    if layer is batch_norm:
        y = torch.nn.functional.batch_norm(x, None, None, g[:, 0], b[:, 0], training=True, eps=1e-5)
    else:
        y = torch.nn.functional.layer_norm(x, (4,), g[:, 0], b[:, 0], eps=1e-5)
    (y.T * torch.tensor(values["R"])).sum().backward()
    for name, tensor in (("Z", z), (r"\gamma", g), (r"\beta", b)):
        np.testing.assert_allclose(ours[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_gradient_prints_the_compact_textbook_form():
    f = ns.sum_entries(ns.hadamard(batch_norm(Z, GAMMA, BETA), R))
    found = cotangents(f, [Z, GAMMA, BETA])
    assert ns.latex(found[Z]) == (
        r"\frac{1}{6} \left(\left(\gamma \oslash \operatorname{std}_{\mathrm{BN}}\left(Z\right)\right) "
        r"\mathbf{1}_{6}^\top\right) \odot \left(6 R - R \mathbf{1} \mathbf{1}_{6}^\top - \operatorname{BN}\left(Z\right) "
        r"\odot \left(\left(R \odot \operatorname{BN}\left(Z\right)\right) \mathbf{1} \mathbf{1}_{6}^\top\right)\right)")
    assert ns.latex(found[GAMMA]) == r"\left(R \odot \operatorname{BN}\left(Z\right)\right) \mathbf{1}"
    assert ns.latex(found[BETA]) == r"R \mathbf{1}"


def test_grad_verifies_batch_norm_with_both_checks():
    Zs, Rs = ns.matrix("Z", 3, 4), ns.matrix("R", 3, 4)
    g = ns.grad(ns.norm(batch_norm(Zs, ns.vector(r"\gamma", 3), ns.vector(r"\beta", 3)) - Rs, squared=True), Zs)
    assert [r.method for r in g.reports] == ["central finite differences", "elementwise SymPy derivation"]
    assert all(r.ok for r in g.reports)


def test_tiny_and_offset_variances_stay_accurate():
    # Rows of 1e8 + noise of 1e-3: E[z^2] - E[z]^2 loses every digit (1e16 has an ulp of 2); the centred
    # two-pass form keeps x-hat to the precision the data has (an ulp of 1e8 is 1.5e-8, 1.5e-5 of sigma).
    Zv = 1e8 + 1e-3 * RNG.standard_normal((4, 6))
    exact = np.array(Zv, dtype=np.longdouble)
    for eps, over in ((1e-9, "batch"), (0.0, "features")):
        axis = 1 if over == "batch" else 0
        got = evaluate(normalize(Z, over, eps), {"Z": Zv})
        centred = exact - exact.mean(axis=axis, keepdims=True)
        want = np.asarray(centred / np.sqrt((centred ** 2).mean(axis=axis, keepdims=True) + eps), dtype=float)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
        naive_var = np.maximum((Zv * Zv).mean(axis=axis, keepdims=True) - Zv.mean(axis=axis, keepdims=True) ** 2, 0)
        with np.errstate(all="ignore"):
            naive = (Zv - Zv.mean(axis=axis, keepdims=True)) / np.sqrt(naive_var + eps)
        assert not np.allclose(naive, want, atol=0.1)  # the test can fail: the naive form is far off
    sigma = evaluate(std(Z, "batch", 1e-5), {"Z": np.ones((4, 6))})  # zero variance: sigma = sqrt(eps)
    np.testing.assert_allclose(sigma, np.sqrt(1e-5), rtol=1e-15)


# ----- dropout -----

def test_dropout_gradient_is_mask_over_keep():
    torch = pytest.importorskip("torch")
    A, M, G = ns.matrix("A", 3, 5), ns.matrix("M", 3, 5), ns.matrix("G", 3, 5)
    f = ns.sum_entries(ns.hadamard(ns.tanh(dropout(A, M, 0.8)), G))
    values = values_for(A, G)
    values["M"] = (RNG.random((3, 5)) < 0.8).astype(float)
    ours = derived(f, [A], values)["A"]
    np.testing.assert_allclose(ours, finite_differences(f, A, values), rtol=1e-6, atol=1e-8)
    a = torch.tensor(values["A"], requires_grad=True)
    (torch.tanh(a * torch.tensor(values["M"]) / 0.8) * torch.tensor(values["G"])).sum().backward()
    np.testing.assert_allclose(ours, a.grad.numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ns.InputError):
        dropout(A, M, 1.5)


# ----- attention -----

Q, K, V, G = ns.matrix("Q", 5, 3), ns.matrix("K", 5, 3), ns.matrix("V", 5, 2), ns.matrix("G", 5, 2)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_gradients_match_finite_differences_and_torch(causal):
    torch = pytest.importorskip("torch")
    f = ns.sum_entries(ns.hadamard(attention(Q, K, V, causal), G))
    values = values_for(Q, K, V, G)
    ours = derived(f, [Q, K, V], values)
    for s in (Q, K, V):
        np.testing.assert_allclose(ours[s.name], finite_differences(f, s, values), rtol=1e-6, atol=1e-8)
    q, k, v = (torch.tensor(values[n], requires_grad=True) for n in "QKV")
    out = torch.nn.functional.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=causal)[0]
    (out * torch.tensor(values["G"])).sum().backward()
    for name, tensor in zip("QKV", (q, k, v)):
        np.testing.assert_allclose(ours[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_attention_gradients_print_as_the_textbook_writes_them():
    f = ns.sum_entries(ns.hadamard(attention(Q, K, V), G))
    found = cotangents(f, [Q, K, V])
    P = r"\operatorname{softmax}_{\mathrm{row}}\left(\frac{1}{\sqrt{3}} Q K^\top\right)"
    dS = rf"{P} \odot \left(G V^\top - \left(\left(G V^\top\right) \odot {P}\right) \mathbf{{1}} \mathbf{{1}}_{{5}}^\top\right)"
    assert ns.latex(found[V]) == rf"{P}^\top G"                                  # dV = P^T dY
    assert ns.latex(found[Q]) == rf"\frac{{1}}{{\sqrt{{3}}}} \left({dS}\right) K"    # dQ = dS K / sqrt(d)
    assert ns.latex(found[K]) == rf"\frac{{1}}{{\sqrt{{3}}}} \left({dS}\right)^\top Q"  # dK = dS^T Q / sqrt(d)


def test_large_scores_stay_finite():
    values = values_for(Q, K, V, G, scale=300.0)  # scores of order 1e5: exp would overflow unshifted
    for causal in (False, True):
        f = ns.sum_entries(ns.hadamard(attention(Q, K, V, causal), G))
        for gradient in derived(f, [Q, K, V], values).values():
            assert np.all(np.isfinite(gradient))


def test_multi_head_attention_matches_torch():
    torch = pytest.importorskip("torch")
    X, H = ns.matrix("X", 4, 6), ns.matrix("H", 4, 6)
    W = {n: ns.matrix(f"W_{n}", 6, 6) for n in "QKVO"}
    for causal in (False, True):
        f = ns.sum_entries(ns.hadamard(multi_head_attention(X, W["Q"], W["K"], W["V"], W["O"], heads=3,
                                                            causal=causal), H))
        values = values_for(X, H, *W.values())
        ours = derived(f, [X, *W.values()], values)
        t = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
        q, k, v = (t["X"] @ t[f"W_{{{n}}}"] for n in "QKV")
        split = lambda a: a.reshape(4, 3, 2).transpose(0, 1)  # noqa: E731  (heads, T, d_k): heads split the columns
        heads = torch.nn.functional.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
        out = heads.transpose(0, 1).reshape(4, 6) @ t["W_{O}"]
        (out * t["H"]).sum().backward()
        for name in ("X", "W_{Q}", "W_{K}", "W_{V}", "W_{O}"):
            np.testing.assert_allclose(ours[name], t[name].grad.numpy(), rtol=1e-9, atol=1e-11)
    with pytest.raises(ShapeError):
        multi_head_attention(X, W["Q"], W["K"], W["V"], W["O"], heads=4)


# ----- the reader -----

SHAPES = {"Z": (4, 6), r"\gamma": (4, 1), r"\beta": (4, 1), "Q": (5, 3), "K": (5, 3), "V": (5, 2), "X": (4, 6),
          "W_Q": (6, 6), "W_K": (6, 6), "W_V": (6, 6), "W_O": (6, 6)}


def test_reader_reads_the_layers():
    assert read_latex(r"\operatorname{BN}(Z, \gamma, \beta)", SHAPES) == batch_norm(Z, GAMMA, BETA)
    assert read_latex(r"\operatorname{LayerNorm}_{0.001}(Z, \gamma, \beta)", SHAPES) == layer_norm(Z, GAMMA, BETA, 1e-3)
    assert read_latex(r"\operatorname{Attention}_{\text{causal}}(Q, K, V)", SHAPES) == attention(Q, K, V, True)
    W = {n: ns.matrix(f"W_{n}", 6, 6) for n in "QKVO"}
    assert (read_latex(r"\operatorname{MultiHead}_{2}(X, W_Q, W_K, W_V, W_O)", SHAPES)
            == multi_head_attention(ns.matrix("X", 4, 6), W["Q"], W["K"], W["V"], W["O"], heads=2))


@pytest.mark.parametrize("text, message", [
    (r"\operatorname{softmax}_{\mathrm{diag}}(Z)", "row"),
    (r"\operatorname{BN}(Z, \gamma)", "1 or 3 argument"),
    (r"\operatorname{std}(Z)", "BN"),
    (r"\operatorname{MultiHead}_{0}(X, W_Q, W_K, W_V, W_O)", "heads"),
    (r"\operatorname{Attention}(Q, V, K)", "columns"),
    (r"\operatorname{tr}(Z, Z, Z)", "only layers"),
    (r"\operatorname{tr}(Z, Z)", "only H(p, q)"),
])
def test_reader_refuses_bad_layers_with_one_message(text, message):
    with pytest.raises((ParseError, ShapeError)) as error:
        read_latex(text, SHAPES)
    assert message in str(error.value) and "col " in str(error.value)
