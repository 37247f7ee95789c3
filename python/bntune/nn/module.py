"""The base class of every layer and of ``Sequential``: parameters, buffers, modes, state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bntune._core import DtypeError, ShapeError
from bntune.nn.parameter import Parameter

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: Any, *, owner: str) -> np.dtype:
    """``dtype`` as a numpy dtype, which must be float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as err:
        raise DtypeError(f"{owner}: dtype must be float32 or float64, got {dtype!r}") from err
    if resolved not in FLOAT_DTYPES:
        raise DtypeError(f"{owner}: dtype must be float32 or float64, got {resolved}")
    return resolved


class Module:
    """A layer (or a stack of layers) with ``forward(x)`` and ``backward(grad) -> grad_input``.

    ``forward`` keeps what ``backward`` needs; ``backward`` takes dL/d(output) of the last
    ``forward`` and returns dL/d(input), accumulating parameter gradients into ``Parameter.grad``.
    ``state_dict()`` holds every parameter value and buffer (e.g. batch-norm running statistics)
    as copies; ``load_state_dict`` writes them back in place, exactly.
    """

    #: attributes that only carry one forward pass to its backward: left out of pickles and
    #: copies (a model sent to a worker process should not drag its last mini-batch along).
    _transient: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self._transient:
            if name in state:
                state[name] = None
        return state

    # --- computation -------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward_params(self, grad: np.ndarray) -> None:
        """Like ``backward`` but only accumulates the parameter gradients: the gradient with
        respect to the input is not needed when the input is the data (``fit`` uses this), and
        layers that can skip computing it do."""
        self.backward(grad)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # --- parameters and buffers --------------------------------------------------------------
    def named_parameters(self) -> dict[str, Parameter]:
        """The learnable parameters by name (e.g. ``"weight"``, ``"0.weight"`` in a Sequential)."""
        return {}

    def named_buffers(self) -> dict[str, np.ndarray]:
        """Non-learnable state that belongs to the model (e.g. running statistics), by name."""
        return {}

    def parameters(self) -> list[Parameter]:
        """The learnable parameters, in a fixed order (what optimizers take)."""
        return list(self.named_parameters().values())

    def zero_grad(self) -> None:
        """Sets every parameter's gradient to zero."""
        for parameter in self.parameters():
            parameter.zero_grad()

    # --- modes -------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (batch statistics in batch norm). Returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Inference mode (running statistics in batch norm). Returns ``self``."""
        return self.train(False)

    # --- state -------------------------------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: p.value for name, p in self.named_parameters().items()}
        arrays.update(self.named_buffers())
        return arrays

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter value and buffer, by name."""
        return {name: array.copy() for name, array in self._state_arrays().items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Writes ``state`` (as made by ``state_dict``) into this module's arrays in place.

        The keys must match exactly, and each array's shape and dtype too (no silent casts:
        a checkpoint restores the very bits it saved).
        """
        arrays = self._state_arrays()
        missing = sorted(set(arrays) - set(state))
        unexpected = sorted(set(state) - set(arrays))
        if missing or unexpected:
            raise KeyError(
                f"{self.describe()}: load_state_dict got a state that does not match; "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        for name, target in arrays.items():
            source = np.asarray(state[name])
            if source.shape != target.shape:
                raise ShapeError(
                    f"{self.describe()}: state {name!r} has shape {source.shape}, "
                    f"expected {target.shape}"
                )
            if source.dtype != target.dtype:
                raise DtypeError(
                    f"{self.describe()}: state {name!r} has dtype {source.dtype}, "
                    f"expected {target.dtype}"
                )
        for name, target in arrays.items():
            np.copyto(target, state[name])

    # --- description -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments as JSON-able values (the architecture, used by ``nn.save``)."""
        return {}

    def describe(self) -> str:
        """How error messages name this layer, e.g. ``Dense(64, 100)``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return self.describe()


def check_input(
    layer: Module,
    x: Any,
    *,
    dtype: np.dtype | None,
    ndim: tuple[int, int] = (2, 2),
    features: int | None = None,
    what: str = "input",
) -> np.ndarray:
    """Validates a layer's input and returns it as an ndarray.

    ``dtype`` None accepts either float dtype; ``ndim`` is the (min, max) number of dimensions;
    ``features`` is the required extent of axis 1.
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if dtype is None:
        if x.dtype not in FLOAT_DTYPES:
            raise DtypeError(
                f"{layer.describe()}: {what} must be float32 or float64, got {x.dtype}"
            )
    elif x.dtype != dtype:
        raise DtypeError(
            f"{layer.describe()}: {what} must be {dtype} like the layer, got {x.dtype} "
            f"(convert with .astype(np.{dtype}))"
        )
    low, high = ndim
    if not low <= x.ndim <= high:
        dims = f"{low}" if low == high else f"{low} to {high}"
        raise ShapeError(
            f"{layer.describe()}: {what} must have {dims} dimensions, got shape {x.shape}"
        )
    if x.shape[0] == 0:
        raise ShapeError(f"{layer.describe()}: {what} is an empty batch, shape {x.shape}")
    if features is not None and x.shape[1] != features:
        raise ShapeError(
            f"{layer.describe()}: {what} must have {features} features on axis 1, "
            f"got shape {x.shape}"
        )
    return x


def check_grad(layer: Module, grad: Any, expected_shape: tuple[int, ...] | None) -> np.ndarray:
    """Validates the gradient handed to ``backward``: a forward came first, the shape matches."""
    if expected_shape is None:
        raise RuntimeError(f"{layer.describe()}: backward called before forward")
    if not isinstance(grad, np.ndarray):
        grad = np.asarray(grad)
    if grad.shape != expected_shape:
        raise ShapeError(
            f"{layer.describe()}: backward got grad of shape {grad.shape}, expected the "
            f"output's shape {expected_shape}"
        )
    if grad.dtype not in FLOAT_DTYPES:
        raise DtypeError(f"{layer.describe()}: grad must be float32 or float64, got {grad.dtype}")
    return grad
