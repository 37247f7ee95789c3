"""``bntune babysit STUDY.db --trial N``: the panda workflow for a person.

Shows the trial's learning curve with the events recorded at each epoch (changes, rollbacks),
then, with ``--epochs k``, continues it for k epochs from its last checkpoint — or from epoch E's
checkpoint with ``--rollback-to E`` — after applying ``--set name=value`` changes. No automatic
policy runs: the person at the terminal is the babysitter.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bntune import tune
from bntune.tune.trial import current_params


class BabysitUsageError(ValueError):
    """A bad ``babysit`` argument; the message starts with the option at fault."""


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["lr=0.01", "momentum=0.95"]`` -> ``{"lr": 0.01, "momentum": 0.95}``; values are read
    as JSON (numbers, true/false), else kept as text."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name or not text:
            raise BabysitUsageError(f"--set: expected name=value, got {item!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        changes[name] = value
    return changes


def load_class(reference: str) -> type:
    """``"module:Class"`` imported."""
    import importlib

    module_name, sep, attr = reference.partition(":")
    if not sep:
        raise BabysitUsageError(f"--trainable: expected module:Class, got {reference!r}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise BabysitUsageError(f"--trainable: cannot load {reference!r}: {err}") from None
    return target


def find_trial(study: tune.Study, number: int) -> tune.FrozenTrial:
    """Trial ``number`` of ``study``; a usage error naming ``--trial`` if there is none."""
    for t in study.trials:
        if t.number == number:
            return t
    numbers = [t.number for t in study.trials]
    raise BabysitUsageError(
        f"--trial: study {study.name!r} has no trial {number}; its trials are {numbers}"
    )


def describe(study: tune.Study, trial: tune.FrozenTrial) -> str:
    """The trial's state, starting params, and one line per epoch with its events."""
    from bntune.cli.report import format_value

    params = ", ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
    value = "-" if trial.value is None else f"{trial.value:.5g}"
    lines = [
        f"trial {trial.number} of study {study.name!r}: {trial.state}, value {value}",
        f"started with: {params}",
        "",
        f"{'epoch':>5}  {'value':>10}  events",
    ]
    by_epoch: dict[int, list[str]] = {}
    for event in trial.events:
        kind = event.get("kind")
        if kind == "set_params":
            text = "set " + ", ".join(
                f"{k}={format_value(v)}" for k, v in event.get("values", {}).items()
            )
        elif kind == "rollback":
            text = f"rollback to epoch {event.get('to')}"
        elif kind == "resume":
            text = f"resumed from epoch {event.get('from')}"
        else:
            text = str(kind)
        by_epoch.setdefault(int(event.get("epoch", 0)), []).append(text)
    for step in sorted(set(trial.curve) | set(by_epoch)):
        v = trial.curve.get(step)
        shown = "" if v is None else ("nan" if not math.isfinite(v) else f"{v:.5g}")
        lines.append(f"{step:>5}  {shown:>10}  {'; '.join(by_epoch.get(step, []))}")
    return "\n".join(lines)


def continue_trial(
    study: tune.Study,
    trial: tune.FrozenTrial,
    trainable: type,
    *,
    changes: dict[str, Any],
    rollback_to: int | None,
    epochs: int,
) -> tune.FrozenTrial:
    """Continues a babysat trial for ``epochs`` epochs (from ``rollback_to``'s checkpoint if
    given) with ``changes`` applied first; returns the updated trial."""
    if trial.stream != "babysit":
        raise BabysitUsageError(
            f"--trial: trial {trial.number} was not babysat (it comes from a {trial.stream!r} "
            f"run); only panda trials can be continued"
        )
    mutable = getattr(trainable, "mutable", None)
    if mutable is not None:
        fixed = sorted(set(changes) - set(mutable))
        if fixed:
            raise BabysitUsageError(
                f"--set: {', '.join(fixed)} cannot change mid-training; "
                f"{trainable.__name__} accepts {', '.join(mutable)}"
            )
    check_changes(study, trial, trainable, changes)
    stored = study.storage.checkpoint_steps(trial._id)
    if rollback_to is not None and rollback_to not in stored:
        raise BabysitUsageError(
            f"--rollback-to: trial {trial.number} has no checkpoint at epoch {rollback_to}; "
            f"stored epochs: {stored}"
        )
    print(f"\ncontinuing for {epochs} epochs ...")
    return study.babysit(
        trainable, changes or None, epochs=epochs, resume=trial.number, from_step=rollback_to,
        policy=lambda view: None,
    )  # fmt: skip


def check_changes(
    study: tune.Study, trial: tune.FrozenTrial, trainable: type, changes: dict[str, Any]
) -> None:
    """Refuses, before anything is written, a ``--set`` value off its hyperparameter's scale
    (the space the study recorded) or one the trainable's ``set_params`` rejects."""
    from bntune.cli.studyfile import load_space

    space = load_space(study)
    for name, value in changes.items():
        if space is not None and name in space:
            why = off_scale(space[name], value)
            if why is not None:
                raise BabysitUsageError(f"--set: {name}={value!r}: {why}")
    if not changes:
        return
    probe = trainable(current_params(trial))
    try:
        probe.set_params(**changes)
    except (ValueError, TypeError) as err:
        raise BabysitUsageError(f"--set: {err}") from None


def off_scale(dim: tune.Dimension, value: Any) -> str | None:
    """Why ``value`` cannot be a value of ``dim`` (None when it can)."""
    if isinstance(dim, tune.Choice):
        return None if value in dim.options else f"must be one of {list(dim.options)}"
    if isinstance(dim, tune.Fixed):
        return f"is fixed at {dim.value!r}" if value != dim.value else None
    real = isinstance(value, int | float) and not isinstance(value, bool)
    if not real or not math.isfinite(value):
        return "must be a number"
    if isinstance(dim, tune.IntUniform | tune.IntLogUniform) and value != int(value):
        return "must be an integer"
    if isinstance(dim, tune.LogUniform | tune.IntLogUniform) and value <= 0:
        return "is on a log scale: it must be > 0"
    if isinstance(dim, tune.OneMinusLogUniform) and not 0 <= value < 1:
        return "is on the 1 - beta log scale: it must be in [0, 1)"
    return None
