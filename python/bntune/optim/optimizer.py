"""The optimizer base class: parameters, live hyperparameters, L2 weight decay, state."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from bntune._core import DtypeError, ShapeError
from bntune.nn.module import Module
from bntune.nn.parameter import Parameter


class Hyperparameter:
    """A validated float attribute of an optimizer, changeable between steps (panda mode and PBT
    set ``optimizer.lr = ...`` while training)."""

    def __init__(self, *, low: float, high: float = math.inf, open_low: bool = False,
                 open_high: bool = False) -> None:  # fmt: skip
        self.low, self.high, self.open_low, self.open_high = low, high, open_low, open_high
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._hyperparameters[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{type(obj).__name__}: {self.name} must be a number, got {value!r}")
        value = float(value)
        too_low = value <= self.low if self.open_low else value < self.low
        too_high = value >= self.high if self.open_high else value > self.high
        if math.isnan(value) or too_low or too_high:
            left = "(" if self.open_low else "["
            right = ")" if self.open_high else "]"
            raise ValueError(
                f"{type(obj).__name__}: {self.name} must be in "
                f"{left}{self.low}, {self.high}{right}, got {value!r}"
            )
        obj._hyperparameters[self.name] = value


class Optimizer:
    """Updates ``Parameter.value`` in place from ``Parameter.grad`` at each ``step()``.

    ``params`` is an iterable of :class:`bntune.nn.Parameter` (``model.parameters()``) or a model.
    With ``weight_decay = λ > 0`` (L2 regularisation, coupled as in torch) each step uses
    ``g = grad + λ·w`` in place of ``grad``, for every parameter given.
    Hyperparameters are attributes (``opt.lr = 0.01``) and take effect at the next step.
    ``state_dict()``/``load_state_dict()`` save and restore hyperparameters, the step count and
    the per-parameter buffers exactly.
    """

    lr = Hyperparameter(low=0.0)
    weight_decay = Hyperparameter(low=0.0)
    #: names of the per-parameter buffers (e.g. ``("m", "v")`` for Adam), all zero at the start.
    buffers: tuple[str, ...] = ()
    #: whether ``step`` runs ``_update`` once per dtype on all parameters gathered into one flat
    #: array (fewer, larger numpy calls: faster when an update has many terms) or per parameter.
    flat = True

    def __init__(self, params: Iterable[Parameter] | Module, **hyperparameters: float) -> None:
        self._hyperparameters: dict[str, float] = {}
        if isinstance(params, Module):
            params = params.parameters()
        name = type(self).__name__
        if isinstance(params, Parameter | np.ndarray):
            raise TypeError(f"{name}: params must be an iterable of Parameters, got one {params!r}")
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError(f"{name}: params is empty; pass model.parameters()")
        seen: set[int] = set()
        for index, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{name}: params[{index}] must be a bntune.nn.Parameter, got {type(p).__name__}"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: params[{index}] ({p.name!r}) appears twice")
            seen.add(id(p))
        for key, value in hyperparameters.items():
            setattr(self, key, value)
        self.steps = 0
        self._groups = [
            _FlatGroup([p for p in self.params if p.value.dtype == dtype], self.buffers)
            for dtype in dict.fromkeys(p.value.dtype for p in self.params)
        ]

    @property
    def state(self) -> list[dict[str, np.ndarray]]:
        """Per parameter, its buffers by name: views into the flat buffers the updates run on.

        Made on access, so that copies of the optimizer (pickle, deepcopy) keep them aliased.
        """
        views = {
            id(p): view for g in self._groups for p, view in zip(g.params, g.views(), strict=True)
        }
        return [views[id(p)] for p in self.params]

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The current hyperparameters by name (a copy)."""
        return dict(self._hyperparameters)

    def zero_grad(self) -> None:
        """Sets every parameter's gradient to zero."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Applies one update to every parameter."""
        self.steps += 1
        self._begin_step()
        decay = self.weight_decay
        if not self.flat:
            for p, state in zip(self.params, self.state, strict=True):
                grad = p.grad if decay == 0.0 else p.grad + p.value.dtype.type(decay) * p.value
                self._update(p.value, grad, state)
            return
        for group in self._groups:
            w, g = group.gather()
            if decay != 0.0:
                g += w.dtype.type(decay) * w
            self._update(w, g, group.state)
            group.scatter(w)

    def _begin_step(self) -> None:
        """Hook for per-step scalars (Adam's bias-correction products)."""

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _scalars(self) -> dict[str, float]:
        """Optimizer-wide running scalars to save with the state."""
        return {}

    def _load_scalars(self, scalars: Mapping[str, float]) -> None:
        """Restores what :meth:`_scalars` returned."""

    def state_dict(self) -> dict[str, Any]:
        """``{"type", "hyperparameters", "steps", "scalars", "state"}``, as copies."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters,
            "steps": self.steps,
            "scalars": self._scalars(),
            "state": [{k: v.copy() for k, v in s.items()} for s in self.state],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores a :meth:`state_dict` of the same optimizer type over the same parameters."""
        name = type(self).__name__
        if state.get("type") != name:
            raise ValueError(f"{name}: load_state_dict got the state of a {state.get('type')!r}")
        buffers = list(state["state"])
        if len(buffers) != len(self.params):
            raise ValueError(
                f"{name}: load_state_dict got state for {len(buffers)} parameters, this optimizer "
                f"has {len(self.params)}"
            )
        for index, (saved, p) in enumerate(zip(buffers, self.params, strict=True)):
            if set(saved) != set(self.buffers):
                raise KeyError(f"{name}: state[{index}] has buffers {sorted(saved)}, expected "
                               f"{sorted(self.buffers)}")  # fmt: skip
            for key in self.buffers:
                array = np.asarray(saved[key])
                if array.shape != p.value.shape:
                    raise ShapeError(f"{name}: state[{index}][{key!r}] has shape {array.shape}, "
                                     f"parameter {p.name!r} has {p.value.shape}")  # fmt: skip
                if array.dtype != p.value.dtype:
                    raise DtypeError(f"{name}: state[{index}][{key!r}] has dtype {array.dtype}, "
                                     f"parameter {p.name!r} has {p.value.dtype}")  # fmt: skip
        for key in state["hyperparameters"]:
            if not isinstance(getattr(type(self), key, None), Hyperparameter):
                raise KeyError(f"{name}: load_state_dict got unknown hyperparameter {key!r}")
        for key, value in state["hyperparameters"].items():
            setattr(self, key, value)
        self.steps = int(state["steps"])
        self._load_scalars(state.get("scalars", {}))
        for saved, mine in zip(buffers, self.state, strict=True):
            for key in self.buffers:
                np.copyto(mine[key], saved[key])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class _FlatGroup:
    """The parameters of one dtype, updated as one flat array.

    A network's parameter arrays are small, so a per-parameter update costs mostly numpy call
    overhead; gathering them costs two copies and makes every formula term a single call. The
    arithmetic per element is unchanged.
    """

    def __init__(self, params: list[Parameter], buffers: tuple[str, ...]) -> None:
        self.params = params
        dtype = params[0].value.dtype
        bounds = np.cumsum([0] + [p.value.size for p in params])
        self.slices = [slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]
        self.w = np.empty(int(bounds[-1]), dtype=dtype)
        self.g = np.empty_like(self.w)
        self.state = {name: np.zeros_like(self.w) for name in buffers}

    def views(self) -> list[dict[str, np.ndarray]]:
        return [
            {name: flat[sl].reshape(p.value.shape) for name, flat in self.state.items()}
            for p, sl in zip(self.params, self.slices, strict=True)
        ]

    def gather(self) -> tuple[np.ndarray, np.ndarray]:
        np.concatenate([p.value.reshape(-1) for p in self.params], out=self.w)
        np.concatenate([p.grad.reshape(-1) for p in self.params], out=self.g)
        return self.w, self.g

    def scatter(self, w: np.ndarray) -> None:
        for p, sl in zip(self.params, self.slices, strict=True):
            p.value[...] = w[sl].reshape(p.value.shape)
