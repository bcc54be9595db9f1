"""Probability and information theory (issue 16): values against torch.distributions and hand-written
NumPy, gradients against finite differences written here and torch autograd, the MLE of a Gaussian,
the loss equivalences at random points, claims with diagnoses, stability at extreme logits."""

import numpy as np
import pytest

import nnsym as ns
from nnsym.emit.standalone import load
from nnsym.verify.evaluate import evaluate

RNG = np.random.default_rng(16)
D, N, K = 3, 5, 4


def spd(d, rng=RNG):
    A = rng.standard_normal((d, d))
    return A @ A.T + d * np.eye(d)


def simplex(k, rng=RNG):
    e = np.exp(rng.standard_normal(k))
    return (e / e.sum()).reshape(-1, 1)


def value(expr, **values):
    return float(evaluate(expr, values)[0, 0])


def central_differences(f, x, h=1e-6):
    """dF/dx entry by entry, every entry of x independent."""
    out = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        out[index] = (f(up) - f(down)) / (2 * h)
    return out


x, mu = ns.vector("x", D), ns.vector(r"\mu", D)
Sigma = ns.matrix(r"\Sigma", D, D, assume="spd")
X = ns.matrix("X", D, N)
mu0, mu1 = ns.vector(r"\mu_0", D), ns.vector(r"\mu_1", D)
S0, S1 = ns.matrix(r"\Sigma_0", D, D, assume="spd"), ns.matrix(r"\Sigma_1", D, D, assume="spd")
p, q = ns.vector("p", K, assume="probability"), ns.vector("q", K, assume="probability")
z, y = ns.vector("z", K), ns.vector("y", K, assume="onehot")
sigma = ns.scalar(r"\sigma", assume="positive")


def gaussian_point():
    return {"X": RNG.standard_normal((D, N)), "mu": RNG.standard_normal((D, 1)), "Sigma": spd(D)}


def nll_numpy(Xv, m, S):
    R = Xv - m
    sign, logdet = np.linalg.slogdet(S)
    return 0.5 * Xv.shape[1] * (logdet + Xv.shape[0] * np.log(2 * np.pi)) + 0.5 * np.trace(R.T @ np.linalg.solve(S, R))


def kl_numpy(m0, A0, m1, A1):
    r = m1 - m0
    return 0.5 * (np.trace(np.linalg.solve(A1, A0)) + float((r.T @ np.linalg.solve(A1, r))[0, 0]) - len(m0)
                  + np.linalg.slogdet(A1)[1] - np.linalg.slogdet(A0)[1])


# ----- values -----


def test_values_against_numpy():
    point = gaussian_point()
    assert value(ns.mvn_nll(X, mu, Sigma), X=point["X"], **{r"\mu": point["mu"], r"\Sigma": point["Sigma"]}) == \
        pytest.approx(nll_numpy(point["X"], point["mu"], point["Sigma"]), rel=1e-12)
    pv, qv = simplex(K), simplex(K)
    assert value(ns.kl_divergence(p, q), p=pv, q=qv) == pytest.approx(float(np.sum(pv * np.log(pv / qv))), rel=1e-12)
    assert value(ns.entropy(p), p=pv) == pytest.approx(-float(np.sum(pv * np.log(pv))), rel=1e-12)
    lv = RNG.uniform(0.1, 1, (K, 1))
    posterior = evaluate(ns.bayes_posterior(ns.vector("l", K), p), {"l": lv, "p": pv})
    np.testing.assert_allclose(posterior, lv * pv / float((lv.T @ pv)[0, 0]), rtol=1e-13)
    assert posterior.sum() == pytest.approx(1.0, abs=1e-14)


def test_values_against_torch_distributions():
    torch = pytest.importorskip("torch")
    td = torch.distributions
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    point = gaussian_point()
    mvn = td.MultivariateNormal(t(point["mu"][:, 0]), covariance_matrix=t(point["Sigma"]))
    values = {"X": point["X"], r"\mu": point["mu"], r"\Sigma": point["Sigma"]}
    assert value(ns.mvn_nll(X, mu, Sigma), **values) == pytest.approx(-float(mvn.log_prob(t(point["X"].T)).sum()), rel=1e-12)
    assert value(ns.mvn_log_density(x, mu, Sigma), x=point["X"][:, :1], **{r"\mu": point["mu"], r"\Sigma": point["Sigma"]}) \
        == pytest.approx(float(mvn.log_prob(t(point["X"][:, 0]))), rel=1e-12)
    s, xs, ms = 0.7, 1.3, -0.4
    assert value(ns.gaussian_log_density(ns.scalar("x"), ns.scalar("m"), sigma), x=xs, m=ms, **{r"\sigma": s}) == \
        pytest.approx(float(td.Normal(t(ms), t(s)).log_prob(t(xs))), rel=1e-12)
    assert value(ns.isotropic_nll(X, mu, sigma), **values, **{r"\sigma": s}) == pytest.approx(
        -float(td.Normal(t(point["mu"]), s).log_prob(t(point["X"])).sum()), rel=1e-12)
    m0, m1, A0, A1 = RNG.standard_normal((D, 1)), RNG.standard_normal((D, 1)), spd(D), spd(D)
    kl = td.kl_divergence(td.MultivariateNormal(t(m0[:, 0]), t(A0)), td.MultivariateNormal(t(m1[:, 0]), t(A1)))
    assert value(ns.gaussian_kl(mu0, S0, mu1, S1), **{mu0.name: m0, mu1.name: m1, S0.name: A0, S1.name: A1}) == \
        pytest.approx(float(kl), rel=1e-12)
    pv, qv = simplex(K), simplex(K)
    P, Q = td.Categorical(probs=t(pv[:, 0])), td.Categorical(probs=t(qv[:, 0]))
    assert value(ns.entropy(p), p=pv) == pytest.approx(float(P.entropy()), rel=1e-12)
    assert value(ns.kl_divergence(p, q), p=pv, q=qv) == pytest.approx(float(td.kl_divergence(P, Q)), rel=1e-12)
    onehot = np.eye(K)[:, [2]]
    assert value(ns.categorical_log_likelihood(y, p), y=onehot, p=pv) == pytest.approx(float(P.log_prob(t(2))), rel=1e-12)
    targets, probs = RNG.integers(0, 2, (K, 1)).astype(float), RNG.uniform(0.05, 0.95, (K, 1))
    assert value(ns.bernoulli_log_likelihood(ns.vector("t", K), ns.vector("r", K)), t=targets, r=probs) == \
        pytest.approx(float(td.Bernoulli(probs=t(probs)).log_prob(t(targets)).sum()), rel=1e-12)


# ----- gradients -----


def test_gaussian_nll_gradients_closed_form_and_differences():
    f = ns.mvn_nll(X, mu, Sigma)
    g_mu, g_S = ns.grad(f, mu), ns.grad(f, Sigma)
    methods = {r.method for r in g_S.reports}
    assert "central finite differences" in methods and "elementwise SymPy derivation" in methods
    point = gaussian_point()
    values = {"X": point["X"], r"\mu": point["mu"], r"\Sigma": point["Sigma"]}
    R, P = point["X"] - point["mu"], np.linalg.inv(point["Sigma"])
    # The textbook forms: -Sigma^{-1} sum_n (x_n - mu) and 1/2 Sigma^{-1} (N Sigma - R R^T) Sigma^{-1}.
    np.testing.assert_allclose(evaluate(g_mu.expression, values), -P @ R.sum(axis=1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(evaluate(g_S.expression, values), 0.5 * P @ (N * point["Sigma"] - R @ R.T) @ P,
                               rtol=1e-10, atol=1e-14)
    fd = central_differences(lambda S: nll_numpy(point["X"], point["mu"], S), point["Sigma"])
    np.testing.assert_allclose(evaluate(g_S.expression, values), fd, rtol=1e-6, atol=1e-8)


def test_mle_of_a_gaussian_zeroes_the_gradients():
    f = ns.mvn_nll(X, mu, Sigma)
    g_mu, g_S = ns.grad(f, mu, oracle=False).expression, ns.grad(f, Sigma, oracle=False).expression
    data = RNG.standard_normal((D, N)) * 2 + 1
    mean = data.mean(axis=1, keepdims=True)
    cov = (data - mean) @ (data - mean).T / N  # the biased (1/N) sample covariance
    at_mle = {"X": data, r"\mu": mean, r"\Sigma": cov}
    assert np.max(np.abs(evaluate(g_mu, at_mle))) < 1e-9
    assert np.max(np.abs(evaluate(g_S, at_mle))) < 1e-9
    # ... and only there: the unbiased 1/(N-1) covariance or a shifted mean leave a gradient.
    assert np.max(np.abs(evaluate(g_S, dict(at_mle, **{r"\Sigma": cov * N / (N - 1)})))) > 1e-3
    assert np.max(np.abs(evaluate(g_mu, dict(at_mle, **{r"\mu": mean + 0.1})))) > 1e-3
    # The NLL is smallest there among nearby SPD points.
    best = nll_numpy(data, mean, cov)
    for _ in range(5):
        E = RNG.standard_normal((D, D)) * 1e-2
        assert nll_numpy(data, mean + RNG.standard_normal((D, 1)) * 1e-2, cov + E @ E.T) > best


def test_gaussian_kl_gradients():
    f = ns.gaussian_kl(mu0, S0, mu1, S1)
    found = ns.gradients(f, [mu0, S0, mu1, S1])
    assert {"central finite differences", "elementwise SymPy derivation"} <= {r.method for r in found[S0].reports}
    m0, m1, A0, A1 = RNG.standard_normal((D, 1)), RNG.standard_normal((D, 1)), spd(D), spd(D)
    values = {mu0.name: m0, mu1.name: m1, S0.name: A0, S1.name: A1}
    P1 = np.linalg.inv(A1)
    r = m1 - m0
    expected = {mu0: P1 @ (m0 - m1), S0: 0.5 * (P1 - np.linalg.inv(A0)), mu1: P1 @ r,
                S1: 0.5 * (P1 - P1 @ (A0 + r @ r.T) @ P1)}
    for v, want in expected.items():
        np.testing.assert_allclose(evaluate(found[v].expression, values), want, rtol=1e-10, atol=1e-14)
    fd = central_differences(lambda A: kl_numpy(m0, A, m1, A1), A0)
    np.testing.assert_allclose(evaluate(found[S0].expression, values), fd, rtol=1e-6, atol=1e-8)
    assert ns.grad(f, S0).latex() == r"\frac{1}{2} \left(\Sigma_{1}^{-1} - \Sigma_{0}^{-1}\right)"


def test_gradients_against_torch_autograd():
    torch = pytest.importorskip("torch")
    td = torch.distributions
    point = gaussian_point()
    values = {"X": point["X"], r"\mu": point["mu"], r"\Sigma": point["Sigma"]}
    tmu = torch.tensor(point["mu"][:, 0], requires_grad=True)
    # torch's Cholesky reads one triangle: differentiate through (A + A^T)/2 so that every entry counts,
    # which gives (G + G^T)/2 = G for nnsym's (symmetric) unconstrained gradient G.
    tA = torch.tensor(point["Sigma"], requires_grad=True)
    nll = -td.MultivariateNormal(tmu, covariance_matrix=(tA + tA.T) / 2).log_prob(torch.tensor(point["X"].T)).sum()
    nll.backward()
    f = ns.mvn_nll(X, mu, Sigma)
    np.testing.assert_allclose(evaluate(ns.grad(f, mu, oracle=False).expression, values)[:, 0], tmu.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(evaluate(ns.grad(f, Sigma, oracle=False).expression, values), tA.grad.numpy(), rtol=1e-9, atol=1e-13)
    zv = RNG.standard_normal(K)
    tz = torch.tensor(zv, requires_grad=True)
    td.Categorical(logits=tz).entropy().backward()
    H = ns.entropy(ns.softmax(z))
    np.testing.assert_allclose(evaluate(ns.grad(H, z).expression, {"z": zv.reshape(-1, 1)})[:, 0], tz.grad.numpy(),
                               rtol=1e-10, atol=1e-14)


def test_entropy_of_softmax_gradient_closed_form():
    H = ns.entropy(ns.softmax(z))
    g = ns.grad(H, z).expression
    s = ns.softmax(z)
    closed = ns.hadamard(-s, ns.log_softmax(z)) + (ns.transpose(s) @ ns.log_softmax(z)) * s
    for _ in range(3):
        zv = RNG.standard_normal((K, 1)) * 3
        np.testing.assert_allclose(evaluate(g, {"z": zv}), evaluate(closed, {"z": zv}), rtol=1e-10, atol=1e-14)
        sv = np.exp(zv - zv.max()) / np.exp(zv - zv.max()).sum()
        Hn = lambda v: -float(np.sum(np.exp(v - v.max()) / np.exp(v - v.max()).sum() * (v - v.max() - np.log(np.exp(v - v.max()).sum()))))  # noqa: E731
        np.testing.assert_allclose(evaluate(g, {"z": zv}), central_differences(Hn, zv), rtol=1e-6, atol=1e-9)
        assert abs(float(evaluate(closed, {"z": zv}).sum())) < 1e-12 and sv.sum() == pytest.approx(1)


# ----- equivalences, checked by value -----


def test_isotropic_nll_is_squared_error_plus_constant():
    Y, Yhat = ns.matrix("Y", D, 1), ns.vector(r"\hat{y}", D)
    s = 0.8
    nll = ns.isotropic_nll(Y, Yhat, sigma)
    squared = ns.norm(Y - Yhat, squared=True) / (2 * sigma ** 2)
    gaps = []
    for _ in range(4):
        values = {"Y": RNG.standard_normal((D, 1)), r"\hat{y}": RNG.standard_normal((D, 1)), r"\sigma": s}
        gaps.append(value(nll, **values) - value(squared, **values))
        np.testing.assert_allclose(evaluate(ns.grad(nll, Yhat).expression, values),
                                   evaluate(ns.grad(squared, Yhat).expression, values), rtol=1e-12)
    np.testing.assert_allclose(gaps, D / 2 * np.log(2 * np.pi * s ** 2), rtol=1e-12)


def test_categorical_nll_of_softmax_is_softmax_cross_entropy():
    unfused, fused = ns.categorical_nll(y, ns.softmax(z)), ns.softmax_cross_entropy(z, y)
    for scale in (1, 300, 800):
        zv, yv = RNG.standard_normal((K, 1)) * scale, np.eye(K)[:, [RNG.integers(K)]]
        values = {"z": zv, "y": yv}
        assert np.isfinite(value(unfused, **values))
        assert value(unfused, **values) == pytest.approx(value(fused, **values), rel=1e-12)
        np.testing.assert_allclose(evaluate(ns.grad(unfused, z).expression, values),
                                   evaluate(ns.grad(fused, z).expression, values), rtol=1e-12, atol=1e-15)


def test_information_identities_at_random_points():
    Hpq, Hp, KL = ns.cross_entropy(p, q), ns.entropy(p), ns.kl_divergence(p, q)
    for _ in range(20):
        pv, qv = simplex(K), simplex(K)
        assert value(Hpq, p=pv, q=qv) == pytest.approx(value(Hp, p=pv) + value(KL, p=pv, q=qv), rel=1e-12)
        assert value(KL, p=pv, q=qv) > 0
        assert abs(value(KL, p=pv, q=pv)) < 1e-15
        assert 0 <= value(Hp, p=pv) <= np.log(K) + 1e-15
    m0, A0 = RNG.standard_normal((D, 1)), spd(D)
    same = {mu0.name: m0, mu1.name: m0, S0.name: A0, S1.name: A0}
    assert abs(value(ns.gaussian_kl(mu0, S0, mu1, S1), **same)) < 1e-12
    for _ in range(5):
        other = {**same, mu1.name: RNG.standard_normal((D, 1)), S1.name: spd(D)}
        assert value(ns.gaussian_kl(mu0, S0, mu1, S1), **other) > 0


def test_entropy_of_softmax_at_extreme_logits():
    H = ns.entropy(ns.softmax(z))
    g = ns.grad(H, z).expression
    zv = np.array([[800.0], [-800.0], [0.0], [799.0]])
    h = value(H, z=zv)
    # Two logits one apart dominate: the entropy of (1, e^{-1}) / (1 + e^{-1}).
    two = np.array([1.0, np.exp(-1.0)]) / (1 + np.exp(-1.0))
    assert h == pytest.approx(-float(np.sum(two * np.log(two))), rel=1e-12)
    assert np.all(np.isfinite(evaluate(g, {"z": zv})))


# ----- claims, shape errors -----


def test_claims_about_the_gaussian_kl():
    f = ns.gaussian_kl(mu0, S0, mu1, S1)
    right = ns.check(f, r"\frac{1}{2}\left(\Sigma_1^{-1} - \Sigma_0^{-1}\right)", S0)
    assert right.ok
    half = ns.check(f, r"\Sigma_1^{-1} - \Sigma_0^{-1}", S0)
    assert not half.ok and "scaled by 2" in half.diagnosis
    sign = ns.check(f, r"\Sigma_1^{-1}(\mu_0 - \mu_1)", mu1)
    assert not sign.ok and "wrong sign" in sign.diagnosis
    symmetric = ns.check(f, r"\Sigma_1^{-1} - \Sigma_0^{-1} - \frac{1}{2}\operatorname{diag}(\operatorname{diag}"
                            r"(\Sigma_1^{-1} - \Sigma_0^{-1}))", S0)
    assert not symmetric.ok and "symmetric-matrix convention" in symmetric.diagnosis


def test_claim_about_the_gaussian_nll_from_latex():
    shapes = {"X": f"{D}x{N}", r"\mu": str(D), r"\Sigma": f"{D}x{D}"}
    function = (r"\frac{N}{2}\log\det(\Sigma) + \frac{1}{2}\operatorname{tr}((X - \mu\mathbf{1}^\top)^\top"
                r"\Sigma^{-1}(X - \mu\mathbf{1}^\top))").replace("N", str(N))
    verdict = ns.check(function, r"-\Sigma^{-1}(X - \mu\mathbf{1}^\top)\mathbf{1}", r"\mu", shapes, {r"\Sigma": "spd"})
    assert verdict.ok, verdict
    wrong = ns.check(function, r"\Sigma^{-1}(X - \mu\mathbf{1}^\top)\mathbf{1}", r"\mu", shapes, {r"\Sigma": "spd"})
    assert not wrong.ok and "wrong sign" in wrong.diagnosis


def test_shape_errors_name_the_operation():
    with pytest.raises(ns.ShapeError, match="covariance must be 3x3"):
        ns.mvn_nll(X, mu, ns.matrix("S", 2, 2))
    with pytest.raises(ns.ShapeError, match="KL divergence"):
        ns.kl_divergence(p, ns.vector("r", K + 1))
    with pytest.raises(ns.ShapeError, match="entropy needs a column vector"):
        ns.entropy(X)


# ----- exported code -----


@pytest.mark.parametrize("target", ["numpy", "torch"])
def test_exported_gaussian_gradients(target):
    if target == "torch":
        pytest.importorskip("torch")
    module = load(ns.export(ns.mvn_nll(X, mu, Sigma), [mu, Sigma], target=target), f"gauss_{target}")
    assert module.self_test() < 1e-6
    point = gaussian_point()
    grads = module.gradients(X=point["X"], mu=point["mu"], Sigma=point["Sigma"])
    R, P = point["X"] - point["mu"], np.linalg.inv(point["Sigma"])
    np.testing.assert_allclose(np.asarray(grads["Sigma"]), 0.5 * P @ (N * point["Sigma"] - R @ R.T) @ P,
                               rtol=1e-10, atol=1e-14)
    assert float(module.forward(X=point["X"], mu=point["mu"], Sigma=point["Sigma"])) == \
        pytest.approx(nll_numpy(point["X"], point["mu"], point["Sigma"]), rel=1e-12)


def test_exported_code_solves_and_factors():
    """log det by Cholesky, A^{-1} B by a solve where A^{-1} is not needed itself, no N x N product."""
    source = ns.export(ns.mvn_nll(X, mu, Sigma), [mu, Sigma])
    forward = source[source.index("def forward"):source.index("def gradients")]
    assert "linalg.cholesky" in forward and "linalg.solve" in forward and "linalg.inv" not in forward
    assert "slogdet" not in forward and ".T @" not in forward
    module = load(source, "gauss_stable")
    point = gaussian_point()
    # Not positive definite: an error, not the log |det| of an indefinite matrix.
    with pytest.raises(np.linalg.LinAlgError):
        module.forward(X=point["X"], mu=point["mu"], Sigma=-point["Sigma"])
    kl = ns.export(ns.gaussian_kl(mu0, S0, mu1, S1), [mu0, S0, mu1, S1], verify=False)  # verified elsewhere
    kl_forward = kl[kl.index("def forward"):kl.index("def gradients")]
    assert "linalg.inv" not in kl_forward and kl_forward.count("linalg.cholesky") == 2


# ----- the reader: KL(p \| q), D_{KL}, H(p), H(p, q) -----

SHAPES, ASSUME = {"p": "4", "q": "4", "z": "4", "x": "4"}, {"p": "probability", "q": "probability"}


@pytest.mark.parametrize("text, built", [
    (r"\operatorname{KL}(p \| q)", lambda p, q, z: ns.kl_divergence(p, q)),
    (r"D_{\mathrm{KL}}\left(p \,\|\, q\right)", lambda p, q, z: ns.kl_divergence(p, q)),
    (r"D_{KL}(p || q)", lambda p, q, z: ns.kl_divergence(p, q)),
    (r"H(p)", lambda p, q, z: ns.entropy(p)),
    (r"H(p, q)", lambda p, q, z: ns.cross_entropy(p, q)),
    (r"H(\operatorname{softmax}(z))", lambda p, q, z: ns.entropy(ns.softmax(z))),
    (r"H(p, \operatorname{softmax}(z)) - H(p)", lambda p, q, z: ns.kl_divergence(p, ns.softmax(z))),
])
def test_reader_spellings_of_information(text, built):
    from nnsym.declare.reading import read_latex
    expr = read_latex(text, SHAPES, ASSUME)
    p4, q4 = ns.vector("p", 4, assume="probability"), ns.vector("q", 4, assume="probability")
    reference = built(p4, q4, ns.vector("z", 4))
    for _ in range(3):
        values = {"p": simplex(4), "q": simplex(4), "z": RNG.standard_normal((4, 1)) * 5}
        assert value(expr, **values) == pytest.approx(value(reference, **values), rel=1e-12, abs=1e-14)


def test_reader_keeps_the_step_function_and_refuses_sloppy_kl():
    from nnsym.declare.reading import read_latex
    step = read_latex("H(x)", SHAPES, ASSUME)  # not a probability: the Heaviside step, as before
    np.testing.assert_array_equal(evaluate(step, {"x": np.array([[-1.0], [2.0], [0.5], [-3.0]])})[:, 0], [0, 1, 1, 0])
    for text, message in ((r"\operatorname{KL}(p, q)", "not a comma"), (r"\operatorname{KL}(p | q)", "divided by"),
                          (r"\tanh(p, q)", "two arguments")):
        with pytest.raises(ns.ParseError, match=message):
            read_latex(text, SHAPES, ASSUME)


def test_cli_checks_a_claim_about_kl(capsys):
    from nnsym.present.cli import main
    args = ["check", "--function", r"D_{KL}(p \| q)", "--wrt", "q", "--shape", "p=4", "--shape", "q=4",
            "--assume", "p=probability", "--assume", "q=probability"]
    assert main(args + ["--claimed", r"-p \oslash q"]) == 0
    assert main(args + ["--claimed", r"p \oslash q"]) == 1
    assert "wrong sign" in capsys.readouterr().out


def test_exported_likelihoods_of_logits_stay_finite_at_800():
    """Bernoulli of sigma(z), categorical and KL of softmax(z), entropy of softmax(z): exported code and its
    gradient finite and right at logits of +-800, where log(1 - sigma(z)) or log softmax(z) written naively
    would be log 0."""
    zv = np.array([[800.0], [-800.0], [0.0], [799.0]])
    targets = np.array([[1.0], [0.0], [1.0], [0.0]])
    zs, t4 = ns.vector("z", 4), ns.vector("t", 4)
    bern = ns.bernoulli_nll(t4, ns.sigmoid(zs))
    cases = [(bern, {"t": targets}, 799 + np.log(2), (0.5 * (1 + np.tanh(zv / 2)) - targets)[:, 0]),
             (ns.categorical_nll(y, ns.softmax(zs)), {"y": np.eye(4)[:, [1]]}, 1600 + np.log1p(np.exp(-1.0)), None),
             (ns.entropy(ns.softmax(zs)), {}, None, None)]
    for f, extra, want, want_grad in cases:
        module = load(ns.export(f, [zs]), "extreme")
        loss, grads = module.loss_and_gradients(z=zv, **extra)
        assert np.isfinite(loss) and np.all(np.isfinite(grads["z"]))
        if want is not None:
            assert loss == pytest.approx(want, rel=1e-12)
        if want_grad is not None:
            np.testing.assert_allclose(grads["z"][:, 0], want_grad, atol=1e-15)
