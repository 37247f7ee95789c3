"""bntune.qmc behaviour: stratification, seeds, pickling, float32, the API's errors."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bntune
from bntune import qmc

ENGINES = [
    lambda seed: qmc.Sobol(5, seed=seed),
    lambda seed: qmc.Sobol(5, scramble="owen", seed=seed),
    lambda seed: qmc.Halton(5, seed=seed),
    lambda seed: qmc.LatinHypercube(5, seed=seed),
    lambda seed: qmc.Random(5, seed=seed),
]
IDS = ["sobol", "sobol-owen", "halton", "lhs", "random"]


def _one_per_interval(column, m):
    cells = np.floor(np.asarray(column, dtype=np.float64) * 2**m).astype(np.int64)
    return np.array_equal(np.sort(cells), np.arange(2**m))


@pytest.mark.parametrize("scramble", [True, "owen", False])
@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5])
def test_sobol_2m_sets_have_one_point_per_interval(scramble, seed):
    engine = qmc.Sobol(6, scramble=scramble, seed=seed)
    for m in (1, 4, 10):
        engine.reset()
        sample = engine.random_base2(m)
        assert all(_one_per_interval(sample[:, j], m) for j in range(6))
    # The next 2**m block, from a multiple of 2**m, is balanced as well.
    block = engine.random_at(3 * 2**7, 2**7)
    assert all(_one_per_interval(block[:, j], 7) for j in range(6))


def test_sobol_2d_projection_is_a_net():
    # (0, m, 2)-net in the first two coordinates: one point in each 2**-a x 2**-(m-a) box.
    for scramble in (True, "owen"):
        pts = qmc.Sobol(2, scramble=scramble, seed=3).random_base2(8)
        for a in range(9):
            boxes = np.floor(pts[:, 0] * 2**a) * 2 ** (8 - a) + np.floor(pts[:, 1] * 2 ** (8 - a))
            assert len(np.unique(boxes)) == 256


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scramble", [True, False])
@pytest.mark.parametrize("n", [1, 2, 9, 1000, 40_000])
def test_latin_hypercube_strata(scramble, n, dtype):
    sample = qmc.LatinHypercube(7, scramble=scramble, seed=n).random(n, dtype=dtype)
    assert sample.shape == (n, 7)
    assert sample.dtype == dtype
    sample = sample.astype(np.float64)
    for j in range(7):
        cells = np.floor(sample[:, j] * n).astype(np.int64)
        np.testing.assert_array_equal(np.sort(cells), np.arange(n))
    if not scramble:
        centres = (np.floor(sample * n) + 0.5) / n
        if dtype == np.float32:  # the centres rounded toward zero
            c32 = centres.astype(np.float32)
            c32 = np.where(c32 > centres, np.nextafter(c32, np.float32(0)), c32)
            centres = c32.astype(np.float64)
        np.testing.assert_array_equal(sample, centres)


def test_halton_scrambled_strata_in_each_base():
    sample = qmc.Halton(3, seed=5).random(2 * 3 * 5 * 4)
    for j, base in enumerate([2, 3, 5]):
        counts = np.bincount(np.floor(sample[:, j] * base).astype(int), minlength=base)
        assert np.all(counts == len(sample) // base)


@pytest.mark.parametrize("make", ENGINES, ids=IDS)
def test_same_seed_same_points_other_seed_other_points(make):
    a = make(123).random(64)
    b = make(123).random(64)
    c = make(124).random(64)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all((a >= 0) & (a < 1))


@pytest.mark.parametrize("make", ENGINES, ids=IDS)
@pytest.mark.filterwarnings("ignore:The balance properties")
def test_points_do_not_depend_on_the_thread_count(make):
    before = bntune.get_num_threads()
    try:
        bntune.set_num_threads(1)
        one = make(9).random(300_000 // 5)
        bntune.set_num_threads(3)
        three = make(9).random(300_000 // 5)
    finally:
        bntune.set_num_threads(before)
    np.testing.assert_array_equal(one, three)


@pytest.mark.parametrize("make", ENGINES, ids=IDS)
def test_pickle_round_trip_at_an_index(make):
    engine = make(77)
    engine.random(8)
    engine.fast_forward(1000)
    clone = pickle.loads(pickle.dumps(engine))
    assert type(clone) is type(engine)
    assert clone.num_generated == engine.num_generated == 1008
    np.testing.assert_array_equal(clone.random(16), engine.random(16))


@pytest.mark.parametrize(
    "make", [e for e, i in zip(ENGINES, IDS, strict=True) if i != "lhs"], ids=IDS[:3] + IDS[4:]
)
@pytest.mark.filterwarnings("ignore:The balance properties")
def test_fast_forward_and_random_at_agree_with_drawing(make):
    full = make(4).random(2000)
    engine = make(4)
    assert engine.fast_forward(0).num_generated == 0
    np.testing.assert_array_equal(engine.fast_forward(1500).random(500), full[1500:])
    np.testing.assert_array_equal(engine.random_at(700, 3), full[700:703])
    assert engine.num_generated == 2000
    np.testing.assert_array_equal(engine.reset().random(10), full[:10])


def test_seed_none_draws_entropy_and_reports_it():
    a, b = qmc.Sobol(3), qmc.Sobol(3)
    assert a.seed != b.seed
    np.testing.assert_array_equal(a.random(4), qmc.Sobol(3, seed=a.seed).random(4))


@pytest.mark.parametrize("make", ENGINES, ids=IDS)
def test_float32_rounds_toward_zero_and_stays_below_one(make):
    x64 = make(5).random(4096)
    x32 = make(5).random(4096, dtype=np.float32)
    assert x32.dtype == np.float32
    assert np.all(x32 < 1)
    # Toward zero: never above the float64 value, and less than one float32 ulp below it.
    assert np.all(x32.astype(np.float64) <= x64)
    assert np.all(x64 - x32 < np.spacing(x32.astype(np.float32)).astype(np.float64) * 1.0000001)


@pytest.mark.parametrize("bits", [24, 30, 53, 64])
def test_float32_and_float64_never_reach_one_at_the_end_of_sobol(bits):
    engine = qmc.Sobol(4, scramble=False, bits=bits)
    # The last points of the sequence come closest to 1 in some coordinates.
    last64 = engine.random_at(2**bits - 64, 64)
    last32 = engine.random_at(2**bits - 64, 64, dtype=np.float32)
    assert np.all(last64 < 1)
    assert np.all(last32 < 1)
    # Coordinate 0 reaches its largest value, 1 - 2**-bits, where gray(i) has all bits set.
    top = sum(1 << k for k in range(bits - 1, -1, -2))
    assert top ^ (top >> 1) == 2**bits - 1
    largest64 = engine.random_at(top, 1)[0, 0]
    largest32 = engine.random_at(top, 1, dtype=np.float32)[0, 0]
    assert largest64 == (1 - 2.0**-bits if bits <= 53 else np.nextafter(1.0, 0.0))
    assert largest32 == (np.float32(1 - 2.0**-bits) if bits <= 24 else np.float32(1 - 2**-24))
    for seed in range(5):
        scrambled = qmc.Sobol(4, bits=bits, seed=seed).random_at(2**bits - 64, 64, dtype="f4")
        assert np.all(scrambled < 1)
    with pytest.raises(ValueError, match="at most"):
        engine.random_at(2**bits - 64, 65)


def test_sobol_warns_once_for_non_power_of_two_totals():
    engine = qmc.Sobol(2, seed=0)
    with pytest.warns(UserWarning, match="power of 2"):
        engine.random(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.random(3)  # once per engine
        engine.random_at(5, 7)  # the by-index path never warns
        qmc.Sobol(2, seed=0).random(4)
        qmc.Sobol(2, seed=0).random_base2(3)
    with pytest.warns(UserWarning, match="power of 2"):
        engine.reset().random(5)


def test_random_base2_checks_the_total():
    engine = qmc.Sobol(2, seed=0)
    engine.random_base2(2)
    assert engine.random_base2(2).shape == (4, 2)
    with pytest.raises(ValueError, match="power of 2"):
        engine.random_base2(1)
    with pytest.raises(ValueError, match="m must be at most"):
        qmc.Sobol(2, bits=10).random_base2(11)


def test_integers():
    engine = qmc.Sobol(2, scramble=False)
    got = engine.integers([0, 10], [4, 12], n=8)
    expected = np.floor(np.array([0, 10]) + qmc.Sobol(2, scramble=False).random(8) * [4, 2])
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.int64
    inclusive = qmc.Random(3, seed=1).integers(5, n=5000, endpoint=True)
    assert inclusive.min() == 0
    assert inclusive.max() == 5
    exclusive = qmc.Random(3, seed=1).integers(-2, 3, n=5000)
    assert set(np.unique(exclusive)) == {-2, -1, 0, 1, 2}
    assert qmc.Random(1, seed=1).integers(7, 7, endpoint=True).item() == 7


BAD_CALLS = [
    (lambda: qmc.Sobol(-1), ValueError, "d must"),
    (lambda: qmc.Sobol(21202), ValueError, "d must be at most 21201"),
    (lambda: qmc.Sobol(2.0), TypeError, "d must"),
    (lambda: qmc.Halton(1001), ValueError, "d must"),
    (lambda: qmc.Halton(-1), ValueError, "d must"),
    (lambda: qmc.LatinHypercube(-2), ValueError, "d must"),
    (lambda: qmc.Random(-1), ValueError, "d must"),
    (lambda: qmc.Sobol(2, bits=0), ValueError, "bits must"),
    (lambda: qmc.Sobol(2, bits=65), ValueError, "bits must"),
    (lambda: qmc.Sobol(2, bits=3.5), TypeError, "bits must"),
    (lambda: qmc.Sobol(2, scramble="yes"), ValueError, "scramble must"),
    (lambda: qmc.Sobol(2, scramble=1), TypeError, "scramble must"),
    (lambda: qmc.Halton(2, scramble="owen"), TypeError, "scramble must"),
    (lambda: qmc.Sobol(2, seed=1.5), TypeError, "seed must"),
    (lambda: qmc.Sobol(2, seed="1"), TypeError, "seed must"),
    (lambda: qmc.Sobol(2, seed=True), TypeError, "seed must"),
    (lambda: qmc.Random(2, seed=-1), ValueError, "seed must"),
    (lambda: qmc.Random(2, seed=-(2**64)), ValueError, "seed must"),
    (lambda: qmc.Random(2, rng=-1), ValueError, "rng must"),
    (lambda: qmc.Random(2, rng=1.5), TypeError, "rng must"),
    (lambda: qmc.Halton(2, seed=1, rng=1), TypeError, "multiple values"),
    (lambda: qmc.Halton(2, optimization="toto"), ValueError, "not a valid optimization"),
    (lambda: qmc.LatinHypercube(2, strength=3), ValueError, "not a valid strength"),
    (lambda: qmc.LatinHypercube(2, strength=2).random(16), ValueError, "square of a prime"),
    (lambda: qmc.LatinHypercube(5, strength=2).random(9), ValueError, "too small for d"),
    (lambda: qmc.Halton(2, seed=0).random(4, workers=0), ValueError, "workers"),
    (lambda: qmc.discrepancy([[0.5]], workers=-2), ValueError, "workers"),
    (lambda: qmc.Sobol(2, bits=2, seed=0).random(5), ValueError, "increasing `bits`"),
    (lambda: qmc.Sobol(2, seed=0).random(-1), ValueError, "n must"),
    (lambda: qmc.Halton(2, seed=0).random(2.5), TypeError, "n must"),
    (lambda: qmc.Sobol(2, seed=0).random(4, dtype=np.int32), TypeError, "dtype must"),
    (lambda: qmc.Sobol(2, seed=0).random(4, dtype="nonsense"), TypeError, "dtype must"),
    (lambda: qmc.Sobol(2, seed=0).random_base2(-1), ValueError, "m must"),
    (lambda: qmc.Sobol(2, bits=4, seed=0).random(17), ValueError, "at most"),
    (lambda: qmc.Sobol(2, bits=4, seed=0).fast_forward(17), ValueError, "at most"),
    (lambda: qmc.Sobol(2, seed=0).fast_forward(-3), ValueError, "n must"),
    (lambda: qmc.Sobol(2, seed=0).random_at(-1, 2), ValueError, "index must"),
    (lambda: qmc.Random(2, seed=0).integers(3, 1), ValueError, "u_bounds must"),
    (lambda: qmc.Random(2, seed=0).integers(3, 3), ValueError, "u_bounds must"),
    (lambda: qmc.Random(2, seed=0).integers(0, np.inf), ValueError, "u_bounds must be finite"),
    (lambda: qmc.Random(2, seed=0).integers(np.nan, 4), ValueError, "l_bounds must be finite"),
    (lambda: qmc.Random(2, seed=0).integers(0, 2.5), ValueError, "u_bounds must be integers"),
    (lambda: qmc.Random(2, seed=0).integers(0, "a"), TypeError, "u_bounds must"),
    (lambda: qmc.Random(2, seed=0).integers(0, [1, 2, 3]), ValueError, "broadcast"),
    (lambda: qmc.discrepancy([[0.5, 1.5]]), ValueError, "unit hypercube"),
    (lambda: qmc.discrepancy([[0.5, np.nan]]), ValueError, "unit hypercube"),
    (lambda: qmc.discrepancy([0.5, 0.2]), ValueError, "2-D"),
    (lambda: qmc.discrepancy(np.empty((0, 3))), ValueError, "at least one point"),
    (lambda: qmc.discrepancy([[0.5]], method="XD"), ValueError, "not a valid method"),
    (lambda: qmc.discrepancy([["a"]]), TypeError, "sample must"),
]


@pytest.mark.filterwarnings("ignore:The balance properties")
@pytest.mark.parametrize(("call", "error", "match"), BAD_CALLS)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_core_engine_rejects_bad_arguments_too():
    core = bntune._core
    with pytest.raises(ValueError, match="kind must"):
        core.QmcEngine("grid", 2, "none", 30, 0)
    with pytest.raises(ValueError, match="only available for Sobol"):
        core.QmcEngine("halton", 2, "owen", 30, 0)
    with pytest.raises(ValueError, match="scramble must"):
        core.QmcEngine("sobol", 2, "maybe", 30, 0)
    with pytest.raises(ValueError, match="d must"):
        core.QmcEngine("sobol", -5, "none", 30, 0)


def test_qmc_is_exported():
    assert bntune.qmc is qmc
    assert "qmc" in bntune.__all__


_ints = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 63, 64, 65, 2**63, 2**64 - 1, 2**64]),
)
_anything = st.one_of(_ints, st.floats(allow_nan=True), st.none(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["sobol", "halton", "lhs", "random"]),
    d=_anything,
    bits=st.one_of(_ints, st.none()),
    scramble=st.one_of(st.booleans(), st.sampled_from(["owen", "lms", "x"])),
    seed=_anything,
    n=st.one_of(st.integers(min_value=-3, max_value=70), _anything),
    skip=st.one_of(st.integers(min_value=0, max_value=2**65), _anything),
)
def test_no_argument_makes_a_panic_reach_python(kind, d, bits, scramble, seed, n, skip):
    if isinstance(d, int) and d > 3000:
        d = d % 3000
    # A valid count of points this large fills the machine's memory (numpy's allocation
    # succeeds on an overcommitting kernel, and the OOM killer ends the test run): keep counts
    # that must be refused (negative, 2**63 and beyond) and shrink the rest to a few MB.
    if isinstance(n, int) and 0 <= n < 2**63 and isinstance(d, int) and n * max(d, 1) > 10**6:
        n %= 10**6 // max(d, 1) + 1
    try:
        if kind == "sobol":
            engine = qmc.Sobol(d, scramble=scramble, bits=bits, seed=seed)
        elif kind == "halton":
            engine = qmc.Halton(d, scramble=scramble, seed=seed)
        elif kind == "lhs":
            engine = qmc.LatinHypercube(d, scramble=scramble, seed=seed)
        else:
            engine = qmc.Random(d, seed=seed)
    except (ValueError, TypeError):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (
            lambda: engine.fast_forward(skip),
            lambda: engine.random(n),
            lambda: engine.random(n, dtype=np.float32),
            lambda: engine.random_at(skip, n),
            lambda: engine.integers(n, n=3),
        ):
            try:
                out = call()
            except (ValueError, TypeError, MemoryError):
                continue
            if isinstance(out, np.ndarray) and out.dtype.kind == "f":
                assert np.all((out >= 0) & (out < 1))
