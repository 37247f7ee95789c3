"""``mlp``: the network that the course's hyperparameters (layers, hidden units) describe."""

from __future__ import annotations

from typing import Any

import numpy as np

from bntune.nn.activations import ACTIVATIONS
from bntune.nn.batchnorm import BatchNorm
from bntune.nn.dense import Dense, SeedLike, as_generator
from bntune.nn.module import Module, float_dtype
from bntune.nn.sequential import Sequential


def mlp(
    in_features: int,
    out_features: int,
    *,
    hidden: int,
    layers: int,
    batch_norm: bool = True,
    activation: str = "relu",
    seed: SeedLike = None,
    dtype: Any = np.float32,
) -> Sequential:
    """A multi-layer perceptron: ``layers`` hidden layers of ``hidden`` units, then an output Dense.

    Each hidden layer is ``Dense → BatchNorm → activation`` (batch norm on the pre-activation z,
    as the course does; the Dense has no bias then, since batch norm's beta replaces it), or
    ``Dense → activation`` with ``batch_norm=False``. ``activation`` is one of ``"relu"``,
    ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``; weights use He initialisation for the ReLU
    family and Xavier for tanh/sigmoid. The output layer gives raw scores (logits): pair it with
    ``nn.SoftmaxCrossEntropy``. ``seed`` fixes every initial weight.

    ``mlp(64, 10, hidden=100, layers=2)`` is 64→100→BN→ReLU→100→BN→ReLU→10.
    """
    for name, value in (("in_features", in_features), ("out_features", out_features),
                        ("hidden", hidden)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"mlp: {name} must be a positive int, got {value!r}")
    if isinstance(layers, bool) or not isinstance(layers, int | np.integer) or layers < 0:
        raise ValueError(f"mlp: layers must be a non-negative int, got {layers!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"mlp: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )
    dtype = float_dtype(dtype, owner="mlp")
    rng = as_generator(seed, owner="mlp")
    init = "he" if activation in ("relu", "leaky_relu") else "xavier"
    stack: list[Module] = []
    width = int(in_features)
    for _ in range(int(layers)):
        stack.append(Dense(width, hidden, bias=not batch_norm, init=init, dtype=dtype, seed=rng))
        if batch_norm:
            stack.append(BatchNorm(hidden, dtype=dtype))
        stack.append(ACTIVATIONS[activation]())
        width = int(hidden)
    stack.append(Dense(width, out_features, init=init, dtype=dtype, seed=rng))
    return Sequential(*stack)
