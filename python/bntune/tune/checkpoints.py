"""Checkpoints: a trainable's ``state_dict`` as bytes, stored with the study.

A state is a tree of dicts (string keys), lists, numpy arrays and plain scalars (int, float,
str, bool, None). :func:`encode` writes it as one ``.npz`` archive: the arrays bit for bit, and
the tree as JSON in which each array is a ``{"__array__": i}`` reference. Nothing is pickled, so
reading a checkpoint cannot run code. Tuples come back as lists.

The storage keeps checkpoints as bytes keyed by (trial, step), where a step counts the epochs
the trial has spent training.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bntune.tune.trial import FrozenTrial, current_params

if TYPE_CHECKING:
    from bntune.tune.storage import Storage

_TREE = "__tree__.json"
_ARRAY = "__array__"


def encode(state: Any) -> bytes:
    """``state`` (a tree of dicts, lists, numpy arrays and scalars) as bytes."""
    arrays: dict[str, np.ndarray] = {}

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = node
            return {_ARRAY: key}
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if not isinstance(k, str):
                    raise TypeError(
                        f"checkpoint: state keys must be strings, got {k!r} at {where or 'top'}"
                    )
                if k == _ARRAY:
                    raise ValueError(f"checkpoint: the key {_ARRAY!r} is reserved")
                out[k] = walk(v, f"{where}.{k}")
            return out
        if isinstance(node, list | tuple):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, np.generic):
            return node.item()
        if node is None or isinstance(node, bool | int | float | str):
            return node
        raise TypeError(
            f"checkpoint: cannot store a {type(node).__name__} at {where or 'top'}; a state is "
            f"made of dicts, lists, numpy arrays, numbers, strings and None"
        )

    tree = walk(state, "")
    arrays[_TREE] = np.frombuffer(json.dumps(tree).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode(data: bytes) -> Any:
    """The state :func:`encode` wrote (arrays are fresh, writable copies)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        if _TREE not in archive.files:
            raise ValueError("checkpoint: these bytes are not a bntune checkpoint")
        tree = json.loads(archive[_TREE].tobytes().decode("utf-8"))
        arrays = {k: archive[k] for k in archive.files if k != _TREE}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1 and _ARRAY in node:
                return arrays[node[_ARRAY]]
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(tree)


# ---- taking a model home -----------------------------------------------------------------------


def _arrays(node: Any) -> list[np.ndarray]:
    """The numpy arrays of a state tree, depth first."""
    if isinstance(node, np.ndarray):
        return [node]
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, list | tuple):
        return [a for v in node for a in _arrays(v)]
    return []


def _size(nbytes: int) -> str:
    if nbytes < 1000:
        return f"{nbytes} bytes"
    if nbytes < 1_000_000:
        return f"{nbytes / 1e3:.1f} kB"
    return f"{nbytes / 1e6:.1f} MB"


def state_summary(state: Any) -> str:
    """``12 arrays, 42.3 kB``: how much a state holds, for a repr that fits on a line."""
    arrays = _arrays(state)
    noun = "array" if len(arrays) == 1 else "arrays"
    return f"{len(arrays)} {noun}, {_size(sum(a.nbytes for a in arrays))}"


@dataclass(frozen=True, repr=False)
class Checkpoint:
    """A stored checkpoint: trial ``trial`` after ``step`` epochs, the (structural and current)
    ``params`` the trainable is built from, the curve ``value`` at that step, and the decoded
    ``state``. ``load(trainable)`` rebuilds the model. Its repr summarises the state (how many
    arrays, how many bytes) instead of printing it."""

    trial: int
    step: int
    params: dict[str, Any]
    value: float | None
    state: Any

    def __repr__(self) -> str:
        return (
            f"Checkpoint(trial={self.trial}, step={self.step}, value={self.value!r}, "
            f"params={self.params!r}, state=<{state_summary(self.state)}>)"
        )

    def load(self, trainable: type) -> Any:
        """``trainable(params)`` with this checkpoint's state loaded."""
        model = trainable(dict(self.params))
        model.load_state_dict(self.state)
        return model


def _best_step(trial: FrozenTrial, available: list[int], minimize: bool) -> int:
    """The stored step with the best finite curve value (the latest among equals), else the
    latest stored step."""
    scored = [
        (trial.curve[s], s) for s in available if s in trial.curve and math.isfinite(trial.curve[s])
    ]
    if not scored:
        return available[-1]
    sign = 1.0 if minimize else -1.0
    return min(scored, key=lambda vs: (sign * vs[0], -vs[1]))[1]


def checkpoint_of(
    storage: Storage, trial: FrozenTrial, step: int | None = None, *, minimize: bool
) -> Checkpoint:
    """Trial ``trial``'s checkpoint at ``step`` (None: the stored step with the best value in
    the study's direction)."""
    available = storage.checkpoint_steps(trial._id)
    if not available:
        raise ValueError(f"trial {trial.number} has no stored checkpoint")
    if step is None:
        step = _best_step(trial, available, minimize)
    elif step not in available:
        raise ValueError(
            f"trial {trial.number} has no checkpoint at step {step!r}; stored steps: {available}"
        )
    found = storage.checkpoint(trial._id, step)
    assert found is not None
    value = trial.curve.get(step)
    return Checkpoint(trial.number, step, current_params(trial), value, decode(found[1]))


def best_checkpoint(
    storage: Storage, trials: Sequence[FrozenTrial], *, minimize: bool, study_name: str
) -> Checkpoint:
    """The checkpoint of the best complete trial that has one (at its best stored step)."""
    done = [t for t in trials if t.state == "complete" and t.value is not None]
    done.sort(key=lambda t: t.value if minimize else -t.value)  # type: ignore[operator]
    for trial in done:
        if storage.checkpoint_steps(trial._id):
            return checkpoint_of(storage, trial, minimize=minimize)
    raise ValueError(f"study {study_name!r} has no complete trial with a stored checkpoint")
