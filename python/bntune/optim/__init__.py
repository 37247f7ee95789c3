"""Optimizers and learning-rate schedules for ``bntune.nn`` models.

Each optimizer's docstring states its exact update. Hyperparameters are attributes that may be
changed between steps (``opt.lr = 0.01``); ``state_dict()``/``load_state_dict()`` round-trip
exactly. Schedules set ``opt.lr`` once per epoch.
"""

from bntune.optim.adam import Adam
from bntune.optim.momentum import Momentum, Nesterov
from bntune.optim.optimizer import Hyperparameter, Optimizer
from bntune.optim.rmsprop import RMSprop
from bntune.optim.schedules import (
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    Schedule,
    StepDecay,
)
from bntune.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "ExponentialDecay",
    "Hyperparameter",
    "InverseSqrtDecay",
    "InverseTimeDecay",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "StepDecay",
]
