"""bntune's coarse-to-fine search as an Optuna sampler: change one line, keep the script.

    import optuna
    from bntune.integration.optuna import CoarseToFineSampler

    study = optuna.create_study(sampler=CoarseToFineSampler(trials_per_round=15, seed=0))
    study.optimize(objective, n_trials=60)  # 4 rounds: the whole space, then three zooms

Trial k belongs to round ``k // trials_per_round + 1``. Round 1 samples each parameter's whole
range; each later round samples a box that the zoom rule of :mod:`bntune.tune.coarse_to_fine`
draws around the best ``top`` fraction of the complete trials of the earlier rounds, on each
parameter's own scale (a ``log=True`` parameter zooms by decades). Each parameter draws from a
scrambled one-dimensional Sobol' (or Halton, or random) sequence of its own, as bntune's
define-by-run studies do (:mod:`bntune.tune.suggest`), so conditional parameters work, and a
parameter a trial did not suggest neither moves the box nor takes a share of it.

A serial Optuna run therefore suggests exactly what bntune's own
``Study(seed=s).coarse_to_fine(objective, rounds=..., trials_per_round=q, method="zoom")`` does
for the same objective: the same values for every trial, and the same boxes. Optuna's
``n_trials`` sets the number of rounds. Several other parts of bntune's method need bntune's
study (the adaptive trust region, exploration moves, crash-safe resume): this sampler is the
zoom rule for scripts that stay on Optuna.

Each round's box is decided once, by the first trial of the round that asks for a value, from
the trials complete at that time whose number lies in an earlier round, and is kept in the
study's system attributes (``bntune:<run>:box:<r>``, also read by :meth:`boxes`). With
``n_jobs > 1`` or several processes, a round's trials may start before the round before it has
finished; its box then rests on the trials that had. The seed is kept in the study too
(``bntune:seed``): a sampler made with ``seed=None`` for a study that has one takes it, so every
process of a distributed study draws from one design, and ``reseed_rng`` changes nothing.

Trials Optuna adds itself (``study.enqueue_trial``, ``study.add_trial``) count for the boxes
like any other complete trial of an earlier round. Changing a parameter's distribution during a
study is allowed: a trial counts for that parameter only if it used the distribution now asked
for, and the parameter's box is the whole range until such trials exist.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

try:
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )
    from optuna.samplers import BaseSampler
    from optuna.study import StudyDirection
    from optuna.trial import TrialState
except ImportError as exc:  # pragma: no cover - exercised only without optuna
    raise ImportError(
        "bntune.integration.optuna needs Optuna: pip install 'bntune[optuna]' (or install optuna)"
    ) from exc

from bntune.tune import dimensions as dims
from bntune.tune import suggest
from bntune.tune.boxes import next_box, zoom_best
from bntune.tune.checks import positive_int, study_seed
from bntune.tune.coarse_to_fine import Zoom
from bntune.tune.samplers import as_sampler, derive_seed
from bntune.tune.space import Space
from bntune.tune.trial import FrozenTrial

if TYPE_CHECKING:
    from bntune.tune.storage import Box

__all__ = ["CoarseToFineSampler"]

SEED_KEY = "bntune:seed"


class CoarseToFineSampler(BaseSampler):
    """Coarse-to-fine search for an Optuna study (see the module docstring).

    Args:
        trials_per_round: trials in each round; round r holds trials ``(r - 1) * q`` to
            ``r * q - 1`` by number.
        top: the fraction of the earlier rounds' complete trials (at least one) the next box
            covers: the best by value, or by non-dominated rank in a study with several
            objectives.
        shrink: the least width of a box relative to the previous one.
        sampler: the design each round draws from: "sobol", "halton" or "random".
        seed: seeds the design; None takes the study's stored seed, or draws one and stores it.
    """

    def __init__(
        self,
        *,
        trials_per_round: int = 15,
        top: float = 0.05,
        shrink: float = 0.5,
        sampler: str = "sobol",
        seed: int | None = None,
    ) -> None:
        positive_int("trials_per_round", trials_per_round)
        if sampler not in suggest.SAMPLERS:
            raise ValueError(
                f"CoarseToFineSampler: sampler must be one of {suggest.SAMPLERS}, got {sampler!r}"
            )
        study_seed("CoarseToFineSampler", seed)
        # Optuna's n_trials decides how many rounds run: Zoom's own count is not used here
        self._zoom = Zoom(0, trials_per_round, top, shrink, as_sampler(sampler), "zoom")
        self._run = self._zoom.key(None)
        self._seed = seed
        self._lock = threading.RLock()  # a box's decision may read the boxes before it
        # (storage, study id, round) -> (box, the distributions it was drawn for), and
        # (storage, study id) -> seed: a study id alone is 0 in every in-memory storage
        self._boxes: dict[tuple[object, int, int], tuple[Box, dict[str, list[Any]]]] = {}
        self._seeds: dict[tuple[object, int], int] = {}
        # (storage, study id) -> (the distributions they were converted for, trial number ->
        # a complete trial as the zoom rule reads it): each round's box reads every earlier
        # trial, and each is worked out once
        self._converted: dict[
            tuple[object, int], tuple[dict[str, BaseDistribution], dict[int, FrozenTrial]]
        ] = {}

    # ---- Optuna's sampler interface --------------------------------------------------------

    def infer_relative_search_space(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}  # every value comes from sample_independent: the space is defined by run

    def sample_relative(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        dim = dimension_of(param_distribution)
        value = dim.from_unit(self._coordinate(study, trial.number, param_name, dim))
        if isinstance(param_distribution, FloatDistribution):
            return float(value)
        if isinstance(param_distribution, IntDistribution):
            return int(value)
        return value

    def reseed_rng(self) -> None:
        """Nothing: trial k's values are fixed by the study's seed and the results, not by a
        random state (Optuna calls this in each of ``n_jobs`` threads)."""

    # ---- what it decided -------------------------------------------------------------------

    def boxes(self, study: optuna.Study) -> dict[int, Box]:
        """The boxes decided so far in ``study``, by round (from round 2; round 1 is the whole
        space): parameter -> [low, high] on its unit scale, or the indices of the options kept."""
        attrs = study._storage.get_study_system_attrs(study._study_id)
        prefix = f"bntune:{self._run}:box:"
        found = {int(k[len(prefix) :]): v["box"] for k, v in attrs.items() if k.startswith(prefix)}
        return dict(sorted(found.items()))

    # ---- internals -------------------------------------------------------------------------

    def _stream(self, r: int) -> str:
        return f"{self._run}:r{r}"  # the name bntune's coarse_to_fine gives round r's design

    def _study_seed(self, study: optuna.Study) -> int:
        study_id = study._study_id
        key = (study._storage, study_id)
        if key in self._seeds:
            return self._seeds[key]
        with self._lock:
            stored = study._storage.get_study_system_attrs(study_id).get(SEED_KEY)
            if stored is None:
                stored = secrets.randbits(63) if self._seed is None else self._seed
                study._storage.set_study_system_attr(study_id, SEED_KEY, stored)
            elif self._seed is not None and stored != self._seed:
                raise ValueError(
                    f"CoarseToFineSampler: seed={self._seed} but study {study.study_name!r} was "
                    f"searched with seed {stored}; pass seed={stored} or seed=None to go on"
                )
            self._seeds[key] = int(stored)
            return self._seeds[key]

    def _coordinate(
        self, study: optuna.Study, number: int, name: str, dim: dims.Dimension
    ) -> float:
        """Trial ``number``'s unit coordinate of parameter ``name``: its sequence's point in its
        round's design, mapped into the round's box."""
        q = self._zoom.trials_per_round
        r, seq = number // q + 1, number % q
        seed = derive_seed(self._study_seed(study), self._stream(r))
        u = suggest.coordinate(self._zoom.sampler.name, seed, name, seq)
        if r > 1:
            box, drawn_for = self._box(study, r)
            if name in box and drawn_for.get(name) == dim.describe():
                u = suggest.in_box(dim, box[name], u)
        return u

    def _unit(
        self, study: optuna.Study, t: optuna.trial.FrozenTrial, name: str, dim: dims.Dimension
    ) -> float:
        """The unit coordinate trial ``t``'s value of ``name`` came from: the one this sampler
        drew (within the value's cell of an integer or a grid), or for a value it did not draw
        (an enqueued or added trial) the centre of the value's cell."""
        value = t.params[name]
        u = self._coordinate(study, t.number, name, dim)
        return u if dim.from_unit(u) == value else dim.to_unit(value)

    def _box(self, study: optuna.Study, r: int) -> tuple[Box, dict[str, list[Any]]]:
        """Round ``r``'s box (r >= 2) and the distributions it was drawn for, decided once."""
        key = (study._storage, study._study_id, r)
        if key in self._boxes:
            return self._boxes[key]
        with self._lock:
            if key not in self._boxes:
                self._boxes[key] = self._stored_or_new_box(study, r)
            return self._boxes[key]

    def _stored_or_new_box(self, study: optuna.Study, r: int) -> tuple[Box, dict[str, list[Any]]]:
        attr = f"bntune:{self._run}:box:{r}"
        stored = study._storage.get_study_system_attrs(study._study_id).get(attr)
        if stored is not None:
            return stored["box"], stored["dims"]
        previous: Box = {}
        drawn_for: dict[str, list[Any]] = {}
        if r > 2:
            previous, drawn_for = self._box(study, r - 1)
        start = (r - 1) * self._zoom.trials_per_round
        before = [t for t in study.get_trials(deepcopy=False) if t.number < start]
        seen = _latest_distributions(before)
        space = Space(**{name: dimension_of(d) for name, d in sorted(seen.items())})
        described = {name: space[name].describe() for name in space.names}
        # an entry drawn for another distribution of the parameter says nothing about this one
        previous = {n: e for n, e in previous.items() if drawn_for.get(n) == described.get(n)}
        done = self._complete_as_bntune(study, before, seen)
        directions = [_direction(d) for d in study.directions]
        best = zoom_best(done, directions, float(self._zoom.top))  # type: ignore[arg-type]
        box = next_box(space, previous, best, shrink=float(self._zoom.shrink))  # type: ignore[arg-type]
        study._storage.set_study_system_attr(study._study_id, attr, {"box": box, "dims": described})
        return box, described

    def _complete_as_bntune(
        self,
        study: optuna.Study,
        trials: Sequence[optuna.trial.FrozenTrial],
        seen: dict[str, BaseDistribution],
    ) -> list[FrozenTrial]:
        """The complete ``trials`` as bntune's zoom rule reads them, each converted once (until
        a parameter's distribution changes)."""
        key = (study._storage, study._study_id)
        converted_for, converted = self._converted.get(key, ({}, {}))
        if converted_for != seen:
            converted = {}
            self._converted[key] = (dict(seen), converted)
        done = []
        for t in trials:
            if t.state == TrialState.COMPLETE:
                if t.number not in converted:
                    converted[t.number] = self._as_bntune(study, t, seen)
                done.append(converted[t.number])
        return done

    def _as_bntune(
        self, study: optuna.Study, t: optuna.trial.FrozenTrial, seen: dict[str, BaseDistribution]
    ) -> FrozenTrial:
        """A complete Optuna trial as bntune's zoom rule reads it: the parameters it drew from
        the distributions in ``seen``, with their unit coordinates."""
        params = {n: v for n, v in t.params.items() if t.distributions.get(n) == seen.get(n)}
        unit = {n: self._unit(study, t, n, dimension_of(seen[n])) for n in params}
        several = len(t.values or ()) > 1
        return FrozenTrial(t.number, params, None if several else t.value, "complete",
                           unit=unit, values=list(t.values) if several else None)  # fmt: skip


@lru_cache(maxsize=1024)
def dimension_of(distribution: BaseDistribution) -> dims.Dimension:
    """The bntune dimension an Optuna distribution is: the one ``trial.suggest_*`` with the same
    arguments makes in a bntune study (made once per distribution)."""
    d = distribution
    if isinstance(d, FloatDistribution):
        if d.log:
            return dims.LogUniform(d.low, d.high)
        return (
            dims.Uniform(d.low, d.high) if d.step is None else dims.Stepped(d.low, d.high, d.step)
        )
    if isinstance(d, IntDistribution):
        if d.log:
            return dims.IntLogUniform(d.low, d.high)
        return (
            dims.IntUniform(d.low, d.high) if d.step == 1 else dims.Stepped(d.low, d.high, d.step)
        )
    if isinstance(d, CategoricalDistribution):
        return dims.Choice(list(d.choices))
    raise TypeError(f"CoarseToFineSampler: no bntune dimension for the distribution {d!r}")


def _latest_distributions(
    trials: Sequence[optuna.trial.FrozenTrial],
) -> dict[str, BaseDistribution]:
    """Each parameter's distribution as the last of ``trials`` (in number order) to use it had."""
    seen: dict[str, BaseDistribution] = {}
    for t in sorted(trials, key=lambda t: t.number):
        seen.update(t.distributions)
    return seen


def _direction(direction: StudyDirection) -> str:
    return "maximize" if direction == StudyDirection.MAXIMIZE else "minimize"
