"""bntune.functional batch norm against float64 numpy formulas written from the definitions."""

import os
import subprocess
import sys

import numpy as np
import pytest

import bntune
from bntune import functional as F  # noqa: N812 (the name the docs use)

SHAPES = [
    (2, 1),
    (2, 7),
    (5, 7),
    (64, 3),
    (300, 37),
    (2, 3, 5),
    (3, 7, 5, 3),
    (2, 1, 9, 11),
    (4, 5, 3, 2, 3),
    (16, 9, 17),
    (2, 3, 4097),
]
TOL_Y = {np.float32: 2e-6, np.float64: 1e-10}
TOL_GRAD = {np.float32: 1e-5, np.float64: 1e-10}


def axes(x):
    return (0, *range(2, x.ndim))


def per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def ref_forward(x, gamma=None, beta=None, eps=1e-5):
    """The definition in float64: biased variance, two passes."""
    x = x.astype(np.float64)
    mean = x.mean(axis=axes(x))
    var = ((x - per_channel(mean, x.ndim)) ** 2).mean(axis=axes(x))
    invstd = 1.0 / np.sqrt(var + eps)
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    b = np.zeros_like(mean) if beta is None else beta.astype(np.float64)
    y = (x - per_channel(mean, x.ndim)) * per_channel(invstd * g, x.ndim) + per_channel(b, x.ndim)
    return y, mean, var, invstd


def ref_backward(dy, x, gamma, mean, invstd, training=True):
    dy, x = dy.astype(np.float64), x.astype(np.float64)
    m = x.size // x.shape[1]
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    xhat = (x - per_channel(mean, x.ndim)) * per_channel(invstd, x.ndim)
    dbeta = dy.sum(axis=axes(x))
    dgamma = (dy * xhat).sum(axis=axes(x))
    k = per_channel(g * invstd, x.ndim)
    if training:
        dx = k / m * (m * dy - per_channel(dbeta, x.ndim) - xhat * per_channel(dgamma, x.ndim))
    else:
        dx = dy * k
    return dx, dgamma, dbeta


def rel_err(got, want):
    want = np.asarray(want, dtype=np.float64)
    return np.max(np.abs(np.asarray(got, dtype=np.float64) - want)) / max(1.0, np.max(np.abs(want)))


def data(shape, dtype, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    x = (offset + rng.standard_normal(shape)).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, shape[1]).astype(dtype)
    beta = rng.standard_normal(shape[1]).astype(dtype)
    return x, gamma, beta


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_float64_reference(shape, dtype):
    x, gamma, beta = data(shape, dtype, seed=len(shape))
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta)
    y_ref, mean_ref, _, invstd_ref = ref_forward(x, gamma, beta)
    assert y.dtype == dtype
    assert y.shape == shape
    assert mean.dtype == np.float64
    assert invstd.dtype == np.float64
    assert mean.shape == invstd.shape == (shape[1],)
    assert rel_err(y, y_ref) <= TOL_Y[dtype]
    assert rel_err(mean, mean_ref) <= 1e-12
    assert np.max(np.abs(invstd / invstd_ref - 1)) <= 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gamma_and_beta_default_to_one_and_zero(dtype):
    x, _, _ = data((6, 4, 3), dtype)
    y, _, _ = F.batch_norm_forward(x)
    assert rel_err(y, ref_forward(x)[0]) <= TOL_Y[dtype]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_float64_reference(shape, dtype, training):
    x, gamma, _ = data(shape, dtype, seed=1)
    dy = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    _, mean, _, invstd = ref_forward(x)
    dx, dgamma, dbeta = F.batch_norm_backward(dy, x, gamma, mean, invstd, training=training)
    dx_ref, dgamma_ref, dbeta_ref = ref_backward(dy, x, gamma, mean, invstd, training)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == dtype
    assert rel_err(dx, dx_ref) <= TOL_GRAD[dtype]
    assert rel_err(dgamma, dgamma_ref) <= TOL_GRAD[dtype]
    assert rel_err(dbeta, dbeta_ref) <= TOL_GRAD[dtype]


@pytest.mark.parametrize("shape", [(32, 8, 16, 16), (4096, 24), (3, 5, 1001)])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_float32_exactness_targets(shape, offset):
    """Within 2e-6 (y) and 1e-5 (gradients) of float64 on N(0,1) and 1e4 + N(0,1) data."""
    x, gamma, beta = data(shape, np.float32, seed=3, offset=offset)
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta)
    y_ref, mean_ref, _, invstd_ref = ref_forward(x, gamma, beta)
    assert rel_err(y, y_ref) <= 2e-6
    dy = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    dx, dgamma, dbeta = F.batch_norm_backward(dy, x, gamma, mean, invstd)
    dx_ref, dgamma_ref, dbeta_ref = ref_backward(dy, x, gamma, mean_ref, invstd_ref)
    for got, want in [(dx, dx_ref), (dgamma, dgamma_ref), (dbeta, dbeta_ref)]:
        assert rel_err(got, want) <= 1e-5


def hard_columns(n, about_zero, seed=7):
    """float32 (N, C) columns of hard kinds, from the same draws either way.

    About zero: straddling zero, with means of 0 to 1.5 spreads, and tiny values about zero
    (the statistics are taken about a zero pivot). Otherwise two of those beside 1e7 + integers,
    1 + a few ulps, 1e4 + noise after a first strip of +-1e4 (two passes) and -3e4 + 0.01 noise.
    """
    rng = np.random.default_rng(seed)
    v = rng.uniform(-1, 1, (n, 8))
    r = np.arange(n)[:, None]
    cols = [v[:, :1], v[:, 1:2] + 0.7, 1e-20 * v[:, 2:3], v[:, 3:4] * 0.5 + 0.75]
    if not about_zero:
        first = np.where(r % 2 == 0, -1e4, 1e4) * (1 + v[:, 5:6])
        cols += [
            1e7 + (r * 7919 % 11) - 5.0,
            1.0 + (r * 31 % 5) * np.finfo(np.float32).eps,
            np.where(r < 8, first, 1e4 + v[:, 5:6]),
            -3e4 + 0.01 * v[:, 6:7],
        ]
    return np.hstack(cols).astype(np.float32)


@pytest.mark.parametrize("about_zero", [True, False])
@pytest.mark.parametrize("n", [3, 8, 9, 300, 5000])
def test_float32_columns_of_hard_kinds_match_float64(n, about_zero):
    """Column statistics to float64 accuracy whichever pivot (zero, first row) or two passes."""
    x = hard_columns(n, about_zero)
    gamma = np.linspace(0.5, 2.0, x.shape[1]).astype(np.float32)
    beta = np.linspace(-1.0, 1.0, x.shape[1]).astype(np.float32)
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta)
    y_ref, mean_ref, var_ref, invstd_ref = ref_forward(x, gamma, beta)
    sd = np.sqrt(var_ref)
    assert np.all(np.abs(mean - mean_ref) <= 1e-14 * np.maximum(np.abs(mean_ref), sd))
    assert np.max(np.abs(invstd / invstd_ref - 1)) <= 1e-12
    assert rel_err(y, y_ref) <= TOL_Y[np.float32]


@pytest.mark.parametrize("shape", [(32, 3, 7, 7), (1000, 3)])
def test_a_constant_1e7_float32_channel_gives_exactly_beta(shape):
    x, gamma, beta = data(shape, np.float32, seed=5)
    x[:, 1] = 1e7
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta)
    assert mean[1] == 1e7
    assert np.all(y[:, 1] == beta[1])
    y_ref = ref_forward(x, gamma, beta)[0]
    assert rel_err(y, y_ref) <= 2e-6
    dy = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    _, mean_ref, _, invstd_ref = ref_forward(x)
    dx, dgamma, dbeta = F.batch_norm_backward(dy, x, gamma, mean, invstd)
    dx_ref, dgamma_ref, dbeta_ref = ref_backward(dy, x, gamma, mean_ref, invstd_ref)
    for got, want in [(dx, dx_ref), (dgamma, dgamma_ref), (dbeta, dbeta_ref)]:
        assert rel_err(got, want) <= 1e-5


def test_gradients_match_finite_differences_in_float64():
    rng = np.random.default_rng(7)
    shape = (3, 2, 4)
    x = rng.standard_normal(shape)
    gamma, beta = rng.uniform(0.5, 2, 2), rng.standard_normal(2)
    w = rng.standard_normal(shape)

    def loss(x, gamma, beta):
        return float(np.sum(F.batch_norm_forward(x, gamma, beta)[0] * w))

    _, mean, invstd = F.batch_norm_forward(x, gamma, beta)
    dx, dgamma, dbeta = F.batch_norm_backward(w, x, gamma, mean, invstd)
    h = 1e-6
    for arr, grad in [(x, dx), (gamma, dgamma), (beta, dbeta)]:
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            orig = arr[idx]
            arr[idx] = orig + h
            up = loss(x, gamma, beta)
            arr[idx] = orig - h
            down = loss(x, gamma, beta)
            arr[idx] = orig
            num[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(10, 3), (4, 3, 5, 2)])
def test_running_statistics_follow_torch_rule_over_several_steps(shape, dtype):
    rm = np.zeros(shape[1], dtype)
    rv = np.ones(shape[1], dtype)
    rm_ref, rv_ref = rm.astype(np.float64), rv.astype(np.float64)
    m = np.prod(shape) // shape[1]
    for step in range(5):
        x, _, _ = data(shape, dtype, seed=10 + step, offset=step)
        F.batch_norm_forward(x, None, None, rm, rv, momentum=0.3)
        _, mean, var, _ = ref_forward(x)
        rm_ref = 0.7 * rm_ref + 0.3 * mean
        rv_ref = 0.7 * rv_ref + 0.3 * var * m / (m - 1)
        assert rm.dtype == rv.dtype == dtype
        tol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(rm, rm_ref, rtol=tol, atol=tol)
        np.testing.assert_allclose(rv, rv_ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5), (2, 5, 3, 3), (600, 5, 40)])
def test_inference_normalises_with_running_statistics(shape, dtype):
    x, gamma, beta = data(shape, dtype, seed=8)
    rng = np.random.default_rng(9)
    rm = rng.standard_normal(shape[1]).astype(dtype)
    rv = rng.uniform(0.5, 2, shape[1]).astype(dtype)
    rm0, rv0 = rm.copy(), rv.copy()
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta, rm, rv, training=False, eps=1e-3)
    invstd_ref = 1.0 / np.sqrt(rv.astype(np.float64) + 1e-3)
    y_ref = (x - per_channel(rm.astype(np.float64), x.ndim)) * per_channel(
        invstd_ref * gamma, x.ndim
    ) + per_channel(beta.astype(np.float64), x.ndim)
    assert rel_err(y, y_ref) <= TOL_Y[dtype]
    np.testing.assert_array_equal(mean, rm.astype(np.float64))
    np.testing.assert_allclose(invstd, invstd_ref, rtol=1e-15)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_receives_the_result(dtype):
    x, gamma, beta = data((4, 3, 5), dtype)
    out = np.full_like(x, np.nan)
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta, out=out)
    assert y is out
    assert rel_err(out, ref_forward(x, gamma, beta)[0]) <= TOL_Y[dtype]
    dx_out = np.empty_like(x)
    dx, _, _ = F.batch_norm_backward(x, x, gamma, mean, invstd, out=dx_out)
    assert dx is dx_out
    assert rel_err(dx, ref_backward(x, x, gamma, mean, invstd)[0]) <= TOL_GRAD[dtype]


def test_non_contiguous_and_fortran_inputs_work():
    base, gamma, beta = data((6, 4, 10), np.float64)
    views = [
        np.asfortranarray(base),
        base[:, :, ::2],
        base[::-1],
        np.transpose(np.ascontiguousarray(np.transpose(base, (2, 1, 0))), (2, 1, 0)),
    ]
    for x in views:
        want = ref_forward(np.ascontiguousarray(x), gamma, beta)[0]
        y, mean, invstd = F.batch_norm_forward(x, gamma, beta)
        assert y.flags.c_contiguous
        assert rel_err(y, want) <= 1e-10
        dx, _, _ = F.batch_norm_backward(x, x, gamma, mean, invstd)
        assert rel_err(dx, ref_backward(x, x, gamma, mean, invstd)[0]) <= 1e-10
    x2 = np.asfortranarray(data((50, 6), np.float32)[0])
    assert rel_err(F.batch_norm_forward(x2)[0], ref_forward(x2)[0]) <= 2e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 64, 40), (8192, 24)])
def test_one_and_two_threads_give_bitwise_identical_results(shape, dtype):
    x, gamma, beta = data(shape, dtype, seed=11, offset=3.0)
    dy = np.random.default_rng(12).standard_normal(shape).astype(dtype)
    before = bntune.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            bntune.set_num_threads(n)
            y, mean, invstd = F.batch_norm_forward(x, gamma, beta)
            grads = F.batch_norm_backward(dy, x, gamma, mean, invstd)
            results.append((y, mean, invstd, *grads))
    finally:
        bntune.set_num_threads(before)
    for one, two in zip(*results, strict=True):
        assert one.tobytes() == two.tobytes()


SCALAR_SCRIPT = """
import sys, numpy as np, bntune
from bntune import functional as F  # noqa: N812 (the name the docs use)
assert bntune.simd_backend() == "scalar", bntune.simd_backend()
data = dict(np.load(sys.argv[1]))
out = {}
for key in ("x32", "x64", "n32", "n64"):
    x, g, b, dy = data[key], data[key + "_g"], data[key + "_b"], data[key + "_dy"]
    y, m, s = F.batch_norm_forward(x, g, b)
    dx, dg, db = F.batch_norm_backward(dy, x, g, m, s)
    out.update({key + "_y": y, key + "_dx": dx, key + "_dg": dg, key + "_db": db})
np.savez(sys.argv[2], **out)
"""


def test_scalar_path_agrees_with_simd_path(tmp_path):
    inputs = {}
    for key, shape, dtype in [
        ("x32", (16, 5, 37), np.float32),
        ("x64", (16, 5, 37), np.float64),
        ("n32", (300, 21), np.float32),
        ("n64", (300, 21), np.float64),
    ]:
        x, g, b = data(shape, dtype, seed=13, offset=1e4)
        inputs.update({key: x, key + "_g": g, key + "_b": b})
        inputs[key + "_dy"] = np.random.default_rng(14).standard_normal(shape).astype(dtype)
    np.savez(tmp_path / "in.npz", **inputs)
    env = dict(os.environ, BNTUNE_SIMD="scalar")
    subprocess.run(
        [sys.executable, "-c", SCALAR_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "o.npz")],
        env=env,
        check=True,
    )
    scalar = np.load(tmp_path / "o.npz")
    for key in ("x32", "x64", "n32", "n64"):
        x, g, b, dy = (inputs[key + s] for s in ("", "_g", "_b", "_dy"))
        y, m, s = F.batch_norm_forward(x, g, b)
        dx, dg, db = F.batch_norm_backward(dy, x, g, m, s)
        y_ref, mean_ref, _, invstd_ref = ref_forward(x, g, b)
        dx_ref, dg_ref, db_ref = ref_backward(dy, x, g, mean_ref, invstd_ref)
        ty, tg = TOL_Y[x.dtype.type], TOL_GRAD[x.dtype.type]
        for got in (y, scalar[key + "_y"]):
            assert rel_err(got, y_ref) <= ty
        for name, want in [("_dx", dx_ref), ("_dg", dg_ref), ("_db", db_ref)]:
            assert rel_err(scalar[key + name], want) <= tg
        for got, want in [(dx, dx_ref), (dg, dg_ref), (db, db_ref)]:
            assert rel_err(got, want) <= tg
        assert rel_err(y, scalar[key + "_y"]) <= ty


@pytest.mark.parametrize("shape", [(2, 3, 700, 1000), (4200, 520)])
def test_large_outputs_streamed_to_misaligned_out_match_reference(shape):
    """Outputs beyond the caches are written with streaming stores, which need alignment."""
    x, gamma, beta = data(shape, np.float32, seed=15, offset=1e4)
    size = int(np.prod(shape))
    out = np.empty(size + 1, np.float32)[1:].reshape(shape)
    y, mean, invstd = F.batch_norm_forward(x, gamma, beta, out=out)
    y_ref, mean_ref, _, invstd_ref = ref_forward(x, gamma, beta)
    assert rel_err(y, y_ref) <= 2e-6
    dy = np.random.default_rng(16).standard_normal(shape).astype(np.float32)
    dx, dgamma, dbeta = F.batch_norm_backward(dy, x, gamma, mean, invstd, out=out)
    dx_ref, dgamma_ref, dbeta_ref = ref_backward(dy, x, gamma, mean_ref, invstd_ref)
    for got, want in [(dx, dx_ref), (dgamma, dgamma_ref), (dbeta, dbeta_ref)]:
        assert rel_err(got, want) <= 1e-5


def test_float32_column_gradient_is_within_a_few_roundings_of_its_terms():
    # (N, C) float32 forms dx = dy·k + (x - mean)·p + q in float32 lanes, with x - mean exact
    # (x - float32(mean), Sterbenz) and the mean's low part folded into q: each element is
    # within a few float32 roundings of the largest term. Columns: plain, offset 1e4,
    # 1e7 + 100·N(0, 1), negative offset, tiny spread straddling zero, a constant 1e7.
    n = 4096
    rng = np.random.default_rng(11)
    z = rng.standard_normal((n, 6))
    x = np.stack(
        [
            z[:, 0],
            1e4 + z[:, 1],
            1e7 + 100 * z[:, 2],
            -3e5 + z[:, 3],
            1e-3 * z[:, 4],
            1e7 + 0 * z[:, 5],
        ],
        axis=1,
    ).astype(np.float32)
    gamma = rng.uniform(0.5, 2.0, 6).astype(np.float32)
    dy = rng.standard_normal((n, 6)).astype(np.float32)
    _, mean, _, invstd = ref_forward(x)
    dx, _, _ = F.batch_norm_backward(dy, x, gamma, mean, invstd)
    dx_ref, dgamma, dbeta = ref_backward(dy, x, gamma, mean, invstd)
    k = gamma.astype(np.float64) * invstd
    p, q = -k * invstd * dgamma / n, -k * dbeta / n
    terms = np.abs(dy * k) + np.abs((x.astype(np.float64) - mean) * p) + np.abs(q)
    ulp = np.finfo(np.float32).eps / 2
    assert np.all(np.abs(dx - dx_ref) <= 4 * ulp * terms.max(axis=0) + 1e-45)
    assert rel_err(dx, dx_ref) <= TOL_GRAD[np.float32]


def test_float32_column_gradient_keeps_f64_when_a_float32_coefficient_overflows():
    # gamma·invstd beyond float32's range: the float32 form would give inf, the f64 one the
    # finite dx (dy is tiny), rounded once.
    rng = np.random.default_rng(12)
    x = (1e-3 * rng.standard_normal((64, 3))).astype(np.float32)
    dy = (1e-30 * rng.standard_normal((64, 3))).astype(np.float32)
    gamma = np.array([1e38, 1.0, 2.0], np.float32)
    _, mean, _, invstd = ref_forward(x)
    dx, _, _ = F.batch_norm_backward(dy, x, gamma, mean, invstd)
    dx_ref, _, _ = ref_backward(dy, x, gamma, mean, invstd)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_wide_input_with_a_few_far_out_columns(dtype):
    # Columns about zero but for 3 in 2048 far from it: the kernels sum those again alone,
    # two-pass (rust/batchnorm/stats.rs, FEW_COLUMNS). Exact, and the same on any thread count.
    x, gamma, beta = data((96, 2048), dtype, seed=21)
    for j, offset in [(5, 1e4), (700, -3e4), (2047, 1e6)]:
        x[:, j] += dtype(offset)
    mean_ref = x.astype(np.float64).mean(axis=0)
    var_ref = x.astype(np.float64).var(axis=0)
    before = bntune.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            bntune.set_num_threads(n)
            results.append(F.batch_norm_forward(x, gamma, beta))
    finally:
        bntune.set_num_threads(before)
    for one, two in zip(*results, strict=True):
        assert one.tobytes() == two.tobytes()
    y, mean, invstd = results[0]
    # a few ulps of the mean, or of the spread where the mean is smaller
    scale = np.maximum(np.abs(mean_ref), np.sqrt(var_ref))
    assert np.max(np.abs(mean - mean_ref) / scale) <= 1e-14
    assert np.max(np.abs(1 / invstd**2 - 1e-5 - var_ref) / var_ref) <= 1e-10
    assert rel_err(y, ref_forward(x, gamma, beta)[0]) <= (2e-6 if dtype == np.float32 else 1e-10)
