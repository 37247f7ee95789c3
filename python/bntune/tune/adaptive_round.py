"""The next round of adaptive coarse to fine, decided from the run's evidence, for every kind of
study: a declared space or define by run (conditional parameters too), one objective or several.

The trust region itself (its length, its box around the incumbent, the local model placing the
points, the exploration move) is :mod:`bntune.tune.trust_region`'s, on a declared space. This
module says what it is given when the study is not that simple.

Define by run (no declared space, or a conditional one, which runs define by run):

* The round's space is the parameters the run's complete trials have used so far, each with the
  distribution the study recorded for it (``log.suggested``). It grows when a trial suggests a
  new one. ``study.boxes[r]`` covers every parameter of round r's space; a parameter first
  suggested in round r draws over its whole range there and enters the box of round r + 1.
* The incumbent's *branch* is the set of parameters the incumbent (the region's best trial)
  used; its *branch trials* are the region's trials that used every one of them (a trial that
  used more, e.g. a deeper network's extra width, is still evidence along the shared ones).
  The box, the local model and the exploration move are those of a declared space made of the
  branch's parameters, fed with the branch trials only. So a parameter is centred and sized
  only on trials that used it, the model never sees a coordinate a trial did not have (nothing
  is filled in: a filled-in constant would claim that the trial was tried there), and the
  exploration move redraws a numeric coordinate the incumbent used.
* A parameter outside the branch (a conditional one the incumbent lacks, or one no trial of the
  region used) keeps its whole range in the box and draws from its own define-by-run sequence
  in the round (seeded by the round's stream and read at the trial's index), as in ``optimize``.
  The model's points fix the branch's coordinates; a trial that takes another branch (the
  branch's categorical coordinates keep every option) draws the new branch's parameters so.

Several objectives (``Study(directions=[...])``): each round follows one scalarisation, ParEGO's
augmented Chebyshev function (:func:`bntune.tune.objectives.chebyshev`, Knowles 2006) with
weights drawn uniformly from the simplex by the seed of stream ``<run>:w<r>``, on objectives
scaled to [0, 1] by the least and greatest values the run's complete trials took before the
round (in the run's first round, by the round's own). Round r's incumbent, model and move follow
the region's trials scored so; round r is a success when its best score beats the best score
of the region's earlier trials on that same scale (the trust region's usual test). Changing
the weights every round is how ParEGO covers the front: each round improves the front in one
direction, and a round that improves nothing along it is a failure, so the region still
shrinks when the front stops moving there. The test is the same for any number of objectives,
which "the round added a non-dominated point" would not be: with many objectives nearly every
point is non-dominated.

Everything is read from the stored results in (round, seq) order and from seeds derived from the
study's seed, so trial k's configuration is the same for any number of workers and after a
resume.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bntune.tune import trust_region
from bntune.tune.boxes import full_box
from bntune.tune.dimensions import from_description
from bntune.tune.objectives import chebyshev, simplex_weights
from bntune.tune.samplers import Sampler, derive_seed
from bntune.tune.space import Space
from bntune.tune.storage import Box

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial


class RowBuffer:
    """Rows appended round by round into a buffer that doubles when full, so a run of n trials
    copies O(n) rows in all (a stack rebuilt every round would copy O(n**2)); ``widen`` adds
    columns, NaN in the rows so far."""

    def __init__(self, width: int) -> None:
        self._rows = np.empty((16, width))
        self.n = 0

    def add(self, rows: np.ndarray) -> None:
        k = len(rows)
        if self.n + k > len(self._rows):
            grown = np.empty((max(2 * len(self._rows), self.n + k), self._rows.shape[1]))
            grown[: self.n] = self._rows[: self.n]
            self._rows = grown
        self._rows[self.n : self.n + k] = rows
        self.n += k

    def widen(self, k: int) -> None:
        gap = np.full((len(self._rows), k), np.nan)
        self._rows = np.hstack([self._rows, gap])

    @property
    def array(self) -> np.ndarray:
        """The rows so far (a view)."""
        return self._rows[: self.n]


class Evidence:
    """The complete trials of an adaptive run in (round, seq) order: their unit coordinates by
    parameter (columns ``names``, in the order the run first used them, a round's new ones by
    name; NaN where a trial did not use the parameter) and their values turned minimised (one
    column per objective); ``starts[r]``: round r's first row."""

    def __init__(self, names: Sequence[str], signs: Sequence[float]) -> None:
        self.names = list(names)
        self.signs = np.asarray(signs, dtype=np.float64)
        self._units = RowBuffer(len(self.names))
        self._values = RowBuffer(len(self.signs))
        self.starts: dict[int, int] = {}
        self._space: Space | None = None

    def add(self, r: int, trials: Sequence[FrozenTrial]) -> None:
        """Round ``r``'s complete trials (in design order); a parameter new to the run gets a
        column."""
        self.starts[r] = self._values.n
        if not trials:
            return
        known = set(self.names)
        new = sorted({n for t in trials for n in t.unit if n not in known})
        if new:
            self.names += new
            self._units.widen(len(new))
        column = {n: j for j, n in enumerate(self.names)}
        rows = np.full((len(trials), len(self.names)), np.nan)
        for i, t in enumerate(trials):
            for name, u in t.unit.items():
                rows[i, column[name]] = u
        several = len(self.signs) > 1
        values = [t.values if several else [t.value] for t in trials]
        self._units.add(rows)
        self._values.add(np.asarray(values, dtype=np.float64) * self.signs)

    @property
    def units(self) -> np.ndarray:
        """(trials, names) unit coordinates, NaN where a trial did not use the parameter."""
        return self._units.array

    @property
    def values(self) -> np.ndarray:
        """(trials, objectives) values, minimised."""
        return self._values.array

    def scores(self, r: int, weights: np.ndarray | None) -> np.ndarray:
        """Every row's score on round ``r``'s scale (smaller is better): the minimised value
        with one objective; with several (``weights``), the Chebyshev scalarisation with the
        objectives scaled by the rows before round ``r`` (by all rows when there are none)."""
        if weights is None:
            return self.values[:, 0]
        if len(self.values) == 0:
            return np.empty(0)
        before = self.starts.get(r, len(self.values))
        basis = self.values[:before] if before else self.values
        return chebyshev(self.values, weights, basis)

    def space(self, suggested: Mapping[str, list[Any]]) -> Space | None:
        """Define by run: the parameters seen so far as a space (their recorded distributions,
        columns in order), None before any."""
        if not self.names:
            return None
        if self._space is None or self._space.d != len(self.names):  # made again when it grows
            self._space = Space(**{n: from_description(suggested[n]) for n in self.names})
        return self._space


@dataclass(frozen=True)
class Round:
    """What the next round samples: its ``box`` (every parameter of the round's space), and
    unless the region restarts, the model's points in the box (``rows``, box coordinates) and
    the exploration move (``move``, unit coordinates, or None), both over the parameters
    ``names`` (the incumbent's branch: the whole space when it is declared)."""

    box: Box
    names: tuple[str, ...] = ()
    rows: np.ndarray | None = None
    move: np.ndarray | None = None

    def plan(self, rows: np.ndarray) -> list[dict[str, float]]:
        """``rows`` as define-by-run coordinates chosen in advance, one dict per trial."""
        return [dict(zip(self.names, row, strict=True)) for row in rows.tolist()]


def full_round_box(space: Space | None) -> Box:
    """The whole range of every parameter of ``space`` (nothing yet: an empty box)."""
    return {} if space is None else full_box(space)


def next_round(
    space: Space,
    evidence: Evidence,
    scores: np.ndarray,
    region: trust_region.Region,
    *,
    sampler: Sampler,
    seed: int,
    n_box: int,
    move_seed: int | None,
    stored: Box | None,
    place: bool = True,
) -> Round:
    """Round's box and points for a region that is not restarting: ``space`` the round's space
    (its columns are ``evidence.names``), ``scores`` every row's score on the round's scale,
    ``n_box`` points for the box, a move drawn by ``move_seed`` (None: no move); ``stored``, the
    round's box when a resumed run stored it before. ``place=False`` leaves the model's points
    out (``rows`` None): a round replayed with nothing left to run needs only its box and move."""
    start = evidence.starts[region.since]
    units, ys = evidence.units[start:], scores[start:]
    incumbent = units[int(np.argmin(ys))]
    used = ~np.isnan(incumbent)
    box = full_box(space)
    if not used.any():  # the incumbent suggested nothing: nothing to centre on
        return Round(stored if stored is not None else box)
    if used.all():
        branch = space
    else:
        branch = Space(**{n: space[n] for n, u in zip(space.names, used, strict=True) if u})
    columns = np.flatnonzero(used)
    # the branch trials: those that used every parameter the incumbent used
    having = ~np.isnan(units[:, columns]).any(axis=1)
    if not having.all():
        units, ys = units[having], ys[having]
    units = units[:, columns] if len(columns) < len(space.names) else units
    if stored is not None:
        box = stored
    else:
        box.update(trust_region.region_box(branch, region, units, ys))
    branch_box = {n: box[n] for n in branch.names}
    move = None
    if move_seed is not None:
        move = trust_region.move(branch, units, ys, move_seed)
    rows = None
    if place:
        rows = trust_region.place(branch, branch_box, units, ys, sampler, seed, n_box)
    return Round(box, branch.names, rows, move)


def round_weights(k: int, run_key: str, study_seed: int, r: int) -> np.ndarray | None:
    """Round ``r``'s weights of the ``k`` objectives (stream ``<run>:w<r>``); None for one."""
    if k == 1:
        return None
    return simplex_weights(k, derive_seed(study_seed, f"{run_key}:w{r}"))


def best_before(
    scores: np.ndarray, evidence: Evidence, region: trust_region.Region, r: int
) -> float:
    """The region's best score before round ``r`` (inf when it has none)."""
    start, end = evidence.starts[region.since], evidence.starts[r]
    return float(scores[start:end].min()) if end > start else math.inf
