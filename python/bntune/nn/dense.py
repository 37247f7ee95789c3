"""A fully connected layer: ``z = x @ W + b``."""

from __future__ import annotations

from typing import Any

import numpy as np

from bntune.nn.module import Module, check_grad, check_input, float_dtype
from bntune.nn.parameter import Parameter

INITIALISATIONS = ("he", "xavier")

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike, *, owner: str) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator (used as is) or None (fresh)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"{owner}: seed must be an int, a numpy Generator or None, got {seed!r}")
    return np.random.default_rng(seed)


class Dense(Module):
    """Fully connected layer ``z = x @ W + b`` on (N, in_features) inputs.

    ``W`` (``weight``) has shape (in_features, out_features) and ``b`` (``bias``) shape
    (out_features,). Initialisation draws ``W`` from a zero-mean normal with
    ``init="he"``: variance ``2 / in_features`` (for ReLU-like activations, the default), or
    ``init="xavier"``: variance ``2 / (in_features + out_features)`` (Glorot, for tanh/sigmoid);
    the bias starts at zero. ``seed`` is an int, a numpy Generator or None.

    A bias directly before a :class:`BatchNorm` is redundant: batch norm subtracts the batch
    mean, which cancels any constant, and its own ``beta`` plays the bias's role. ``nn.mlp``
    therefore builds such layers with ``bias=False``.

    Gradients: ``dW += x.T @ dz``, ``db += Σ_n dz``, and ``backward`` returns ``dz @ W.T``.
    """

    _transient = ("_x",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init: str = "he",
        dtype: Any = np.float32,
        seed: SeedLike = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"Dense: {name} must be a positive int, got {value!r}")
        if init not in INITIALISATIONS:
            raise ValueError(f"Dense: init must be one of {INITIALISATIONS}, got {init!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = init
        self.dtype = float_dtype(dtype, owner="Dense")
        rng = as_generator(seed, owner="Dense")
        fan = self.in_features if init == "he" else (self.in_features + self.out_features) / 2
        std = np.sqrt(2.0 / fan) if init == "he" else np.sqrt(1.0 / fan)
        weight = rng.standard_normal((self.in_features, self.out_features)) * std
        self.weight = Parameter(weight.astype(self.dtype), name="weight")
        self.bias = (
            Parameter(np.zeros(self.out_features, dtype=self.dtype), name="bias") if bias else None
        )
        self._x: np.ndarray | None = None

    def named_parameters(self) -> dict[str, Parameter]:
        params = {"weight": self.weight}
        if self.bias is not None:
            params["bias"] = self.bias
        return params

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, dtype=self.dtype, features=self.in_features)
        self._x = x
        z = x @ self.weight.value
        if self.bias is not None:
            z += self.bias.value
        return z

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = self._accumulate(grad)
        return grad @ self.weight.value.T

    def backward_params(self, grad: np.ndarray) -> None:
        self._accumulate(grad)

    def _accumulate(self, grad: np.ndarray) -> np.ndarray:
        x = self._x
        shape = None if x is None else (x.shape[0], self.out_features)
        grad = check_grad(self, grad, shape)
        assert x is not None
        self.weight.grad += x.T @ grad
        if self.bias is not None:
            self.bias.grad += grad.sum(axis=0)
        return grad

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "init": self.init,
            "dtype": self.dtype.name,
        }

    def describe(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        return f"Dense({self.in_features}, {self.out_features}{bias}, {self.dtype.name})"
