"""bntune.qmc against scipy.stats.qmc and hand-computed values: sequences and discrepancies."""

import warnings

import numpy as np
import pytest

from bntune import qmc

sq = pytest.importorskip("scipy.stats.qmc")


def _scipy_sobol(d, bits, skip, n):
    engine = sq.Sobol(d, scramble=False, bits=bits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if skip:
            # scipy's fast_forward rejects Python ints for bits > 32; drawing is equivalent.
            engine.random(skip)
        return engine.random(n)


def _same_bits(a, b):
    assert a.dtype == b.dtype == np.float64
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint64), b.view(np.uint64))


def test_first_points_of_3d_sobol():
    got = qmc.Sobol(3, scramble=False).random_base2(3)
    expected = [
        [0, 0, 0],
        [0.5, 0.5, 0.5],
        [0.75, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.375, 0.375, 0.625],
        [0.875, 0.875, 0.125],
        [0.625, 0.125, 0.875],
        [0.125, 0.625, 0.375],
    ]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bits", [30, 64])
@pytest.mark.parametrize("d", [1, 2, 7, 64, 1000])
def test_unscrambled_sobol_is_bit_identical_to_scipy(d, bits):
    ours = qmc.Sobol(d, scramble=False, bits=bits)
    _same_bits(ours.random(512), _scipy_sobol(d, bits, 0, 512))
    # Continuing after a non-power-of-two draw (no warning past the start, as scipy), and
    # after a fast_forward.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours.random(3)
    _same_bits(ours.random(29), _scipy_sobol(d, bits, 515, 29))
    ours.fast_forward(1000)
    _same_bits(ours.random(17), _scipy_sobol(d, bits, 1544, 17))


@pytest.mark.parametrize("bits", [30, 64])
def test_all_21201_dimensions_match_scipy(bits):
    ours = qmc.Sobol(21201, scramble=False, bits=bits).random_at(0, 6)
    _same_bits(ours, _scipy_sobol(21201, bits, 0, 6))
    far = qmc.Sobol(21201, scramble=False, bits=bits).random_at(77, 3)
    _same_bits(far, _scipy_sobol(21201, bits, 77, 3))


def test_scipy_fast_forward_agrees_for_bits_30():
    reference = sq.Sobol(9, scramble=False, bits=30)
    reference.fast_forward(123_457)
    ours = qmc.Sobol(9, scramble=False, bits=30).fast_forward(123_457)
    _same_bits(ours.random_at(ours.num_generated, 64), reference.random(64))


@pytest.mark.parametrize("bits", [8, 20])
def test_small_bits_match_scipy_where_scipy_is_defined(bits):
    # scipy needs every polynomial degree <= bits; the first 40 dimensions have degree <= 8.
    ours = qmc.Sobol(40, scramble=False, bits=bits).random(2**8)
    _same_bits(ours, _scipy_sobol(40, bits, 0, 2**8))


@pytest.mark.parametrize("d", [1, 3, 16, 50])
def test_unscrambled_halton_matches_scipy(d):
    ours = qmc.Halton(d, scramble=False)
    reference = sq.Halton(d, scramble=False)
    a, b = ours.random(2000), reference.random(2000)
    np.testing.assert_array_max_ulp(a, b, maxulp=1)
    ours.fast_forward(10**6)
    reference.fast_forward(10**6)
    np.testing.assert_array_max_ulp(ours.random(100), reference.random(100), maxulp=1)


def test_halton_first_points_by_hand():
    got = qmc.Halton(2, scramble=False).random(4)
    expected = [[0, 0], [1 / 2, 1 / 3], [1 / 4, 2 / 3], [3 / 4, 1 / 9]]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-16)


@pytest.mark.parametrize("method", ["CD", "WD", "MD", "L2-star"])
@pytest.mark.parametrize(("n", "d"), [(1, 1), (37, 1), (256, 4), (700, 12)])
def test_discrepancy_matches_scipy(method, n, d):
    sample = np.random.default_rng(n * 100 + d).random((n, d))
    expected = sq.discrepancy(sample, method=method)
    assert qmc.discrepancy(sample, method=method) == pytest.approx(expected, rel=1e-12, abs=0)


def test_discrepancy_accepts_points_on_the_boundary_and_non_contiguous_input():
    sample = np.asfortranarray(np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.25]]))
    for method in ["CD", "WD", "MD", "L2-star"]:
        expected = sq.discrepancy(np.ascontiguousarray(sample), method=method)
        assert qmc.discrepancy(sample, method=method) == pytest.approx(expected, rel=1e-12)


def test_discrepancy_closed_form_one_centred_point():
    # CD of {0.5} in 1-D: 13/12 - 2 * 1 + 1 = 1/12.
    assert qmc.discrepancy([[0.5]]) == pytest.approx(1 / 12, rel=1e-15)


def test_sobol_has_lower_discrepancy_than_random():
    sobol = qmc.discrepancy(qmc.Sobol(4, seed=1).random_base2(9))
    rand = qmc.discrepancy(qmc.Random(4, seed=1).random(512))
    assert sobol < rand / 3
