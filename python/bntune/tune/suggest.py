"""Define-by-run: where the values of ``trial.suggest_*`` come from.

Without a declared space, each parameter draws from a sequence of its own: a scrambled
one-dimensional Sobol' (or Halton, or uniform random) sequence seeded by the study's seed and the
parameter's name, read at the trial's index in the design. So trial k's value of a parameter
depends on nothing else — not on which other parameters this trial or earlier ones suggested,
not on the number of workers, not on a crash and resume — and every run of 2**m trials
stratifies each parameter's own scale (its log scale, its 1 - beta scale). Parameters are
paired at random, not as one multi-dimensional net: a parameter that appears only in some
trials (a conditional branch) could not keep a fixed column of one otherwise.

With a declared :class:`~bntune.tune.space.Space`, the space's design gives the values as before
and ``suggest_*`` returns the sampled value of a declared name, after checking that the
distribution asked for is the declared one.

Each parameter keeps one distribution for the whole study: suggesting it again with other
bounds, scale or choices raises :class:`~bntune.tune.errors.TrialUsageError` naming it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bntune.tune.dimensions import Choice, Dimension
from bntune.tune.errors import TrialUsageError
from bntune.tune.samplers import derive_seed

if TYPE_CHECKING:
    from bntune.tune.space import Space

_BELOW_ONE = math.nextafter(1.0, 0.0)
#: the samplers a study without a declared space can use (a budgeted design needs its space)
SAMPLERS = ("sobol", "halton", "random")


@lru_cache(maxsize=1024)
def _engine(sampler: str, seed: int, name: str) -> Any:
    """Parameter ``name``'s one-dimensional sequence (made once per process)."""
    from bntune import qmc

    own = derive_seed(seed, "define-by-run", name)
    if sampler == "sobol":
        return qmc.Sobol(1, scramble=True, seed=own)
    if sampler == "halton":
        return qmc.Halton(1, scramble=True, seed=own)
    return qmc.Random(1, seed=own)


def coordinate(sampler: str, seed: int, name: str, index: int) -> float:
    """Trial ``index``'s unit coordinate of parameter ``name`` (see the module docstring)."""
    return float(_engine(sampler, seed, name).random_at(index, 1)[0, 0])


def in_box(dim: Dimension, entry: list[Any], u: float) -> float:
    """Unit coordinate ``u`` of the whole range mapped into a box's ``entry`` for ``dim``: a
    sub-interval [low, high], or for a Choice the options kept (each equally likely, at the centre
    of its cell) — one coordinate of :func:`bntune.tune.boxes.into_box`."""
    if isinstance(dim, Choice):
        pick = entry[min(int(u * len(entry)), len(entry) - 1)]
        return (pick + 0.5) / len(dim.options)
    low, high = entry
    return min(low + u * (high - low), _BELOW_ONE)


class Suggestions:
    """What one trial's ``suggest_*`` calls return, and the distributions they used (``dims``:
    name -> ``Dimension.describe()``). ``known`` are the distributions the study used before."""

    __slots__ = ("box", "dims", "given", "index", "known", "planned", "sampler", "seed", "space")

    def __init__(
        self,
        sampler: str,
        seed: int,
        index: int,
        space: Space | None = None,
        known: dict[str, list[Any]] | None = None,
        given: dict[str, Any] | None = None,
        box: dict[str, Any] | None = None,
        planned: dict[str, float] | None = None,
    ) -> None:
        self.sampler = sampler
        #: a coarse-to-fine round's box (name -> [low, high] in unit space, or kept options)
        self.box = box
        self.seed = seed
        self.index = index
        self.space = space
        self.known = {} if known is None else known
        self.dims: dict[str, list[Any]] = {}
        #: values fixed in advance (an enqueued configuration): returned instead of drawn
        self.given = {} if given is None else given
        #: coordinates chosen in advance (an adaptive round's model), read instead of the
        #: parameters' own sequences and mapped into ``box`` alike
        self.planned = {} if planned is None else planned

    def value(
        self, params: dict[str, Any], unit: dict[str, float], name: str, dim: Dimension
    ) -> Any:
        """The value of ``name`` on ``dim`` for the trial whose ``params`` and unit coordinates
        (``unit``) these are; a new one is recorded in both."""
        described = dim.describe()
        if self.space is not None:
            declared = self.space.get(name)
            if declared is None:
                raise TrialUsageError(
                    f"suggest: {name!r} is not in the study's declared space (it has "
                    f"{list(self.space.names)}); declare it there, or run without a space"
                )
            if declared.describe() != described:
                raise TrialUsageError(
                    f"suggest: {name!r} is declared as {declared!r} but suggested as {dim!r}"
                )
            return params[name]
        before = self.dims.get(name) or self.known.get(name)
        if before is not None and before != described:
            raise TrialUsageError(
                f"suggest: {name!r} was suggested as {before} before, now as {described}: a "
                f"parameter keeps one distribution for the whole study"
            )
        if name in params:
            return params[name]
        if name in self.given:
            value = self.given[name]
            try:
                u = dim.to_unit(value)
            except (TypeError, ValueError, KeyError) as err:
                raise TrialUsageError(f"suggest: enqueued {name}={value!r} is not a value of "
                                      f"{dim!r}: {err}") from None  # fmt: skip
            if not 0.0 <= u <= 1.0:
                raise TrialUsageError(f"suggest: enqueued {name}={value!r} lies outside {dim!r}")
        else:
            u = self.planned.get(name)
            if u is None:
                u = coordinate(self.sampler, self.seed, name, self.index)
            if self.box is not None and name in self.box:
                u = in_box(dim, self.box[name], u)
            value = dim.from_unit(u)
        params[name] = value
        unit[name] = u
        self.dims[name] = described
        return value
