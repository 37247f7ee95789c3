"""The built-in objective of ``bntune demo`` and ``bntune run``: train the batch-norm MLP on a named
dataset with the trial's hyperparameters and return its dev cross-entropy."""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bntune.errors import TrainingDiverged

#: datasets the built-in objective knows (``bntune.datasets``)
DATASETS = ("digits",)
#: optimizers the built-in objective knows, by the name a config uses
OPTIMIZERS = ("momentum", "nesterov", "sgd", "rmsprop", "adam")
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

EpochHook = Callable[[int, float], None]


@functools.lru_cache(maxsize=2)
def _dataset(name: str, data_seed: int) -> Any:
    from bntune import datasets

    return getattr(datasets, name)(data_seed)


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

    def _optimizer(self, model: Any, p: Mapping[str, Any]) -> Any:
        from bntune import optim

        lr, wd = float(p["lr"]), float(p["weight_decay"])
        if self.optimizer == "momentum":
            return optim.Momentum(model, lr, float(p["momentum"]), weight_decay=wd)
        if self.optimizer == "nesterov":
            return optim.Nesterov(model, lr, float(p["momentum"]), weight_decay=wd)
        if self.optimizer == "rmsprop":
            return optim.RMSprop(model, lr, float(p["momentum"]), weight_decay=wd)
        if self.optimizer == "adam":
            return optim.Adam(
                model, lr, float(p["beta1"]), float(p["beta2"]), float(p["eps"]), weight_decay=wd
            )
        return optim.SGD(model, lr, weight_decay=wd)

    def __call__(self, trial: Any) -> float:
        from bntune import nn

        p = {**DEFAULTS, **trial.params}
        data = _dataset(self.dataset, self.data_seed)
        model = nn.mlp(
            data.X_train.shape[1],
            int(data.y_train.max()) + 1,
            hidden=int(p["hidden"]),
            layers=int(p["layers"]),
            seed=self.seed,
        )
        opt = self._optimizer(model, p)
        loss = nn.SoftmaxCrossEntropy()
        lr0, decay = float(p["lr"]), float(p["lr_decay"])

        class _Decay:
            # the course's inverse-time decay, the first epoch at lr0
            def apply(self, optimizer: Any, epoch: int) -> float:
                optimizer.lr = lr0 / (1.0 + decay * (epoch - 1))
                return optimizer.lr

        def after_epoch(record: nn.EpochRecord) -> None:
            assert record.dev_loss is not None
            if self.on_epoch is not None:
                self.on_epoch(record.epoch, record.dev_loss)
            trial.report(record.epoch, record.dev_loss)

        try:
            curve = nn.fit(
                model, loss, opt, data.X_train, data.y_train,
                X_dev=data.X_dev, y_dev=data.y_dev, epochs=self.epochs,
                batch_size=int(p["batch_size"]), schedule=_Decay(), seed=self.seed,
                callback=after_epoch,
            )  # fmt: skip
        except TrainingDiverged:
            return math.nan  # the study records the trial as diverged
        dev_loss = curve[-1].dev_loss
        assert dev_loss is not None
        if self.artifacts is not None:
            test_loss, test_accuracy = nn.evaluate(model, loss, data.X_test, data.y_test)
            self.artifacts.mkdir(parents=True, exist_ok=True)
            nn.save(model, self.artifacts / f"{trial.number}.npz")
            metrics = {
                "dev_loss": dev_loss,
                "dev_accuracy": curve[-1].dev_accuracy,
                "test_loss": test_loss,
                "test_accuracy": test_accuracy,
                "epochs": len(curve),
            }
            (self.artifacts / f"{trial.number}.json").write_text(json.dumps(metrics))
        return float(dev_loss)


def read_metrics(artifacts: Path, number: int) -> dict[str, Any] | None:
    """The metrics the built-in objective wrote for trial ``number`` (None if there are none)."""
    try:
        return json.loads((artifacts / f"{number}.json").read_text())
    except (OSError, ValueError):
        return None
