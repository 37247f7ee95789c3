"""Which hyperparameters mattered: first-order variance shares from an additive fit.

Each trial is a point u in the unit cube (every dimension on its own scale: log, 1 - beta, ...)
with its objective value y. The objective is approximated by an additive model

    f(u) ~ a_0 + sum_i g_i(u_i),    g_i(u) = sum_{k=1..K} a_ik phi_k(u),
    phi_k(u) = sqrt(2k + 1) P_k(2u - 1)

(shifted Legendre polynomials, orthonormal under the uniform distribution on [0, 1):
E phi_k = 0, E phi_k phi_l = [k = l]), fitted by least squares to the n trials: coefficients â,
residual variance s² = SSR / (n - rank X), and C = (X^T X)^+ for the design matrix X.

Over the whole search space (the uniform distribution on the cube) the components are
uncorrelated and g_i has variance sum_k a_ik². Each â_ik² overestimates a_ik² by its variance
s² C_(ik,ik), so dimension i gets

    V_i = max(0, sum_k (â_ik² - s² C_(ik,ik)))

and s² stands for everything the additive model leaves unexplained (interactions, higher
degrees, noise). The share of dimension i is

    S_i = V_i / (sum_j V_j + s²)        (all 0 when the denominator is 0)

so every share is in [0, 1] and the shares sum to 1 - s² / (sum_j V_j + s²) <= 1: what is left
is the part no single hyperparameter explains. When f's main effects are polynomials of degree
<= K the estimate is exact (f = u1 + 0.5 u2 + 0 u3 gives 0.8, 0.2, 0 from any design that
determines the fit); otherwise the misfit counts as unexplained. Least squares does not need a
uniform design, so a study uses all its complete trials, coarse-to-fine's zoomed rounds included:
points packed into a box refine the fit there instead of biasing it, as binned means would.

Degree K: the largest K <= 3 with n >= 2 (1 + d K), two trials per coefficient; fewer than
2 (1 + d) trials is too few for a ranking (ValueError). A categorical dimension enters through its
option index in unit space (options in the order given), like every other dimension.

Conditional parameters (a branch's own, or any define-by-run parameter some trials did not
suggest) take part only where they were used: dimension i's columns are
``phi_k(u_i) * active_i``, zero in the trials that did not use it, so its coefficients are fitted
on the trials that did, and no trial where it was absent moves them. Its main effect exists only
on the fraction p_i of the space where it is active (the share of trials that used it), so

    V_i = p_i * max(0, sum_k (â_ik² - s² C_(ik,ik)))

(p_i = 1 for a parameter every trial used: the formula above). Whether a branch is taken at all
is the choosing parameter's own effect.

A parameter that took one value in every trial used (a single-value range such as
``suggest_int("n", 3, 3)``, whose coordinate varies while its value does not) explains nothing:
its share is 0 and it is left out of the fit.

Several objectives: the shares of each objective are computed alone (``objective=k``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.polynomial import legendre

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial

#: highest polynomial degree of a main effect
MAX_DEGREE = 3


def default_degree(n: int, d: int) -> int:
    """The largest degree K <= :data:`MAX_DEGREE` with n >= 2 (1 + d K); 0 when even K = 1 needs
    more trials."""
    if d == 0:
        return MAX_DEGREE
    return int(min(MAX_DEGREE, max(0, (n // 2 - 1) // d)))


def _basis(u: np.ndarray, degree: int) -> np.ndarray:
    """(n, degree) values of phi_1 .. phi_degree at u in [0, 1]."""
    scale = np.sqrt(2.0 * np.arange(1, degree + 1) + 1.0)
    return legendre.legvander(2.0 * u - 1.0, degree)[:, 1:] * scale


def first_order_shares(
    units: np.ndarray, values: np.ndarray, names: Sequence[str], *, degree: int | None = None
) -> dict[str, float]:
    """name -> first-order share of the objective's variance, largest first (see the module's
    docstring for the formula: non-negative shares that sum to at most 1).

    Args:
        units: (n, d) unit-cube coordinates of the trials, in [0, 1]; NaN where a trial did
            not use the dimension (a conditional parameter).
        values: (n,) finite objective values.
        names: d dimension names.
        degree: polynomial degree of each main effect (1 = linear); default: the largest
            <= 3 with at least two trials per coefficient.
    """
    units = np.asarray(units, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    n, d = values.shape[0], len(names)
    if units.ndim != 2 or units.shape != (n, d):
        raise ValueError(f"units must have shape ({n}, {d}), got {units.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite (leave failed and diverged trials out)")
    active = ~np.isnan(units)
    used = units[active]
    if used.size and not (used.min() >= 0.0 and used.max() <= 1.0):
        raise ValueError(
            f"units must lie in the unit cube [0, 1] (NaN: not used), got values in "
            f"[{used.min():.6g}, {used.max():.6g}]"
        )
    if degree is None:
        degree = default_degree(n, d)
        if degree < 1:
            raise ValueError(
                f"importance needs at least {2 * (1 + d)} complete trials for {d} dimensions "
                f"(two per coefficient of a linear fit), got {n}"
            )
    elif isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    n_coef = 1 + d * degree
    if n <= n_coef:
        raise ValueError(
            f"importance needs more complete trials than coefficients ({n_coef} for {d} "
            f"dimensions at degree {degree}), got {n}"
        )
    design = np.empty((n, n_coef))
    design[:, 0] = 1.0
    for j in range(d):
        # a trial that did not use dimension j gives its columns 0 (see the module docstring)
        columns = _basis(np.where(active[:, j], units[:, j], 0.5), degree) * active[:, j, None]
        design[:, 1 + j * degree : 1 + (j + 1) * degree] = columns
    pinv = np.linalg.pinv(design)
    coef = pinv @ values
    residual = values - design @ coef
    rank = int(np.linalg.matrix_rank(design))
    s2 = float(residual @ residual) / (n - rank)
    # diag((X^T X)^+) = squared row norms of X^+
    coef_var = s2 * np.einsum("ij,ij->i", pinv, pinv)
    parts = np.maximum(0.0, (coef**2 - coef_var)[1:].reshape(d, degree).sum(axis=1))
    parts *= active.mean(axis=0)  # p_i: the share of trials that used it
    total = float(parts.sum()) + s2
    shares = {
        name: (float(v) / total if total > 0.0 else 0.0)
        for name, v in zip(names, parts, strict=True)
    }
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def study_importance(
    trials: Sequence[FrozenTrial],
    study_name: str,
    *,
    degree: int | None = None,
    objective: int | None = None,
    suggested: Collection[str] = (),
) -> dict[str, float]:
    """First-order shares from every complete trial of the study's latest space, whatever its
    round: the value's, or with several objectives the values' ``objective``-th.

    The latest space is that of the last complete trial with unit coordinates. When it defines
    its parameters as it runs (all are among ``suggested``, the names the study's define-by-run
    trials suggested), it is every complete trial of that kind, and each parameter counts only
    in the trials that used it (see the module docstring). Otherwise it is the dimensions of
    that trial, and only trials with exactly those coordinates count: a babysat trial (panda)
    has none and is left out, and so is a trial of another space. A space whose every dimension
    is fixed has no coordinates: its ranking is empty. Too few trials for a fit raise ValueError
    saying how many were used and how many were left out."""

    def value(t: FrozenTrial) -> float | None:
        if objective is None:
            return t.value
        return None if t.values is None else t.values[objective]

    done = [t for t in trials if t.state == "complete" and value(t) is not None]
    if not done:
        raise ValueError(f"Study {study_name!r} has no complete trial")
    sampled = [t for t in done if t.unit]
    if not sampled:
        return {}  # no dimension was sampled: nothing to rank
    known = set(suggested)
    if set(sampled[-1].unit) <= known:  # define by run: each parameter where it was used
        used = [t for t in sampled if set(t.unit) <= known]
        names = sorted({n for t in used for n in t.unit})
    else:
        names = list(sampled[-1].unit)
        used = [t for t in done if list(t.unit) == names]
    used = [t for t in used if all(0.0 <= u <= 1.0 for u in t.unit.values())]
    constant = {n: 0.0 for n in names if _one_value(used, n)}
    if constant:
        names = [n for n in names if n not in constant]
        if not names:
            return constant
    units = np.array([[t.unit.get(n, np.nan) for n in names] for t in used], dtype=np.float64)
    values = np.array([value(t) for t in used], dtype=np.float64)
    try:
        shares = first_order_shares(units.reshape(len(used), len(names)), values, names,
                                    degree=degree)  # fmt: skip
        return {**shares, **constant}
    except ValueError as err:
        left_out = len(done) - len(used)
        if not left_out:
            raise
        raise ValueError(
            f"{err}; {left_out} complete trial{'' if left_out == 1 else 's'} of study "
            f"{study_name!r} left out: babysat or from another space, without the unit "
            f"coordinates of {', '.join(names)}"
        ) from None


def _one_value(trials: Sequence[FrozenTrial], name: str) -> bool:
    """Whether every trial that used ``name`` gave it the same value (it explains nothing)."""
    seen = {json.dumps(t.params.get(name), sort_keys=True, default=repr)
            for t in trials if name in t.unit}  # fmt: skip
    return len(seen) <= 1
