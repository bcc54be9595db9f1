"""Speed of nnsym's exported gradients for the later layers against PyTorch autograd.

In one process, float64, equal thread counts (--threads, default 1, for NumPy's BLAS, PyTorch and
OpenMP): for each case the gradient of a scalar loss with respect to every parameter, computed by
(a) nnsym's exported NumPy module, (b) nnsym's exported PyTorch module where the case asks for it, and
(c) PyTorch autograd through torch's own layers (F.batch_norm, F.layer_norm,
F.scaled_dot_product_attention). Every implementation's gradients are checked against PyTorch's
before anything is timed. Times are medians of samples taken in turns (exported, torch, exported,
...), so a change in the machine's load hits both alike; the spread printed is the interquartile
range over the median. The last line is

    RESULT bn.exported/torch=R ln.exported/torch=R attn.exported/torch=R mha.exported/torch=R
           block.exported/torch=R bn.torchexport/torch=R attn.torchexport/torch=R

followed by the keys of benchmarks/layers_spatial_recurrent.py (conv1d, conv2d, pool, rnn, lstm, gru;
conv2d and lstm also for the exported PyTorch module), whose cases it runs after its own.

(ratios of median times; below 1 the exported code is faster). Cases are the entries of CASES:
another layer's benchmark appends a `Case` there and its keys join the same RESULT line.

    python benchmarks/layers.py [--quick] [--threads 1]
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Tuple


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short samples (about a minute in all)")
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    return parser.parse_args()


ARGS = _arguments()
# Thread counts are read when the libraries load, so they are set before any import below.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import nnsym as ns  # noqa: E402
from nnsym.declare.attention import attention, multi_head_attention, transformer_block  # noqa: E402
from nnsym.declare.names import identifier  # noqa: E402
from nnsym.declare.normalization import batch_norm, layer_norm  # noqa: E402
from nnsym.emit.standalone import load  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers_spatial_recurrent as spatial_recurrent  # noqa: E402  (issue 15's cases)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the baseline of every ratio
    sys.exit("benchmarks/layers.py compares with PyTorch autograd: pip install torch")
torch.set_num_threads(ARGS.threads)


@dataclass
class Case:
    """One layer: ``build()`` gives (the nnsym loss, the parameters' names, sizes to draw values at;
    every export verified), ``torch_loss(tensors)`` the same loss written with torch's layers (tensors by LaTeX name);
    ``torch_export``: also time nnsym's exported PyTorch module."""

    key: str
    build: Callable[[], Tuple]
    torch_loss: Callable[[Dict], object]
    torch_export: bool = False


def rows(t):
    return t[:, 0]


BN = dict(n=512, B=128)
ATT = dict(T=128, d=64)
MHA = dict(T=128, d=256, heads=4)
BLOCK = dict(T=128, d=256, heads=4, ff=512)


def _normalization(layer):
    def build():
        # Symbolic sizes: the exported module is checked by finite differences on a small twin.
        Z, R = ns.matrix("Z", "n", "B"), ns.matrix("R", "n", "B")
        f = ns.sum_entries(ns.hadamard(layer(Z, ns.vector(r"\gamma", "n"), ns.vector(r"\beta", "n")), R))
        return f, ["Z", r"\gamma", r"\beta"], {"n": BN["n"], "B": BN["B"]}
    return build


def _torch_normalization(layer):
    def loss(t):
        x = t["Z"].T  # torch: examples as rows
        if layer is batch_norm:
            y = F.batch_norm(x, None, None, rows(t[r"\gamma"]), rows(t[r"\beta"]), training=True, eps=1e-5)
        else:
            y = F.layer_norm(x, (BN["n"],), rows(t[r"\gamma"]), rows(t[r"\beta"]), eps=1e-5)
        return (y.T * t["R"]).sum()
    return loss


def _attention_build():
    Q, K, V, G = (ns.matrix(n, "T", "d") for n in "QKVG")
    return ns.sum_entries(ns.hadamard(attention(Q, K, V), G)), ["Q", "K", "V"], dict(ATT)


def _attention_torch(t):
    return (F.scaled_dot_product_attention(t["Q"][None], t["K"][None], t["V"][None])[0] * t["G"]).sum()


def _weights(d, names):
    return {n: ns.matrix(f"W_{n}", d, d) for n in names}


def _mha_build():
    # Verified on export on a copy with the same 4 heads, each 2 columns wide (issue 14b), and checked
    # against PyTorch below, before timing.
    T, d = MHA["T"], MHA["d"]
    X, G = ns.matrix("X", T, d), ns.matrix("G", T, d)
    W = _weights(d, "QKVO")
    f = ns.sum_entries(ns.hadamard(multi_head_attention(X, *W.values(), heads=MHA["heads"]), G))
    return f, [w.name for w in W.values()] + ["X"], {}


def _split(a, T, heads):
    return a.reshape(T, heads, -1).transpose(0, 1)


def _mha_torch(t, T=MHA["T"], d=MHA["d"], heads=MHA["heads"], X=None):
    X = t["X"] if X is None else X
    q, k, v = (_split(X @ t[f"W_{{{n}}}"], T, heads) for n in "QKV")
    out = F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(T, d) @ t["W_{O}"]
    return out if X is not t["X"] or "G" not in t else (out * t["G"]).sum()


def _block_symbols(d, ff):
    return dict(WQ=ns.matrix("W_Q", d, d), WK=ns.matrix("W_K", d, d), WV=ns.matrix("W_V", d, d),
                WO=ns.matrix("W_O", d, d), gamma1=ns.vector(r"\gamma_1", d), beta1=ns.vector(r"\beta_1", d),
                W1=ns.matrix("W_1", d, ff), b1=ns.vector("b_1", ff), W2=ns.matrix("W_2", ff, d),
                b2=ns.vector("b_2", d), gamma2=ns.vector(r"\gamma_2", d), beta2=ns.vector(r"\beta_2", d))


def _block_build():
    T, d = BLOCK["T"], BLOCK["d"]
    X, G = ns.matrix("X", T, d), ns.matrix("G", T, d)
    P = _block_symbols(d, BLOCK["ff"])
    f = ns.sum_entries(ns.hadamard(transformer_block(X, **P, heads=BLOCK["heads"]), G))
    return f, [p.name for p in P.values()] + ["X"], {}


def _block_torch(t):
    T, d, heads = BLOCK["T"], BLOCK["d"], BLOCK["heads"]
    X = t["X"]
    q, k, v = (_split(X @ t[f"W_{{{n}}}"], T, heads) for n in "QKV")
    H1 = X + F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(T, d) @ t["W_{O}"]
    Y1 = F.layer_norm(H1, (d,), rows(t[r"\gamma_{1}"]), rows(t[r"\beta_{1}"]), eps=1e-5)
    H2 = Y1 + torch.relu(Y1 @ t["W_{1}"] + rows(t["b_{1}"])) @ t["W_{2}"] + rows(t["b_{2}"])
    out = F.layer_norm(H2, (d,), rows(t[r"\gamma_{2}"]), rows(t[r"\beta_{2}"]), eps=1e-5)
    return (out * t["G"]).sum()


CASES = [
    Case("bn", _normalization(batch_norm), _torch_normalization(batch_norm), torch_export=True),
    Case("ln", _normalization(layer_norm), _torch_normalization(layer_norm)),
    Case("attn", _attention_build, _attention_torch, torch_export=True),
    Case("mha", _mha_build, _mha_torch),
    Case("block", _block_build, _block_torch),
]


def sample_times(functions, seconds):
    """Per-call times of each function, sampled in turns; (median, interquartile range) of each."""
    for function in functions.values():
        function()  # warm up
    samples = {name: [] for name in functions}
    deadline = time.perf_counter() + seconds
    while min(len(s) for s in samples.values()) < 7 or (time.perf_counter() < deadline and len(samples["torch"]) < 200):
        for name, function in functions.items():
            t0 = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - t0)
    out = {}
    for name, values in samples.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        out[name] = (statistics.median(values), q3 - q1, len(values))
    return out


def run(case: Case, seconds: float) -> Dict[str, float]:
    f, wrt, sizes = case.build()
    symbols = sorted(f.free_symbols(), key=lambda s: s.name)
    rng = np.random.default_rng(0)

    def concrete(d):
        return int(d) if d.is_Integer else sizes[str(d)]

    values = {s.name: rng.standard_normal((concrete(s.rows), concrete(s.cols))) for s in symbols}
    numpy_module = load(ns.export(f, wrt=wrt))
    arguments = {identifier(name): value for name, value in values.items()}
    tensors = {name: torch.tensor(value, dtype=torch.float64) for name, value in values.items()}
    params = [tensors[name].requires_grad_() for name in wrt]

    def torch_gradients():
        return torch.autograd.grad(case.torch_loss(tensors), params)

    def exported_gradients():
        return numpy_module.gradients(**arguments)

    functions = {"exported": exported_gradients, "torch": torch_gradients}
    # Checked before timing: every implementation agrees with PyTorch autograd.
    reference = [g.numpy() for g in torch_gradients()]
    check = {"exported": exported_gradients}
    if case.torch_export:
        torch_module = load(ns.export(f, wrt=wrt, target="torch"))
        torch_arguments = {identifier(name): tensors[name].detach() for name in values}
        functions["torchexport"] = check["torchexport"] = lambda: torch_module.gradients(**torch_arguments)
    for name, function in check.items():
        found = function()
        for p, want in zip(wrt, reference):
            got = np.asarray(found[identifier(p)], dtype=float)
            error = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)
            if not error < 1e-8:
                sys.exit(f"{case.key}: the {name} gradient of {p} differs from PyTorch's (relative error {error:.1e})")
    times = sample_times(functions, seconds)
    for name, (median, spread, count) in times.items():
        print(f"{case.key:>6} {name:>12}: {median * 1e3:9.3f} ms median, IQR {spread / median:6.1%} of it, {count} samples")
    out = {f"{case.key}.exported/torch": times["exported"][0] / times["torch"][0]}
    if "torchexport" in times:
        out[f"{case.key}.torchexport/torch"] = times["torchexport"][0] / times["torch"][0]
    return out


def main():
    print(f"float64, {ARGS.threads} thread(s) each; NumPy {np.__version__}, PyTorch {torch.__version__}; "
          "the machine is shared, so timings are noisy")
    ratios = {}
    for case in CASES:
        ratios.update(run(case, 4.0 if ARGS.quick else 20.0))
    # Convolution, pooling and recurrent layers (issue 15): their cases live beside this script.
    for name in spatial_recurrent.CASES:
        found, detail = spatial_recurrent.run_case(name, 2.0 if ARGS.quick else 10.0)
        print(f"{name:>6}: {detail}")
        ratios.update(found)
    order = [k for k in ratios if k.endswith(".exported/torch")] + [k for k in ratios if k.endswith(".torchexport/torch")]
    print("RESULT " + " ".join(f"{key}={ratios[key]:.3f}" for key in order))


if __name__ == "__main__":
    main()
