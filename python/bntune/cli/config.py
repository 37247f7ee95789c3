"""A study described in TOML (``bntune run STUDY.toml``), read and checked key by key.

```toml
[study]
name = "digits-mlp"            # required
storage = "digits-mlp.db"      # default: <name>.db; relative to the TOML file
direction = "minimize"         # or "maximize"
seed = 0                       # default: a fresh one for a new study

[search]
mode = "coarse-to-fine"        # "coarse-to-fine", "random", "grid", or "caviar", "pbt", "panda"
sampler = "sobol"              # coarse-to-fine and random: sobol/halton/lhs/random
trials = 12                    # per round for coarse-to-fine; the population for caviar/pbt
rounds = 3                     # coarse-to-fine only
method = "adaptive"            # coarse-to-fine only: "adaptive" (boxes from the results) or "zoom"
# top = 0.05                   # method = "zoom" only: fraction of best trials the next box covers
# shrink = 0.5                 # method = "zoom" only: least width of a box vs the previous one
interval = 5                   # pbt only: epochs between exploit/explore steps
workers = 2                    # random, grid, caviar, pbt: worker processes (default: the cores)

[objective]                    # either the built-in MLP ...
builtin = "mlp"
dataset = "digits"
epochs = 30
optimizer = "momentum"         # momentum, nesterov, sgd, rmsprop, adam
# function = "mypackage.train:objective"    # ... or your own objective(trial) -> float
# trainable = "mypackage.train:Net"         # ... or your tune.Trainable (caviar, pbt, panda)

[space]                        # one entry per hyperparameter, each on its own scale
lr = { scale = "log", low = 1e-4, high = 1 }
momentum = { scale = "one-minus-log", low = 0.9, high = 0.999 }
hidden = { scale = "int", low = 50, high = 100 }
layers = { scale = "int", low = 2, high = 4 }
batch_size = { choices = [64, 128, 256, 512] }
lr_decay = { value = 0.0 }     # fixed
```

The trainable modes train ``tune.MLPTrainable`` for the built-in MLP (``epochs`` epochs per
model); panda babysits one model from the centre of the space.

Scales: ``linear`` (uniform), ``log`` (log-uniform, bounds > 0), ``one-minus-log`` (1 - value
log-uniform, bounds in (0, 1): momentum betas), ``int`` (integers, uniform), ``int-log``
(integers on a log scale, low >= 1). Every mistake raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bntune import tune
from bntune.cli.modes import MODES, NAMES, workers_error
from bntune.mlp.objective import DATASETS, OPTIMIZERS
from bntune.tune.coarse_to_fine import METHODS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    try:
        import tomli as tomllib
    except ImportError as err:
        raise ImportError(
            "reading study files on Python 3.10 needs tomli, which is not installed; install "
            "it with the cli extra: pip install 'bntune[cli]'"
        ) from err

SCALES: dict[str, type[tune.Dimension]] = {
    "linear": tune.Uniform,
    "log": tune.LogUniform,
    "one-minus-log": tune.OneMinusLogUniform,
    "int": tune.IntUniform,
    "int-log": tune.IntLogUniform,
}
_SECTIONS = ("study", "search", "objective", "space")
_STUDY_KEYS = ("name", "storage", "direction", "seed")
_SEARCH_KEYS = (
    "mode", "sampler", "trials", "rounds", "method", "top", "shrink", "interval", "workers"
)  # fmt: skip
_OBJECTIVE_KEYS = ("builtin", "function", "trainable", "dataset", "epochs", "optimizer")


class ConfigError(ValueError):
    """A bad study file; ``key`` is the dotted key at fault (e.g. ``space.lr.low``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


@dataclass
class StudyConfig:
    """What a study file describes, checked. ``objective`` is the callable to optimise."""

    name: str
    storage: Path
    space: tune.Space
    objective: Callable[[Any], float] | None
    direction: str = "minimize"
    seed: int | None = None
    mode: str = "coarse-to-fine"
    sampler: str = "sobol"
    trials: int = 12
    rounds: int = 3
    #: coarse-to-fine's method (see ``tune.Study.coarse_to_fine``); top and shrink are the
    #: zoom rule's (None for the adaptive method)
    method: str = "adaptive"
    top: float | None = None
    shrink: float | None = None
    #: the built-in objective's settings, when it is the built-in MLP
    builtin: dict[str, Any] = field(default_factory=dict)
    #: trainable modes: the ``tune.Trainable`` class, epochs per model, PBT's interval
    trainable: type | None = None
    epochs: int = 0
    interval: int | None = None
    #: worker processes (None: the cores) for random, grid, caviar and pbt
    workers: int | None = None


def _table(doc: Mapping[str, Any], key: str, *, required: bool) -> dict[str, Any]:
    if key not in doc:
        if required:
            raise ConfigError(key, f"missing section [{key}]")
        return {}
    value = doc[key]
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a table ([{key}]), got {value!r}")
    return value


def _no_unknown(table: Mapping[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(where, f"unknown key; expected one of {', '.join(allowed)}")


def _string(table: Mapping[str, Any], key: str, prefix: str, default: str | None) -> str | None:
    value = table.get(key, default)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{prefix}.{key}", f"must be a non-empty string, got {value!r}")
    return value


def _one_of(table: Mapping[str, Any], key: str, prefix: str, options: tuple[str, ...],
            default: str) -> str:  # fmt: skip
    value = table.get(key, default)
    if value not in options:
        raise ConfigError(f"{prefix}.{key}", f"must be one of {', '.join(options)}; got {value!r}")
    return value


def _count(table: Mapping[str, Any], key: str, prefix: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{prefix}.{key}", f"must be a positive integer, got {value!r}")
    return value


def _fraction(table: Mapping[str, Any], key: str, prefix: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{prefix}.{key}", f"must be a fraction in (0, 1], got {value!r}")
    return float(value)


def _zoom_method(search: Mapping[str, Any]) -> tuple[str, float | None, float | None]:
    """Coarse-to-fine's method, top and shrink: ``top`` or ``shrink`` alone mean the zoom rule
    (the only one before ``method`` existed); without them the adaptive method is the default."""
    zoom_keys = [key for key in ("top", "shrink") if key in search]
    method = _one_of(search, "method", "search", METHODS, "zoom" if zoom_keys else METHODS[0])
    if method != "zoom":
        if zoom_keys:
            raise ConfigError(
                f"search.{zoom_keys[0]}",
                f'sets the boxes of method = "zoom"; method = {method!r} sizes its boxes from '
                f'the results: drop it, or set method = "zoom"',
            )
        return method, None, None
    return (
        method,
        _fraction(search, "top", "search", 0.05),
        _fraction(search, "shrink", "search", 0.5),
    )


def _number(spec: Mapping[str, Any], key: str, where: str) -> float:
    if key not in spec:
        raise ConfigError(f"{where}.{key}", "missing; a scaled dimension needs low and high")
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}.{key}", f"must be a finite number, got {value!r}")
    return value


def _branch(spec: Any, where: str) -> dict[str, tune.Dimension]:
    if not isinstance(spec, dict):
        raise ConfigError(where, f"must be a table of this option's dimensions, got {spec!r}")
    return {n: dimension(n, sub, f"{where}.{n}") for n, sub in spec.items()}


def dimension(name: str, spec: Any, where: str | None = None) -> tune.Dimension:
    """One ``[space]`` entry as a ``tune`` dimension; ConfigError names ``space.<name>...``.
    ``choices`` may be a table of tables: each option's own dimensions (a conditional choice,
    e.g. ``choices = { sgd = { lr = {...} }, adam = { lr = {...}, beta2 = {...} } }``)."""
    where = f"space.{name}" if where is None else where
    if not isinstance(spec, dict):
        raise ConfigError(
            where,
            f'must be a table such as {{ scale = "log", low = 1e-4, high = 1 }}, got {spec!r}',
        )
    if "value" in spec:
        _no_unknown(spec, where, ("value",))
        return tune.Fixed(spec["value"])
    if "choices" in spec:
        _no_unknown(spec, where, ("choices",))
        choices = spec["choices"]
        if isinstance(choices, dict):
            choices = {
                option: _branch(sub, f"{where}.choices.{option}") for option, sub in choices.items()
            }
        try:
            return tune.Choice(choices)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}.choices", str(err).removeprefix("Choice: ")) from None
    _no_unknown(spec, where, ("scale", "low", "high"))
    if "scale" not in spec:
        raise ConfigError(
            f"{where}.scale",
            f"missing; give one of {', '.join(SCALES)} (or choices = [...] or value = ...)",
        )
    scale = spec["scale"]
    if scale not in SCALES:
        raise ConfigError(f"{where}.scale", f"must be one of {', '.join(SCALES)}; got {scale!r}")
    low, high = _number(spec, "low", where), _number(spec, "high", where)
    if scale in ("int", "int-log"):
        for key, value in (("low", low), ("high", high)):
            if not isinstance(value, int):
                raise ConfigError(f"{where}.{key}", f"must be an integer, got {value!r}")
    if not low < high:
        raise ConfigError(f"{where}.low", f"must be < high ({high!r}), got {low!r}")
    if scale == "log" and low <= 0:
        raise ConfigError(f"{where}.low", f"must be > 0 on a log scale, got {low!r}")
    if scale == "int-log" and low < 1:
        raise ConfigError(f"{where}.low", f"must be >= 1 on an int-log scale, got {low!r}")
    if scale == "one-minus-log":
        if low <= 0:
            raise ConfigError(f"{where}.low", f"must be in (0, 1) for one-minus-log, got {low!r}")
        if high >= 1:
            raise ConfigError(
                f"{where}.high", f"must be < 1 so that 1 - high > 0 (one-minus-log), got {high!r}"
            )
    return SCALES[scale](low, high)


def space_from_table(table: Mapping[str, Any]) -> tune.Space:
    """The ``[space]`` table as a ``tune.Space``."""
    if not table:
        raise ConfigError("space", "give at least one hyperparameter")
    dims = {name: dimension(name, spec) for name, spec in table.items()}
    try:
        return tune.Space(**dims)
    except ValueError as err:  # a name two branches give different scales
        raise ConfigError("space", str(err).removeprefix("Space: ")) from None


def load_function(reference: str) -> Callable[[Any], float]:
    """``module:function`` imported; ConfigError names ``objective.function``."""
    key = "objective.function"
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(key, f"must look like 'module:function', got {reference!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(key, f"cannot import module {module_name!r}: {err}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(key, f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(key, f"{reference!r} is not callable")
    return target


def _import_path(base: Path) -> None:
    # a study file's own modules sit beside it
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))


def load_class(reference: str) -> type:
    """``module:Class`` imported; ConfigError names ``objective.trainable``."""
    key = "objective.trainable"
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(key, f"must look like 'module:Class', got {reference!r}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except ImportError as err:
        raise ConfigError(key, f"cannot import module {module_name!r}: {err}") from None
    except AttributeError:
        raise ConfigError(key, f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(target, type):
        raise ConfigError(key, f"{reference!r} is not a class")
    return target


def _objective(
    table: Mapping[str, Any], storage: Path, name: str, seed: int | None, base: Path, mode: str
) -> tuple[Any, dict, type | None, int]:
    """(function objective or None, built-in settings, trainable class or None, epochs)."""
    from bntune.mlp.objective import MLPObjective, trial_artifacts

    _no_unknown(table, "objective", _OBJECTIVE_KEYS)
    kinds = [k for k in ("builtin", "function", "trainable") if k in table]
    if len(kinds) != 1:
        raise ConfigError(
            "objective",
            'give exactly one of builtin = "mlp", function = "module:function" or '
            'trainable = "module:Class"',
        )
    kind = kinds[0]
    trains = MODES[mode].trains
    if kind == "function" and trains:
        raise ConfigError(
            "objective.function",
            f'{mode} mode trains a tune.Trainable epoch by epoch: use builtin = "mlp" or '
            'trainable = "module:Class"',
        )
    if kind == "trainable" and not trains:
        raise ConfigError(
            "objective.trainable",
            f'{mode} mode calls a function: use function = "module:function" or '
            'builtin = "mlp" (a trainable needs mode caviar, pbt or panda)',
        )
    if kind != "builtin":
        extra = [k for k in ("dataset", "optimizer") if k in table]
        if kind == "function" and "epochs" in table:
            extra.insert(0, "epochs")
        if extra:
            raise ConfigError(f"objective.{extra[0]}", 'only applies to builtin = "mlp"')
        _import_path(base)
        reference = _string(table, kind, "objective", None) or ""
        if kind == "function":
            return load_function(reference), {}, None, 0
        return None, {}, load_class(reference), _count(table, "epochs", "objective", 30)
    _one_of(table, "builtin", "objective", ("mlp",), "mlp")
    settings = {
        "dataset": _one_of(table, "dataset", "objective", DATASETS, "digits"),
        "epochs": _count(table, "epochs", "objective", 30),
        "optimizer": _one_of(table, "optimizer", "objective", OPTIMIZERS, "momentum"),
    }
    if trains:
        return None, settings, tune.MLPTrainable, settings["epochs"]
    objective = MLPObjective(**settings, seed=seed or 0, artifacts=trial_artifacts(storage, name))
    return objective, settings, None, settings["epochs"]


def parse(text: str, *, base: Path) -> StudyConfig:
    """A study file's text as a :class:`StudyConfig`; relative paths are taken from ``base``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("", f"not valid TOML: {err}") from None
    _no_unknown(doc, "", _SECTIONS)
    study = _table(doc, "study", required=True)
    search = _table(doc, "search", required=False)
    objective = _table(doc, "objective", required=True)
    space = _table(doc, "space", required=True)

    _no_unknown(study, "study", _STUDY_KEYS)
    if "name" not in study:
        raise ConfigError("study.name", "missing; every study needs a name")
    name = _string(study, "name", "study", None) or ""
    storage = Path(_string(study, "storage", "study", f"{name}.db") or "")
    if not storage.is_absolute():
        storage = base / storage
    if not storage.parent.is_dir():
        raise ConfigError(
            "study.storage", f"directory {storage.parent} does not exist (create it first)"
        )
    direction = _one_of(study, "direction", "study", ("minimize", "maximize"), "minimize")
    seed = study.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError("study.seed", f"must be a non-negative integer, got {seed!r}")

    _no_unknown(search, "search", _SEARCH_KEYS)
    mode = _one_of(search, "mode", "search", NAMES, "coarse-to-fine")
    spec = MODES[mode]
    if spec.only_sampler is not None:
        if search.get("sampler", spec.only_sampler) != spec.only_sampler:
            raise ConfigError(
                "search.sampler",
                f"{mode} mode samples a {spec.only_sampler}, got {search['sampler']!r}",
            )
        sampler = spec.only_sampler
    else:
        samplers = tuple(s for s in tune.SAMPLERS if s != "grid")
        sampler = _one_of(search, "sampler", "search", samplers, spec.sampler)
    if spec.trains and "sampler" in search:
        raise ConfigError("search.sampler", f"{mode} mode draws its population with Sobol")
    if mode != "pbt" and "interval" in search:
        raise ConfigError("search.interval", f'only applies to mode = "pbt", not {mode!r}')
    interval = _count(search, "interval", "search", 5) if "interval" in search else None
    workers = _count(search, "workers", "search", 1) if "workers" in search else None
    why = workers_error(mode, workers)
    if why is not None:
        raise ConfigError("search.workers", why)
    if not spec.zooms:
        for key in ("rounds", "method", "top", "shrink"):
            if key in search:
                raise ConfigError(
                    f"search.{key}", f'only applies to mode = "coarse-to-fine", not {mode!r}'
                )
    trials = _count(search, "trials", "search", 12)
    rounds = _count(search, "rounds", "search", 3)
    method, top, shrink = _zoom_method(search)

    fn, builtin, trainable, epochs = _objective(objective, storage, name, seed, base, mode)
    dims = space_from_table(space)
    if dims.conditional and (MODES[mode].trains or sampler in ("lhs", "grid")):
        why = f"{mode} mode" if MODES[mode].trains else f"sampler {sampler!r}"
        raise ConfigError(
            "space",
            f"a conditional choice (choices with their own dimensions) needs a function "
            f"mode with sobol, halton or random; {why} needs every dimension up front",
        )
    if builtin:
        from bntune.mlp.objective import DEFAULTS

        for key in dims:
            if key not in DEFAULTS:
                raise ConfigError(
                    f"space.{key}",
                    f"the built-in mlp objective does not use it; it reads {', '.join(DEFAULTS)}",
                )
        if trainable is not None and builtin["optimizer"] != "momentum":
            # tune.MLPTrainable takes its optimizer as a parameter
            dims = tune.Space(**dims, optimizer=tune.Fixed(builtin["optimizer"]))
    return StudyConfig(
        name=name, storage=storage, space=dims, objective=fn,
        direction=direction, seed=seed, mode=mode, sampler=sampler, trials=trials,
        rounds=rounds, method=method, top=top, shrink=shrink, builtin=builtin, trainable=trainable,
        epochs=epochs, interval=interval, workers=workers,
    )  # fmt: skip


def load(path: str | os.PathLike[str]) -> StudyConfig:
    """Reads and checks the study file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError("", f"cannot read {os.fspath(path)}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(
            "",
            "not a UTF-8 text file: a study file is TOML (a study database is read with "
            "`bntune show STUDY.db`)",
        ) from None
    return parse(text, base=p.resolve().parent)
