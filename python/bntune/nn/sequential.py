"""A stack of layers applied in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bntune._core import DtypeError, ShapeError
from bntune.nn.module import Module
from bntune.nn.parameter import Parameter


class Sequential(Module):
    """Layers applied one after the other; ``backward`` runs them in reverse.

    Parameter and state names are ``"<index>.<name>"`` (``"0.weight"``, ``"1.running_mean"``),
    so ``state_dict()`` covers every weight and running statistic of every layer and
    ``load_state_dict`` restores them exactly. ``train()``/``eval()`` switch every layer.
    An error inside a layer is re-raised naming the layer's position.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: argument {index} must be a layer (a bntune.nn.Module), "
                    f"got {type(layer).__name__}"
                )
        self.layers: list[Module] = list(layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def _in_layer(self, index: int, err: Exception) -> Exception:
        cls = type(err)
        name = self.layers[index].describe()
        # Layers start their own messages with their name; kernel errors may not.
        detail = str(err) if str(err).startswith(name) else f"{name}: {err}"
        message = f"Sequential layer {index}: {detail}"
        if cls in (ShapeError, DtypeError, ValueError, TypeError, RuntimeError):
            return cls(message)
        return err

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.layers:
            raise RuntimeError("Sequential: forward on an empty Sequential")
        for index, layer in enumerate(self.layers):
            try:
                x = layer.forward(x)
            except (ShapeError, DtypeError, ValueError, TypeError, RuntimeError) as err:
                raise self._in_layer(index, err) from err
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for index in range(len(self.layers) - 1, -1, -1):
            try:
                grad = self.layers[index].backward(grad)
            except (ShapeError, DtypeError, ValueError, TypeError, RuntimeError) as err:
                raise self._in_layer(index, err) from err
        return grad

    def backward_params(self, grad: np.ndarray) -> None:
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            try:
                if index:
                    grad = layer.backward(grad)
                else:
                    layer.backward_params(grad)
            except (ShapeError, DtypeError, ValueError, TypeError, RuntimeError) as err:
                raise self._in_layer(index, err) from err

    def named_parameters(self) -> dict[str, Parameter]:
        return {
            f"{index}.{name}": parameter
            for index, layer in enumerate(self.layers)
            for name, parameter in layer.named_parameters().items()
        }

    def named_buffers(self) -> dict[str, np.ndarray]:
        return {
            f"{index}.{name}": buffer
            for index, layer in enumerate(self.layers)
            for name, buffer in layer.named_buffers().items()
        }

    def train(self, mode: bool = True) -> Sequential:
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self) -> Sequential:
        return self.train(False)

    def config(self) -> dict[str, Any]:
        return {"layers": [{"type": type(layer).__name__, **layer.config()} for layer in self]}

    def describe(self) -> str:
        return "Sequential(" + ", ".join(layer.describe() for layer in self.layers) + ")"
