"""Dense layers, activations, losses and the sequential network built from them.

A `Network` is a frozen description (sizes, activations, loss, batch); `forward()` builds its
expression with every intermediate named as in the textbook: z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)},
a^{(l)} = f(z^{(l)}), a^{(0)} = x. With a batch, examples are the columns of X (n_0 x B) and the
bias is broadcast as b 1^T.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import sympy

from nnsym.declare import expressions as E
from nnsym.declare.expressions import Expr, Named, Symbol, as_size
from nnsym.declare.functions import ACTIVATIONS, apply
from nnsym.declare.normalization import batch_norm, dropout, layer_norm
from nnsym.errors import InputError

LOSSES = ("squared_error", "binary_cross_entropy", "softmax_cross_entropy")


# Deriving and verifying grow with the square of the depth: 50 layers take 2 s, 200 take 45 s.
MAX_LAYERS = 50


def squared_error(prediction: Expr, target: Expr) -> Expr:
    """1/2 ||prediction - target||^2 (Frobenius for a batch)."""
    return E.scale(sympy.Rational(1, 2), E.norm(E.add(prediction, E.neg(target)), squared=True))


def mean_over_batch(loss: Expr, batch) -> Expr:
    """loss / B: the batch size is a constant (a number or a size such as B), not a variable."""
    return E.scale(E.Constant(1 / as_size(batch)), loss)


def binary_cross_entropy(logits: Expr, target: Expr) -> Expr:
    """-sum [y log sigma(z) + (1 - y) log(1 - sigma(z))], from the logits z."""
    E._need_same_shape("binary cross-entropy", logits, target)
    return E.BinaryCrossEntropy(logits, target)


def softmax_cross_entropy(logits: Expr, target: Expr) -> Expr:
    """-sum_j y_j^T log softmax(z_j), from the logits z (one column per example)."""
    E._need_same_shape("softmax cross-entropy", logits, target)
    return E.SoftmaxCrossEntropy(logits, target)


def l2_penalty(weights: Sequence[Expr], strength: Expr) -> Expr:
    """lambda/2 sum_l ||W^{(l)}||_F^2 (weight decay). ``weights`` is one matrix or vector, or a list."""
    # issue 10: one weight (ns.l2_penalty(w, ns.scalar("lam"))) is a list of one, not a TypeError.
    if isinstance(weights, Expr):
        weights = [weights]
    if not isinstance(weights, (list, tuple)) or not weights or not all(isinstance(w, Expr) for w in weights):
        raise InputError(f"l2_penalty: the weights are an expression or a list of them, not {weights!r:.60}")
    strength = E.lift(strength)
    if not strength.is_scalar:
        raise InputError(f"l2_penalty: the strength must be a scalar, got {strength.rows}x{strength.cols}")
    return E.scale(E.scale(sympy.Rational(1, 2), strength), E.add(*[E.norm(w, squared=True) for w in weights]))


@dataclass(frozen=True)
class Dense:
    """z = W a + b followed by an elementwise activation (None: the identity)."""

    inputs: object
    outputs: object
    activation: Optional[str] = "sigmoid"

    def __post_init__(self):
        as_size(self.inputs), as_size(self.outputs)  # a bad size is refused here, not at the first use
        if self.activation is not None and self.activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {self.activation!r}; known: {', '.join(ACTIVATIONS)}")


def dense(inputs, outputs, activation: Optional[str] = "sigmoid") -> Dense:
    return Dense(inputs, outputs, activation)


@dataclass(frozen=True)
class Forward:
    """The forward pass: the loss and every named intermediate."""

    loss: Expr
    output: Expr
    inputs: Symbol
    targets: Symbol
    weights: Tuple[Symbol, ...]
    biases: Tuple[Symbol, ...]
    pre_activations: Tuple[Named, ...]
    activations: Tuple[Expr, ...]
    penalty: Optional[Symbol] = None
    scales: Tuple[Symbol, ...] = ()  # gamma^{(l)} of normalised layers (their beta^{(l)} are the biases)
    masks: Tuple[Symbol, ...] = ()  # M^{(l)}, the fixed dropout masks (inputs, not parameters)

    @property
    def parameters(self) -> Tuple[Symbol, ...]:
        return tuple(p for pair in zip(self.weights, self.biases) for p in pair) + self.scales


@dataclass(frozen=True)
class Network:
    """A sequential network of dense layers and a loss.

    ``loss`` is one of LOSSES. The last layer's activation follows the loss: softmax for
    softmax cross-entropy, the sigmoid for binary cross-entropy (both computed from the logits
    z^{(L)}, stably). With ``batch`` (an int or a name), examples are columns; ``mean`` divides the
    loss by the batch size; ``weight_decay`` adds lambda/2 sum ||W||_F^2. ``norm`` ("batch" or "layer")
    normalises every hidden layer, z^{(l)} = BN(W^{(l)} a^{(l-1)}, gamma^{(l)}, beta^{(l)}) (beta takes the
    bias's place); ``dropout_keep`` applies dropout with fixed masks M^{(l)} to the hidden activations.
    """

    layers: Tuple[Dense, ...]
    loss: str = "squared_error"
    batch: object = None
    mean: bool = False
    weight_decay: bool = False
    names: Dict[str, str] = field(default_factory=lambda: {"input": "x", "target": "y"})
    norm: Optional[str] = None  # "batch" or "layer": the hidden layers' z = BN(W a, gamma, beta) (issue 14)
    dropout_keep: object = None  # keep probability of dropout on the hidden activations (issue 14)

    def _repr_latex_(self) -> str:
        """Jupyter's display: the forward pass (printing lives in emit, imported when asked)."""
        from nnsym.emit.latex import network_repr_latex
        return network_repr_latex(self)

    def __post_init__(self):
        if not self.layers:
            raise InputError("a network needs at least one layer")
        if len(self.layers) > MAX_LAYERS:
            raise InputError(f"a network of {len(self.layers)} layers is deeper than nnsym derives and verifies "
                             f"in reasonable time (at most {MAX_LAYERS}; 50 layers take about 2 s)")
        if self.loss not in LOSSES:
            raise InputError(f"unknown loss {self.loss!r}; known: {', '.join(LOSSES)}")
        if self.batch is not None:
            as_size(self.batch)
        # ----- normalization and dropout (issue 14) -----
        if self.norm not in (None, "batch", "layer"):
            raise InputError(f"norm is 'batch', 'layer' or None, not {self.norm!r}")
        if self.norm == "batch" and (self.batch is None or as_size(self.batch) == 1):
            raise InputError("batch norm needs a batch of more than one example (batch=B)")
        if self.dropout_keep is not None:
            dropout(E.Zero(1, 1), E.Zero(1, 1), self.dropout_keep)  # refuses a keep outside (0, 1]
        for i, (before, after) in enumerate(zip(self.layers, self.layers[1:]), start=1):
            if as_size(before.outputs) != as_size(after.inputs):
                raise InputError(
                    f"layer {i} has {before.outputs} outputs but layer {i + 1} takes {after.inputs} inputs"
                )

    @property
    def depth(self) -> int:
        return len(self.layers)

    def forward(self) -> Forward:
        batch = self.batch
        columns = 1 if batch is None else as_size(batch)
        input_name = self.names["input"].upper() if batch is not None else self.names["input"]
        target_name = self.names["target"].upper() if batch is not None else self.names["target"]
        n0 = as_size(self.layers[0].inputs)
        x = E.matrix(input_name, n0, columns) if batch is not None else E.vector(input_name, n0)
        n_out = as_size(self.layers[-1].outputs)
        target_assume = "probability" if self.loss == "softmax_cross_entropy" else None
        if batch is not None:
            y = E.matrix(target_name, n_out, columns, assume=target_assume)
        else:
            y = E.vector(target_name, n_out, assume=target_assume) if n_out != 1 else E.matrix(target_name, 1, 1)
        a: Expr = x
        weights, biases, zs, activations = [], [], [], [x]
        scales, masks = [], []
        for l, layer in enumerate(self.layers, start=1):
            W = E.matrix(f"W^{{({l})}}", as_size(layer.outputs), as_size(layer.inputs))
            b = E.vector(f"b^{{({l})}}", as_size(layer.outputs))
            bias = b if batch is None else E.matmul(b, E.transpose(E.Ones(columns, 1)))
            last = l == self.depth
            if self.norm is not None and not last:
                # A normalised layer's shift beta^{(l)} takes the place of its bias.
                gamma, b = E.vector(f"\\gamma^{{({l})}}", as_size(layer.outputs)), E.vector(f"\\beta^{{({l})}}", as_size(layer.outputs))
                normalised = batch_norm if self.norm == "batch" else layer_norm
                z = E.name(f"z^{{({l})}}", normalised(E.matmul(W, a), gamma, b))
                scales.append(gamma)
            else:
                z = E.name(f"z^{{({l})}}", E.add(E.matmul(W, a), bias))
            if last and self.loss == "softmax_cross_entropy":
                a = E.name(f"a^{{({l})}}", E.softmax(z))
            elif last and self.loss == "binary_cross_entropy":
                a = E.name(f"a^{{({l})}}", apply("sigmoid", z))
            elif layer.activation is None:
                a = z
            elif self.dropout_keep is not None:
                M = E.matrix(f"M^{{({l})}}", as_size(layer.outputs), columns)
                a = E.name(f"a^{{({l})}}", dropout(apply(layer.activation, z), M, self.dropout_keep))
                masks.append(M)
            else:
                a = E.name(f"a^{{({l})}}", apply(layer.activation, z))
            weights.append(W)
            biases.append(b)
            zs.append(z)
            activations.append(a)
        logits = zs[-1]
        if self.loss == "softmax_cross_entropy":
            loss = softmax_cross_entropy(logits, y)
        elif self.loss == "binary_cross_entropy":
            loss = binary_cross_entropy(logits, y)
        else:
            loss = squared_error(a, y)
        if self.mean and batch is not None:
            loss = mean_over_batch(loss, columns)
        penalty = None
        if self.weight_decay:
            penalty = E.scalar(r"\lambda")
            loss = E.add(loss, l2_penalty(weights, penalty))
        return Forward(loss, a, x, y, tuple(weights), tuple(biases), tuple(zs), tuple(activations), penalty,
                       tuple(scales), tuple(masks))


def network(sizes: Sequence, activation: str = "sigmoid", loss: str = "squared_error", batch=None,
            mean: bool = False, weight_decay: bool = False, activations: Sequence | None = None,
            norm: Optional[str] = None, dropout_keep=None) -> Network:
    """``network([2, 2, 1])``: layer sizes from input to output, one activation for every layer (or
    a list in ``activations``)."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise InputError(f"a network's sizes are a list such as [2, 2, 1], not {sizes!r:.60}")
    if len(sizes) < 2:
        raise InputError("a network needs at least an input size and an output size")
    acts = list(activations) if activations is not None else [activation] * (len(sizes) - 1)
    if len(acts) != len(sizes) - 1:
        raise InputError(f"{len(sizes) - 1} layers but {len(acts)} activations")
    layers = tuple(Dense(n_in, n_out, act) for n_in, n_out, act in zip(sizes, sizes[1:], acts))
    return Network(layers, loss, batch, mean, weight_decay, norm=norm, dropout_keep=dropout_keep)
