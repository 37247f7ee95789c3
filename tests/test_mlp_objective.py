"""The built-in objective (``bntune.mlp.objective.MLPObjective``) against its documented recipe
written out here with the ``nn``/``optim`` primitives: ``nn.mlp(hidden, layers, seed)``, the
optimizer, the learning rate ``lr / (1 + lr_decay * (epoch - 1))`` and ``nn.fit(seed=seed)``
(one shuffle per epoch from ``np.random.default_rng(seed)``). It trains through
``tune.MLPTrainable``; these values are what it computed before it did, for the same seed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bntune import TrainingDiverged, datasets, nn, optim, tune
from bntune.mlp.objective import MLPObjective

pytest.importorskip("sklearn")


class FakeTrial:
    """What the objective uses of a ``tune.Trial``: number, params, report (may prune)."""

    def __init__(self, number: int, params: dict, prune_at: int | None = None) -> None:
        self.number, self.params, self.prune_at = number, params, prune_at
        self.curve: dict[int, float] = {}

    def report(self, step: int, value: float) -> None:
        self.curve[step] = value
        if step == self.prune_at:
            raise tune.Pruned


def reference(params: dict, *, optimizer: str, epochs: int, seed: int, data_seed: int = 0):
    """(model, learning-curve records) of the documented recipe, defaults as documented."""
    p = {"lr": 0.1, "momentum": 0.9, "hidden": 100, "layers": 2, "batch_size": 128,
         "lr_decay": 0.0, "weight_decay": 0.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
         **params}  # fmt: skip
    data = datasets.digits(data_seed)
    model = nn.mlp(64, 10, hidden=p["hidden"], layers=p["layers"], seed=seed)
    wd = p["weight_decay"]
    opt = {
        "momentum": lambda: optim.Momentum(model, p["lr"], p["momentum"], weight_decay=wd),
        "nesterov": lambda: optim.Nesterov(model, p["lr"], p["momentum"], weight_decay=wd),
        "rmsprop": lambda: optim.RMSprop(model, p["lr"], p["momentum"], weight_decay=wd),
        "adam": lambda: optim.Adam(
            model, p["lr"], p["beta1"], p["beta2"], p["eps"], weight_decay=wd
        ),
        "sgd": lambda: optim.SGD(model, p["lr"], weight_decay=wd),
    }[optimizer]()

    class InverseTime:
        def apply(self, o, epoch):
            o.lr = p["lr"] / (1.0 + p["lr_decay"] * (epoch - 1))
            return o.lr

    curve = nn.fit(model, nn.SoftmaxCrossEntropy(), opt, data.X_train, data.y_train,
                   X_dev=data.X_dev, y_dev=data.y_dev, epochs=epochs,
                   batch_size=p["batch_size"], schedule=InverseTime(), seed=seed)  # fmt: skip
    return model, list(curve)


@pytest.mark.parametrize(
    ("optimizer", "params", "seed"),
    [
        (
            "momentum",
            {"lr": 0.1, "momentum": 0.9, "hidden": 16, "batch_size": 64, "lr_decay": 0.5},
            0,
        ),
        (
            "adam",
            {"lr": 0.003, "hidden": 12, "layers": 1, "batch_size": 100, "weight_decay": 1e-4},
            3,
        ),
        ("rmsprop", {"lr": 0.001, "hidden": 8, "layers": 1, "unused_name": 5}, 1),
    ],
)
def test_the_objective_is_its_documented_recipe(tmp_path, optimizer, params, seed):
    objective = MLPObjective(epochs=3, optimizer=optimizer, seed=seed, artifacts=tmp_path)
    seen = []
    objective.on_epoch = lambda epoch, value: seen.append((epoch, value))
    trial = FakeTrial(4, params)
    value = objective(trial)

    model, records = reference(
        {k: v for k, v in params.items() if k != "unused_name"},
        optimizer=optimizer, epochs=3, seed=seed,
    )  # fmt: skip
    expected = {r.epoch: r.dev_loss for r in records}
    assert trial.curve == expected
    assert seen == sorted(expected.items())
    assert value == records[-1].dev_loss

    data = datasets.digits(0)
    test_loss, test_acc = nn.evaluate(model, nn.SoftmaxCrossEntropy(), data.X_test, data.y_test)
    metrics = json.loads((tmp_path / "4.json").read_text())
    assert metrics == {"dev_loss": records[-1].dev_loss, "dev_accuracy": records[-1].dev_accuracy,
                       "test_loss": test_loss, "test_accuracy": test_acc, "epochs": 3}  # fmt: skip
    saved = nn.load(tmp_path / "4.npz")
    for (name, a), (_, b) in zip(
        sorted(saved.state_dict().items()), sorted(model.state_dict().items()), strict=True
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_diverging_trial_returns_nan_after_reporting_the_finite_epochs():
    params = {"lr": 1e5, "hidden": 8, "layers": 1, "momentum": 0.99}
    with pytest.raises(TrainingDiverged) as raised:
        reference(params, optimizer="momentum", epochs=3, seed=0)
    finite = {r.epoch: r.dev_loss for r in raised.value.curve}
    trial = FakeTrial(0, params)
    assert math.isnan(MLPObjective(epochs=3, seed=0)(trial))
    assert trial.curve == finite


def test_a_pruned_trial_stops_at_the_epoch_its_report_raised():
    params = {"lr": 0.05, "hidden": 8, "layers": 1}
    trial = FakeTrial(0, params, prune_at=2)
    with pytest.raises(tune.Pruned):
        MLPObjective(epochs=5, seed=2)(trial)
    _, records = reference(params, optimizer="momentum", epochs=2, seed=2)
    assert trial.curve == {r.epoch: r.dev_loss for r in records}
