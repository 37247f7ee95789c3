"""Coarse to fine: search the whole box, zoom into the region of the best points, repeat.

Round 1 samples the whole unit cube. Each later round:

1. takes the best ``top`` fraction (default 0.05, at least one trial) of all complete trials of
   the run so far — with 15 trials per round that is the best 1, then 2, then 3 trials;
2. per numeric dimension, forms the interval in unit space that covers them, pads it by
   ``PAD`` (0.1) of the previous round's width on each side, and widens it about its centre to
   at least ``shrink`` (default 0.5) times the previous width; then shifts it back inside
   [0, 1] (clipping only if it is wider than the cube);
3. per categorical dimension, keeps the options the best trials used;
4. samples that box with a fresh stream of ``sampler`` (seeded by the study's seed and the round).

The defaults (top=0.05, shrink=0.5, PAD=0.1) were chosen on development seeds of
``benches/compare_tuners.py`` (Hartmann-6, Branin, a deep-log-scale basin; 4 rounds x 15 trials)
before measuring on the benchmark's own seeds.

Because the box lives in unit space, a log-scale or 1 - beta dimension zooms by decades. Each
trial records its round and the boxes are stored: ``study.boxes``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from bntune.tune.dimensions import Choice
from bntune.tune.samplers import derive_seed
from bntune.tune.space import Space

if TYPE_CHECKING:
    from bntune.tune.executors import WorkPool
    from bntune.tune.study import Box, Study
    from bntune.tune.trial import FrozenTrial, Trial

#: padding on each side of the best trials' interval, as a fraction of the previous width
PAD = 0.1


def full_box(space: Space) -> Box:
    """The whole unit cube: [0, 1] per numeric dimension, every option per categorical one."""
    box: Box = {}
    for name in space.names:
        dim = space[name]
        box[name] = list(range(len(dim.options))) if isinstance(dim, Choice) else [0.0, 1.0]
    return box


def next_box(
    space: Space, box: Box, best: list[FrozenTrial], *, shrink: float, pad: float | None = None
) -> Box:
    """The box of the next round from the previous ``box`` and the ``best`` trials (``pad``:
    default ``PAD``)."""
    pad = PAD if pad is None else pad
    if not best:
        return box
    new: Box = {}
    for name in space.names:
        dim = space[name]
        if isinstance(dim, Choice):
            new[name] = sorted({dim.index(t.params[name]) for t in best})
            continue
        lo_prev, hi_prev = box[name]
        width = hi_prev - lo_prev
        us = [t.unit[name] for t in best]
        lo, hi = min(us) - pad * width, max(us) + pad * width
        if hi - lo < shrink * width:
            centre = 0.5 * (lo + hi)
            lo, hi = centre - 0.5 * shrink * width, centre + 0.5 * shrink * width
        if lo < 0.0:
            lo, hi = 0.0, hi - lo
        if hi > 1.0:
            lo, hi = max(0.0, lo - (hi - 1.0)), 1.0
        new[name] = [lo, hi]
    return new


def into_box(space: Space, box: Box, points: np.ndarray) -> np.ndarray:
    """Maps unit-cube ``points`` into ``box``: affinely for numeric dimensions; for categorical
    ones onto the centre of a kept option's cell, each kept option equally likely."""
    out = np.array(points, dtype=np.float64, copy=True)
    for j, name in enumerate(space.names):
        dim = space[name]
        if isinstance(dim, Choice):
            kept = box[name]
            pick = np.minimum((out[:, j] * len(kept)).astype(np.int64), len(kept) - 1)
            out[:, j] = (np.asarray(kept, dtype=np.float64)[pick] + 0.5) / len(dim.options)
        else:
            lo, hi = box[name]
            # stay strictly below 1 so from_unit never sees the closed end
            out[:, j] = np.minimum(lo + out[:, j] * (hi - lo), math.nextafter(1.0, 0.0))
    return out


def run(
    study: Study,
    objective: Callable[[Trial], float],
    space: Space,
    *,
    rounds: int,
    trials_per_round: int,
    top: float,
    shrink: float,
    sampler: str,
    catch: tuple[type[BaseException], ...],
    pool: WorkPool | None = None,
) -> None:
    """The rounds of ``study.coarse_to_fine`` (arguments checked there, except these two).
    With a ``pool``, each round's trials run on its workers; a round ends when all its trials
    have, so the next box (and so every configuration) is the same as in a serial run."""
    if not (isinstance(top, int | float) and 0.0 < top <= 1.0):
        raise ValueError(f"top must be a fraction in (0, 1], got {top!r}")
    if not (isinstance(shrink, int | float) and 0.0 < shrink <= 1.0):
        raise ValueError(f"shrink must be a fraction in (0, 1], got {shrink!r}")
    if sampler == "grid":
        raise ValueError(
            "coarse_to_fine samples boxes with a fresh stream; use sobol, halton, "
            "lhs or random, got sampler='grid'"
        )
    run_key = f"c2f:{sampler}:{trials_per_round}:{top}:{shrink}:{space.key}"
    stored = _stored_boxes(study, run_key)
    box = full_box(space)
    for r in range(1, rounds + 1):
        if r in stored:
            box = stored[r]
        else:
            if r > 1:
                box = next_box(space, box, _best(study, run_key, top), shrink=shrink)
            _store_box(study, run_key, r, box)
        stream = f"{run_key}:r{r}"
        seed = derive_seed(study.seed, stream)
        if pool is not None:
            from bntune.tune import parallel

            parallel.optimize(
                study,
                objective,
                space,
                sampler,
                stream,
                trials_per_round,
                catch,
                pool,
                seed=seed,
                round_=r,
                box=box if r > 1 else None,
            )
            continue
        study._run_stream(
            objective,
            space,
            sampler,
            stream,
            seed,
            r,
            trials_per_round,
            box if r > 1 else None,
            catch,
        )


def _best(study: Study, run_key: str, top: float) -> list[FrozenTrial]:
    prefix = run_key + ":r"
    done = [t for t in study._trials if t.state == "complete" and t.stream.startswith(prefix)]
    done.sort(key=lambda t: t.value if study.direction == "minimize" else -t.value)  # type: ignore[operator]
    return done[: max(1, math.ceil(top * len(done)))] if done else []


def _store_box(study: Study, run_key: str, round_: int, box: Box) -> None:
    study._conn.execute(
        "INSERT OR REPLACE INTO boxes (study_id, stream, round, box) VALUES (?, ?, ?, ?)",
        (study._id, run_key, round_, json.dumps(box)),
    )


def _stored_boxes(study: Study, run_key: str) -> dict[int, Box]:
    rows = study._conn.execute(
        "SELECT round, box FROM boxes WHERE study_id = ? AND stream = ? ORDER BY round",
        (study._id, run_key),
    )
    return {r: json.loads(b) for r, b in rows}


def load_boxes(study: Study) -> dict[int, Box]:
    """The boxes per round of the study's latest coarse-to-fine run ({} if none)."""
    row = study._conn.execute(
        "SELECT stream FROM boxes WHERE study_id = ? ORDER BY rowid DESC LIMIT 1", (study._id,)
    ).fetchone()
    return {} if row is None else _stored_boxes(study, row[0])
