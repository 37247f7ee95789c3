"""Importance: first-order variance shares against analytically known values."""

import numpy as np
import pytest

from bntune import tune
from tune_helpers import needs_qmc


def _product_grid(levels, d):
    axes = np.meshgrid(*[(np.arange(levels) + 0.5) / levels] * d, indexing="ij")
    return np.stack([a.ravel() for a in axes], axis=1)


def test_shares_of_a_linear_function_match_the_analytic_values_on_an_even_design():
    # f = x1 + 0.5 x2 + 0 x3, x uniform: Var = 1/12 + 1/48, shares 0.8, 0.2, 0. On a 16^3
    # product grid of cell centres the conditional means are exact.
    u = _product_grid(16, 3)
    f = u[:, 0] + 0.5 * u[:, 1]
    shares = tune.first_order_shares(u, f, ["x1", "x2", "x3"], bins=16)
    assert list(shares) == ["x1", "x2", "x3"]
    assert shares["x1"] == pytest.approx(0.8, abs=1e-12)
    assert shares["x2"] == pytest.approx(0.2, abs=1e-12)
    assert shares["x3"] == pytest.approx(0.0, abs=1e-12)


def test_shares_on_independent_random_points_within_sampling_error():
    # iid points: each share is off by its sampling error (~0.006 at n = 16384) plus the
    # documented (B - 1) / n noise bias (~0.004 at B = 64)
    u = np.random.default_rng(0).random((16384, 3))
    f = u[:, 0] + 0.5 * u[:, 1]
    shares = tune.first_order_shares(u, f, ["x1", "x2", "x3"])
    assert shares["x1"] == pytest.approx(0.8, abs=0.02)
    assert shares["x2"] == pytest.approx(0.2, abs=0.02)
    assert shares["x3"] == pytest.approx(0.0, abs=0.01)


def test_shares_leave_out_the_interaction():
    # with c = x - 1/2: f = c1 c2 has no first-order effect; g = c1 + c1 c2 has
    # Var c1 = 1/12, Var c1 c2 = 1/144, so the share of x1 is 12/13 and of x2 0
    u = _product_grid(32, 2)
    c = u - 0.5
    shares = tune.first_order_shares(u, c[:, 0] * c[:, 1], ["a", "b"], bins=32)
    assert max(shares.values()) == pytest.approx(0.0, abs=1e-12)
    shares = tune.first_order_shares(u, c[:, 0] + c[:, 0] * c[:, 1], ["a", "b"], bins=32)
    # the grid's variances: Var c1 = (1/12)(1 - 1/32^2), Var c1 c2 = Var c1^2
    v = (1 / 12) * (1 - 1 / 32**2)
    assert shares["a"] == pytest.approx(v / (v + v * v), rel=1e-12)
    assert shares["b"] == pytest.approx(0.0, abs=1e-12)


@needs_qmc
def test_study_importance_uses_the_global_round_on_the_right_scale():
    # lr enters through its log: f = (log10(lr) + 4) / 4 + 0.5 x2 on LogUniform(1e-4, 1) is
    # u1 + 0.5 u2 in unit space: shares 0.8, 0.2, 0
    space = tune.Space(
        lr=tune.LogUniform(1e-4, 1.0), x2=tune.Uniform(0, 1), dummy=tune.IntUniform(1, 5)
    )
    study = tune.Study("imp", seed=0)

    def f(t):
        return float((np.log10(t.params["lr"]) + 4) / 4 + 0.5 * t.params["x2"])

    study.optimize(f, space, n_trials=512)
    # later rounds zoom in and are not uniform: importance leaves them out
    study.coarse_to_fine(f, space, rounds=2, trials_per_round=64)
    shares = study.importance()
    assert list(shares) == ["lr", "x2", "dummy"]
    assert shares["lr"] == pytest.approx(0.8, abs=0.02)
    assert shares["x2"] == pytest.approx(0.2, abs=0.02)
    assert shares["dummy"] == pytest.approx(0.0, abs=0.02)


def test_importance_input_errors():
    with pytest.raises(ValueError, match="shape"):
        tune.first_order_shares(np.zeros((10, 2)), np.zeros(10), ["a"])
    with pytest.raises(ValueError, match="more complete trials"):
        tune.first_order_shares(np.zeros((2, 1)), np.zeros(2), ["a"], bins=4)
    with pytest.raises(ValueError, match="no complete trial"):
        tune.Study("e").importance()
