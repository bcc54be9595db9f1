"""Symbol names: their canonical LaTeX spelling and the Python identifier derived from it.

A name is LaTeX as a lecturer writes it (``W^{(1)}``, ``\\hat{y}``, ``\\mathbf{x}``). `canonical_name`
makes spellings of one symbol equal (``\\mathbf{x}`` and ``x``, ``b_1`` and ``b_{1}``);
`identifier` turns a canonical name into a safe Python identifier for generated code. Identifiers are
derived character by character from a whitelist, never pasted, so no name can inject code.
"""

from __future__ import annotations

import builtins
import keyword
import re

from nnsym.errors import InputError

# Characters a symbol name may contain at all; anything else (quotes, semicolons, spaces inside a
# command, control characters) is refused before it gets anywhere near a printer.
_ALLOWED = re.compile(r"^[A-Za-z0-9\\{}()\[\]_^'+\-,]+$")
_BOLD = re.compile(r"\\(?:mathbf|boldsymbol|bm|vec|mathbfit)\{([^{}]*)\}")
_SCRIPT_BARE = re.compile(r"([_^])([A-Za-z0-9])")
_SCRIPT_PAREN = re.compile(r"\^(\([^(){}]*\)|\[[^\[\]{}]*\])")
_LAYOUT_SPACE = re.compile(r"\s*([{}^_])\s*")
_BARE_BACKSLASH = re.compile(r"\\(?![A-Za-z])")
_MAX_NAME = 64

# Names generated code relies on: a symbol called float, softmax or np would shadow them there
# (tests/test_security.py checks that every helper of every printer is listed).
_RESERVED = frozenset(dir(builtins)) | {"np", "numpy", "jnp", "jax", "torch", "math"} | {
    "sigmoid", "sigmoid_prime", "log_sigmoid", "softplus", "tanh_prime", "relu", "heaviside", "step_nonpositive",
    "leaky_relu", "leaky_relu_prime", "elu", "elu_prime", "erf", "erfc", "erf_magnitude", "normal_cdf", "normal_pdf",
    "gelu", "gelu_prime", "logsumexp", "softmax_minus",
    "softmax", "log_softmax", "softmax_cross_entropy", "binary_cross_entropy", "logdet"}
# issue 15: the convolution and pooling helpers (nnsym.emit.spatial)
_RESERVED = _RESERVED | {"im2col", "col2im", "max_pool", "avg_pool", "max_mask", "upsample"}
_RESERVED |= {"row_softmax", "causal_row_softmax", "standardize", "std_dev"}  # normalization, attention (issue 14)
_RESERVED |= {"sigmoid_vjp", "tanh_vjp", "max_pool_adjoint", "channel_correlate", "channel_correlate_kernel_adjoint",
              "channel_correlate_input_adjoint"}  # issue 15h
_RESERVED |= {"correlate"}  # issue 15e: single-channel correlation (nnsym.emit.correlate_numpy)

_ACCENTS = {"hat": "hat", "bar": "bar", "tilde": "tilde", "dot": "dot", "widehat": "hat", "overline": "bar"}


def canonical_name(name: str) -> str:
    """The one spelling nnsym uses for a symbol name; raises `InputError` for anything that is not a
    plausible LaTeX name."""
    if not isinstance(name, str):
        raise InputError(f"a symbol name must be a string, not {type(name).__name__}")
    # Spaces are layout next to braces and scripts (``\\hat {y}``, ``W^{(1)} ``), but between two
    # letters they separate two symbols, which is not a name.
    text = _LAYOUT_SPACE.sub(r"\1", name.strip())
    if not text:
        raise InputError("a symbol name cannot be empty")
    if len(text) > _MAX_NAME:
        raise InputError(f"symbol name too long ({len(text)} characters, at most {_MAX_NAME})")
    # A backslash starts a command (\theta, \hat): alone or before '_' it is no LaTeX anyone reads.
    if not _ALLOWED.match(text) or text.startswith("_") or text[0].isdigit() or _BARE_BACKSLASH.search(text):
        raise InputError(f"{name!r} is not a symbol name (write it as in LaTeX: x, W^{{(1)}}, \\hat{{y}})")
    while True:
        unbold = _BOLD.sub(r"\1", text)
        if unbold == text:
            break
        text = unbold
    # An empty script is no script (LaTeX prints x_{} as x): one symbol, not a second undeclared one.
    text = text.replace("_{}", "").replace("^{}", "") or text
    text = _SCRIPT_BARE.sub(r"\1{\2}", text)
    text = _SCRIPT_PAREN.sub(r"^{\1}", text)
    if text.count("{") != text.count("}"):
        raise InputError(f"unbalanced braces in symbol name {name!r}")
    return text


def identifier(name: str) -> str:
    """A Python identifier for a canonical name: ``W^{(1)}`` -> ``W_1``, ``\\hat{y}`` -> ``y_hat``,
    ``\\theta`` -> ``theta``, ``a^{(l-1)}`` -> ``a_l_minus_1``."""
    text = canonical_name(name)
    suffixes = []
    for accent, word in _ACCENTS.items():
        pattern = "\\" + accent + "{"
        while pattern in text:
            start = text.index(pattern)
            depth, end = 0, start + len(pattern) - 1
            for end in range(start + len(pattern) - 1, len(text)):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    break
            text = text[:start] + text[start + len(pattern) : end] + text[end + 1 :]
            suffixes.append(word)
    text = text.replace("'", "_prime").replace("+", "_plus_").replace("-", "_minus_")
    out = []
    for ch in text:
        out.append(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_")
    ident = "_".join(part for part in "".join(out).split("_") if part)
    ident = "_".join([ident] + suffixes) if ident else "_".join(suffixes)
    if not ident or ident[0].isdigit():
        ident = "v_" + ident
    if keyword.iskeyword(ident) or ident in _RESERVED:
        ident += "_"
    return ident
