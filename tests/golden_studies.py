"""A fixed set of studies whose full record (configurations, values, curves, boxes, events) is
kept in ``fixtures/golden_tune.json``: the tuner's behaviour, pinned while its insides change.

    python tests/golden_studies.py          # rewrites the fixture (only when a change of
                                            # behaviour is intended, and said so in the commit)

Each study runs on a fresh SQLite file. Runs on 2 workers record what does not depend on timing:
for optimize, coarse-to-fine, successive halving and PBT that is everything; for ASHA, whose
promotions depend on which trials have reached a rung when a worker frees up, only the
configurations.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bntune import tune
from modes_helpers import Curve, NoisyQuadratic, Scripted

FIXTURE = Path(__file__).parent / "fixtures" / "golden_tune.json"

SPACE = tune.Space(
    lr=tune.LogUniform(1e-4, 1.0),
    beta=tune.OneMinusLogUniform(0.9, 0.999),
    hidden=tune.IntUniform(50, 100),
    batch=tune.Choice([32, 64, 128]),
    layers=tune.Fixed(2),
)
CURVE_SPACE = tune.Space(a=tune.Uniform(0.0, 2.0), c=tune.Uniform(0.0, 1.0))
PBT_SPACE = tune.Space(lr=tune.LogUniform(1e-3, 0.5), width=tune.IntUniform(1, 3))


def bowl(trial: Any) -> float:
    """A deterministic objective over SPACE with a short learning curve."""
    p = trial.params
    base = (math.log10(p["lr"]) + 2.0) ** 2 + (math.log10(1.0 - p["beta"]) + 2.0) ** 2
    base += ((p["hidden"] - 70) / 50.0) ** 2 + (0.0 if p["batch"] == 64 else 0.3)
    for step in range(1, 4):
        trial.report(step, base + 1.0 / step)
    return base


def sometimes_fails(trial: Any) -> float:
    """bowl, but large rates raise and a small batch returns NaN (failed and diverged trials)."""
    if trial.params["lr"] > 0.1:
        raise ValueError("lr too large (a golden failure)")
    return math.nan if trial.params["batch"] == 32 else bowl(trial)


def _number(x: float | None) -> Any:
    if x is None:
        return None
    return x if math.isfinite(x) else repr(x)


def record(study: tune.Study, *, configurations_only: bool = False) -> dict[str, Any]:
    """The study as plain JSON: per trial (by number) what the tuner decided and measured."""
    trials = []
    for t in sorted(study.trials, key=lambda t: t.number):
        row: dict[str, Any] = {"params": t.params, "round": t.round, "stream": t.stream}
        if not configurations_only:
            row.update(
                number=t.number,
                seq=t.seq,
                state=t.state,
                value=_number(t.value),
                error=None if t.error is None else t.error.strip().splitlines()[-1],
                curve={str(s): _number(v) for s, v in sorted(t.curve.items())},
                unit=t.unit,
                events=t.events,
            )
        trials.append(row)
    if configurations_only:
        trials.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return {"trials": trials, "boxes": {str(r): b for r, b in study.boxes.items()}}


def _optimize(sampler: str, workers: int) -> Callable[[tune.Study], None]:
    def run(study: tune.Study) -> None:
        study.optimize(bowl, SPACE, n_trials=7, sampler=sampler, n_workers=workers)

    return run


def _failing(study: tune.Study) -> None:
    study.optimize(sometimes_fails, SPACE, n_trials=8, sampler="halton")


def _pruned(study: tune.Study) -> None:
    study.pruner = tune.MedianStopping(n_startup_trials=2)
    study.optimize(bowl, SPACE, n_trials=9)


def _c2f(workers: int) -> Callable[[tune.Study], None]:
    def run(study: tune.Study) -> None:
        study.coarse_to_fine(
            bowl, SPACE, rounds=3, trials_per_round=6, top=0.2, method="zoom", n_workers=workers
        )

    return run


def _caviar(scheduler: Any, workers: int) -> Callable[[tune.Study], None]:
    def run(study: tune.Study) -> None:
        study.caviar(
            Curve, CURVE_SPACE, population=9, epochs=9, scheduler=scheduler, n_workers=workers
        )

    return run


def _pbt(workers: int) -> Callable[[tune.Study], None]:
    def run(study: tune.Study) -> None:
        study.pbt(NoisyQuadratic, PBT_SPACE, population=4, epochs=6, interval=2, n_workers=workers)

    return run


def _panda(study: tune.Study) -> None:
    trial = study.babysit(Scripted, {"lr": 0.3}, epochs=5)
    study.babysit(Scripted, {"lr": 2.5}, epochs=0, resume=trial.number)
    study.babysit(Scripted, None, epochs=3, resume=trial.number)


#: name -> (how to run it, whether only configurations are timing-independent)
CASES: dict[str, tuple[Callable[[tune.Study], None], bool]] = {
    **{f"optimize-{s}": (_optimize(s, 1), False) for s in tune.SAMPLERS},
    "optimize-sobol-2-workers": (_optimize("sobol", 2), False),
    "optimize-lhs-2-workers": (_optimize("lhs", 2), False),
    "optimize-median-stopping": (_pruned, False),
    "optimize-failing": (_failing, False),
    "coarse-to-fine": (_c2f(1), False),
    "coarse-to-fine-2-workers": (_c2f(2), False),
    "caviar-asha": (_caviar(tune.ASHA(), 1), False),
    "caviar-asha-2-workers": (_caviar(tune.ASHA(), 2), True),
    "caviar-successive-halving-2-workers": (_caviar(tune.SuccessiveHalving(), 2), False),
    "caviar-median-stopping": (_caviar(tune.MedianStopping(n_startup_trials=2), 1), False),
    "pbt": (_pbt(1), False),
    "pbt-2-workers": (_pbt(2), False),
    "panda": (_panda, False),
}


def run_case(name: str, directory: str) -> dict[str, Any]:
    run, configurations_only = CASES[name]
    path = Path(directory) / f"{name}.db"
    with tune.Study(name, storage=path, seed=11) as study:
        run(study)
    # read back from the file: what was stored, not only what the driver kept in memory
    with tune.Study(name, storage=path, read_only=True) as stored:
        return record(stored, configurations_only=configurations_only)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        golden = {name: run_case(name, tmp) for name in CASES}
    FIXTURE.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE} ({len(golden)} studies)", file=sys.stderr)


if __name__ == "__main__":
    main()
