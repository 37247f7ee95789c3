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
    stored = study.storage.checkpoint_steps(trial._id)
    if rollback_to is not None and rollback_to not in stored:
        raise BabysitUsageError(
            f"--rollback-to: trial {trial.number} has no checkpoint at epoch {rollback_to}; "
            f"stored epochs: {stored}"
        )
    return study.babysit(
        trainable, changes or None, epochs=epochs, resume=trial.number, from_step=rollback_to,
        policy=lambda view: None,
    )  # fmt: skip
