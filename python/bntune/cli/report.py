"""One-screen text summaries of a study: the leaderboard, counts by state, the best parameters and
the importance ranking (``bntune show`` and the end of ``bntune demo``)."""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bntune import tune
from bntune.mlp.objective import read_metrics
from bntune.tune.failures import Failures, interrupted
from bntune.tune.trial import STATES


def format_value(value: Any) -> str:
    """A hyperparameter or metric, short: 4 significant digits for floats, betas to 4 decimals."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if 0.9 <= value < 1.0:
            return f"{value:.4f}"
        return f"{value:.3g}"
    return str(value)


def ranked(study: tune.Study) -> list[tune.FrozenTrial]:
    """Complete trials, best first."""
    done = [t for t in study.trials if t.state == "complete" and t.value is not None]
    sign = 1.0 if study.direction == "minimize" else -1.0
    return sorted(done, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]


def leaderboard(
    study: tune.Study,
    *,
    top: int = 5,
    artifacts: Path | None = None,
    test_accuracy: Mapping[int, float] | None = None,
) -> str:
    """The ``top`` best complete trials as a table: rank, trial, round, objective, the test
    accuracy (from ``test_accuracy``, trial number -> fraction, or else from what the built-in
    objective wrote in ``artifacts``), hyperparameters."""
    best = ranked(study)[:top]
    if not best:
        return "no complete trial yet"
    # every parameter a listed trial used, in order of first appearance (conditional ones too)
    names = list(dict.fromkeys(n for t in best for n in t.params))
    accuracy: dict[int, float] = dict(test_accuracy or {})
    if artifacts is not None:
        for t in best:
            m = read_metrics(artifacts, t.number)
            if m and m.get("test_accuracy") is not None and t.number not in accuracy:
                accuracy[t.number] = float(m["test_accuracy"])
    has_test = any(t.number in accuracy for t in best)
    named = artifacts is not None or test_accuracy is not None
    header = ["rank", "trial", "round", "dev loss" if named else "value"]
    if has_test:
        header.append("test acc")
    header += names
    rows = []
    for rank, t in enumerate(best, 1):
        row = [str(rank), str(t.number), str(t.round), f"{t.value:.4f}"]
        if has_test:
            acc = accuracy.get(t.number)
            row.append("-" if acc is None else f"{100 * acc:.1f}%")
        row += [format_value(t.params[n]) if n in t.params else "-" for n in names]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def importance_text(study: tune.Study, *, width: int = 30) -> str:
    """The importance ranking as text bars: first-order variance shares from every complete
    trial (>= 0, summing to at most 1; see :mod:`bntune.tune.importance`); one ranking per
    objective for a study with several."""
    if len(study.directions) > 1:
        return "\n\n".join(
            _importance_lines(study, k, f"objective {k} ({d})", width)
            for k, d in enumerate(study.directions)
        )
    return _importance_lines(study, None, "the objective", width)


def _importance_lines(study: tune.Study, objective: int | None, what: str, width: int) -> str:
    try:
        shares = study.importance(objective=objective)
    except ValueError as err:
        return f"importance for {what}: not available ({err})"
    if not shares:
        return "importance: no searched dimension"
    name_w = max(len(n) for n in shares)
    lines = [f"importance (share of {what}'s variance explained by each alone):"]
    for name, share in shares.items():
        lines.append(f"  {name.ljust(name_w)}  {share:5.2f}  {'#' * round(width * share)}")
    rest = 1.0 - sum(shares.values())
    lines.append(f"  {'(rest)'.ljust(name_w)}  {rest:5.2f}  interactions, noise, misfit")
    return "\n".join(lines)


def counts_text(study: tune.Study) -> str:
    """``12 trials: 10 complete, 2 diverged``; a trial cut short by Ctrl-C or by its driver
    dying (stored as failed, its configuration run again) counts as ``interrupted``."""
    counts = Counter("interrupted" if interrupted(t) else t.state for t in study.trials)
    parts = [f"{counts[s]} {s}" for s in (*STATES, "interrupted") if counts[s]]
    n = len(study.trials)
    return f"{n} trial{'' if n == 1 else 's'}: {', '.join(parts) if parts else 'none'}"


def best_text(study: tune.Study) -> str:
    """The best trial's number, value and parameters, one per line."""
    try:
        best = study.best_trial
    except ValueError:
        return "best: no complete trial"
    lines = [f"best: trial {best.number} (round {best.round}), value {best.value:.5g}"]
    lines += [f"  {k} = {format_value(v)}" for k, v in best.params.items()]
    return "\n".join(lines)


def summary(
    study: tune.Study,
    *,
    artifacts: Path | None = None,
    top: int = 5,
    test_accuracy: Mapping[int, float] | None = None,
) -> str:
    """Everything ``bntune show`` prints."""
    title = f"study {study.name!r} ({study.direction}, seed {study.seed})"
    if len(study.directions) > 1:
        return f"{title}\n{counts_text(study)}\n\n{pareto_text(study)}\n\n{importance_text(study)}"
    return "\n\n".join(
        [
            f"{title}\n{counts_text(study)}",
            leaderboard(study, top=top, artifacts=artifacts, test_accuracy=test_accuracy),
            best_text(study),
            importance_text(study),
        ]
    )


def pareto_text(study: tune.Study) -> str:
    """A study with several objectives: its Pareto front as a table (trial, values, params)."""
    front = study.best_trials
    if not front:
        return "no complete trial yet"
    names = sorted({k for t in front for k in t.params})
    header = ["trial", *[f"obj {i} ({d[:3]})" for i, d in enumerate(study.directions)], *names]
    rows = [
        [str(t.number), *[format_value(v) for v in t.values or []],
         *[format_value(t.params[n]) if n in t.params else "-" for n in names]]
        for t in front
    ]  # fmt: skip
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True))
             for r in [header, *rows]]  # fmt: skip
    intro = f"Pareto front ({len(front)} trials no other complete trial beats in every objective):"
    return "\n".join([intro, *lines])


def failures_exit_code(study: tune.Study, command: str) -> int:
    """Says on stderr how many trials failed and the first error; 1 when no trial completed
    (the command failed), else 0."""
    found = Failures.of(study.trials)
    if found.failed:
        print(f"bntune {command}: {found.summary()}; fix the objective, then run again with "
              f"--retry-failed", file=sys.stderr)  # fmt: skip
    if found.complete == 0:
        print(f"bntune {command}: no trial completed", file=sys.stderr)
        return 1
    return 0
