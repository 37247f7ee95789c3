"""Plain stochastic gradient descent."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bntune.nn.module import Module
from bntune.nn.parameter import Parameter
from bntune.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Mini-batch gradient descent: ``w -= lr · g``.

    ``g`` is the gradient, plus ``weight_decay · w`` when ``weight_decay`` (default 0) is set.
    Same update as ``torch.optim.SGD(params, lr, weight_decay=...)``.
    """

    # One term per update: gathering into a flat array would cost more than it saves.
    flat = False

    def __init__(
        self, params: Iterable[Parameter] | Module, lr: float, *, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        w -= w.dtype.type(self.lr) * g
