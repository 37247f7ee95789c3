"""What the population modes (caviar and PBT) share: their arguments' checks and their
population, trial k being point k of the study's Sobol design."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bntune.tune.checks import positive_int
from bntune.tune.samplers import as_sampler
from bntune.tune.space import Space
from bntune.tune.trainable import check_trainable

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial
    from bntune.tune.trial_log import TrialLog

SOBOL = as_sampler("sobol")


@dataclass(frozen=True)
class Population:
    """What caviar and PBT train: ``size`` models of ``trainable`` drawn from ``space``, for up
    to ``epochs`` epochs each."""

    trainable: type
    space: Space
    size: int
    epochs: int

    @classmethod
    def checked(
        cls, mode: str, trainable: object, space: object, population: object, epochs: object
    ) -> Population:
        """The arguments of ``mode`` checked: errors name the mode and the argument."""
        trainable = check_trainable(trainable)
        if not isinstance(space, Space):
            raise TypeError(f"{mode}: space must be a tune.Space, got {space!r}")
        size = positive_int(f"{mode}: population", population)
        return cls(trainable, space, size, positive_int(f"{mode}: epochs", epochs))


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
