"""Search dimensions and spaces: scales against their formulas, inverses, validation, grid."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bntune import tune
from bntune.tune.samplers import Grid
from tune_helpers import needs_qmc

RNG_SEED = 12345


def _draw(dim, n=100_000, seed=RNG_SEED):
    u = np.random.default_rng(seed).random(n)
    return np.array([dim.from_unit(x) for x in u])


def test_one_minus_log_uniform_gives_equal_effort_per_decade_of_one_minus_beta():
    beta = _draw(tune.OneMinusLogUniform(0.9, 0.999))
    assert beta.min() >= 0.9
    assert beta.max() <= 0.999
    # 1 - beta log-uniform on [1e-3, 1e-1]: [0.99, 0.999] is one of two decades
    assert abs(np.mean(beta >= 0.99) - 0.5) <= 0.01


def test_log_uniform_puts_a_quarter_in_each_decade():
    lr = _draw(tune.LogUniform(1e-4, 1.0))
    assert abs(np.mean(lr < 1e-3) - 0.25) <= 0.01
    assert abs(np.mean(lr >= 0.1) - 0.25) <= 0.01


@needs_qmc
@pytest.mark.parametrize("sampler", ["sobol", "random", "halton", "lhs"])
def test_scales_hold_through_every_sampler(sampler):
    space = tune.Space(beta=tune.OneMinusLogUniform(0.9, 0.999), lr=tune.LogUniform(1e-4, 1.0))
    configs = space.sample(100_000, sampler=sampler, seed=3)
    beta = np.array([c["beta"] for c in configs])
    lr = np.array([c["lr"] for c in configs])
    assert abs(np.mean(beta >= 0.99) - 0.5) <= 0.01
    assert abs(np.mean(lr < 1e-3) - 0.25) <= 0.01


def test_continuous_scales_match_their_formulas():
    u = np.linspace(0.0, 0.999, 37)
    for x in u:
        assert tune.Uniform(-2.0, 3.0).from_unit(x) == pytest.approx(-2.0 + 5.0 * x, rel=1e-15)
        assert tune.LogUniform(1e-4, 1.0).from_unit(x) == pytest.approx(10 ** (-4 + 4 * x))
        assert tune.OneMinusLogUniform(0.9, 0.999).from_unit(x) == pytest.approx(
            1 - 10 ** (-1 - 2 * x), rel=1e-13
        )


@pytest.mark.parametrize(
    "dim",
    [
        tune.Uniform(-3.0, 7.5),
        tune.LogUniform(1e-6, 10.0),
        tune.OneMinusLogUniform(0.9, 0.9999),
    ],
)
def test_from_unit_and_to_unit_are_inverses_for_continuous_dims(dim):
    for u in np.random.default_rng(1).random(500):
        value = dim.from_unit(u)
        assert dim.to_unit(value) == pytest.approx(u, abs=1e-12)
        assert dim.from_unit(dim.to_unit(value)) == pytest.approx(value, rel=1e-12)


def test_int_uniform_is_inclusive_and_every_integer_equally_likely():
    dim = tune.IntUniform(2, 4)
    # an exact stratified design: 3000 cell centres give each integer exactly 1000 draws
    u = (np.arange(3000) + 0.5) / 3000
    values, counts = np.unique([dim.from_unit(x) for x in u], return_counts=True)
    assert values.tolist() == [2, 3, 4]
    assert counts.tolist() == [1000, 1000, 1000]
    assert dim.from_unit(0.0) == 2
    assert dim.from_unit(1.0) == 4
    draws = _draw(tune.IntUniform(50, 100), n=51_000)
    _, counts = np.unique(draws, return_counts=True)
    assert len(counts) == 51
    # chi-square with 50 dof: 99.9% quantile is 86.7
    chi2 = np.sum((counts - 1000) ** 2 / 1000)
    assert chi2 < 86.7
    assert all(isinstance(dim.from_unit(x), int) for x in (0.1, 0.5, 0.9))


def test_int_dims_round_trip_through_their_cell_centres():
    for dim in (tune.IntUniform(-3, 9), tune.IntLogUniform(1, 1000)):
        for k in range(dim.low, dim.high + 1):
            assert dim.from_unit(dim.to_unit(k)) == k


def test_int_log_uniform_probabilities_follow_the_log_of_cell_widths():
    dim = tune.IntLogUniform(1, 9)
    n = 90_000
    u = (np.arange(n) + 0.5) / n
    values, counts = np.unique([dim.from_unit(x) for x in u], return_counts=True)
    assert values.tolist() == list(range(1, 10))
    expected = [math.log((k + 1) / k) / math.log(10) for k in range(1, 10)]
    np.testing.assert_allclose(counts / n, expected, atol=2 / n)


def test_choice_and_fixed():
    dim = tune.Choice(["a", "b", "c", 4])
    assert [dim.from_unit(u) for u in (0.0, 0.3, 0.6, 0.99)] == ["a", "b", "c", 4]
    assert dim.to_unit("c") == pytest.approx(2.5 / 4)
    with pytest.raises(ValueError, match="not one of"):
        dim.to_unit("z")
    space = tune.Space(x=tune.Uniform(0, 1), eps=tune.Fixed(1e-8))
    assert space.d == 1
    assert space.from_unit([0.25]) == {"x": 0.25, "eps": 1e-8}


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: tune.Uniform(2.0, 1.0), "Uniform"),
        (lambda: tune.LogUniform(0.0, 1.0), "LogUniform"),
        (lambda: tune.LogUniform(-1.0, 1.0), "LogUniform"),
        (lambda: tune.LogUniform(0.0, 0.0), "LogUniform"),  # one value, but no log of it
        (lambda: tune.IntUniform(5, 4), "IntUniform"),
        (lambda: tune.IntLogUniform(0, 0), "IntLogUniform"),
        (lambda: tune.OneMinusLogUniform(1.0, 1.0), "OneMinusLogUniform"),
        (lambda: tune.Stepped(1.0, 1.0, 0.0), "Stepped"),
        (lambda: tune.IntLogUniform(0, 10), "IntLogUniform"),
        (lambda: tune.OneMinusLogUniform(0.9, 1.0), "OneMinusLogUniform"),
        (lambda: tune.OneMinusLogUniform(0.0, 0.9), "OneMinusLogUniform"),
        (lambda: tune.OneMinusLogUniform(0.99, 0.9), "OneMinusLogUniform"),
        (lambda: tune.Uniform(0.0, math.inf), "Uniform"),
        (lambda: tune.Choice([]), "Choice"),
    ],
)
def test_invalid_ranges_raise_value_error_naming_the_dimension(make, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        make()


SINGLE_VALUES = [
    (tune.Uniform(1.5, 1.5), 1.5),
    (tune.Uniform(-2, -2), -2.0),
    (tune.LogUniform(2.5, 2.5), 2.5),
    (tune.OneMinusLogUniform(0.9, 0.9), 0.9),
    (tune.IntUniform(3, 3), 3),
    (tune.IntLogUniform(7, 7), 7),
    (tune.Stepped(0.3, 0.3, 0.1), 0.3),
    (tune.Stepped(5, 5, 2), 5),
]


@pytest.mark.parametrize(("dim", "value"), SINGLE_VALUES)
def test_a_single_value_range_gives_exactly_that_value(dim, value):
    # Optuna's suggest_int("n", 3, 3) returns 3: low == high is one value, not an error
    for u in (0.0, 0.3, 0.5, 0.999999, 1.0):
        got = dim.from_unit(u)
        assert got == value
        assert type(got) is type(value)
    assert dim.to_unit(value) == 0.5  # the centre of its one cell
    assert dim.levels(10) == 1  # a grid gives it one level


@pytest.mark.parametrize(("dim", "value"), SINGLE_VALUES[:6])
def test_a_single_value_range_puts_any_other_value_outside(dim, value):
    for other in (value + 1, value - 0.5 if isinstance(value, float) else value - 1):
        assert not 0.0 <= dim.to_unit(other) <= 1.0


def test_a_space_with_single_value_dimensions_searches_the_others():
    space = tune.Space(a=tune.Uniform(1, 1), n=tune.IntUniform(3, 3), x=tune.Uniform(0, 1))
    for sampler in ("sobol", "grid", "lhs"):
        study = tune.Study("s", seed=0)
        study.optimize(lambda t: t.params["x"] * t.params["a"], space, n_trials=8, sampler=sampler)
        assert len(study.trials) == 8
        assert {(t.params["a"], t.params["n"]) for t in study.trials} == {(1.0, 3)}
        # every trial a new x: the grid spends its 8 points on x alone
        assert len({t.params["x"] for t in study.trials}) == 8
    with pytest.raises(tune.TrialUsageError, match=r"a=2\.0 lies outside"):
        study.add_trial({"a": 2.0, "n": 3, "x": 0.5}, 1.0, space=space)


def test_bad_types_and_space_arguments_are_rejected():
    with pytest.raises(TypeError, match="IntUniform: low must be an integer"):
        tune.IntUniform(1.5, 3)
    with pytest.raises(TypeError, match="dimension 'lr'"):
        tune.Space(lr=(1e-4, 1.0))
    space = tune.Space(a=tune.Uniform(0, 1), b=tune.Uniform(0, 1))
    with pytest.raises(ValueError, match="2 coordinates"):
        space.from_unit([0.5])
    with pytest.raises(ValueError, match="lack dimensions"):
        space.to_unit({"a": 0.5})


def test_space_to_unit_inverts_from_unit():
    space = tune.Space(
        lr=tune.LogUniform(1e-4, 1),
        beta=tune.OneMinusLogUniform(0.9, 0.999),
        hidden=tune.IntUniform(50, 100),
        bs=tune.Choice([64, 128, 256, 512]),
    )
    u = np.array([0.3, 0.71, 0.5, 0.6])
    params = space.from_unit(u)
    back = space.to_unit(params)
    np.testing.assert_allclose(back[:2], u[:2], atol=1e-12)
    assert space.from_unit(back) == params


def test_default_space_follows_the_course():
    space = tune.default_space()
    assert space["lr"] == tune.LogUniform(1e-4, 1.0)
    assert space["momentum"] == tune.OneMinusLogUniform(0.9, 0.999)
    assert space["hidden"] == tune.IntUniform(50, 100)
    assert space["layers"] == tune.IntUniform(2, 4)
    sizes = space["batch_size"].options
    assert all(s & (s - 1) == 0 for s in sizes)
    assert "lr_decay" in space
    adam = tune.default_space("adam")
    assert "momentum" not in adam
    assert adam.from_unit([0.5] * adam.d)["beta1"] == 0.9
    assert adam.from_unit([0.5] * adam.d)["beta2"] == 0.999
    assert adam.from_unit([0.5] * adam.d)["eps"] == 1e-8


def test_grid_covers_each_dimension_on_its_own_scale():
    space = tune.Space(
        lr=tune.LogUniform(1e-4, 1.0), layers=tune.IntUniform(2, 4), act=tune.Choice(["r", "t"])
    )
    # 18 = 3 lr levels x 3 layers x 2 options
    assert Grid().size(space.coordinate_dims, 20) == 18
    configs = space.sample(18, sampler="grid", seed=0)
    assert len({tuple(c.values()) for c in configs}) == 18
    lrs = sorted({c["lr"] for c in configs})
    # level centres 1/6, 1/2, 5/6 of the log range [-4, 0]
    np.testing.assert_allclose(np.log10(lrs), [-4 + 4 / 6, -2, -4 + 20 / 6], rtol=1e-12)
    assert sorted({c["layers"] for c in configs}) == [2, 3, 4]


def test_grid_of_64_over_six_dims_has_two_levels_each():
    space = tune.Space(**{f"x{i}": tune.Uniform(0, 1) for i in range(6)})
    pts = Grid().points(space.coordinate_dims, 0, 0, 64, 64)
    assert pts.shape == (64, 6)
    for j in range(6):
        assert sorted(set(pts[:, j])) == [0.25, 0.75]
    assert len({tuple(p) for p in pts}) == 64


bounds = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
units = st.floats(min_value=0.0, max_value=0.999999, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(a=bounds, b=bounds, u=units)
def test_uniform_round_trip_property(a, b, u):
    assume(b - a > 1e-3 * max(1.0, abs(a), abs(b)))
    dim = tune.Uniform(a, b)
    value = dim.from_unit(u)
    assert a <= value <= b
    assert dim.to_unit(value) == pytest.approx(u, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(min_value=-12, max_value=5),
    span=st.floats(min_value=0.01, max_value=12),
    u=units,
)
def test_log_uniform_round_trip_property(lo, span, u):
    dim = tune.LogUniform(10.0**lo, 10.0 ** (lo + span))
    value = dim.from_unit(u)
    assert 10.0**lo * (1 - 1e-12) <= value <= 10.0 ** (lo + span) * (1 + 1e-12)
    assert dim.to_unit(value) == pytest.approx(u, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(low=st.integers(-1000, 1000), width=st.integers(1, 1000), u=units)
def test_int_uniform_cell_property(low, width, u):
    dim = tune.IntUniform(low, low + width)
    k = dim.from_unit(u)
    # k is the integer whose cell [(k - low) / n, (k - low + 1) / n) holds u
    n = width + 1
    assert low <= k <= low + width
    assert (k - low) / n <= u * (1 + 1e-12) + 1e-12
    assert u < (k - low + 1) / n + 1e-12
