"""Gradient descent with momentum, in the course's exponentially weighted form, and Nesterov's."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bntune.nn.module import Module
from bntune.nn.parameter import Parameter
from bntune.optim.optimizer import Hyperparameter, Optimizer


class _WeightedMomentum(Optimizer):
    """What Momentum and Nesterov share: ``beta`` in [0, 1) and a velocity buffer ``v``."""

    beta = Hyperparameter(low=0.0, high=1.0, open_high=True)
    buffers = ("v",)

    def __init__(
        self, params: Iterable[Parameter] | Module, lr: float, beta: float = 0.9, *,
        weight_decay: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(params, lr=lr, beta=beta, weight_decay=weight_decay)


class Momentum(_WeightedMomentum):
    """Momentum as the course writes it, an exponentially weighted average of the gradients::

        v = beta · v + (1 - beta) · g
        w -= lr · v

    ``v`` starts at 0 (no bias correction); ``beta`` defaults to 0.9, i.e. an average over about
    ``1 / (1 - beta) = 10`` gradients. ``g`` includes ``weight_decay · w`` when set.
    (torch's ``SGD(momentum=beta, dampening=1-beta)`` differs in its first step, where it sets
    ``v = g``.)
    """

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        v = state["v"]
        one = w.dtype.type
        v *= one(self.beta)
        v += one(1.0 - self.beta) * g
        w -= one(self.lr) * v


class Nesterov(_WeightedMomentum):
    """Nesterov momentum in the same exponentially weighted form: the step looks ahead along the
    updated velocity::

        v = beta · v + (1 - beta) · g
        w -= lr · (beta · v + (1 - beta) · g)

    ``v`` starts at 0; ``beta`` defaults to 0.9; ``g`` includes ``weight_decay · w`` when set.
    (This is torch's ``nesterov=True`` update with the velocity scaled by ``1 - beta``.)
    """

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        v = state["v"]
        one = w.dtype.type
        scaled = one(1.0 - self.beta) * g
        v *= one(self.beta)
        v += scaled
        w -= one(self.lr) * (one(self.beta) * v + scaled)
