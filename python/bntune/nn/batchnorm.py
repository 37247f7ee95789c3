"""Batch normalization as a layer, on the Rust kernels of ``bntune.functional``."""

from __future__ import annotations

from typing import Any

import numpy as np

from bntune._core import ShapeError
from bntune.nn.module import Module, check_grad, check_input, float_dtype
from bntune.nn.parameter import Parameter


def _functional() -> Any:
    # Imported when first used so that the rest of ``bntune.nn`` stays importable on a build
    # without the batch-norm kernels.
    from bntune import functional

    return functional


class BatchNorm(Module):
    """Batch normalization of (N, C) or (N, C, d1, ..., dk) inputs, per channel C.

    Training mode normalises with the mini-batch statistics over N and every spatial position
    (M values per channel): ``mu = mean(z)``, ``var = mean((z - mu)**2)`` (biased),
    ``z_norm = (z - mu) / sqrt(var + eps)``, ``z_tilde = gamma * z_norm + beta``, and updates the
    running statistics ``running = (1 - momentum) * running + momentum * batch_stat`` (with the
    unbiased variance ``var * M / (M - 1)`` for ``running_var``). Inference mode (``eval()``)
    normalises with ``running_mean`` and ``running_var`` instead. These are torch's semantics.

    ``gamma`` (``weight`` in torch) starts at 1 and ``beta`` (``bias``) at 0; both are learned.
    The running statistics start at 0 and 1 and belong to ``state_dict()``.
    The numerics run in the Rust kernels ``bntune.functional.batch_norm_forward`` and
    ``batch_norm_backward`` (statistics accumulated in float64).
    """

    _transient = ("_cache",)

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if (
            isinstance(num_features, bool)
            or not isinstance(num_features, int | np.integer)
            or num_features < 1
        ):
            raise ValueError(
                f"BatchNorm: num_features must be a positive int, got {num_features!r}"
            )
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        if not float(eps) > 0.0:
            raise ValueError(f"BatchNorm: eps must be positive, got {eps!r}")
        self.num_features = int(num_features)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.dtype = float_dtype(dtype, owner="BatchNorm")
        self.gamma = Parameter(np.ones(self.num_features, dtype=self.dtype), name="gamma")
        self.beta = Parameter(np.zeros(self.num_features, dtype=self.dtype), name="beta")
        self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        self.running_var = np.ones(self.num_features, dtype=self.dtype)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None = None

    def named_parameters(self) -> dict[str, Parameter]:
        return {"gamma": self.gamma, "beta": self.beta}

    def named_buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, dtype=self.dtype, ndim=(2, 32), features=self.num_features)
        if self.training:
            per_channel = x.size // self.num_features
            if per_channel < 2:
                raise ShapeError(
                    f"{self.describe()}: input: batch norm in training needs more than one "
                    f"value per channel, got shape {x.shape} (use eval() for single samples)"
                )
        y, mean, invstd = _functional().batch_norm_forward(
            x,
            self.gamma.value,
            self.beta.value,
            self.running_mean,
            self.running_var,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )
        self._cache = (x, mean, invstd, self.training)
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        cache = self._cache
        grad = check_grad(self, grad, None if cache is None else cache[0].shape)
        assert cache is not None
        x, mean, invstd, training = cache
        if grad.dtype != x.dtype:
            grad = grad.astype(x.dtype)
        dx, dgamma, dbeta = _functional().batch_norm_backward(
            grad, x, self.gamma.value, mean, invstd, training=training
        )
        self.gamma.grad += dgamma
        self.beta.grad += dbeta
        return dx

    def config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "dtype": self.dtype.name,
        }

    def describe(self) -> str:
        return f"BatchNorm({self.num_features}, {self.dtype.name})"
