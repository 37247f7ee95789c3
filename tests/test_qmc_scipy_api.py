"""bntune.qmc's scipy-shaped API: seeds and rng, d=0, optimizers, strength 2, the base class,
discrepancy helpers and the re-exported SciPy names, against independent references."""

import pickle
import sys
from itertools import combinations

import numpy as np
import pytest

from bntune import qmc
from bntune.qmc import _scipy


def _centred_discrepancy(x):
    """Fang et al.'s centred L2 discrepancy (squared), straight from the formula."""
    n, d = x.shape
    z = np.abs(x - 0.5)
    single = np.prod(1 + z / 2 - z**2 / 2, axis=1).sum()
    pair = np.prod(
        1 + z[:, None] / 2 + z[None] / 2 - np.abs(x[:, None] - x[None]) / 2, axis=2
    ).sum()
    return (13 / 12) ** d - 2 / n * single + pair / n**2


def _same_columns(a, b):
    return np.array_equal(np.sort(a, axis=0), np.sort(b, axis=0))


# --- seeds and rng -------------------------------------------------------------------------


def test_int_seeds_below_2_64_are_the_rust_seed_and_big_ones_hash_through_a_seed_sequence():
    assert qmc.Sobol(3, seed=12).seed == 12
    big = 170382760648021597650530316304495310428
    expected = int(np.random.SeedSequence(big).generate_state(1, np.uint64)[0])
    assert qmc.Halton(3, seed=big).seed == expected


def test_a_generator_is_spawned_from_as_scipy_does():
    generator = np.random.default_rng(7)
    state = generator.bit_generator.state
    first, second = qmc.Sobol(2, rng=generator), qmc.Sobol(2, rng=generator)
    assert first.seed != second.seed
    assert generator.bit_generator.state == state  # its stream is untouched
    child = np.random.default_rng(7).bit_generator.seed_seq.spawn(1)[0]
    assert first.seed == int(child.generate_state(1, np.uint64)[0])
    # rng=k is default_rng(k): the same engine as the fresh generator, not as seed=k.
    assert qmc.Sobol(2, rng=7).seed == first.seed
    assert qmc.Sobol(2, seed=np.random.default_rng(7)).seed == first.seed
    assert qmc.Sobol(2, rng=7).seed != qmc.Sobol(2, seed=7).seed


def test_seed_sequences_bit_generators_and_random_states():
    sequence = np.random.SeedSequence(3)
    a, b = qmc.Halton(2, rng=sequence), qmc.Halton(2, rng=sequence)
    assert a.seed != b.seed
    assert qmc.Halton(2, rng=np.random.PCG64(3)).seed == qmc.Halton(2, rng=3).seed
    legacy = qmc.LatinHypercube(2, seed=np.random.RandomState(5)).seed
    assert legacy == int(np.random.RandomState(5).randint(0, 2**64, dtype=np.uint64))
    state = np.random.RandomState(5)
    assert qmc.Random(2, seed=state).seed != qmc.Random(2, seed=state).seed


# --- shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [qmc.Sobol, qmc.Halton, qmc.LatinHypercube, qmc.Random])
def test_zero_dimensions(make):
    engine = make(0, seed=1)
    assert engine.random(4).shape == (4, 0)
    assert engine.random(3, dtype=np.float32).dtype == np.float32
    assert engine.num_generated == 7
    assert engine.random_at(10, 2).shape == (2, 0)
    assert pickle.loads(pickle.dumps(engine)).num_generated == 7
    assert engine.reset().num_generated == 0


def test_workers_are_checked_and_accepted():
    engine = qmc.Halton(3, seed=4)
    np.testing.assert_array_equal(engine.random(8, workers=-1), qmc.Halton(3, seed=4).random(8))
    assert engine.integers(10, n=4, workers=2).shape == (4, 3)
    with pytest.raises(ValueError, match="Invalid number of workers"):
        engine.random(2, workers=-3)


# --- strength 2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("scramble", [True, False])
@pytest.mark.parametrize(("p", "d"), [(2, 3), (5, 6), (7, 3), (11, 12)])
def test_strength_2_is_an_orthogonal_array_and_a_latin_hypercube(p, d, scramble):
    n = p * p
    engine = qmc.LatinHypercube(d, strength=2, scramble=scramble, seed=p)
    for dtype in (np.float64, np.float32):
        sample = engine.random(n, dtype=dtype).astype(np.float64)
        assert sample.shape == (n, d)
        assert np.all((sample >= 0) & (sample < 1))
        for j in range(d):
            assert np.array_equal(np.sort(np.floor(sample[:, j] * n)), np.arange(n))
        for i, j in combinations(range(d), 2):
            cells = {(int(a * p), int(b * p)) for a, b in sample[:, [i, j]]}
            assert len(cells) == n
    if not scramble:
        centres = np.sort(engine.random(n), axis=0)
        np.testing.assert_allclose(centres[:, 0], (np.arange(n) + 0.5) / n, rtol=1e-15)
    assert engine.strength == 2
    assert engine.scramble is scramble


def test_strength_2_refuses_bad_sizes_before_allocating():
    engine = qmc.LatinHypercube(3, strength=2, seed=0)
    with pytest.raises(ValueError, match="square of a prime"):
        engine.random(2**40)  # 1 TB of output: refused, not allocated
    with pytest.raises(ValueError, match=r"close values: 9, 25"):
        engine.random(16)
    assert engine.num_generated == 0


# --- optimizers -------------------------------------------------------------------------------


def test_random_cd_lowers_the_discrepancy_and_keeps_the_latin_hypercube():
    plain = qmc.LatinHypercube(4, seed=9).random(40)
    engine = qmc.LatinHypercube(4, optimization="random-CD", seed=9)
    better = engine.random(40)
    assert _same_columns(plain, better)
    assert _centred_discrepancy(better) < 0.8 * _centred_discrepancy(plain)
    np.testing.assert_allclose(qmc.discrepancy(better), _centred_discrepancy(better), rtol=1e-12)
    np.testing.assert_array_equal(engine.reset().random(40), better)
    np.testing.assert_array_equal(engine.random_at(0, 40), better)
    assert engine.optimization == "random-cd"


def test_random_cd_keeps_float32_points_exactly():
    engine = qmc.Sobol(3, optimization="random-cd", seed=2)
    sample = engine.random(32, dtype=np.float32)
    plain = qmc.Sobol(3, seed=2).random(32, dtype=np.float32)
    assert sample.dtype == np.float32
    assert _same_columns(sample, plain)


def test_lloyd_spreads_the_points_and_stays_in_the_cube():
    def min_distance(x):
        return np.min(np.linalg.norm(x[:, None] - x[None], axis=2) + np.eye(len(x)) * 9)

    plain = qmc.Random(2, seed=3).random(50)
    moved = qmc.Random(2, optimization="lloyd", seed=3).random(50)
    assert min_distance(moved) > 2 * min_distance(plain)
    assert np.all((moved >= 0) & (moved < 1))


def test_optimized_engines_pickle_with_their_optimization():
    engine = qmc.Halton(2, optimization="random-cd", seed=1)
    engine.random(5)
    copy = pickle.loads(pickle.dumps(engine))
    np.testing.assert_array_equal(copy.random(16), engine.random(16))
    assert "random-cd" in repr(copy)


# --- the base class ---------------------------------------------------------------------------


class _Uniform(qmc.QMCEngine):
    def __init__(self, d, *, optimization=None, rng=None):
        super().__init__(d=d, optimization=optimization, rng=rng)

    def _random(self, n=1, *, workers=1):
        return self.rng.random((n, self.d))


def test_a_subclass_draws_scipy_s_numbers_and_resets():
    engine = _Uniform(3, rng=11)
    first = engine.random(4)
    expected = np.random.default_rng(11).bit_generator.seed_seq.spawn(1)[0]
    np.testing.assert_array_equal(first, np.random.default_rng(expected).random((4, 3)))
    engine.random(2)
    assert engine.num_generated == 6
    np.testing.assert_array_equal(engine.reset().random(4), first)
    optimized = _Uniform(3, optimization="random-cd", rng=11).random(30)
    assert _centred_discrepancy(optimized) < _centred_discrepancy(_Uniform(3, rng=11).random(30))
    with pytest.raises(ValueError, match="non-negative integer"):
        _Uniform(-1)


def test_scipy_s_classes_take_bntune_engines():
    scipy_qmc = pytest.importorskip("scipy.stats.qmc")
    engine = qmc.Sobol(2, scramble=False)
    assert isinstance(engine, scipy_qmc.QMCEngine)
    normal = qmc.MultivariateNormalQMC(mean=[0.0, 0.0], engine=engine, inv_transform=True)
    # Point 1 of unscrambled Sobol' is (0.5, 0.5), the normal's median.
    np.testing.assert_allclose(normal.random(2)[1], [0.0, 0.0], atol=1e-12)
    assert qmc.PoissonDisk is scipy_qmc.PoissonDisk
    assert qmc.geometric_discrepancy is scipy_qmc.geometric_discrepancy


def test_scipy_names_without_scipy_raise_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    stand_in = _scipy.load("PoissonDisk")
    with pytest.raises(ImportError, match=r"needs SciPy.*pip install scipy"):
        stand_in(2)


# --- errors: scipy's exception types, so `except` clauses written for scipy catch them -------


def _scipy_error(call):
    """The exception scipy raises for ``call`` (the test's independent expectation)."""
    try:
        call()
    except Exception as err:  # whatever scipy raises is the reference
        return err
    pytest.fail("scipy accepted the call")


@pytest.mark.parametrize("engine", ["Sobol", "Halton", "LatinHypercube"])
@pytest.mark.parametrize("d", [2.5, 3.0, "3", True, None])
def test_a_d_that_is_not_an_integer_raises_what_scipy_raises(engine, d):
    scipy_qmc = pytest.importorskip("scipy.stats.qmc")
    theirs = _scipy_error(lambda: getattr(scipy_qmc, engine)(d))
    with pytest.raises(type(theirs), match=r"^d must be an integer, got "):
        getattr(qmc, engine)(d)
    # and still the TypeError bntune raised before
    with pytest.raises(TypeError, match=r"^d must be an integer, got "):
        getattr(qmc, engine)(d)


def test_random_base2_with_m_64_is_a_value_error_naming_m():
    scipy_qmc = pytest.importorskip("scipy.stats.qmc")
    theirs = _scipy_error(lambda: scipy_qmc.Sobol(2, bits=64).random_base2(64))
    # bits=64 allows m up to 64, but 2**64 points cannot be drawn
    with pytest.raises(type(theirs), match=r"^m must be at most 63 .*got 64$"):
        qmc.Sobol(2, bits=64).random_base2(64)
    with pytest.raises(ValueError, match=r"^m must be at most bits=64, got 65$"):
        qmc.Sobol(2, bits=64).random_base2(65)


def test_a_bad_discrepancy_method_lists_the_valid_ones_once():
    scipy_qmc = pytest.importorskip("scipy.stats.qmc")
    theirs = _scipy_error(lambda: scipy_qmc.discrepancy(np.full((2, 2), 0.5), method="XX"))
    assert type(theirs) is ValueError
    with pytest.raises(ValueError, match="not a valid method") as ours:
        qmc.discrepancy(np.full((2, 2), 0.5), method="XX")
    # scipy's sentence, then the same names (scipy prints a set: its order varies by process)
    head, _, names = str(theirs).partition("{")
    our_head, _, our_names = str(ours.value).partition("{")
    assert our_head == head
    assert our_names.endswith("}")
    assert sorted(our_names[:-1].split(", ")) == sorted(names.rstrip("}").split(", "))


def test_the_namespace_is_scipy_s():
    scipy_qmc = pytest.importorskip("scipy.stats.qmc")
    assert set(scipy_qmc.__all__) <= set(qmc.__all__)
    for name in qmc.__all__:
        assert getattr(qmc, name) is not None


# --- discrepancy helpers ----------------------------------------------------------------------


def test_update_discrepancy_completes_an_iterative_discrepancy():
    sample = np.random.default_rng(0).random((12, 5))
    start = qmc.discrepancy(sample[:-1], iterative=True)
    updated = qmc.update_discrepancy(sample[-1], sample[:-1], start)
    np.testing.assert_allclose(updated, _centred_discrepancy(sample), rtol=1e-12)


def test_scale_and_back():
    sample = np.array([[0.0, 0.5], [1.0, 0.25]])
    scaled = qmc.scale(sample, [-1, 0], [1, 8])
    np.testing.assert_array_equal(scaled, [[-1.0, 4.0], [1.0, 2.0]])
    np.testing.assert_array_equal(qmc.scale(scaled, [-1, 0], [1, 8], reverse=True), sample)
    with pytest.raises(ValueError, match="Bounds are not consistent"):
        qmc.scale(sample, [1, 0], [1, 8])
