"""``tune.MLPTrainable``: the built-in MLP on the digits dataset as a :class:`tune.Trainable`.

It is the one implementation of "train the built-in MLP on a dataset with these
hyperparameters": the built-in objective of ``bntune demo``/``run``
(:class:`bntune.mlp.objective.MLPObjective`) trains one of these epoch by epoch."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from bntune.errors import TrainingDiverged

_DEFAULTS: dict[str, Any] = {
    "lr": 0.1,
    "momentum": 0.9,
    "hidden": 64,
    "layers": 2,
    "batch_size": 64,
    "optimizer": "momentum",
    "lr_decay": 0.0,
    "weight_decay": 0.0,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "batch_norm": True,
    "seed": 0,
    "data_seed": 0,
    "n_train": None,
    "dataset": "digits",
}
#: datasets it trains on (``bntune.datasets``)
DATASETS = ("digits",)
#: optimizers it builds, by the name its ``optimizer`` param takes
OPTIMIZERS = ("momentum", "nesterov", "sgd", "rmsprop", "adam")


@functools.lru_cache(maxsize=4)
def load_dataset(name: str, data_seed: int) -> Any:
    """``bntune.datasets.<name>(data_seed)``, kept: every trial of a process shares it."""
    from bntune import datasets

    return getattr(datasets, name)(data_seed)


class MLPTrainable:
    """``nn.mlp`` trained on ``datasets.digits`` with mini-batch gradient descent; ``step()``
    trains one epoch and returns the dev cross-entropy (NaN once training diverged).

    Params (defaults): ``lr`` (0.1), ``momentum`` (0.9, the beta of ``optim.Momentum`` and
    ``optim.Nesterov``, the decay of ``optim.RMSprop``), ``hidden`` (64), ``layers`` (2),
    ``batch_size`` (64), ``optimizer`` ("momentum", "sgd", "nesterov", "rmsprop" or "adam"),
    ``lr_decay`` (0: epoch e runs with ``lr / (1 + lr_decay * (e - 1))``), ``weight_decay`` (0),
    ``beta1``/``beta2``/``eps`` (Adam's), ``batch_norm`` (True), ``seed`` (0: initial weights and
    shuffling), ``data_seed`` (0: the digits split), ``n_train`` (None: all 1258 training
    images; a smaller number keeps the first ones, for quick experiments), ``dataset``
    ("digits", the only one in :data:`DATASETS`).

    Shuffling draws one permutation per epoch from ``rng``, ``np.random.default_rng([seed, 1])``
    (a stream apart from the weights'); the last epoch's ``nn.EpochRecord`` (dev accuracy
    included) is ``last_record``.

    ``set_params`` accepts the names in ``mutable``; the others are structural.
    """

    #: the dev cross-entropy of a model that learned nothing (uniform over 10 classes): a
    #: babysitter treats a worse value as a broken run
    baseline: ClassVar[float] = math.log(10.0)
    mutable: ClassVar[tuple[str, ...]] = (
        "lr",
        "momentum",
        "lr_decay",
        "weight_decay",
        "beta1",
        "beta2",
        "eps",
    )

    def __init__(self, params: Mapping[str, Any]) -> None:
        from bntune import nn, optim

        unknown = sorted(set(params) - set(_DEFAULTS))
        if unknown:
            raise ValueError(
                f"MLPTrainable: unknown params {unknown}; it takes {sorted(_DEFAULTS)}"
            )
        p = {**_DEFAULTS, **params}
        if p["optimizer"] not in OPTIMIZERS:
            raise ValueError(
                f"MLPTrainable: optimizer must be one of {OPTIMIZERS}, got {p['optimizer']!r}"
            )
        if p["dataset"] not in DATASETS:
            raise ValueError(
                f"MLPTrainable: dataset must be one of {DATASETS}, got {p['dataset']!r}"
            )
        data = load_dataset(p["dataset"], int(p["data_seed"]))
        n_train = p["n_train"]
        self.X, self.y = data.X_train, data.y_train
        if n_train is not None:
            self.X, self.y = self.X[: int(n_train)], self.y[: int(n_train)]
        self.X_dev, self.y_dev = data.X_dev, data.y_dev
        self.batch_size = int(p["batch_size"])
        self.model = nn.mlp(
            self.X.shape[1],
            int(data.y_train.max()) + 1,
            hidden=int(p["hidden"]),
            layers=int(p["layers"]),
            batch_norm=bool(p["batch_norm"]),
            seed=int(p["seed"]),
        )
        self.loss = nn.SoftmaxCrossEntropy()
        kind = p["optimizer"]
        wd = float(p["weight_decay"])
        lr = float(p["lr"])
        if kind == "momentum":
            self.optimizer = optim.Momentum(self.model, lr, p["momentum"], weight_decay=wd)
        elif kind == "nesterov":
            self.optimizer = optim.Nesterov(self.model, lr, p["momentum"], weight_decay=wd)
        elif kind == "rmsprop":
            self.optimizer = optim.RMSprop(self.model, lr, p["momentum"], weight_decay=wd)
        elif kind == "adam":
            self.optimizer = optim.Adam(
                self.model, lr, p["beta1"], p["beta2"], p["eps"], weight_decay=wd
            )
        else:
            self.optimizer = optim.SGD(self.model, lr, weight_decay=wd)
        self.params = p
        # shuffling has its own stream so that it does not depend on how weights were drawn
        self.rng = np.random.default_rng([int(p["seed"]), 1])
        self.epoch = 0
        self.diverged = False
        self.last_record: nn.EpochRecord | None = None

    def step(self) -> float:
        """One epoch; the dev cross-entropy after it (NaN if training diverged)."""
        from bntune import nn

        if self.diverged:
            return math.nan
        self.epoch += 1
        self.optimizer.lr = self.params["lr"] / (1.0 + self.params["lr_decay"] * (self.epoch - 1))
        try:
            curve = nn.fit(
                self.model,
                self.loss,
                self.optimizer,
                self.X,
                self.y,
                epochs=1,
                batch_size=self.batch_size,
                X_dev=self.X_dev,
                y_dev=self.y_dev,
                seed=self.rng,
                initial_epoch=self.epoch - 1,
            )
        except TrainingDiverged:
            self.diverged = True
            return math.nan
        self.last_record = curve[-1]
        return float(curve[-1].dev_loss)  # type: ignore[arg-type]

    def set_params(self, **changes: Any) -> None:
        """Changes ``lr``, ``momentum``, ``lr_decay``, ``weight_decay``, ``beta1``, ``beta2``,
        ``eps`` from the next epoch on; ValueError for any other name."""
        fixed = sorted(set(changes) - set(self.mutable))
        if fixed:
            raise ValueError(
                f"MLPTrainable.set_params: {fixed} cannot change mid-training; it accepts "
                f"{list(self.mutable)}"
            )
        opt = self.optimizer
        for name, value in changes.items():
            if name == "momentum" and hasattr(type(opt), "beta"):
                opt.beta = value  # type: ignore[attr-defined]
            elif name == "momentum" and hasattr(type(opt), "decay"):
                opt.decay = value  # type: ignore[attr-defined]
            elif name in ("beta1", "beta2", "eps", "weight_decay") and hasattr(type(opt), name):
                setattr(opt, name, value)
            self.params[name] = value

    def state_dict(self) -> dict[str, Any]:
        """Weights, running statistics, optimizer state, shuffling generator, epoch, params."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "epoch": self.epoch,
            "diverged": self.diverged,
            "mutable": {k: self.params[k] for k in self.mutable},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`state_dict` exactly."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.epoch = int(state["epoch"])
        self.diverged = bool(state["diverged"])
        self.params.update(state["mutable"])
