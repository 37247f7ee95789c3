"""Element-wise activations: ReLU, LeakyReLU, Tanh, Sigmoid."""

from __future__ import annotations

from typing import Any

import numpy as np

from bntune.nn.module import Module, check_grad, check_input

# Activations accept any shape with a batch axis first, and either float dtype.
_ANY_NDIM = (1, 32)


class ReLU(Module):
    """``a = max(z, 0)``; the gradient is 1 where ``z > 0`` and 0 elsewhere."""

    _transient = ("_mask",)

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, dtype=None, ndim=_ANY_NDIM)
        self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        mask = self._mask
        grad = check_grad(self, grad, None if mask is None else mask.shape)
        return grad * mask


class LeakyReLU(Module):
    """``a = z`` where ``z > 0``, else ``negative_slope * z`` (default 0.01)."""

    _transient = ("_mask",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not 0.0 <= float(negative_slope) < 1.0:
            raise ValueError(f"LeakyReLU: negative_slope must be in [0, 1), got {negative_slope!r}")
        self.negative_slope = float(negative_slope)
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, dtype=None, ndim=_ANY_NDIM)
        self._mask = x > 0
        return np.where(self._mask, x, x * x.dtype.type(self.negative_slope))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        mask = self._mask
        grad = check_grad(self, grad, None if mask is None else mask.shape)
        return np.where(mask, grad, grad * grad.dtype.type(self.negative_slope))

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Tanh(Module):
    """``a = tanh(z)``; ``da/dz = 1 - a**2``."""

    _transient = ("_out",)

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, dtype=None, ndim=_ANY_NDIM)
        self._out = np.tanh(x)
        return self._out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        out = self._out
        grad = check_grad(self, grad, None if out is None else out.shape)
        assert out is not None
        return grad * (1 - out * out)


class Sigmoid(Module):
    """``a = 1 / (1 + exp(-z))``, computed without overflow; ``da/dz = a (1 - a)``."""

    _transient = ("_out",)

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, dtype=None, ndim=_ANY_NDIM)
        # exp(-|z|) never overflows; the two branches are the same function rearranged.
        e = np.exp(-np.abs(x))
        self._out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        out = self._out
        grad = check_grad(self, grad, None if out is None else out.shape)
        assert out is not None
        return grad * out * (1 - out)


ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
}
