"""Deterministic fake trainables for the mode tests (importable by worker processes)."""

from __future__ import annotations

import math
import os

import numpy as np

#: what Scripted instances saw at the start of each epoch (in-process tests only)
LOG: list[dict] = []


def curve_value(params: dict, epoch: int) -> float:
    """The hand-written learning curve of :class:`Curve`: c + a / epoch."""
    return params["c"] + params["a"] / epoch


class Curve:
    """Trains nothing: its metric after epoch e is ``c + a / e``; its state counts epochs and
    keeps an array that grows by one per epoch (so resuming from a checkpoint is visible)."""

    mutable = ()

    def __init__(self, params: dict) -> None:
        self.params = dict(params)
        self.epoch = 0
        self.w = np.zeros(3)
        if params.get("fail_at") is not None and params["a"] > params["fail_at"]:
            raise ValueError(f"Curve: a={params['a']} is too large (a test failure)")

    def step(self) -> float:
        self.epoch += 1
        self.w = self.w + 1.0
        marker = self.params.get("kill_marker")
        if marker and self.epoch == 2 and not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write("killed once")
            os._exit(1)  # a worker dies mid-trial
        return curve_value(self.params, self.epoch)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "w": self.w.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.w = np.array(state["w"])

    def set_params(self, **changes: object) -> None:
        if changes:
            raise ValueError(f"Curve: nothing can change, got {sorted(changes)}")


class KilledAfter:
    """Mixin for a trainable whose driver is 'killed' (KeyboardInterrupt) after ``kill_after``
    epochs in total, counted across the instances of the concrete class in ``steps``."""

    steps = 0
    kill_after: int | None = None

    def step(self) -> float:
        type(self).steps += 1
        if self.kill_after is not None and type(self).steps > self.kill_after:
            raise KeyboardInterrupt
        return super().step()  # type: ignore[misc]


class Interrupting(KilledAfter, Curve):
    """A Curve whose driver is killed after ``kill_after`` epochs (see :class:`KilledAfter`)."""


class Scripted:
    """Gradient descent on 0.5 * |w - 1|^2 from w = 0: ``w <- w - lr * (w - 1)``; the metric is
    ``sum((w - 1)^2)``; with ``lr >= 2`` the step diverges (NaN, as a real network would)."""

    mutable = ("lr",)

    def __init__(self, params: dict) -> None:
        self.lr = float(params["lr"])
        self.w = np.zeros(4)
        self.epoch = 0

    def step(self) -> float:
        LOG.append({"epoch": self.epoch, "w": self.w.copy(), "lr": self.lr})
        self.epoch += 1
        if self.lr >= 2.0:
            self.w = np.full_like(self.w, np.nan)
            return math.nan
        self.w = self.w - self.lr * (self.w - 1.0)
        return float(np.sum((self.w - 1.0) ** 2))

    def state_dict(self) -> dict:
        return {"w": self.w.copy(), "epoch": self.epoch, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        self.w = np.array(state["w"])
        self.epoch = int(state["epoch"])
        self.lr = float(state["lr"])

    def set_params(self, **changes: object) -> None:
        for k, v in changes.items():
            if k != "lr":
                raise ValueError(f"Scripted: only lr can change, got {k!r}")
            self.lr = float(v)  # type: ignore[arg-type]


class NoisyQuadratic:
    """SGD on a 1-d quadratic with gradient noise, tracked exactly through its second moment:
    ``m <- (1 - lr)^2 m + lr^2 sigma^2`` from ``m = m0``; the metric is m. A large lr is best
    early (fast decay), a small one late (low noise floor ``lr sigma^2 / (2 - lr)``): the best
    learning rate changes during training. ``width`` is structural (it only scales nothing but
    must be inherited)."""

    mutable = ("lr",)
    sigma2 = 1.0
    m0 = 1e6
    steps_per_epoch = 1

    def __init__(self, params: dict) -> None:
        self.lr = float(params["lr"])
        self.width = int(params.get("width", 1))
        self.m = self.m0
        self.epoch = 0

    def step(self) -> float:
        for _ in range(self.steps_per_epoch):
            self.m = (1.0 - self.lr) ** 2 * self.m + self.lr**2 * self.sigma2
        self.epoch += 1
        return self.m

    def state_dict(self) -> dict:
        return {"m": self.m, "epoch": self.epoch, "lr": self.lr, "width": self.width}

    def load_state_dict(self, state: dict) -> None:
        if int(state["width"]) != self.width:
            raise ValueError("NoisyQuadratic: checkpoint of another width")
        self.m = float(state["m"])
        self.epoch = int(state["epoch"])
        self.lr = float(state["lr"])

    def set_params(self, **changes: object) -> None:
        for k, v in changes.items():
            if k != "lr":
                raise ValueError(f"NoisyQuadratic: only lr can change, got {k!r}")
            self.lr = float(v)  # type: ignore[arg-type]


def bn_in_worker(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Batch norm forward in a worker process, and the worker's kernel thread count."""
    import bntune
    from bntune import functional as F  # noqa: N812

    c = x.shape[1]
    y, _, _ = F.batch_norm_forward(x, np.ones(c, x.dtype), np.zeros(c, x.dtype))
    return y, bntune.get_num_threads()


def blas_threads() -> int | None:
    """The BLAS thread count threadpoolctl reports in this process (None without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(blas) if blas else None


def quadratic_objective(trial) -> float:
    """A function objective for parallel optimize: reports a short curve, returns a value."""
    x = trial.params["x"]
    for step in range(3):
        trial.report(step, (x - 0.3) ** 2 + 1.0 / (step + 1))
    if x > 0.9:
        raise ValueError("x too large (a test failure)")
    return (x - 0.3) ** 2


class ScriptedWithBaseline(Scripted):
    """Scripted with a ``baseline``: a metric above 3 means the model learned nothing."""

    baseline = 3.0


class InterruptingQuadratic(KilledAfter, NoisyQuadratic):
    """NoisyQuadratic whose driver is killed after ``kill_after`` epochs (see
    :class:`KilledAfter`)."""


def sometimes_hangs(trial) -> float:
    """Hangs (sleeps far longer than any test waits) when x > 0.8; else returns x."""
    import time

    if trial.params["x"] > 0.8:
        time.sleep(600)
    return trial.params["x"]


class SlowStart(Scripted):
    """Scripted whose first epoch (from the initial model) reads a little worse than a model
    that learned nothing (``baseline`` 4.0, the metric of w = 0), whatever the rate: a slow
    start, as a real network's first epoch can be. From the second epoch on it is Scripted."""

    baseline = 4.0

    def step(self) -> float:
        value = super().step()
        return 4.1 if self.epoch == 1 and math.isfinite(value) else value


class AlwaysBroken(Scripted):
    """Every epoch gives NaN, whatever the rate."""

    def step(self) -> float:
        super().step()
        return math.nan
