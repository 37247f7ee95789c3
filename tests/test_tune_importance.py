"""Importance: first-order variance shares against analytically known values (Var of each main
effect under the uniform distribution, computed by hand), and their bounds."""

import numpy as np
import pytest

from bntune import tune
from modes_helpers import Curve
from tune_helpers import needs_qmc


def _product_grid(levels, d):
    axes = np.meshgrid(*[(np.arange(levels) + 0.5) / levels] * d, indexing="ij")
    return np.stack([a.ravel() for a in axes], axis=1)


def test_shares_of_a_linear_function_match_the_analytic_values_on_an_even_design():
    # f = x1 + 0.5 x2 + 0 x3, x uniform: Var = 1/12 + 1/48, shares 0.8, 0.2, 0. The main effects
    # are polynomials the fit represents exactly.
    u = _product_grid(16, 3)
    f = u[:, 0] + 0.5 * u[:, 1]
    shares = tune.first_order_shares(u, f, ["x1", "x2", "x3"])
    assert list(shares) == ["x1", "x2", "x3"]
    assert shares["x1"] == pytest.approx(0.8, abs=1e-12)
    assert shares["x2"] == pytest.approx(0.2, abs=1e-12)
    assert shares["x3"] == pytest.approx(0.0, abs=1e-12)


def test_shares_on_independent_random_points_within_sampling_error():
    # iid points and an exact model: the shares are exact whatever the design
    u = np.random.default_rng(0).random((16384, 3))
    f = u[:, 0] + 0.5 * u[:, 1]
    shares = tune.first_order_shares(u, f, ["x1", "x2", "x3"])
    assert shares["x1"] == pytest.approx(0.8, abs=1e-9)
    assert shares["x2"] == pytest.approx(0.2, abs=1e-9)
    assert shares["x3"] == pytest.approx(0.0, abs=1e-9)


def test_shares_leave_out_the_interaction():
    # with c = x - 1/2: f = c1 c2 has no first-order effect; g = c1 + c1 c2 has
    # Var c1 = 1/12 and an interaction the additive fit leaves in the residual: on the 32^2
    # grid the residual's mean square is v^2 with v = (1/12)(1 - 1/32^2), divided by n - 7
    # degrees of freedom (7 coefficients at degree 3), so x1's share is
    # (1/12) / (1/12 + v^2 n / (n - 7)), about 12/13, and x2's is 0
    u = _product_grid(32, 2)
    c = u - 0.5
    shares = tune.first_order_shares(u, c[:, 0] * c[:, 1], ["a", "b"])
    assert max(shares.values()) == pytest.approx(0.0, abs=1e-12)
    shares = tune.first_order_shares(u, c[:, 0] + c[:, 0] * c[:, 1], ["a", "b"])
    n, v = 32**2, (1 / 12) * (1 - 1 / 32**2)
    # the coefficients' own variance correction is v^2 / (n - 7) ~ 5e-6 of 1/12: inside abs=1e-4
    assert shares["a"] == pytest.approx((1 / 12) / (1 / 12 + v * v * n / (n - 7)), abs=1e-4)
    assert shares["b"] == pytest.approx(0.0, abs=1e-12)


def test_an_objective_of_one_dimension_gets_all_its_explainable_share():
    # f = |2 u1 - 1| depends on u1 only: its whole variance (1/12) is first-order. A polynomial
    # main effect of degree <= 3 explains 5/64 of it (the projection of |x| on P2 is 5/8 P2,
    # of variance (5/8)^2 / 5; P1 and P3 are odd), the rest is the fit's residual, so u1's
    # share is (5/64) / (1/12) = 15/16 and the three dummies get ~0.
    u = np.random.default_rng(1).random((600, 4))
    f = np.abs(2 * u[:, 0] - 1)
    shares = tune.first_order_shares(u, f, ["lr", "d1", "d2", "d3"])
    assert next(iter(shares)) == "lr"
    assert shares["lr"] == pytest.approx(15 / 16, abs=0.01)
    for name in ("d1", "d2", "d3"):
        assert 0.0 <= shares[name] <= 0.005
    # a quadratic one-dimensional objective is represented exactly: all the share
    g = (4 * u[:, 2] - 2) ** 2
    shares = tune.first_order_shares(u, g, ["a", "b", "c", "d"])
    assert shares["c"] == pytest.approx(1.0, abs=1e-9)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)


def test_a_dense_box_of_extra_points_does_not_bias_the_shares():
    # f = u1^2 + 0.5 u2: Var u^2 = 1/5 - 1/9 = 4/45, Var 0.5 u = 1/48. 40 uniform points plus
    # 200 packed in a small box (as coarse-to-fine rounds pack them) give the same shares.
    rng = np.random.default_rng(2)
    u = np.vstack([rng.random((40, 3)), 0.6 + 0.05 * rng.random((200, 3))])
    f = u[:, 0] ** 2 + 0.5 * u[:, 1]
    shares = tune.first_order_shares(u, f, ["a", "b", "c"])
    va, vb = 4 / 45, 1 / 48
    assert shares["a"] == pytest.approx(va / (va + vb), abs=1e-9)
    assert shares["b"] == pytest.approx(vb / (va + vb), abs=1e-9)
    assert shares["c"] == pytest.approx(0.0, abs=1e-9)


def test_shares_are_non_negative_and_sum_to_at_most_one_on_small_noisy_studies():
    # the demo's situation: 6 dimensions, a few dozen trials, heavy-tailed values (diverging
    # learning rates); binned conditional means summed to more than 1 here
    rng = np.random.default_rng(3)
    for n in (14, 20, 36, 60):
        for _ in range(50):
            u = rng.random((n, 6))
            y = np.exp(3 * rng.standard_normal(n)) + 2 * u[:, 0]
            shares = tune.first_order_shares(u, y, [f"x{i}" for i in range(6)])
            assert min(shares.values()) >= 0.0
            assert sum(shares.values()) <= 1.0 + 1e-12
    # values unrelated to the trials' coordinates: no dimension stands out
    u = rng.random((400, 3))
    shares = tune.first_order_shares(u, rng.standard_normal(400), ["a", "b", "c"])
    assert max(shares.values()) <= 0.03


@needs_qmc
def test_study_importance_uses_every_round_on_the_right_scale():
    # lr enters through its log: f = (log10(lr) + 4) / 4 + 0.5 x2 on LogUniform(1e-4, 1) is
    # u1 + 0.5 u2 in unit space: shares 0.8, 0.2, 0
    space = tune.Space(
        lr=tune.LogUniform(1e-4, 1.0), x2=tune.Uniform(0, 1), dummy=tune.IntUniform(1, 5)
    )
    study = tune.Study("imp", seed=0)

    def f(t):
        return float((np.log10(t.params["lr"]) + 4) / 4 + 0.5 * t.params["x2"])

    study.optimize(f, space, n_trials=16)
    # later rounds zoom in and are not uniform: they refine the fit, they do not bias it
    study.coarse_to_fine(f, space, rounds=3, trials_per_round=16)
    shares = study.importance()
    assert list(shares) == ["lr", "x2", "dummy"]
    assert shares["lr"] == pytest.approx(0.8, abs=1e-9)
    assert shares["x2"] == pytest.approx(0.2, abs=1e-9)
    assert shares["dummy"] == pytest.approx(0.0, abs=1e-9)


@needs_qmc
def test_study_importance_of_an_objective_of_the_learning_rate_only():
    # the demo's space and budget (3 rounds x 12 trials); lr is LogUniform(1e-4, 1), so
    # f = (log10(lr) + 2)^2 is (4 u - 2)^2 in unit space: quadratic, all of it lr's
    space = tune.default_space()
    study = tune.Study("lr-only", seed=1)
    study.coarse_to_fine(
        lambda t: (np.log10(t.params["lr"]) + 2) ** 2, space, rounds=3, trials_per_round=12
    )
    shares = study.importance()
    assert len(shares) == 6
    assert shares["lr"] == pytest.approx(1.0, abs=1e-9)
    assert max(v for name, v in shares.items() if name != "lr") <= 1e-9


def test_importance_input_errors():
    with pytest.raises(ValueError, match="shape"):
        tune.first_order_shares(np.zeros((10, 2)), np.zeros(10), ["a"])
    with pytest.raises(ValueError, match="at least 14 complete trials for 6 dimensions"):
        tune.first_order_shares(np.zeros((13, 6)), np.zeros(13), list("abcdef"))
    with pytest.raises(ValueError, match="more complete trials than coefficients"):
        tune.first_order_shares(np.zeros((7, 2)), np.zeros(7), ["a", "b"], degree=3)
    with pytest.raises(ValueError, match="degree must be a positive integer"):
        tune.first_order_shares(np.zeros((9, 1)), np.zeros(9), ["a"], degree=0)
    with pytest.raises(ValueError, match="unit cube"):
        tune.first_order_shares(np.full((9, 1), 1.5), np.zeros(9), ["a"])
    with pytest.raises(ValueError, match="finite"):
        tune.first_order_shares(np.zeros((9, 1)), np.full(9, np.nan), ["a"])
    with pytest.raises(ValueError, match="no complete trial"):
        tune.Study("e").importance()


def _never(view):
    """A babysitting policy that never intervenes."""
    return None


@needs_qmc
def test_study_importance_leaves_out_a_babysat_trial():
    # the f of the test above: u1 + 0.5 u2 in unit space, shares 0.8, 0.2, 0; a babysat trial
    # (no unit coordinates, other params) joins the study and must not change the ranking
    space = tune.Space(
        lr=tune.LogUniform(1e-4, 1.0), x2=tune.Uniform(0, 1), dummy=tune.IntUniform(1, 5)
    )
    study = tune.Study("imp-panda", seed=0)
    study.optimize(
        lambda t: float((np.log10(t.params["lr"]) + 4) / 4 + 0.5 * t.params["x2"]),
        space,
        n_trials=32,
    )
    study.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=2, policy=_never)
    assert study.trials[-1].state == "complete"
    assert not study.trials[-1].unit
    shares = study.importance()
    assert list(shares) == ["lr", "x2", "dummy"]
    assert shares["lr"] == pytest.approx(0.8, abs=1e-9)
    assert shares["x2"] == pytest.approx(0.2, abs=1e-9)
    assert shares["dummy"] == pytest.approx(0.0, abs=1e-9)


def test_study_importance_without_sampled_dimensions_is_an_empty_ranking():
    babysat = tune.Study("panda-only", seed=0)
    babysat.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=2, policy=_never)
    assert babysat.importance() == {}
    fixed = tune.Study("fixed-only", seed=0)
    fixed.optimize(lambda t: float(t.params["a"]), tune.Space(a=tune.Fixed(3)), n_trials=4)
    assert fixed.importance() == {}


@needs_qmc
def test_too_few_sampled_trials_say_how_many_were_left_out():
    study = tune.Study("few", seed=0)
    study.optimize(lambda t: t.params["x"], tune.Space(x=tune.Uniform(0, 1)), n_trials=3)
    for _ in range(2):
        study.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=1, policy=_never)
    with pytest.raises(ValueError, match=r"at least 4 complete trials .* got 3; 2 complete trials"
                                         r" of study 'few' left out: babysat"):  # fmt: skip
        study.importance()
