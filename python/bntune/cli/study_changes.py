"""Running a study file again after editing it: say what changed and what will happen.

``bntune run`` records the settings a study ran with (in the study's metadata). On the next run
each change is one of:

- **resume** (nothing changed): the trials not done yet run;
- **extend**: more trials of a design that continues (random/Sobol/Halton ``trials``, more
  coarse-to-fine ``rounds``): the same configurations as a first run of the larger budget;
- **nothing to run**: a smaller budget than what is done;
- **refuse**: anything that would make the new trials a different experiment — the objective
  (e.g. its ``epochs``), the space, the mode or sampler, a budgeted design's size (Latin
  hypercube, grid), coarse-to-fine's trials per round, ``method``, ``top`` or ``shrink``, a
  population —
  mixed into one leaderboard with the old ones. The message names the key, both values, and
  how to go on (a new study name, or the old value).
"""

from __future__ import annotations

import json
from typing import Any

from bntune import tune
from bntune.cli.config import StudyConfig
from bntune.cli.modes import MODES
from bntune.tune.failures import interrupted
from bntune.tune.samplers import as_sampler

_KEY = "cli.settings/"  # + the study's name, in the storage's metadata

#: settings whose change makes a different experiment, with their study-file keys
_DEFINING = {
    "mode": "search.mode",
    "sampler": "search.sampler",
    "method": "search.method",
    "top": "search.top",
    "shrink": "search.shrink",
    "interval": "search.interval",
    "objective": "objective",
    "space": "space",
}


class StudyChangedError(ValueError):
    """The study file changed in a way that would mix two experiments in one study."""


def settings(cfg: StudyConfig) -> dict[str, Any]:
    """What a run of ``cfg`` is, as JSON-able values."""
    if cfg.builtin:
        objective: Any = {"builtin": "mlp", **cfg.builtin}
    else:
        target = cfg.trainable if cfg.trainable is not None else cfg.objective
        objective = f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', '?')}"
        if cfg.trainable is not None:
            objective = {"trainable": objective, "epochs": cfg.epochs}
    return {
        "mode": cfg.mode,
        "sampler": cfg.sampler,
        "trials": cfg.trials,
        "rounds": cfg.rounds,
        "method": cfg.method if MODES[cfg.mode].zooms else None,
        "top": cfg.top,
        "shrink": cfg.shrink,
        "interval": cfg.interval,
        "objective": objective,
        "space": cfg.space.describe(),
    }


def check(study: tune.Study, cfg: StudyConfig) -> str | None:
    """What this run will do to ``study`` given what it ran with before: a line to print (None
    for a first run), or :class:`StudyChangedError` when it must not run. Records the settings."""
    now = settings(cfg)
    key = _KEY + study.name
    text = study.storage.meta(key)
    before = None if text is None else json.loads(text)
    if before is None or not study.trials:
        study.storage.set_meta({key: json.dumps(now)})
        return None
    if "method" not in before:  # recorded before search.method existed: the zoom rule
        mode = MODES.get(before.get("mode", ""))
        before["method"] = "zoom" if mode is not None and mode.zooms else None
    lines = []
    for name, where in _DEFINING.items():
        if before.get(name) != now[name]:
            raise StudyChangedError(_refusal(where, before.get(name), now[name]))
    spec = MODES[cfg.mode]
    continues = not spec.trains and not as_sampler(cfg.sampler).budgeted
    budget = "rounds" if spec.zooms else "trials"
    if spec.zooms and before["trials"] != now["trials"]:
        raise StudyChangedError(_refusal("search.trials", before["trials"], now["trials"]))
    old, new = before[budget], now[budget]
    if old != new:
        if not continues:
            raise StudyChangedError(_refusal(f"search.{budget}", old, new))
        if new > old:
            lines.append(f"search.{budget} raised from {old} to {new}: extending the same design")
        else:
            lines.append(f"search.{budget} lowered from {old} to {new}: what is done is kept")
        study.storage.set_meta({key: json.dumps({**before, budget: max(old, new)})})
    cut = sum(interrupted(t) for t in study.trials)
    again = f", {cut} interrupted (to run again)" if cut else ""
    lines.append(f"resuming study {study.name!r}: {len(study.trials) - cut} trials done{again}")
    return "; ".join(reversed(lines)) if len(lines) > 1 else lines[0]


def _refusal(where: str, old: Any, new: Any) -> str:
    return (
        f"{where} changed since this study ran ({_short(old)} -> {_short(new)}): its trials "
        f"were made with the old value, and new ones would be another experiment mixed into the "
        f"same leaderboard. Change study.name (or storage) to start a new study, or set it back "
        f"to resume"
    )


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
