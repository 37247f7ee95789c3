"""A learnable array and its gradient."""

from __future__ import annotations

import numpy as np


class Parameter:
    """A learnable array: ``value`` and ``grad``, ndarrays of the same shape and dtype.

    ``grad`` starts at zero. Layers *accumulate* into it in place during ``backward`` (as in
    torch), so call ``zero_grad()`` (or the model's / optimizer's) before each backward pass.
    Optimizers update ``value`` in place, so references to it stay valid.
    """

    __slots__ = ("grad", "name", "value")

    def __init__(self, value: np.ndarray, *, name: str = "") -> None:
        value = np.asarray(value)
        if value.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"Parameter {name!r}: value must be float32 or float64, got {value.dtype}"
            )
        self.value: np.ndarray = np.ascontiguousarray(value)
        self.grad: np.ndarray = np.zeros_like(self.value)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    def zero_grad(self) -> None:
        """Sets ``grad`` to zero in place."""
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"
