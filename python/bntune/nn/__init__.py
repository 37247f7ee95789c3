"""Layers, losses, models and training on NumPy, with batch norm on bntune's Rust kernels.

Small classes in the spirit of ``torch.nn``: each layer has ``forward(x)`` and
``backward(grad) -> grad_input``; ``Sequential`` stacks them; ``fit`` trains them with a
``bntune.optim`` optimizer and returns the learning curve. float32 by default, float64 works
end to end.
"""

from bntune.nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from bntune.nn.batchnorm import BatchNorm
from bntune.nn.builders import mlp
from bntune.nn.dense import Dense
from bntune.nn.losses import MSE, Loss, SoftmaxCrossEntropy
from bntune.nn.module import Module
from bntune.nn.parameter import Parameter
from bntune.nn.sequential import Sequential
from bntune.nn.serialization import load, save
from bntune.nn.training import EpochRecord, LearningCurve, evaluate, fit

__all__ = [
    "MSE",
    "BatchNorm",
    "Dense",
    "EpochRecord",
    "LeakyReLU",
    "LearningCurve",
    "Loss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "evaluate",
    "fit",
    "load",
    "mlp",
    "save",
]
