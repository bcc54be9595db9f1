"""Ready-made networks of the book's chapters on convolutional and recurrent networks (issue 15).

`small_cnn`: conv (k x k, padding to keep the size) -> ReLU -> 2 x 2 max pooling -> average pooling
over the whole remaining image (one feature per channel) -> dense -> softmax cross-entropy, on a
batch of images (C_in x B H W, nnsym's image layout). `char_rnn`: an Elman RNN over one-hot
characters predicting the next one at every step (vocabulary in, vocabulary out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from nnsym.declare import expressions as E
from nnsym.declare.convolution import avg_pool2d, conv2d, max_pool2d
from nnsym.declare.expressions import Expr, Symbol
from nnsym.declare.functions import apply
from nnsym.declare.layers import mean_over_batch, softmax_cross_entropy
from nnsym.declare.recurrent import Unrolled, rnn
from nnsym.errors import InputError


@dataclass(frozen=True)
class Convolutional:
    loss: Expr
    logits: Expr
    parameters: Tuple[Symbol, ...]  # K, b_{K}, W, b
    images: Symbol
    labels: Symbol


def small_cnn(channels: int, filters: int, image: int, classes: int, batch: int, kernel: int = 3) -> Convolutional:
    if image % 2:
        raise InputError(f"small_cnn pools 2 x 2: the image side must be even, not {image}")
    X = E.matrix("X", channels, batch * image * image)
    K = E.matrix("K", filters, channels * kernel * kernel)
    b_K = E.vector("b_{K}", filters)
    W, b = E.matrix("W", classes, filters), E.vector("b", classes)
    Y = E.matrix("Y", classes, batch, assume="probability")
    conv = conv2d(X, K, (image, image), padding=kernel // 2 if kernel % 2 else 0)
    side = image if kernel % 2 else image - kernel + 1
    ones = E.Ones(conv.cols, 1)
    feature_map = E.name("A", apply("relu", E.add(conv, E.matmul(b_K, E.transpose(ones)))))
    pooled = max_pool2d(feature_map, 2, (side, side))
    features = E.name("F", avg_pool2d(pooled, side // 2, (side // 2, side // 2)))  # filters x B
    logits = E.name("Z", E.add(E.matmul(W, features), E.matmul(b, E.transpose(E.Ones(batch, 1)))))
    loss = mean_over_batch(softmax_cross_entropy(logits, Y), batch)
    return Convolutional(loss, logits, (K, b_K, W, b), X, Y)


def char_rnn(vocabulary: int, hidden: int, steps: int, batch=None) -> Unrolled:
    """One-hot characters in, the next character's logits out, cross-entropy summed over the steps."""
    return rnn(vocabulary, hidden, vocabulary, steps, batch=batch, loss="softmax_cross_entropy", mean=batch is not None)
