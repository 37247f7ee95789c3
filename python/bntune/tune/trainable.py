"""``tune.Trainable``: a resumable unit of training, the thing caviar, panda and PBT move around.

A trainable is built from a configuration (``params``), trains one epoch per ``step()`` and
returns the metric to minimise (e.g. the dev cross-entropy; NaN or Inf when training diverged).
Its whole state — weights, optimizer buffers, random generators, epoch counter — goes into
``state_dict()``, and ``load_state_dict`` restores it exactly, so a trial can stop on one worker
and continue on another. ``set_params(**changes)`` changes the hyperparameters that may change
mid-training (learning rate, momentum, ...); it raises ``ValueError`` naming any other key.

A class may list those names in a ``mutable`` class attribute; PBT perturbs exactly them and
inherits the others (layers, hidden units) with the checkpoint. Without it, PBT asks
``set_params`` about each dimension in turn.

For a process pool or Dask the class must be importable by the workers (defined in a module,
not in ``__main__`` of an interactive session).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Trainable(Protocol):
    """The protocol: ``__init__(params)``, ``step() -> float``, ``state_dict()``,
    ``load_state_dict(state)``, ``set_params(**changes)``."""

    def __init__(self, params: Mapping[str, Any]) -> None: ...

    def step(self) -> float:
        """Trains one epoch; returns the metric to minimise (NaN/Inf when diverged)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: dicts, lists, numpy arrays, scalars."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores a ``state_dict()`` of a trainable built from the same structural params."""
        ...

    def set_params(self, **changes: Any) -> None:
        """Changes hyperparameters mid-training; ValueError for a name it does not accept."""
        ...


def check_trainable(trainable: object) -> type:
    """``trainable`` itself when it is a class with the protocol's methods; TypeError otherwise."""
    if not isinstance(trainable, type):
        raise TypeError(
            f"trainable must be a class implementing tune.Trainable (pass the class, not an "
            f"instance), got {trainable!r}"
        )
    missing = [
        name
        for name in ("step", "state_dict", "load_state_dict", "set_params")
        if not callable(getattr(trainable, name, None))
    ]
    if missing:
        raise TypeError(
            f"trainable {trainable.__name__} lacks the tune.Trainable methods {missing}"
        )
    return trainable


def mutable_names(trainable: type, params: Mapping[str, Any]) -> list[str]:
    """The keys of ``params`` that ``set_params`` accepts: the class's ``mutable`` attribute, or
    (without one) the keys a fresh instance's ``set_params`` takes without raising."""
    declared = getattr(trainable, "mutable", None)
    if declared is not None:
        return [name for name in params if name in declared]
    probe = trainable(dict(params))
    names = []
    for name, value in params.items():
        try:
            probe.set_params(**{name: value})
        except (ValueError, TypeError, KeyError):
            continue
        names.append(name)
    return names
