"""Adam: momentum and RMSprop combined, with bias correction."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from bntune.nn.module import Module
from bntune.nn.parameter import Parameter
from bntune.optim.optimizer import Hyperparameter, Optimizer


class Adam(Optimizer):
    """Adam with bias correction, at step ``t = 1, 2, ...``::

        m = beta1 · m + (1 - beta1) · g
        v = beta2 · v + (1 - beta2) · g²
        m̂ = m / (1 - beta1**t),   v̂ = v / (1 - beta2**t)
        w -= lr · m̂ / (sqrt(v̂) + eps)

    Defaults are the course's (and the paper's): ``lr=1e-3``, ``beta1=0.9``, ``beta2=0.999``,
    ``eps=1e-8``; ``g`` includes ``weight_decay · w`` when set (torch's ``Adam``, not ``AdamW``).
    When a beta is changed mid-training, ``beta**t`` becomes the product of the betas actually
    used at each step, which keeps the correction exact for the averages as they were computed.
    """

    beta1 = Hyperparameter(low=0.0, high=1.0, open_high=True)
    beta2 = Hyperparameter(low=0.0, high=1.0, open_high=True)
    eps = Hyperparameter(low=0.0, open_low=True)
    buffers = ("m", "v")

    def __init__(
        self,
        params: Iterable[Parameter] | Module,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        *,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay
        )
        self._beta1_power = 1.0
        self._beta2_power = 1.0

    def _begin_step(self) -> None:
        self._beta1_power *= self.beta1
        self._beta2_power *= self.beta2

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        m, v = state["m"], state["v"]
        one = w.dtype.type
        m *= one(self.beta1)
        m += one(1.0 - self.beta1) * g
        v *= one(self.beta2)
        v += one(1.0 - self.beta2) * (g * g)
        # lr·m̂/(sqrt(v̂)+eps) rearranged so that only m and v are full arrays.
        denom = np.sqrt(v)
        denom *= one(1.0 / math.sqrt(1.0 - self._beta2_power))
        denom += one(self.eps)
        w -= one(self.lr / (1.0 - self._beta1_power)) * m / denom

    def _scalars(self) -> dict[str, float]:
        return {"beta1_power": self._beta1_power, "beta2_power": self._beta2_power}

    def _load_scalars(self, scalars: Mapping[str, float]) -> None:
        self._beta1_power = float(scalars.get("beta1_power", self.beta1**self.steps))
        self._beta2_power = float(scalars.get("beta2_power", self.beta2**self.steps))
