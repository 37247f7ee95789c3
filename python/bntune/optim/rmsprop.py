"""RMSprop: steps divided by a running root mean square of the gradients."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bntune.nn.module import Module
from bntune.nn.parameter import Parameter
from bntune.optim.optimizer import Hyperparameter, Optimizer


class RMSprop(Optimizer):
    """RMSprop::

        s = beta · s + (1 - beta) · g²
        w -= lr · g / (sqrt(s) + eps)

    ``s`` starts at 0; defaults ``beta=0.99``, ``eps=1e-8``; ``g`` includes
    ``weight_decay · w`` when set. Same update as ``torch.optim.RMSprop(params, lr, alpha=beta,
    eps=eps, weight_decay=...)``.
    """

    beta = Hyperparameter(low=0.0, high=1.0, open_high=True)
    eps = Hyperparameter(low=0.0, open_low=True)
    buffers = ("s",)

    def __init__(
        self,
        params: Iterable[Parameter] | Module,
        lr: float,
        beta: float = 0.99,
        eps: float = 1e-8,
        *,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, beta=beta, eps=eps, weight_decay=weight_decay)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        s = state["s"]
        one = w.dtype.type
        s *= one(self.beta)
        s += one(1.0 - self.beta) * (g * g)
        denom = np.sqrt(s)
        denom += one(self.eps)
        w -= one(self.lr) * g / denom
