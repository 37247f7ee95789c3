"""The built-in objective of ``bntune demo`` and ``bntune run``: train the batch-norm MLP on a named
dataset with the trial's hyperparameters and return its dev cross-entropy.

The training itself is :class:`bntune.tune.MLPTrainable`'s, epoch by epoch; this module adds what
a function objective needs (reporting the curve, pruning, the per-trial files) and its own
defaults."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bntune.mlp.trainable import DATASETS, OPTIMIZERS, MLPTrainable, load_dataset

__all__ = ["DATASETS", "DEFAULTS", "OPTIMIZERS", "MLPObjective", "read_metrics", "trial_artifacts"]

#: hyperparameters the built-in objective reads from a trial, with the value used when the
#: search space does not name them
DEFAULTS: dict[str, Any] = {
    "lr": 0.1,
    "momentum": 0.9,
    "hidden": 100,
    "layers": 2,
    "batch_size": 128,
    "lr_decay": 0.0,
    "weight_decay": 0.0,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
}
_INTEGERS = ("hidden", "layers", "batch_size")

EpochHook = Callable[[int, float], None]


def trial_artifacts(storage: str | os.PathLike[str], study: str) -> Path:
    """Where the built-in objective keeps per-trial files for study ``study`` stored at
    ``storage``: ``runs.db`` -> ``runs-trials/<study>/`` beside it (``<number>.json`` metrics,
    ``<number>.npz`` model)."""
    path = Path(storage)
    return path.with_name(path.stem + "-trials") / study


class MLPObjective:
    """``objective(trial)``: ``nn.mlp(hidden=, layers=)`` with batch norm, trained for ``epochs``
    epochs with ``optimizer`` (Momentum by default, as in the course) and the learning rate
    ``lr / (1 + lr_decay * (epoch - 1))``; reports the dev cross-entropy after every epoch
    (``trial.report``, so a pruner can stop it) and returns the last one.

    Trial parameters it reads (defaults in :data:`DEFAULTS` when the space lacks them): ``lr``,
    ``momentum`` (the beta of Momentum/Nesterov, the decay of RMSprop), ``hidden``, ``layers``,
    ``batch_size``, ``lr_decay``, ``weight_decay``, and Adam's ``beta1``, ``beta2``, ``eps``.

    With ``artifacts`` (a directory), each trial writes ``<number>.json`` (dev and test loss and
    accuracy, epochs run) and ``<number>.npz`` (the model, ``nn.save``). ``seed`` fixes the
    initial weights and the shuffling of every trial; ``data_seed`` the dataset's split.
    """

    def __init__(
        self,
        *,
        dataset: str = "digits",
        epochs: int = 30,
        optimizer: str = "momentum",
        seed: int = 0,
        data_seed: int = 0,
        artifacts: str | os.PathLike[str] | None = None,
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"MLPObjective: dataset must be one of {DATASETS}, got {dataset!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"MLPObjective: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}"
            )
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"MLPObjective: epochs must be a positive int, got {epochs!r}")
        self.dataset = dataset
        self.epochs = epochs
        self.optimizer = optimizer
        self.seed = seed
        self.data_seed = data_seed
        self.artifacts = None if artifacts is None else Path(artifacts)
        #: called in this process after every epoch with (epoch, dev loss); not pickled
        self.on_epoch: EpochHook | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["on_epoch"] = None  # a progress bar stays with the driver
        return state

    def trainable(self, params: dict[str, Any]) -> MLPTrainable:
        """The untrained :class:`~bntune.tune.MLPTrainable` for a trial's ``params`` (names the
        objective does not read are ignored), shuffling as this objective always has: one
        permutation per epoch from ``np.random.default_rng(seed)``."""
        p = {**DEFAULTS, **{k: v for k, v in params.items() if k in DEFAULTS}}
        typed = {k: int(v) if k in _INTEGERS else float(v) for k, v in p.items()}
        model = MLPTrainable(
            {**typed, "optimizer": self.optimizer, "dataset": self.dataset, "seed": self.seed,
             "data_seed": self.data_seed}
        )  # fmt: skip
        model.rng = np.random.default_rng(self.seed)
        return model

    def __call__(self, trial: Any) -> float:
        model = self.trainable(trial.params)
        for epoch in range(1, self.epochs + 1):
            dev_loss = model.step()
            if math.isnan(dev_loss):
                return math.nan  # diverged: the study records the trial so
            if self.on_epoch is not None:
                self.on_epoch(epoch, dev_loss)
            trial.report(epoch, dev_loss)
        if self.artifacts is not None:
            self._write_artifacts(self.artifacts, trial.number, model)
        return float(dev_loss)

    def _write_artifacts(self, artifacts: Path, number: int, model: MLPTrainable) -> None:
        from bntune import nn

        data = load_dataset(self.dataset, self.data_seed)
        test_loss, test_accuracy = nn.evaluate(model.model, model.loss, data.X_test, data.y_test)
        artifacts.mkdir(parents=True, exist_ok=True)
        nn.save(model.model, artifacts / f"{number}.npz")
        assert model.last_record is not None
        metrics = {
            "dev_loss": model.last_record.dev_loss,
            "dev_accuracy": model.last_record.dev_accuracy,
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "epochs": model.epoch,
        }
        (artifacts / f"{number}.json").write_text(json.dumps(metrics))


def read_metrics(artifacts: Path, number: int) -> dict[str, Any] | None:
    """The metrics the built-in objective wrote for trial ``number`` (None if there are none)."""
    try:
        return json.loads((artifacts / f"{number}.json").read_text())
    except (OSError, ValueError):
        return None
