"""Objectives for the failure tests, importable by worker processes."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path


def always_raises(trial) -> float:
    raise ValueError("the objective has a bug")


def raises_above_half(trial) -> float:
    if trial.params["x"] > 0.5:
        raise ValueError("x too large")
    return trial.params["x"]


def fixed_by_a_file(trial) -> float:
    """Fails until a file exists (the user fixed the bug): the one the ``fixed`` parameter names,
    else BNTUNE_TEST_FIXED's (a worker started earlier may not see a variable set later)."""
    path = trial.params.get("fixed") or os.environ["BNTUNE_TEST_FIXED"]
    if not Path(path).exists():
        raise RuntimeError("not fixed yet")
    return trial.params["x"]


def first_one_slow(trial) -> float:
    """Trial 0 finishes last on two workers."""
    if trial.number == 0:
        time.sleep(1.5)
    return trial.params["x"]


def reports_in_optunas_order(trial) -> float:
    trial.report(0.25, 1)  # Optuna's report(value, step)
    return 0.25


def slow(trial) -> float:
    time.sleep(0.2)
    return trial.params["x"]


def conditional_net(trial) -> float:
    """An Optuna-style define-by-run objective with a conditional branch and a loop."""
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("n_layers", 1, 3)
    units = [trial.suggest_int(f"units_{i}", 8, 128, log=True) for i in range(layers)]
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    penalty = 0.0
    if optimizer == "adam":
        beta2 = trial.suggest_one_minus_log("beta2", 0.9, 0.9999)
        penalty = abs(1.0 - beta2 - 1e-3)
    else:
        momentum = trial.suggest_float("momentum", 0.0, 0.99, step=0.01)
        penalty = abs(momentum - 0.9)
    return (math.log10(lr) + 3.0) ** 2 + sum(abs(u - 64) for u in units) / 64 + penalty


def with_user_attrs(trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr("accuracy", 1.0 - x)
    trial.set_user_attr("note", f"trial {trial.number}")
    return x


def two_objectives(trial) -> tuple[float, float]:
    """Error falls and cost rises with the model's size: a true trade-off."""
    width = trial.suggest_int("width", 1, 64, log=True)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    error = 1.0 / width + (math.log10(lr) + 2.0) ** 2 / 10
    return error, float(width)


def conditional_from_file(trial) -> float:
    """The study file's conditional space: the branch's parameters, and only those."""
    p = trial.params
    branch = {"sgd": {"lr", "momentum"}, "adam": {"lr", "beta2"}}[p["optimizer"]]
    if set(p) != {"layers", "optimizer"} | branch:
        raise ValueError(f"params of another branch: {sorted(p)}")
    return (math.log10(p["lr"]) + 2.0) ** 2 + p["layers"]


class TrialPruned(Exception):  # noqa: N818 - named as Optuna's, which is what is tested
    """Named as ``optuna.TrialPruned``: an objective ported from Optuna raises it to prune."""


def prunes_above_half_as_optuna_does(trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.report(0, 2.0 * x)
    if x > 0.5:
        raise TrialPruned()
    return x


def diverges_above_half(trial) -> float:
    x = trial.params["x"]
    return math.nan if x > 0.5 else x


def interrupted_once(trial) -> float:
    """Trial 2 is cut short by a Ctrl-C the first time (KeyboardInterrupt, as the signal raises
    it inside the objective); BNTUNE_TEST_INTERRUPTED names the file that remembers it was."""
    marker = Path(os.environ["BNTUNE_TEST_INTERRUPTED"])
    if trial.number == 2 and not marker.exists():
        marker.touch()
        raise KeyboardInterrupt
    return trial.params["x"]
