"""Losses: ``loss = loss_fn(outputs, targets)`` returns a float; ``loss_fn.backward()`` returns
dL/d(outputs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bntune._core import DtypeError, ShapeError
from bntune.nn.module import FLOAT_DTYPES


class Loss:
    """Base class: ``__call__(outputs, targets) -> float`` then ``backward() -> ndarray``."""

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_outputs(owner: str, outputs: Any) -> np.ndarray:
    outputs = np.asarray(outputs)
    if outputs.dtype not in FLOAT_DTYPES:
        raise DtypeError(f"{owner}: outputs must be float32 or float64, got {outputs.dtype}")
    if outputs.ndim < 1 or outputs.shape[0] == 0:
        raise ShapeError(f"{owner}: outputs must be a non-empty batch, got shape {outputs.shape}")
    return outputs


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused: logits (N, K) and integer labels (N,) in [0, K).

    ``L = (1/N) Σ_n [logsumexp(z_n) - z_n[y_n]]``, computed with the row maximum subtracted so
    that no exponential overflows. ``backward()`` returns ``(softmax(z) - onehot(y)) / N``.
    """

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        logits = _check_outputs("SoftmaxCrossEntropy", outputs)
        if logits.ndim != 2:
            raise ShapeError(
                f"SoftmaxCrossEntropy: outputs must be logits of shape (N, classes), got "
                f"shape {logits.shape}"
            )
        labels = np.asarray(targets)
        if labels.dtype.kind not in "iu":
            raise DtypeError(
                f"SoftmaxCrossEntropy: targets must be integer class labels, got dtype "
                f"{labels.dtype}"
            )
        n, k = logits.shape
        if labels.shape != (n,):
            raise ShapeError(
                f"SoftmaxCrossEntropy: targets must have shape ({n},) to match outputs "
                f"{logits.shape}, got {labels.shape}"
            )
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= k:
            bad = low if low < 0 else high
            raise ValueError(
                f"SoftmaxCrossEntropy: label {bad} is out of range for {k} classes "
                f"(labels must be in [0, {k - 1}])"
            )
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, labels], dtype=np.float64))
        grad = exp / total
        grad[rows, labels] -= 1
        grad /= n
        self._grad = grad
        return loss

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError("SoftmaxCrossEntropy: backward called before the loss")
        return self._grad


class MSE(Loss):
    """Mean squared error over every element (torch's ``MSELoss()``):
    ``L = (1/(N·K)) Σ (outputs - targets)**2``; ``backward()`` returns
    ``2 (outputs - targets) / (N·K)``. ``targets`` must have the outputs' shape."""

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        outputs = _check_outputs("MSE", outputs)
        targets = np.asarray(targets)
        if targets.shape != outputs.shape:
            raise ShapeError(
                f"MSE: targets must have the outputs' shape {outputs.shape}, got {targets.shape}"
            )
        if targets.dtype.kind not in "fiu":
            raise DtypeError(f"MSE: targets must be numeric, got dtype {targets.dtype}")
        diff = outputs - targets.astype(outputs.dtype, copy=False)
        loss = float(np.mean(np.square(diff), dtype=np.float64))
        self._grad = diff * outputs.dtype.type(2.0 / diff.size)
        return loss

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError("MSE: backward called before the loss")
        return self._grad


LOSSES: dict[str, type[Loss]] = {"SoftmaxCrossEntropy": SoftmaxCrossEntropy, "MSE": MSE}
