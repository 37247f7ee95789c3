"""``save``/``load``: a model's architecture, weights and running statistics in one ``.npz`` file.

The file is a plain numpy ``.npz`` archive: one array per ``state_dict`` entry and a JSON
document (the architecture and the training/eval mode) stored as UTF-8 bytes. Nothing is
pickled, so loading a file cannot run code; arrays are stored bit for bit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bntune.nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from bntune.nn.batchnorm import BatchNorm
from bntune.nn.dense import Dense
from bntune.nn.module import Module
from bntune.nn.sequential import Sequential

FORMAT = "bntune.nn"
VERSION = 1
_HEADER = "__bntune__.json"
_STATE_PREFIX = "state/"

LAYER_TYPES: dict[str, type[Module]] = {
    cls.__name__: cls for cls in (Dense, BatchNorm, ReLU, LeakyReLU, Tanh, Sigmoid, Sequential)
}


def architecture(model: Module) -> dict[str, Any]:
    """The JSON-able description ``nn.load`` rebuilds ``model`` from."""
    name = type(model).__name__
    if LAYER_TYPES.get(name) is not type(model):
        raise TypeError(
            f"nn.save: cannot describe a {name}; supported layers: {sorted(LAYER_TYPES)}"
        )
    if isinstance(model, Sequential):
        return {"type": name, "layers": [architecture(layer) for layer in model]}
    return {"type": name, **model.config()}


def build(config: dict[str, Any]) -> Module:
    """Rebuilds a model (with fresh weights) from :func:`architecture`'s description."""
    config = dict(config)
    name = config.pop("type", None)
    cls = LAYER_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"nn.load: unknown layer type {name!r} in the file's architecture")
    if cls is Sequential:
        return Sequential(*(build(layer) for layer in config.get("layers", [])))
    try:
        return cls(**config)
    except TypeError as err:
        raise ValueError(f"nn.load: the file describes {name} with bad arguments: {err}") from err


def save(model: Module, path: str | os.PathLike[str]) -> None:
    """Writes ``model`` (architecture, parameters, running statistics, mode) to ``path``.

    The path is used exactly as given (``.npz`` is the conventional suffix). The file is written
    beside the target and renamed over it, so a crash never leaves a half-written checkpoint.
    """
    if not isinstance(model, Module):
        raise TypeError(f"nn.save: model must be a bntune.nn.Module, got {type(model).__name__}")
    header = {
        "format": FORMAT,
        "version": VERSION,
        "model": architecture(model),
        "training": model.training,
    }
    arrays = {_STATE_PREFIX + key: value for key, value in model.state_dict().items()}
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(partial, target)


def load(path: str | os.PathLike[str]) -> Module:
    """Reads a model written by :func:`save`: same architecture, the exact saved arrays, and the
    training/eval mode it was saved in."""
    with np.load(path, allow_pickle=False) as archive:
        if _HEADER not in archive.files:
            raise ValueError(f"nn.load: {os.fspath(path)!r} is not a bntune model file")
        header = json.loads(archive[_HEADER].tobytes().decode("utf-8"))
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError(
                f"nn.load: {os.fspath(path)!r} has format {header.get('format')!r} version "
                f"{header.get('version')!r}; this bntune reads {FORMAT!r} version {VERSION}"
            )
        state = {
            key[len(_STATE_PREFIX) :]: archive[key]
            for key in archive.files
            if key.startswith(_STATE_PREFIX)
        }
    model = build(header["model"])
    model.load_state_dict(state)
    model.train(bool(header.get("training", False)))
    return model
