"""Speed of nnsym's exported gradient code against hand-written NumPy, PyTorch autograd and JAX jit.

In one process, float64 throughout: for the MLP 784-256-10 (sigmoid hidden layer, softmax
cross-entropy, mean over a batch of 64) and the XOR net 2-2-1 (sigmoid, binary cross-entropy, batch 4),
the forward pass and the full gradient of (a) nnsym's exported NumPy module, (b) a hand-written NumPy
backprop, (c) PyTorch autograd, (d) JAX jit of jax.grad, (e) nnsym's exported JAX module under jit; and
the logistic-regression Hessian X^T diag(sigma'(Xw)) X / N (d = 500, N = 1000) exported, by hand,
with torch.func.hessian and jitted jax.hessian; the gradients of a Gaussian NLL (d = 256, N = 512) and
of the KL divergence of two Gaussians (d = 256) exported against autograd of torch.distributions. Every
implementation's gradients are checked against the exported NumPy module's before anything is timed. What is not installed is skipped with a note.
The last line is

    RESULT mlp.exported/hand=R mlp.exported/torch=R ... hess.exported/jax=R gauss.exported/torch=R kl.exported/torch=R mlp32.exported/torch=R

(mlp32: the same MLP in float32, the exported module against PyTorch autograd, issue 10)

(ratios of median times; below 1 the exported code is faster; n/a where a library is missing).

    python benchmarks/gradients.py [--quick] [--threads 1]
"""

import argparse
import importlib
import os
import statistics
import sys
import time


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short samples (under a minute in all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for every library (default 1: OpenBLAS's spinning threads make 2-thread "
                             "NumPy figures erratic on a shared 2-core machine)")
    return parser.parse_args()


ARGS = _arguments()
# Thread counts are read when the libraries load, so they are set before any import below.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)
if ARGS.threads == 1:
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import nnsym as ns  # noqa: E402
from nnsym.emit.standalone import load  # noqa: E402


def optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"note: {name} is not installed; its columns are skipped")
        return None


torch = optional("torch")
jax = optional("jax")
if torch is not None:
    torch.set_num_threads(ARGS.threads)
if jax is not None:
    jax.config.update("jax_enable_x64", True)  # float64, like everything else here
    import jax.numpy as jnp


def median_seconds(functions, seconds, block=None):
    """Median time of one call of each function. Samples of several calls each are taken in turns,
    one function after the other, so that a change in the machine's load hits all of them alike."""
    block = block or (lambda value: value)
    inner = {}
    for name, function in functions.items():
        block(function())  # warm up (and compile, for jit)
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < 0.02:
            block(function())
            calls += 1
        inner[name] = max(1, int(0.005 * calls / (time.perf_counter() - start)))
    samples = {name: [] for name in functions}
    names = list(functions)
    deadline = time.perf_counter() + seconds
    while len(samples[name]) < 7 or (time.perf_counter() < deadline and len(samples[name]) < 400):
        # Each round starts with the next function, so none always runs right after the same other.
        names = names[1:] + names[:1]
        for name in names:
            function = functions[name]
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                value = function()
            block(value)
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def ready(value):
    """Wait for JAX's asynchronous dispatch to finish (other values are ready when returned)."""
    return jax.block_until_ready(value) if jax is not None else value


GROUPS = (("hand",), ("torch",), ("jax", "jaxexport"))


def in_groups(calls, seconds):
    """Times of the exported code and of each rival group, measured in alternation with each other
    only: the threads PyTorch and XLA leave spinning after a call then slow no NumPy comparison.
    Returns each rival's time under its name and the exported code's, measured beside it, under
    ``exported@<name>``; ``exported`` is the one measured beside the hand-written code."""
    out = {}
    for group in GROUPS:
        present = [name for name in group if name in calls]
        if not present:
            continue
        times = median_seconds({"exported": calls["exported"], **{n: calls[n] for n in present}}, seconds, ready)
        for name in present:
            out[name] = times[name]
            out[f"exported@{name}"] = times["exported"]
    out["exported"] = out["exported@hand"]
    return out


# ----- the networks -----------------------------------------------------------------------------

def network_problem(sizes, loss, batch, seed):
    rng = np.random.default_rng(seed)
    n0, n1, n2 = sizes
    params = {
        "W_1": rng.standard_normal((n1, n0)) / np.sqrt(n0), "b_1": 0.1 * rng.standard_normal((n1, 1)),
        "W_2": rng.standard_normal((n2, n1)) / np.sqrt(n1), "b_2": 0.1 * rng.standard_normal((n2, 1)),
    }
    X = rng.standard_normal((n0, batch))
    if loss == "softmax_cross_entropy":
        Y = np.zeros((n2, batch))
        Y[rng.integers(0, n2, batch), np.arange(batch)] = 1.0
    else:
        Y = rng.integers(0, 2, (n2, batch)).astype(float)
    return params, X, Y


def hand_sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable and one transcendental


def hand_forward(loss, W_1, b_1, W_2, b_2, X, Y):
    a_1 = hand_sigmoid(W_1 @ X + b_1)
    z_2 = W_2 @ a_1 + b_2
    B = X.shape[1]
    if loss == "softmax_cross_entropy":
        m = z_2.max(axis=0, keepdims=True)
        log_p = z_2 - m - np.log(np.exp(z_2 - m).sum(axis=0, keepdims=True))
        return -np.sum(Y * log_p) / B
    return np.sum(np.logaddexp(0.0, z_2) - Y * z_2) / B


def hand_gradients(loss, W_1, b_1, W_2, b_2, X, Y):
    """Textbook backprop, written as a careful engineer would."""
    B = X.shape[1]
    a_1 = hand_sigmoid(W_1 @ X + b_1)
    z_2 = W_2 @ a_1 + b_2
    if loss == "softmax_cross_entropy":
        e = np.exp(z_2 - z_2.max(axis=0, keepdims=True))
        p = e / e.sum(axis=0, keepdims=True)
    else:
        p = hand_sigmoid(z_2)
    d_2 = (p - Y) / B
    d_1 = (W_2.T @ d_2) * a_1 * (1.0 - a_1)
    return {"W_1": d_1 @ X.T, "b_1": d_1.sum(axis=1, keepdims=True),
            "W_2": d_2 @ a_1.T, "b_2": d_2.sum(axis=1, keepdims=True)}


ORDER = ("W_1", "b_1", "W_2", "b_2")


def torch_loss(loss, W_1, b_1, W_2, b_2, X, Y):
    z_2 = W_2 @ torch.sigmoid(W_1 @ X + b_1) + b_2
    B = X.shape[1]
    if loss == "softmax_cross_entropy":
        return -(Y * torch.log_softmax(z_2, dim=0)).sum() / B
    return (torch.nn.functional.softplus(z_2) - Y * z_2).sum() / B


def jax_loss(loss, W_1, b_1, W_2, b_2, X, Y):
    z_2 = W_2 @ jax.nn.sigmoid(W_1 @ X + b_1) + b_2
    B = X.shape[1]
    if loss == "softmax_cross_entropy":
        return -jnp.sum(Y * jax.nn.log_softmax(z_2, axis=0)) / B
    return jnp.sum(jax.nn.softplus(z_2) - Y * z_2) / B


def agree(name, reference, candidate):
    for key in ORDER if isinstance(reference, dict) else [None]:
        ref = reference[key] if key else reference
        got = np.asarray(candidate[key] if key else candidate, dtype=float)
        if not np.allclose(ref, got, rtol=1e-7, atol=1e-10):
            raise SystemExit(f"{name}: gradient {key or ''} disagrees with the exported module "
                             f"(max diff {np.max(np.abs(ref - got)):.3g})")


def bench_network(label, sizes, activation, loss, batch, seconds):
    net = ns.network(list(sizes), activation=activation, loss=loss, batch=batch, mean=True)
    exported = load(ns.export(net), f"{label}_numpy")
    params, X, Y = network_problem(sizes, loss, batch, seed=0)
    args = dict(params, X=X, Y=Y)
    reference = exported.gradients(**args)
    calls = {"exported": (lambda: exported.forward(**args), lambda: exported.gradients(**args))}
    agree("hand-written", reference, hand_gradients(loss, **args))
    calls["hand"] = (lambda: hand_forward(loss, **args), lambda: hand_gradients(loss, **args))
    if torch is not None:
        tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
        tp = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in params.items()}

        def torch_gradients():
            for p in tp.values():
                p.grad = None
            torch_loss(loss, **tp, X=tX, Y=tY).backward()
            return {k: p.grad for k, p in tp.items()}

        def torch_forward():
            with torch.no_grad():
                return torch_loss(loss, **tp, X=tX, Y=tY)

        agree("PyTorch", reference, {k: v.numpy() for k, v in torch_gradients().items()})
        calls["torch"] = (torch_forward, torch_gradients)
    if jax is not None:
        jargs = {k: jnp.asarray(v) for k, v in args.items()}
        jloss = jax.jit(lambda W_1, b_1, W_2, b_2, X, Y: jax_loss(loss, W_1, b_1, W_2, b_2, X, Y))
        jgrad = jax.jit(jax.grad(lambda W_1, b_1, W_2, b_2, X, Y: jax_loss(loss, W_1, b_1, W_2, b_2, X, Y),
                                 argnums=(0, 1, 2, 3)))
        positional = [jargs[k] for k in (*ORDER, "X", "Y")]
        agree("JAX", reference, dict(zip(ORDER, jgrad(*positional))))
        calls["jax"] = (lambda: jloss(*positional), lambda: jgrad(*positional))
        jexported = load(ns.export(net, target="jax"), f"{label}_jax")
        jfwd, jgrads = jax.jit(jexported.forward), jax.jit(jexported.gradients)
        agree("exported JAX", reference, jgrads(**jargs))
        calls["jaxexport"] = (lambda: jfwd(**jargs), lambda: jgrads(**jargs))
    forward = in_groups({k: f for k, (f, g) in calls.items()}, seconds)
    gradient = in_groups({k: g for k, (f, g) in calls.items()}, seconds)
    return {k: (forward[k], gradient[k]) for k in forward}


# ----- the logistic-regression Hessian ------------------------------------------------------------

def bench_hessian(d, N, seconds):
    X_, w_, y_ = ns.matrix("X", "N", "d"), ns.vector("w", "d"), ns.vector("y", "N")
    f = ns.mean_over_batch(ns.binary_cross_entropy(X_ @ w_, y_), "N")
    exported = load(ns.export(f, "w", hessians=True), "hessian_numpy")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((N, d)) / np.sqrt(d)
    w = rng.standard_normal((d, 1))
    y = rng.integers(0, 2, (N, 1)).astype(float)
    reference = exported.hessian(X=X, w=w, y=y)

    def hand():
        s = hand_sigmoid(X @ w)
        return (X * (s * (1.0 - s))).T @ X / N

    agree("hand-written Hessian", reference, hand())
    calls = {"exported": lambda: exported.hessian(X=X, w=w, y=y), "hand": hand}
    if torch is not None:
        tX, ty = torch.from_numpy(X), torch.from_numpy(y[:, 0])

        def torch_f(v):
            z = tX @ v
            return (torch.nn.functional.softplus(z) - ty * z).sum() / N

        torch_hessian = torch.func.hessian(torch_f)
        tw = torch.from_numpy(w[:, 0].copy())
        agree("torch.func.hessian", reference, torch_hessian(tw).numpy())
        calls["torch"] = lambda: torch_hessian(tw)
    if jax is not None:
        jX, jy = jnp.asarray(X), jnp.asarray(y[:, 0])

        def jax_f(v):
            z = jX @ v
            return jnp.sum(jax.nn.softplus(z) - jy * z) / N

        jax_hessian = jax.jit(jax.hessian(jax_f))
        jw = jnp.asarray(w[:, 0])
        agree("jax.hessian", reference, jax_hessian(jw))
        calls["jax"] = lambda: jax_hessian(jw)
    return in_groups(calls, seconds)


# ----- issue 10: the MLP in float32 (exported NumPy module against PyTorch autograd, float32 both) ------

def bench_mlp32(seconds):
    """The MLP case in float32: the exported module called with float32 arrays computes in float32
    (it keeps the caller's float type); PyTorch autograd on float32 tensors; one thread each. Returns
    median seconds of a gradient, or None without PyTorch."""
    if torch is None:
        return None
    sizes, loss = (784, 256, 10), "softmax_cross_entropy"
    net = ns.network(list(sizes), activation="sigmoid", loss=loss, batch=64, mean=True)
    exported = load(ns.export(net), "mlp32_numpy")
    params, X, Y = network_problem(sizes, loss, 64, seed=0)
    args = {k: v.astype(np.float32) for k, v in dict(params, X=X, Y=Y).items()}
    got = exported.gradients(**args)
    if any(g.dtype != np.float32 for g in got.values()):
        raise SystemExit("mlp32: the exported module did not compute in float32")
    tp = {k: torch.from_numpy(args[k].copy()).requires_grad_(True) for k in ORDER}
    tX, tY = torch.from_numpy(args["X"]), torch.from_numpy(args["Y"])

    def torch_gradients():
        for p in tp.values():
            p.grad = None
        torch_loss(loss, **tp, X=tX, Y=tY).backward()
        return {k: p.grad for k, p in tp.items()}

    reference = exported.gradients(**{k: v.astype(np.float64) for k, v in args.items()})
    for name, candidate in (("exported float32", got), ("PyTorch float32", {k: v.numpy() for k, v in torch_gradients().items()})):
        for key in ORDER:
            if not np.allclose(reference[key], candidate[key], rtol=1e-3, atol=1e-5):
                raise SystemExit(f"mlp32: {name} gradient {key} disagrees with float64")
    return median_seconds({"exported": lambda: exported.gradients(**args), "torch": torch_gradients}, seconds)


# ----- Gaussian NLL and Gaussian KL against torch.distributions (issue 16) -------------------------

def spd_matrix(rng, d):
    A = rng.standard_normal((d, d))
    return A @ A.T / d + np.eye(d)


def bench_gaussian(d, N, seconds):
    """Gradients of the NLL of N examples under N(mu, Sigma) and of KL(N(mu_0, Sigma_0) || N(mu_1, Sigma_1)):
    nnsym's exported NumPy module against PyTorch autograd through torch.distributions."""
    X_, mu_ = ns.matrix("X", "d", "N"), ns.vector(r"\mu", "d")
    S_ = ns.matrix(r"\Sigma", "d", "d", assume="spd")
    m0_, m1_ = ns.vector(r"\mu_0", "d"), ns.vector(r"\mu_1", "d")
    S0_, S1_ = ns.matrix(r"\Sigma_0", "d", "d", assume="spd"), ns.matrix(r"\Sigma_1", "d", "d", assume="spd")
    gauss = load(ns.export(ns.mvn_nll(X_, mu_, S_), [mu_, S_]), "gauss_numpy")
    kl = load(ns.export(ns.gaussian_kl(m0_, S0_, m1_, S1_), [m0_, S0_, m1_, S1_]), "kl_numpy")
    rng = np.random.default_rng(2)
    g_args = {"X": rng.standard_normal((d, N)), "mu": rng.standard_normal((d, 1)), "Sigma": spd_matrix(rng, d)}
    k_args = {"mu_0": rng.standard_normal((d, 1)), "Sigma_0": spd_matrix(rng, d),
              "mu_1": rng.standard_normal((d, 1)), "Sigma_1": spd_matrix(rng, d)}
    out = {}
    for label, module, args in (("gauss", gauss, g_args), ("kl", kl, k_args)):
        calls = {"exported": lambda module=module, args=args: module.gradients(**args)}
        if torch is not None:
            leaves = {k: torch.tensor(v[:, 0] if v.shape[1] == 1 else v, requires_grad=k != "X")
                      for k, v in args.items()}
            dist = torch.distributions

            def torch_gradients(label=label, leaves=leaves):
                for leaf in leaves.values():
                    leaf.grad = None
                if label == "gauss":
                    normal = dist.MultivariateNormal(leaves["mu"], covariance_matrix=leaves["Sigma"])
                    loss = -normal.log_prob(leaves["X"].T).sum()
                else:
                    loss = dist.kl_divergence(dist.MultivariateNormal(leaves["mu_0"], covariance_matrix=leaves["Sigma_0"]),
                                              dist.MultivariateNormal(leaves["mu_1"], covariance_matrix=leaves["Sigma_1"]))
                loss.backward()
                return {k: leaf.grad for k, leaf in leaves.items() if leaf.requires_grad}

            reference = module.gradients(**args)
            for key, grad in torch_gradients().items():
                mine = np.asarray(reference[key])
                if not np.allclose(mine.reshape(grad.shape), grad.numpy(), rtol=1e-7, atol=1e-10 * np.max(np.abs(mine))):
                    raise SystemExit(f"{label}: PyTorch's gradient {key} disagrees with the exported module")
            calls["torch"] = torch_gradients
        if "torch" in calls:
            times = median_seconds(calls, seconds)
            out[label] = {"exported": times["exported"], "exported@torch": times["exported"], "torch": times["torch"]}
        else:
            out[label] = {}
    return out

# ----- report -------------------------------------------------------------------------------------

def ratio(times, a, b, index=1):
    """a's time over b's, both measured in b's group (the exported code is timed beside each rival)."""
    a = f"exported@{b}" if a == "exported" else a
    if a not in times or b not in times:
        return "n/a"
    x = times[a][index] if isinstance(times[a], tuple) else times[a]
    y = times[b][index] if isinstance(times[b], tuple) else times[b]
    return f"{x / y:.3f}"


def main():
    seconds = 0.4 if ARGS.quick else 3.0
    versions = [f"Python {sys.version.split()[0]}", f"NumPy {np.__version__}"]
    versions += [f"PyTorch {torch.__version__}"] if torch is not None else []
    versions += [f"JAX {jax.__version__}"] if jax is not None else []
    print(", ".join(versions) + f", {os.cpu_count()} cores, {ARGS.threads} thread(s) per library, float64")

    mlp = bench_network("mlp", (784, 256, 10), "sigmoid", "softmax_cross_entropy", 64, seconds)
    xor = bench_network("xor", (2, 2, 1), "sigmoid", "binary_cross_entropy", 4, seconds)
    hess = bench_hessian(500, 1000, seconds)
    mlp32 = bench_mlp32(seconds)  # issue 10
    gaussian = bench_gaussian(256, 512, seconds)

    print(f"\n{'median µs':<22}{'forward':>12}{'gradient':>12}{'grad/fwd':>10}")
    for label, times in (("MLP 784-256-10, B=64", mlp), ("XOR 2-2-1, B=4", xor)):
        print(label)
        for key, name in (("exported", "nnsym NumPy"), ("hand", "hand NumPy"), ("torch", "PyTorch autograd"),
                          ("jax", "JAX jit"), ("jaxexport", "nnsym JAX (jit)")):
            if key in times:
                fwd, grad = times[key]
                print(f"  {name:<20}{fwd * 1e6:>12.1f}{grad * 1e6:>12.1f}{grad / fwd:>10.2f}")
    print("Hessian, logistic regression d=500 N=1000")
    for key, name in (("exported", "nnsym NumPy"), ("hand", "hand NumPy"), ("torch", "torch.func.hessian"),
                      ("jax", "jax.hessian (jit)")):
        if key in hess:
            print(f"  {name:<20}{hess[key] * 1e6:>24.1f}")

    print("Gradients, Gaussian d=256 (NLL of N=512 examples; KL of two Gaussians)")
    for label, name in (("gauss", "NLL"), ("kl", "KL")):
        for key, who in (("exported", "nnsym NumPy"), ("torch", "torch.distributions")):
            if key in gaussian[label]:
                print(f"  {name + ' ' + who:<30}{gaussian[label][key] * 1e6:>16.1f}")

    result = {
        "mlp.exported/hand": ratio(mlp, "exported", "hand"),
        "mlp.exported/torch": ratio(mlp, "exported", "torch"),
        "mlp.exported/jax": ratio(mlp, "exported", "jax"),
        "mlp.grad/fwd": f"{mlp['exported'][1] / mlp['exported'][0]:.3f}",
        "xor.exported/hand": ratio(xor, "exported", "hand"),
        "xor.exported/torch": ratio(xor, "exported", "torch"),
        "xor.jaxexport/jax": ratio(xor, "jaxexport", "jax"),
        "hess.exported/hand": ratio(hess, "exported", "hand"),
        "hess.exported/torch": ratio(hess, "exported", "torch"),
        "hess.exported/jax": ratio(hess, "exported", "jax"),
        # Gaussian NLL / KL gradients against torch.distributions autograd (issue 16)
        "gauss.exported/torch": ratio(gaussian["gauss"], "exported", "torch"),
        "kl.exported/torch": ratio(gaussian["kl"], "exported", "torch"),
    }
    # ----- issue 10: float32 -----
    if mlp32 is not None:
        print(f"MLP 784-256-10, B=64, float32: nnsym NumPy {mlp32['exported'] * 1e6:.1f} µs, "
              f"PyTorch autograd {mlp32['torch'] * 1e6:.1f} µs per gradient")
    result["mlp32.exported/torch"] = f"{mlp32['exported'] / mlp32['torch']:.3f}" if mlp32 is not None else "n/a"
    print("\nRESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
