"""Speed of nnsym's exported gradient code for convolution, pooling and recurrent layers against
PyTorch autograd (issue 15).

In one process, float64, every library at one thread (torch.set_num_threads and the BLAS/OMP
variables, set before NumPy loads): for each case the full gradient of the same loss by (a) nnsym's
exported NumPy module, (b) PyTorch autograd with torch's own layers (F.conv1d, F.conv2d,
F.max_pool2d, nn.RNN, nn.LSTM, nn.GRU), (c) for conv2d and LSTM nnsym's exported PyTorch module. The
gradients are checked against each other first; the formulas are verified by `export` itself before the
modules are written (`nnsym.verify.budget` chooses how: convolution, pooling and the recurrent cells at
T = 16 at full size along random directions, the recurrent cells' oracle on a copy with smaller widths;
benchmarks/verification_choice.py times it). Sizes (the issue's): conv2d
3 -> 16 channels, 3 x 3 kernel, 32 x 32 images, batch 16; LSTM (and RNN, GRU) 64 hidden, 32 inputs,
T = 16, batch 16; conv1d 8 -> 16 channels, width 5, length 128, batch 16; max pooling 2 x 2 of
16 x 32 x 32 images, batch 16. The last line is

    RESULT conv1d.exported/torch=R conv2d.exported/torch=R pool.exported/torch=R rnn.exported/torch=R
           lstm.exported/torch=R gru.exported/torch=R conv2d.torchexport/torch=R lstm.torchexport/torch=R

(ratios of median times; below 1 the exported code is faster). The machine is shared: timings are
noisy, and `--repeat` reports each ratio's spread over repeated measurements.

    python benchmarks/layers_spatial_recurrent.py [--quick] [--repeat N]
"""

import argparse
import os
import statistics
import sys
import time

# One thread unless the caller (benchmarks/layers.py --threads) set another count before importing.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import nnsym as ns  # noqa: E402
from nnsym.declare import convolution as C  # noqa: E402
from nnsym.declare import recurrent as R  # noqa: E402
from nnsym.emit.standalone import load  # noqa: E402

try:
    import torch
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
except ImportError:  # pragma: no cover
    torch = None


def median_seconds(functions, seconds):
    """Median time per call, samples taken in turns so that load changes hit every function alike."""
    inner = {}
    for name, function in functions.items():
        function()
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < 0.05:
            function()
            calls += 1
        inner[name] = max(1, int(0.02 * calls / (time.perf_counter() - start)))
    samples = {name: [] for name in functions}
    deadline = time.perf_counter() + seconds
    while min(len(s) for s in samples.values()) < 5 or time.perf_counter() < deadline:
        for name, function in functions.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                function()
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return {name: statistics.median(values) for name, values in samples.items()}


# ----- the cases: (nnsym loss, variables, torch loss from tensors) ------------------------------------------


def images(b, c, h, w):
    return lambda a: np.ascontiguousarray(a.transpose(1, 0, 2, 3).reshape(c, b * h * w))


def conv2d_case(c_in=3, c_out=16, k=3, side=32, batch=16):
    X, K = ns.matrix("X", c_in, batch * side * side), ns.matrix("K", c_out, c_in * k * k)
    Y = C.conv2d(X, K, (side, side), padding=k // 2)
    T = ns.matrix("T", c_out, Y.cols)
    loss = ns.norm(Y - T, squared=True) / 2
    rng = np.random.default_rng(0)
    x, kern, t = rng.normal(size=(batch, c_in, side, side)), rng.normal(size=(c_out, c_in, k, k)), rng.normal(size=(batch, c_out, side, side))
    values = {"X": images(batch, c_in, side, side)(x), "K": kern.reshape(c_out, -1), "T": images(batch, c_out, side, side)(t)}

    def torch_gradients():
        xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(kern, requires_grad=True)
        out = torch.nn.functional.conv2d(xt, kt, padding=k // 2)
        (0.5 * ((out - torch.tensor(t)) ** 2).sum()).backward()
        return {"X": images(batch, c_in, side, side)(xt.grad.numpy()), "K": kt.grad.numpy().reshape(c_out, -1)}

    return loss, [X, K], values, torch_gradients, lambda: conv2d_case(1, 2, 3, 4, 2)


def conv1d_case(c_in=8, c_out=16, k=5, length=128, batch=16):
    X, K = ns.matrix("X", c_in, batch * length), ns.matrix("K", c_out, c_in * k)
    Y = C.conv1d(X, K, padding=k // 2, length=length)
    T = ns.matrix("T", c_out, Y.cols)
    loss = ns.norm(Y - T, squared=True) / 2
    rng = np.random.default_rng(1)
    x, kern, t = rng.normal(size=(batch, c_in, length)), rng.normal(size=(c_out, c_in, k)), rng.normal(size=(batch, c_out, length))
    flat = lambda a: np.ascontiguousarray(a.transpose(1, 0, 2).reshape(a.shape[1], -1))  # noqa: E731
    values = {"X": flat(x), "K": kern.reshape(c_out, -1), "T": flat(t)}

    def torch_gradients():
        xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(kern, requires_grad=True)
        out = torch.nn.functional.conv1d(xt, kt, padding=k // 2)
        (0.5 * ((out - torch.tensor(t)) ** 2).sum()).backward()
        return {"X": flat(xt.grad.numpy()), "K": kt.grad.numpy().reshape(c_out, -1)}

    return loss, [X, K], values, torch_gradients, lambda: conv1d_case(2, 2, 3, 6, 2)


def pool_case(channels=16, side=32, batch=16):
    X = ns.matrix("X", channels, batch * side * side)
    P = C.max_pool2d(X, 2, (side, side))
    T = ns.matrix("T", channels, P.cols)
    loss = ns.norm(P - T, squared=True) / 2
    rng = np.random.default_rng(2)
    x, t = rng.normal(size=(batch, channels, side, side)), rng.normal(size=(batch, channels, side // 2, side // 2))
    values = {"X": images(batch, channels, side, side)(x), "T": images(batch, channels, side // 2, side // 2)(t)}

    def torch_gradients():
        xt = torch.tensor(x, requires_grad=True)
        (0.5 * ((torch.nn.functional.max_pool2d(xt, 2) - torch.tensor(t)) ** 2).sum()).backward()
        return {"X": images(batch, channels, side, side)(xt.grad.numpy())}

    return loss, [X], values, torch_gradients, lambda: pool_case(2, 4, 2)


def recurrent_case(cell, n_in=32, hidden=64, steps=16, batch=16):
    model = R.unroll(cell, n_in, hidden, n_in, steps, batch=batch)
    rng = np.random.default_rng(3)
    values = {s.name: rng.normal(scale=0.3, size=(s.rows, s.cols)) for s in model.symbols}
    for y in model.targets:
        values[y.name] = np.eye(n_in)[:, rng.integers(0, n_in, size=batch)]
    gates = {"rnn": None, "lstm": "ifgo", "gru": "rzn"}[cell]
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](n_in, hidden).double()
    with torch.no_grad():
        if cell == "rnn":
            module.weight_ih_l0.copy_(torch.tensor(values["W_{xh}"]))
            module.weight_hh_l0.copy_(torch.tensor(values["W_{hh}"]))
            module.bias_ih_l0.copy_(torch.tensor(values["b_{h}"][:, 0]))
            module.bias_hh_l0.zero_()
        else:
            module.weight_ih_l0.copy_(torch.tensor(np.vstack([values[f"W_{{{g}}}"] for g in gates])))
            module.weight_hh_l0.copy_(torch.tensor(np.vstack([values[f"U_{{{g}}}"] for g in gates])))
            module.bias_ih_l0.copy_(torch.tensor(np.concatenate([values[f"b_{{{g}}}"][:, 0] for g in gates])))
            module.bias_hh_l0.zero_()
            if cell == "gru":
                module.bias_hh_l0[2 * hidden:] = torch.tensor(values["b_{hn}"][:, 0])
    W_y = torch.tensor(values["W_{y}"], requires_grad=True)
    b_y = torch.tensor(values["b_{y}"][:, 0], requires_grad=True)
    xs = torch.tensor(np.stack([values[x.name].T for x in model.inputs]))
    targets = torch.tensor(np.stack([values[y.name].T for y in model.targets]))
    h0 = torch.tensor(values["h_{0}"].T[None])
    state = (h0, torch.tensor(values["c_{0}"].T[None])) if cell == "lstm" else h0

    def torch_gradients():
        module.zero_grad()
        W_y.grad = b_y.grad = None
        outputs, _ = module(xs, state)
        logits = outputs @ W_y.T + b_y
        (-(targets * torch.log_softmax(logits, dim=-1)).sum()).backward()
        out = {"W_y": W_y.grad.numpy(), "b_y": b_y.grad.numpy()[:, None]}
        name = "W_xh" if cell == "rnn" else "W_i" if cell == "lstm" else "W_r"
        out[name] = module.weight_ih_l0.grad.numpy()[:hidden]
        return out

    return model.loss, list(model.parameters), values, torch_gradients, lambda: recurrent_case(cell, 2, 3, 3, 2)


CASES = {"conv1d": conv1d_case, "conv2d": conv2d_case, "pool": pool_case,
         "rnn": lambda: recurrent_case("rnn"), "lstm": lambda: recurrent_case("lstm"), "gru": lambda: recurrent_case("gru")}
TORCH_EXPORTS = ("conv2d", "lstm")


def identifier_values(module, values):
    from nnsym.declare.names import identifier
    return {identifier(k): v for k, v in values.items()}


def run_case(name, seconds):
    loss, variables, values, torch_gradients, _small = CASES[name]()
    # Every module is exported verified (`export` checks the formulas it writes; verify.budget chooses
    # the sizes and the method, and takes about a second for the recurrent cells at T = 16).
    exported = load(ns.export(loss, wrt=variables))
    arguments = identifier_values(exported, values)
    ours = exported.gradients(**arguments)
    theirs = torch_gradients()
    for key, expected in theirs.items():
        np.testing.assert_allclose(ours[key], expected, rtol=1e-8, atol=1e-9, err_msg=f"{name}: {key}")
    calls = {"exported": lambda: exported.gradients(**arguments), "torch": torch_gradients}
    if name in TORCH_EXPORTS:
        torch_module = load(ns.export(loss, wrt=variables, target="torch"))
        tensors = {k: torch.tensor(v) for k, v in arguments.items()}
        check = torch_module.gradients(**tensors)
        for key, expected in theirs.items():
            np.testing.assert_allclose(check[key].numpy(), expected, rtol=1e-8, atol=1e-9, err_msg=f"{name} torch: {key}")
        calls["torchexport"] = lambda: torch_module.gradients(**tensors)
    times = median_seconds(calls, seconds)
    ratios = {f"{name}.exported/torch": times["exported"] / times["torch"]}
    if "torchexport" in times:
        ratios[f"{name}.torchexport/torch"] = times["torchexport"] / times["torch"]
    detail = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in times.items())
    return ratios, detail


KEYS = ["conv1d.exported/torch", "conv2d.exported/torch", "pool.exported/torch", "rnn.exported/torch",
        "lstm.exported/torch", "gru.exported/torch", "conv2d.torchexport/torch", "lstm.torchexport/torch"]


def results(quick=False, repeat=1):
    """{key: [ratio per repeat]} for every case (the entry point benchmarks/layers.py calls)."""
    seconds = 0.5 if quick else 3.0
    out = {key: [] for key in KEYS}
    for _ in range(repeat):
        for name in CASES:
            ratios, detail = run_case(name, seconds)
            print(f"{name}: {detail}", flush=True)
            for key, value in ratios.items():
                out[key].append(value)
    return out


def result_line(ratios) -> str:
    return " ".join(f"{key}={statistics.median(values):.3f}" for key, values in ratios.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short samples (about a minute in all)")
    parser.add_argument("--repeat", type=int, default=1, help="measure every case this many times (medians and spread)")
    args = parser.parse_args()
    if torch is None:
        print("RESULT " + " ".join(f"{key}=n/a" for key in KEYS))
        return
    ratios = results(args.quick, args.repeat)
    if args.repeat > 1:
        for key, values in ratios.items():
            print(f"{key}: median {statistics.median(values):.3f}, spread {min(values):.3f}-{max(values):.3f}")
    print("RESULT " + result_line(ratios))


if __name__ == "__main__":
    main()
