"""Which hyperparameters mattered: first-order variance shares from binned conditional means.

For each dimension i, the unit interval is cut into B equal bins; the objective's mean within
each bin estimates E[f | x_i], and the share of dimension i is

    S_i = Var_b(mean_b f) / Var(f)

(the bin variance weighted by bin counts: the correlation ratio eta²). For f = x1 + 0.5 x2 + 0 x3
with uniform x this gives 0.8, 0.2 and 0, up to a bias of order 1/B² from the binning and the
noise of the bin means. That noise is small for a quasi-random design, whose points fill every
bin evenly in each dimension; with independent random points it adds about (B - 1) / n to each
share. Shares are first-order: they sum to at most 1, the rest being interactions. The estimate
needs a design that is uniform over the whole cube, so the study uses its global round (round 1)
only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bntune.tune.study import Study


def first_order_shares(
    units: np.ndarray, values: np.ndarray, names: Sequence[str], *, bins: int | None = None
) -> dict[str, float]:
    """name -> first-order share of the variance of ``values``, largest first.

    Args:
        units: (n, d) unit-cube coordinates of the trials.
        values: (n,) objective values.
        names: d dimension names.
        bins: bins per dimension; default ``clip(round(sqrt(n / 4)), 2, 32)``.
    """
    units = np.asarray(units, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    if units.ndim != 2 or units.shape != (n, len(names)):
        raise ValueError(f"units must have shape ({n}, {len(names)}), got {units.shape}")
    if bins is None:
        bins = int(np.clip(round(np.sqrt(n / 4)), 2, 32))
    if not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    if n <= bins:
        raise ValueError(f"importance needs more complete trials than bins ({bins}), got {n}")
    centred = values - values.mean()
    total = float(np.dot(centred, centred))
    shares: dict[str, float] = {}
    for j, name in enumerate(names):
        if total == 0.0:
            shares[name] = 0.0
            continue
        cell = np.minimum((units[:, j] * bins).astype(np.int64), bins - 1)
        counts = np.bincount(cell, minlength=bins)
        sums = np.bincount(cell, weights=centred, minlength=bins)
        filled = counts > 0
        between = float(np.sum(sums[filled] ** 2 / counts[filled]))
        shares[name] = between / total
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def study_importance(study: Study, *, bins: int | None = None) -> dict[str, float]:
    """First-order shares from the study's complete round-1 trials (those of its latest space)."""
    trials = [t for t in study._trials if t.state == "complete" and t.round == 1]
    if not trials:
        raise ValueError(f"Study {study.name!r} has no complete trial in its global round")
    names = list(trials[-1].unit)
    trials = [t for t in trials if list(t.unit) == names]
    units = np.array([[t.unit[n] for n in names] for t in trials], dtype=np.float64)
    values = np.array([t.value for t in trials], dtype=np.float64)
    return first_order_shares(units.reshape(len(trials), len(names)), values, names, bins=bins)
