"""What the population modes (caviar and PBT) share: their arguments' checks and their
population, trial k being point k of the study's Sobol design."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bntune.tune.checks import positive_int
from bntune.tune.samplers import as_sampler
from bntune.tune.space import Space
from bntune.tune.trainable import check_trainable

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial
    from bntune.tune.trial_log import TrialLog

SOBOL = as_sampler("sobol")


def check_population_run(
    mode: str, trainable: object, space: object, population: object, epochs: object
) -> tuple[type, int, int]:
    """The arguments ``caviar`` and ``pbt`` share, checked: errors name ``mode`` and the
    argument. Returns the trainable class, the population and the number of epochs."""
    trainable = check_trainable(trainable)
    if not isinstance(space, Space):
        raise TypeError(f"{mode}: space must be a tune.Space, got {space!r}")
    return (
        trainable,
        positive_int(f"{mode}: population", population),
        positive_int(f"{mode}: epochs", epochs),
    )


def population_trials(
    log: TrialLog, space: Space, stream: str, population: int
) -> list[FrozenTrial]:
    """The population's trials in index order: stored ones (revived if their driver died) and
    new ``running`` ones for the indices not yet started."""
    stored: dict[int, FrozenTrial] = {}
    for t in [*log.trials, *log.unfinished(stream)]:
        if t.stream == stream:
            stored[t.seq] = t
    points = SOBOL.points(space.coordinate_dims, log.seed, 0, population, population).tolist()
    out = []
    for k in range(population):
        if k in stored:
            out.append(stored[k])
            continue
        u = points[k]
        params = space.from_unit(u)
        out.append(log.start_live(params, dict(zip(space.names, u, strict=True)), stream, k))
    return out
