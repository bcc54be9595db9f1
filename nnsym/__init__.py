"""nnsym: the mathematics of neural networks, derived symbolically in closed matrix form and verified
numerically. This module only re-exports the public names.

Each name is imported from its module when first used (PEP 562), not all at start-up: `nnsym
backprop` then never loads the LaTeX reader's parser or the export printers, and start-up is part of
every command's time. To add public names, add a block ``_EXPORTS["nnsym.module"] = ("name", ...)``
and extend __all__ (as the blocks at the end do).
"""

from importlib import import_module

_EXPORTS = {
    "nnsym.declare.expressions": (
        "Expr", "Symbol", "det", "diag", "dot", "hadamard", "hadamard_div", "identity", "inv", "kronecker",
        "log_softmax", "logdet", "logsumexp", "matrix", "norm", "ones", "outer", "scalar", "softmax",
        "sum_entries", "trace", "transpose", "vector",
    ),
    "nnsym.declare.functions": (
        "elu", "exp", "gelu", "heaviside", "leaky_relu", "log", "relu", "sigmoid", "softplus", "sqrt", "tanh",
    ),
    "nnsym.declare.linear_equations": ("LinearEquation", "LinearSystem", "Solution", "linear_equation", "solve_linear"),
    "nnsym.declare.layers": (
        "Dense", "Network", "binary_cross_entropy", "dense", "l2_penalty", "mean_over_batch", "network",
        "softmax_cross_entropy", "squared_error",
    ),
    "nnsym.declare.from_sympy": ("from_sympy",),
    "nnsym.emit.latex": ("Notation", "latex"),
    "nnsym.emit.sympy_printer": ("to_sympy",),
    "nnsym.errors": ("InputError", "MissingRuleError", "NnsymError", "ParseError", "ShapeError", "VerificationError"),
    "nnsym.present.results": ("Backprop", "Gradient", "backprop", "grad", "gradients", "hessian", "jacobian"),
    "nnsym.present.export": ("export",),
    "nnsym.present.claims": ("Verdict", "check", "check_function"),
    "nnsym.verify.evaluate": ("evaluate",),
}

__all__ = [
    "from_sympy", "to_sympy", "Verdict", "check", "check_function", "Backprop", "Dense", "LinearEquation", "LinearSystem", "Solution", "linear_equation", "solve_linear", "Expr", "Gradient", "InputError", "MissingRuleError", "Network", "NnsymError",
    "Notation", "ParseError", "ShapeError", "Symbol", "VerificationError", "backprop", "binary_cross_entropy",
    "dense", "det", "diag", "dot", "elu", "evaluate", "exp", "export", "gelu", "grad", "gradients", "hadamard",
    "hadamard_div", "heaviside", "hessian", "identity", "inv", "jacobian", "kronecker", "l2_penalty", "latex",
    "leaky_relu", "log", "log_softmax", "logdet", "logsumexp", "matrix", "mean_over_batch", "network", "norm",
    "ones", "outer", "relu", "scalar", "sigmoid", "softmax", "softmax_cross_entropy", "softplus", "sqrt",
    "squared_error", "sum_entries", "tanh", "trace", "transpose", "vector",
]


def __getattr__(name: str):
    # A name is exported as itself, or as "public=attribute" (optimizer_update is optimizers.update).
    found = next(((module, entry) for module, names in _EXPORTS.items() for entry in names
                  if entry.partition("=")[0] == name), None)
    if found is None:
        raise AttributeError(f"module 'nnsym' has no attribute {name!r}")
    module, entry = found
    # One of the modules named in _EXPORTS and an attribute named there, never user text.
    value = getattr(import_module(module), entry.partition("=")[2] or name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


# ----- convolution, pooling and recurrent networks (issue 15) -----
_EXPORTS["nnsym.declare.convolution"] = ("avg_pool2d", "conv1d", "conv2d", "max_pool2d")
_EXPORTS["nnsym.declare.recurrent"] = ("Unrolled", "gru", "gru_cell", "lstm", "lstm_cell", "rnn")
_EXPORTS["nnsym.present.recurrent"] = ("Bptt", "bptt")

__all__ += ["avg_pool2d", "conv1d", "conv2d", "max_pool2d", "Unrolled", "gru", "gru_cell", "lstm", "lstm_cell", "rnn", "Bptt",
            "bptt"]

# ----- single-channel correlation as typed (issue 15e) -----
_EXPORTS["nnsym.declare.correlation"] = ("correlate", "rot180")
__all__ += ["correlate", "rot180"]

# ----- normalization, dropout, attention, optimizers (issue 14) -----
_EXPORTS["nnsym.declare.attention"] = ("attention", "embedding", "multi_head_attention", "transformer_block")
_EXPORTS["nnsym.declare.normalization"] = ("batch_norm", "dropout", "layer_norm")
_EXPORTS["nnsym.declare.optimizers"] = ("optimizer_update=update",)

__all__ += [
    "attention", "batch_norm", "dropout", "embedding", "layer_norm", "multi_head_attention", "optimizer_update",
    "transformer_block",
]

# ----- probability and information theory (issue 16) -----
_EXPORTS["nnsym.declare.distributions"] = (
    "bayes_posterior", "bernoulli_log_likelihood", "bernoulli_nll", "categorical_log_likelihood", "categorical_nll",
    "cross_entropy", "entropy", "evidence", "gaussian_kl", "gaussian_log_density", "isotropic_nll", "kl_divergence",
    "mvn_log_density", "mvn_nll",
)

__all__ += [
    "bayes_posterior", "bernoulli_log_likelihood", "bernoulli_nll", "categorical_log_likelihood", "categorical_nll",
    "cross_entropy", "entropy", "evidence", "gaussian_kl", "gaussian_log_density", "isotropic_nll", "kl_divergence",
    "mvn_log_density", "mvn_nll",
]

# ----- recurrent networks typed in LaTeX: names defined by formulas (issue 15f) -----
_EXPORTS["nnsym.declare.definitions"] = ("Definitions",)

__all__ += ["Definitions"]
