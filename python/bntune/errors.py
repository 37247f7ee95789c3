"""Python-side exceptions. The base classes (``BntuneError``, ``ShapeError``, ``DtypeError``)
live in the Rust extension so that kernels and Python code raise one hierarchy."""

from __future__ import annotations

from typing import Any

from bntune._core import BntuneError


class TrainingDiverged(BntuneError, ArithmeticError):  # noqa: N818  (the issue names it)
    """The training loss (or the dev loss) became NaN or infinite.

    Attributes: ``epoch`` (1-based epoch in which it happened), ``batch`` (0-based mini-batch
    index within that epoch, or ``None`` when the dev loss diverged), ``loss`` (the offending
    value) and ``curve`` (the :class:`bntune.nn.LearningCurve` of the epochs completed before).
    The tuner records a trial that raises this as diverged rather than failed.
    """

    def __init__(
        self,
        message: str,
        *,
        epoch: int | None = None,
        batch: int | None = None,
        loss: float = float("nan"),
        curve: Any = None,
    ) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        self.curve = curve

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes are not in ``args``: spell them out so that the exception
        # survives the trip back from a worker process.
        state = {"epoch": self.epoch, "batch": self.batch, "loss": self.loss, "curve": self.curve}
        return (_rebuild_training_diverged, (str(self), state))


def _rebuild_training_diverged(message: str, state: dict[str, Any]) -> TrainingDiverged:
    return TrainingDiverged(message, **state)
