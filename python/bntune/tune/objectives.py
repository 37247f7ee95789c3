"""Several objectives: a study with ``directions=["minimize", "maximize", ...]``.

The objective returns one number per direction; a trial's ``values`` keeps them (its ``value``
stays None). There is no single best trial: ``study.best_trials`` is the Pareto front, the
complete trials no other complete trial dominates (at least as good in every objective and
better in one). Coarse-to-fine's zoom rule zooms around the best ranks of non-dominated sorting;
its adaptive method follows one ParEGO scalarisation a round (``chebyshev``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bntune.tune.trial import FrozenTrial

DIRECTIONS = ("minimize", "maximize")


def stored_direction(direction: object, directions: object) -> str | None:
    """The study's direction as stored ("minimize", or "minimize,maximize" for several), None
    when neither is given; ValueError naming the argument for anything else."""
    if directions is None:
        if direction not in (None, *DIRECTIONS):
            raise ValueError(
                f"Study: direction must be 'minimize', 'maximize' or None, got {direction!r}"
            )
        return direction  # type: ignore[return-value]
    if direction is not None:
        raise ValueError("Study: give direction (one objective) or directions (several), not both")
    items = list(directions) if isinstance(directions, list | tuple) else None
    if not items or len(items) < 2 or any(d not in DIRECTIONS for d in items):
        raise ValueError(
            f"Study: directions must be a list of two or more of 'minimize' and 'maximize', got "
            f"{directions!r} (one objective: direction=...)"
        )
    return ",".join(items)


def judge_values(
    value: object, directions: Sequence[str]
) -> tuple[str, list[float] | None, str | None]:
    """(state, values, error) of a trial of a study with several objectives."""
    if not isinstance(value, list | tuple):
        return (
            "failed",
            None,
            (
                f"objective returned {value!r}; the study has {len(directions)} objectives "
                f"(directions={list(directions)}): return one number per direction"
            ),
        )
    if len(value) != len(directions):
        return (
            "failed",
            None,
            (
                f"objective returned {len(value)} values; the study has {len(directions)} "
                f"objectives (directions={list(directions)})"
            ),
        )
    numbers = []
    for v in value:
        if not hasattr(v, "__float__"):  # a bool counts as 0 or 1, as in judge
            return "failed", None, f"objective returned {value!r}: {v!r} is not a real number"
        numbers.append(float(v))
    if not all(math.isfinite(v) for v in numbers):
        return "diverged", None, f"objective returned {value!r}"
    return "complete", numbers, None


def _signs(directions: Sequence[str]) -> list[float]:
    return [1.0 if d == "minimize" else -1.0 for d in directions]


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether values ``a`` dominate ``b``: at least as good in every objective, better in one."""
    signs = _signs(directions)
    no_worse = all(s * x <= s * y for s, x, y in zip(signs, a, b, strict=True))
    return no_worse and any(s * x < s * y for s, x, y in zip(signs, a, b, strict=True))


def ranked(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> list[list[FrozenTrial]]:
    """The complete trials in fronts of non-dominated sorting: the Pareto front first, then the
    front of what is left, and so on (each front in order of number)."""
    left = [t for t in trials if t.state == "complete" and t.values is not None]
    fronts = []
    while left:
        front = [
            t for t in left if not any(dominates(o.values, t.values, directions) for o in left)
        ]
        fronts.append(front)
        chosen = {id(t) for t in front}
        left = [t for t in left if id(t) not in chosen]
    return fronts


def pareto_front(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    """The complete trials no other complete trial dominates, in order of number."""
    fronts = ranked(trials, directions)
    return fronts[0] if fronts else []


def best_by_rank(
    trials: Sequence[FrozenTrial], directions: Sequence[str], count: int
) -> list[FrozenTrial]:
    """The ``count`` best trials by non-dominated rank (whole fronts first; the last front cut
    in order of number)."""
    out: list[FrozenTrial] = []
    for front in ranked(trials, directions):
        out.extend(front[: count - len(out)])
        if len(out) >= count:
            break
    return out


def values_of(trial: FrozenTrial) -> Any:
    """The trial's objective values (several), or its value (one)."""
    return trial.values if trial.values is not None else trial.value


#: ParEGO's weight of the sum in the augmented Chebyshev scalarisation
CHEBYSHEV_RHO = 0.05


def signs(directions: Sequence[str]) -> np.ndarray:
    """Per objective, the factor that makes it minimised: 1 for "minimize", -1 for "maximize"."""
    return np.array(_signs(directions))


def simplex_weights(k: int, seed: int) -> np.ndarray:
    """``k`` weights drawn uniformly from the simplex (they are positive and sum to 1): ``k``
    standard exponentials over their sum, from ``seed``."""
    draws = np.random.default_rng(seed).standard_exponential(k)
    return draws / draws.sum()


def chebyshev(minimised: np.ndarray, weights: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarisation (Knowles, "ParEGO: a hybrid algorithm with
    on-line landscape approximation for expensive multiobjective optimization problems", IEEE
    Trans. Evol. Comput. 10(1), 2006) of the rows of ``minimised`` (one column per objective,
    each to be minimised): ``max_i(w_i f_i) + rho * sum_i(w_i f_i)`` with ``rho`` 0.05, each
    objective first scaled to [0, 1] by the least and greatest value it takes in the rows of
    ``basis`` (a constant objective by 1). Smaller is better; a point on the Pareto front is
    the best of all points for some weights."""
    lo = basis.min(axis=0)
    span = basis.max(axis=0) - lo
    scaled = (minimised - lo) / np.where(span > 0.0, span, 1.0)
    weighted = scaled * weights
    return weighted.max(axis=1) + CHEBYSHEV_RHO * weighted.sum(axis=1)
