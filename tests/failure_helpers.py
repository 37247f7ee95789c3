"""Objectives for the failure tests, importable by worker processes."""

from __future__ import annotations

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
    """Fails until the file named by BNTUNE_TEST_FIXED exists (the user fixed the bug)."""
    if not Path(os.environ["BNTUNE_TEST_FIXED"]).exists():
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
