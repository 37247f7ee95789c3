"""Element-wise activations: ReLU, LeakyReLU, Tanh, Sigmoid."""

from __future__ import annotations

from typing import Any

import numpy as np

from bntune.nn.module import Module, check_grad, check_input

# Activations accept any shape with a batch axis first, and either float dtype.
_ANY_NDIM = (1, 32)


class _Elementwise(Module):
    """An activation applied element by element: ``forward`` checks the input, computes the
    output and keeps what ``backward`` needs (``_cache``, an array of the input's shape);
    ``backward`` checks the gradient against that shape. Subclasses define ``_apply`` and
    ``_grad``."""

    _transient = ("_cache",)

    def __init__(self) -> None:
        super().__init__()
        self._cache: np.ndarray | None = None

    def _apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(output, cache) for the input ``x``."""
        raise NotImplementedError

    def _grad(self, grad: np.ndarray, cache: np.ndarray) -> np.ndarray:
        """The gradient with respect to the input, from that of the output."""
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = self._apply(check_input(self, x, dtype=None, ndim=_ANY_NDIM))
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        cache = self._cache
        grad = check_grad(self, grad, None if cache is None else cache.shape)
        assert cache is not None
        return self._grad(grad, cache)


class ReLU(_Elementwise):
    """``a = max(z, 0)``; the gradient is 1 where ``z > 0`` and 0 elsewhere."""

    def _apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.maximum(x, 0), x > 0

    def _grad(self, grad: np.ndarray, cache: np.ndarray) -> np.ndarray:
        return grad * cache


class LeakyReLU(_Elementwise):
    """``a = z`` where ``z > 0``, else ``negative_slope * z`` (default 0.01)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not 0.0 <= float(negative_slope) < 1.0:
            raise ValueError(f"LeakyReLU: negative_slope must be in [0, 1), got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def _apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = x > 0
        return np.where(mask, x, x * x.dtype.type(self.negative_slope)), mask

    def _grad(self, grad: np.ndarray, cache: np.ndarray) -> np.ndarray:
        return np.where(cache, grad, grad * grad.dtype.type(self.negative_slope))

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Tanh(_Elementwise):
    """``a = tanh(z)``; ``da/dz = 1 - a**2``."""

    def _apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.tanh(x)
        return out, out

    def _grad(self, grad: np.ndarray, cache: np.ndarray) -> np.ndarray:
        return grad * (1 - cache * cache)


class Sigmoid(_Elementwise):
    """``a = 1 / (1 + exp(-z))``, computed without overflow; ``da/dz = a (1 - a)``."""

    def _apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # exp(-|z|) never overflows; the two branches are the same function rearranged.
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return out, out

    def _grad(self, grad: np.ndarray, cache: np.ndarray) -> np.ndarray:
        return grad * cache * (1 - cache)


ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
}
