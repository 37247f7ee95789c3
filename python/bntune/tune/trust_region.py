"""Adaptive coarse to fine: one box per round, decided from the evidence like a trust region.

The rule follows TuRBO-1 (Eriksson et al., "Scalable Global Optimization via Local Bayesian
Optimization", NeurIPS 2019), on each hyperparameter's own unit scale:

* Round 1 samples the whole unit cube with the study's sampler.
* Each later round samples one box (``study.boxes[r]``), centred on the incumbent: the best
  complete trial since the region (re)started. Its side in numeric dimension i is
  ``length * w_i`` (at most 1), clipped to [0, 1]: ``w_i`` is the spread (standard deviation in
  unit space) of the best ``max(3, n // 5)`` trials of the region along i, divided by the
  geometric mean of the spreads and kept in [1/2, 2], so the box is longer where the good
  trials disagree and its volume is set by ``length`` alone. Categorical dimensions keep
  every option.
* ``length`` starts at 0.8. A round whose best trial improves the region's best by more than
  1e-3 of its size is a success, any other round a failure. After 3 successes in a row the
  length doubles (at most 1.6); after ``ceil(max(4, d) / trials_per_round)`` failures in a row
  it halves. When it falls below 2**-7 the region restarts: the next round samples the whole
  cube again, and the region's trials are those from that round on.
* A cheap local model places the points: ``CANDIDATES`` points of a fresh stream of the sampler
  fill the box; a Gaussian process (Matérn 5/2, inputs scaled by the box's sides, outputs
  turned into normal scores of their ranks, equal values sharing the mean score of their
  ranks, length scale chosen from a short list by the marginal likelihood) is fitted to the
  ``NEIGHBOURS`` trials of the region nearest the incumbent; each trial of the round is the
  lowest point of one joint posterior draw (Thompson sampling) over the ``FINALISTS``
  candidates with the lowest mean - 2 sd, never the same candidate twice. A round's points
  are thus candidates of its box: every trial but the exploration move lies in the box stored
  for its round, which is the box the plots draw.
  The model's cost is a few small dense operations per round, whatever the number of trials:
  the kernels of all the length scales are factored in one stacked call (the scales double, so
  their exponentials come from one ``exp`` by squaring), and the posterior over the candidates
  from one inverse of the chosen kernel (at most ``NEIGHBOURS`` square).
* Categorical dimensions enter the model as their options' cell centres in unit space.
* Exploration: every ``EXPLORE``-th round (3, 6, 9, ...; not a round that restarts, nor a round
  of one trial) spends the last of its trials on a move outside the box: the incumbent with one
  numeric coordinate (chosen by a seed) drawn uniformly over its whole range. It is how a single
  region escapes a wrong basin along one hyperparameter (a separable function such as
  Styblinski-Tang, whose basins combine dimension by dimension). The move is stored as its own
  design, ``<run>:x<r>`` (``trial.stream``), in round r: the other trials of the round are the
  box's, and ``study.boxes[r]`` is the box they were drawn from. Its result counts for the
  round like any other.

Small rounds adapt best (the benchmark uses 3 trials a round); a round still ends only when all
its trials have, so more workers than trials per round sit idle. The constants were chosen on
development seeds of ``benches/compare_tuners.py quality`` (its suite of test functions and a
real objective, the digits MLP trained per configuration); ``benches/README.md`` has the results
and the variants tried and not kept.

Every decision depends only on stored results, read in (round, seq) order, and on seeds derived
from the study's seed: trial k's configuration is the same for any number of workers and after
a resume. The state (length, counters, the region's start) is replayed from the stored rounds.

The rule above is stated for a declared space and one objective. Define by run (conditional
parameters too), the box, model and move work on the parameters the incumbent used, fed with
the trials that used them, and ``d`` counts the parameters the run has seen; with several
objectives, "value" is a round's ParEGO scalarisation: :mod:`bntune.tune.adaptive_round`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from bntune.tune.boxes import full_box, into_box
from bntune.tune.dimensions import Choice
from bntune.tune.samplers import Sampler, derive_seed
from bntune.tune.space import Space
from bntune.tune.storage import Box

LENGTH_INIT = 0.8
LENGTH_MIN = 2.0**-7
LENGTH_MAX = 1.6
SUCCESSES = 3
#: a round improves the region's best if it beats it by more than this fraction of its size
IMPROVEMENT = 1e-3
WEIGHT_RANGE = (0.5, 2.0)
CANDIDATES = 256
NEIGHBOURS = 64
FINALISTS = 64
#: length scales tried, in units of the box's side
LENGTH_SCALES = (0.1, 0.2, 0.4, 0.8, 1.6)
NOISE = 1e-4
#: the model's matrix products are cut into column blocks of this many so that each is at most
#: 64 x 64 x 64: OpenBLAS runs such a product on the calling thread, a larger one on its
#: thread pool, whose start and synchronisation cost more than the product itself (several
#: times more on a loaded machine)
BLOCK = 64
#: every EXPLORE-th round (0: never) one of its trials is a move outside the box: the
#: incumbent with one numeric coordinate drawn afresh over its whole range
EXPLORE = 3


def explores(r: int, region: Region, trials_per_round: int) -> bool:
    """Whether round ``r`` spends one trial on a move outside its box (see ``move``)."""
    return EXPLORE > 0 and trials_per_round >= 2 and not region.restarting and r % EXPLORE == 0


def is_move(stream: str) -> bool:
    """Whether a trial of design ``stream`` is an exploration move (``<run>:x<r>``), drawn
    outside its round's box."""
    head, _, tail = stream.rpartition(":x")
    return head.startswith("c2f-adaptive:") and tail.isdigit()


def move(space: Space, units: np.ndarray, ys: np.ndarray, seed: int) -> np.ndarray:
    """The exploration trial of a round, in unit coordinates: the incumbent (lowest ``ys``, the
    first of equals) with one numeric coordinate, chosen by ``seed``, drawn uniformly in [0, 1)."""
    numeric = [j for j, n in enumerate(space.names) if not isinstance(space[n], Choice)]
    row = units[int(np.argmin(ys))].copy()
    if numeric:
        rng = np.random.default_rng(seed)
        j = numeric[int(rng.integers(len(numeric)))]
        row[j] = float(rng.random())
    return row[None, :]


@dataclass(frozen=True)
class Region:
    """The trust region's state before a round."""

    length: float = LENGTH_INIT
    successes: int = 0
    failures: int = 0
    #: the round the region started in: its trials are those of this round and later
    since: int = 1
    #: the region's best (minimised) value so far; inf before its first complete trial
    best: float = math.inf

    @property
    def restarting(self) -> bool:
        """Whether the next round samples the whole cube (the region's first round)."""
        return math.isinf(self.best)


def failures_allowed(d: int, trials_per_round: int) -> int:
    """Failed rounds in a row that halve the length (TuRBO's ``ceil(max(4, d) / q)``)."""
    return math.ceil(max(4, d) / trials_per_round)


def after_round(
    region: Region, values: Sequence[float], r: int, tau_fail: int, before: float | None = None
) -> Region:
    """The region after round ``r`` whose complete trials gave (minimised) ``values``;
    ``before``: the region's best on the scale of ``values`` when that is not the scale of
    ``region.best`` (several objectives: each round scores on a scale of its own)."""
    best = min(values) if values else math.inf
    if region.restarting:
        return replace(region, best=best)
    held = region.best if before is None else before
    if best < held - IMPROVEMENT * abs(held):
        successes, failures = region.successes + 1, 0
    else:
        successes, failures = 0, region.failures + 1
    length = region.length
    if successes == SUCCESSES:
        length, successes = min(2.0 * length, LENGTH_MAX), 0
    elif failures == tau_fail:
        length, failures = length / 2.0, 0
    if length < LENGTH_MIN:
        return Region(since=r + 1)
    return Region(length, successes, failures, region.since, min(best, held))


def spread_weights(top: np.ndarray) -> np.ndarray:
    """Per-dimension weights of the box's sides from the ``top`` trials' unit points (rows):
    standard deviations over their geometric mean, kept in ``WEIGHT_RANGE``."""
    spread = np.maximum(top.std(axis=0), 1e-6)
    weights = spread / math.exp(float(np.mean(np.log(spread))))
    return np.clip(weights, *WEIGHT_RANGE)


def region_box(space: Space, region: Region, units: np.ndarray, ys: np.ndarray) -> Box:
    """The box of a round from the region's trials (``units`` rows in coordinate order, ``ys``
    minimised values, both in (round, seq) order)."""
    box = full_box(space)
    numeric = [j for j, n in enumerate(space.names) if not isinstance(space[n], Choice)]
    if not numeric or len(ys) == 0:
        return box
    order = np.argsort(ys, kind="stable")
    centre = units[order[0]]
    top = units[order[: max(3, len(ys) // 5)]][:, numeric]
    weights = spread_weights(top)
    for w, j in zip(weights, numeric, strict=True):
        half = 0.5 * min(1.0, region.length * float(w))
        box[space.names[j]] = [max(0.0, float(centre[j]) - half), min(1.0, float(centre[j]) + half)]
    return box


class Planned(Sampler):
    """A design fixed in advance: the rows of a round the model chose (box coordinates)."""

    name = "planned"

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows

    def _points(self, d: int, seed: int, start: int, n: int, n_total: int) -> np.ndarray:
        return self.rows[start : start + n]


@functools.cache
def _score_table(n: int) -> np.ndarray:
    inv = NormalDist().inv_cdf
    return np.array([inv((k + 0.5) / n) for k in range(n)])


def _normal_scores(ys: np.ndarray) -> np.ndarray:
    """The normal scores of ``ys``' ranks; equal values share the mean of their ranks' scores
    (a plateau, or runs clipped to the same value, carry no order for the model to fit)."""
    _, group, count = np.unique(ys, return_inverse=True, return_counts=True)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return (np.add.reduceat(_score_table(len(ys)), start) / count)[group.ravel()]


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def _matern52(r: np.ndarray, e: np.ndarray | None = None) -> np.ndarray:
    """Matérn 5/2 of ``r = sqrt(5) * distance / length scale`` (``e``: ``exp(-r)`` if known)."""
    out = r * r
    out *= 1.0 / 3.0
    out += r
    out += 1.0
    out *= np.exp(-r) if e is None else e
    return out


def _fit(r_xx: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray] | None:
    """The length scale of ``LENGTH_SCALES`` with the largest marginal likelihood of ``y`` and
    its kernel matrix (noise included), from ``r_xx = sqrt(5) * distances``; None if no kernel
    matrix factors. All scales are factored and solved in one stacked call each."""
    m = len(y)
    scales = np.array(LENGTH_SCALES)
    r = r_xx[None, :, :] / scales[:, None, None]
    # exp(-r / s) is the square of exp(-r / 2s): one exp for a run of doubling scales
    e = np.empty_like(r)
    for i in range(len(scales) - 1, -1, -1):
        if i + 1 < len(scales) and scales[i + 1] == 2.0 * scales[i]:
            np.multiply(e[i + 1], e[i + 1], out=e[i])
        else:
            np.exp(-r[i], out=e[i])
    k = _matern52(r, e)
    k[:, np.arange(m), np.arange(m)] += NOISE
    try:
        chol = np.linalg.cholesky(k)
    except np.linalg.LinAlgError:  # a scale does not factor: fit the others
        ok = []
        for i in range(len(scales)):
            try:
                ok.append((i, np.linalg.cholesky(k[i])))
            except np.linalg.LinAlgError:
                continue
        if not ok:
            return None
        idx = np.array([i for i, _ in ok])
        k, scales, chol = k[idx], scales[idx], np.stack([c for _, c in ok])
    alpha = np.linalg.solve(k, np.broadcast_to(y[:, None], (len(k), m, 1)))[:, :, 0]
    logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    evidence = -0.5 * (alpha @ y) - logdet
    best = int(np.argmax(evidence))  # the first of equals, the shortest scale
    return float(scales[best]), k[best]


def place(
    space: Space,
    box: Box,
    units: np.ndarray,
    ys: np.ndarray,
    sampler: Sampler,
    seed: int,
    n: int,
) -> np.ndarray:
    """``n`` rows in box coordinates (for ``into_box``) chosen by Thompson sampling of a Gaussian
    process fitted to the region's trials (``units``, minimised ``ys``) near the incumbent."""
    dims = space.coordinate_dims
    n_cand = max(CANDIDATES, 2 * n)
    cand = sampler.points(dims, derive_seed(seed, "candidates"), 0, n_cand, n_cand)
    cand_unit = into_box(space, box, cand)
    numeric = [not isinstance(space[name], Choice) for name in space.names]
    lo = np.array(
        [box[name][0] if num else 0.0 for name, num in zip(space.names, numeric, strict=True)]
    )
    side = np.array([box[name][1] - box[name][0] if num else 1.0
                     for name, num in zip(space.names, numeric, strict=True)])  # fmt: skip
    side = np.maximum(side, 1e-9)
    centre = units[int(np.argmin(ys))]
    near = np.argsort(np.abs((units - centre) / side).max(axis=1), kind="stable")[:NEIGHBOURS]
    x = (units[near] - lo) / side
    y = _normal_scores(ys[near])
    xc = (cand_unit - lo) / side
    fit = _fit(np.sqrt(5.0 * _sq_dist(x, x)), y)
    if fit is None:  # no model: the first n candidates, a plain design of the box
        return cand[:n]
    scale, k = fit
    rng = np.random.default_rng(derive_seed(seed, "thompson"))
    ks = _matern52(np.sqrt(5.0 * _sq_dist(x, xc)) / scale)
    # one inverse (at most NEIGHBOURS square) serves the mean and every candidate's variance,
    # cheaper than a solve with CANDIDATES right-hand sides; its product with the candidates'
    # kernel is taken BLOCK columns at a time (see BLOCK)
    k_inv = np.linalg.inv(k)
    solved = np.concatenate(
        [k_inv @ ks[:, i : i + BLOCK] for i in range(0, ks.shape[1], BLOCK)], axis=1
    )
    mean = ks.T @ (k_inv @ y)
    sd = np.sqrt(np.maximum(1.0 - (ks * solved).sum(0), 1e-12))
    # the joint draw is over the candidates a draw could plausibly make lowest: the FINALISTS
    # with the lowest mean - 2 sd (a cheap cut: the draw's cost grows as their number cubed)
    keep = np.sort(np.argsort(mean - 2.0 * sd, kind="stable")[: max(FINALISTS, n)])
    xk = xc[keep]
    cov = _matern52(np.sqrt(5.0 * _sq_dist(xk, xk)) / scale) - ks[:, keep].T @ solved[:, keep]
    cov[np.arange(len(keep)), np.arange(len(keep))] += 1e-6
    mean = mean[keep]
    cand = cand[keep]
    try:
        root = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(cov)
        root = eigvec * np.sqrt(np.maximum(eigval, 0.0))
    draws = mean[:, None] + root @ rng.standard_normal((len(keep), n))
    chosen: list[int] = []
    for j in range(n):
        for i in np.argsort(draws[:, j], kind="stable"):
            if int(i) not in chosen:
                chosen.append(int(i))
                break
    return cand[chosen]
