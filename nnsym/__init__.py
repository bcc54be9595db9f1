"""nnsym: the mathematics of neural networks, derived symbolically in closed matrix form and verified
numerically. This module only re-exports the public names."""

from nnsym.declare.expressions import (
    Expr,
    Symbol,
    det,
    diag,
    dot,
    hadamard,
    hadamard_div,
    identity,
    inv,
    kronecker,
    log_softmax,
    logdet,
    logsumexp,
    matrix,
    norm,
    ones,
    outer,
    scalar,
    softmax,
    sum_entries,
    trace,
    transpose,
    vector,
)
from nnsym.declare.functions import elu, exp, gelu, heaviside, leaky_relu, log, relu, sigmoid, softplus, sqrt, tanh
from nnsym.declare.from_sympy import from_sympy
from nnsym.declare.linear_equations import LinearEquation, LinearSystem, Solution, linear_equation, solve_linear
from nnsym.declare.layers import (
    Dense,
    Network,
    binary_cross_entropy,
    dense,
    l2_penalty,
    mean_over_batch,
    network,
    softmax_cross_entropy,
    squared_error,
)
from nnsym.emit.latex import Notation, latex
from nnsym.emit.sympy_printer import to_sympy
from nnsym.errors import InputError, MissingRuleError, NnsymError, ParseError, ShapeError, VerificationError
from nnsym.present.results import Backprop, Gradient, backprop, grad, gradients, hessian, jacobian
from nnsym.present.export import export
from nnsym.present.claims import Verdict, check, check_function
from nnsym.verify.evaluate import evaluate

# ----- normalization, dropout, attention, optimizers (issue 14) -----
from nnsym.declare.attention import attention, embedding, multi_head_attention, transformer_block
from nnsym.declare.normalization import batch_norm, dropout, layer_norm
from nnsym.declare.optimizers import update as optimizer_update

__all__ = [
    "from_sympy", "to_sympy", "Verdict", "check", "check_function", "Backprop", "Dense", "LinearEquation", "LinearSystem", "Solution", "linear_equation", "solve_linear", "Expr", "Gradient", "InputError", "MissingRuleError", "Network", "NnsymError",
    "Notation", "ParseError", "ShapeError", "Symbol", "VerificationError", "backprop", "binary_cross_entropy",
    "dense", "det", "diag", "dot", "elu", "evaluate", "exp", "export", "gelu", "grad", "gradients", "hadamard",
    "hadamard_div", "heaviside", "hessian", "identity", "inv", "jacobian", "kronecker", "l2_penalty", "latex",
    "leaky_relu", "log", "log_softmax", "logdet", "logsumexp", "matrix", "mean_over_batch", "network", "norm",
    "ones", "outer", "relu", "scalar", "sigmoid", "softmax", "softmax_cross_entropy", "softplus", "sqrt",
    "squared_error", "sum_entries", "tanh", "trace", "transpose", "vector",
    # issue 14
    "attention", "batch_norm", "dropout", "embedding", "layer_norm", "multi_head_attention", "optimizer_update",
    "transformer_block",
]

# ----- probability and information theory (issue 16) -----
from nnsym.declare.distributions import (  # noqa: E402
    bayes_posterior,
    bernoulli_log_likelihood,
    bernoulli_nll,
    categorical_log_likelihood,
    categorical_nll,
    cross_entropy,
    entropy,
    evidence,
    gaussian_kl,
    gaussian_log_density,
    isotropic_nll,
    kl_divergence,
    mvn_log_density,
    mvn_nll,
)

__all__ += [
    "bayes_posterior", "bernoulli_log_likelihood", "bernoulli_nll", "categorical_log_likelihood", "categorical_nll",
    "cross_entropy", "entropy", "evidence", "gaussian_kl", "gaussian_log_density", "isotropic_nll", "kl_divergence",
    "mvn_log_density", "mvn_nll",
]
