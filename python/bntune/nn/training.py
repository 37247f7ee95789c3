# ruff: noqa: N803, N806  (X, X_dev: the names the public API and the literature use)
"""``fit``: mini-batch training with a learning curve per epoch; ``evaluate``: loss and accuracy."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from bntune._core import ShapeError
from bntune.errors import TrainingDiverged
from bntune.nn.dense import SeedLike, as_generator
from bntune.nn.losses import Loss
from bntune.nn.module import Module


class _Optimizer(Protocol):
    lr: float

    def step(self) -> None: ...


class _Schedule(Protocol):
    def apply(self, optimizer: Any, epoch: int) -> float: ...


@dataclass(frozen=True)
class EpochRecord:
    """One point of the learning curve. ``epoch`` counts from 1; ``train_loss`` is the mean
    mini-batch loss over the epoch (in training mode, as the course plots J); ``dev_loss`` and
    ``dev_accuracy`` are measured after the epoch in eval mode (None without a dev set, and
    ``dev_accuracy`` None when the targets are not class labels); ``lr`` is the learning rate
    the epoch ran with."""

    epoch: int
    train_loss: float
    dev_loss: float | None
    dev_accuracy: float | None
    lr: float | None


@dataclass
class LearningCurve:
    """What ``fit`` returns: one :class:`EpochRecord` per completed epoch, and whether a callback
    stopped training early. Column views: ``curve.train_loss``, ``curve.dev_loss``, ..."""

    records: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[EpochRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> EpochRecord:
        return self.records[index]

    @property
    def epochs(self) -> list[int]:
        return [r.epoch for r in self.records]

    @property
    def train_loss(self) -> list[float]:
        return [r.train_loss for r in self.records]

    @property
    def dev_loss(self) -> list[float | None]:
        return [r.dev_loss for r in self.records]

    @property
    def dev_accuracy(self) -> list[float | None]:
        return [r.dev_accuracy for r in self.records]

    @property
    def lr(self) -> list[float | None]:
        return [r.lr for r in self.records]

    def as_dict(self) -> dict[str, Any]:
        """Plain lists, ready for JSON."""
        return {"records": [asdict(r) for r in self.records], "stopped_early": self.stopped_early}


def _batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    starts = list(range(0, n, batch_size))
    bounds = [(s, min(s + batch_size, n)) for s in starts]
    # A last batch of one sample has no batch variance (batch norm cannot train on it): fold it
    # into the batch before.
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n)
        bounds.pop()
    return bounds


def _check_dataset(
    X: Any,
    y: Any,
    *,
    who: str,
    x_name: str,
    y_name: str,
) -> tuple[Any, Any]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1 or X.shape[0] == 0:
        raise ShapeError(
            f"{who}: {x_name} must be a non-empty batch of samples, got shape {X.shape}"
        )
    if y.ndim < 1 or y.shape[0] != X.shape[0]:
        raise ShapeError(
            f"{who}: {y_name} must have one target per sample of {x_name} ({X.shape[0]}), "
            f"got shape {y.shape}"
        )
    return X, y


def evaluate(
    model: Module, loss_fn: Loss, X: np.ndarray, y: np.ndarray, *, batch_size: int = 1024
) -> tuple[float, float | None]:
    """Mean loss and accuracy of ``model`` on ``(X, y)`` in eval mode (the mode is restored after).

    Accuracy is the fraction of rows whose arg-max output equals the integer label (rows with a
    non-finite output count as wrong); it is None when ``y`` holds no class labels.
    """
    X, y = _check_dataset(X, y, who="evaluate", x_name="X", y_name="y")
    was_training = model.training
    model.eval()
    total = 0.0
    correct = 0
    labels = y.dtype.kind in "iu"
    try:
        for lo in range(0, X.shape[0], batch_size):
            xb, yb = X[lo : lo + batch_size], y[lo : lo + batch_size]
            out = model.forward(xb)
            total += loss_fn(out, yb) * xb.shape[0]
            if labels and out.ndim == 2:
                finite = np.isfinite(out).all(axis=1)
                correct += int(np.count_nonzero((out.argmax(axis=1) == yb) & finite))
    finally:
        model.train(was_training)
    n = X.shape[0]
    return total / n, (correct / n if labels else None)


def fit(
    model: Module,
    loss_fn: Loss,
    optimizer: _Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    X_dev: np.ndarray | None = None,
    y_dev: np.ndarray | None = None,
    schedule: _Schedule | None = None,
    seed: SeedLike = None,
    callback: Callable[[EpochRecord], bool | None] | None = None,
    initial_epoch: int = 0,
) -> LearningCurve:
    """Trains ``model`` with mini-batch gradient descent and returns the learning curve.

    Each epoch: the schedule (if any) sets ``optimizer.lr`` for the epoch; the training set is
    shuffled with a generator made from ``seed`` (an int, a numpy Generator that is advanced, or
    None) and cut into mini-batches of ``batch_size`` (the last one smaller; a last batch of a
    single sample joins the one before); per batch: zero gradients, forward, loss, backward,
    ``optimizer.step()``. After the epoch the dev set (if given) is evaluated in eval mode.

    ``callback(record)`` is called after each epoch with its :class:`EpochRecord`; returning
    True stops training (``curve.stopped_early`` is then True). Epochs are numbered from
    ``initial_epoch + 1`` (pass the epochs already done when resuming, so schedules continue).

    Raises :class:`bntune.TrainingDiverged` as soon as a training or dev loss is NaN or
    infinite. Same seed, data and thread settings give identical results.
    """
    X, y = _check_dataset(X, y, who="fit", x_name="X", y_name="y")
    if (X_dev is None) != (y_dev is None):
        raise ValueError("fit: give both X_dev and y_dev, or neither")
    if X_dev is not None:
        X_dev, y_dev = _check_dataset(X_dev, y_dev, who="fit", x_name="X_dev", y_name="y_dev")
    for name, value, low in (("epochs", epochs, 0), ("batch_size", batch_size, 1),
                             ("initial_epoch", initial_epoch, 0)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"fit: {name} must be an int >= {low}, got {value!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"fit: callback must be callable, got {type(callback).__name__}")
    if schedule is not None and not callable(getattr(schedule, "apply", None)):
        raise TypeError(f"fit: schedule must be a bntune.optim schedule, got {schedule!r}")
    rng = as_generator(seed, owner="fit")
    n = X.shape[0]
    bounds = _batch_bounds(n, int(batch_size))
    curve = LearningCurve()
    # Overflow on the way to divergence is reported once, as TrainingDiverged, not as warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(initial_epoch + 1, initial_epoch + epochs + 1):
            if schedule is not None:
                schedule.apply(optimizer, epoch)
            lr = getattr(optimizer, "lr", None)
            model.train()
            order = rng.permutation(n)
            total = 0.0
            for index, (lo, hi) in enumerate(bounds):
                batch = order[lo:hi]
                model.zero_grad()
                loss = loss_fn(model.forward(X[batch]), y[batch])
                if not math.isfinite(loss):
                    where = f"loss {loss} at epoch {epoch}, mini-batch {index}"
                    raise TrainingDiverged(f"training diverged: {where}", epoch=epoch,
                                           batch=index, loss=loss, curve=curve)  # fmt: skip
                model.backward_params(loss_fn.backward())
                optimizer.step()
                total += loss * (hi - lo)
            dev_loss = dev_accuracy = None
            if X_dev is not None:
                dev_loss, dev_accuracy = evaluate(model, loss_fn, X_dev, y_dev)
                if not math.isfinite(dev_loss):
                    where = f"dev loss {dev_loss} after epoch {epoch}"
                    raise TrainingDiverged(f"training diverged: {where}", epoch=epoch,
                                           loss=dev_loss, curve=curve)  # fmt: skip
            record = EpochRecord(
                epoch=epoch,
                train_loss=total / n,
                dev_loss=dev_loss,
                dev_accuracy=dev_accuracy,
                lr=None if lr is None else float(lr),
            )
            curve.records.append(record)
            if callback is not None and callback(record):
                curve.stopped_early = True
                break
    return curve
