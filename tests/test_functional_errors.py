"""Bad input to bntune.functional batch norm: clear exceptions, nothing modified, no panics."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bntune
from bntune import functional as F  # noqa: N812 (the name the docs use)


def arrays(shape=(4, 3, 2), dtype=np.float32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    return x, np.ones(c, dtype), np.zeros(c, dtype), np.zeros(c, dtype), np.ones(c, dtype)


def assert_untouched(*pairs):
    for got, before in pairs:
        np.testing.assert_array_equal(got, before)


@pytest.mark.parametrize(
    ("shape", "match"),
    [((5,), r"at least 2 dimensions .* got shape \(5,\)"), ((0, 3), r"empty, got shape \(0, 3\)")],
)
def test_bad_x_shapes_raise_value_error(shape, match):
    with pytest.raises(ValueError, match=match):
        F.batch_norm_forward(np.ones(shape, np.float32))
    with pytest.raises(bntune.ShapeError):
        F.batch_norm_forward(np.ones(shape, np.float32))


def test_scalar_x_raises_value_error():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.batch_norm_forward(np.ones((), np.float32))


@pytest.mark.parametrize("name", ["gamma", "beta", "running_mean", "running_var"])
def test_per_channel_arrays_of_wrong_shape_raise_and_modify_nothing(name):
    x, g, b, rm, rv = arrays()
    args = {"gamma": g, "beta": b, "running_mean": rm, "running_var": rv}
    args[name] = np.ones(4, np.float32)
    before = {k: v.copy() for k, v in args.items()}
    out = np.full_like(x, 7.0)
    with pytest.raises(ValueError, match=rf"{name} must have shape \(3,\).*got shape \(4,\)"):
        F.batch_norm_forward(x, **args, out=out)
    assert_untouched((out, np.full_like(x, 7.0)), *((args[k], before[k]) for k in args))


def test_integer_x_raises_type_error():
    with pytest.raises(TypeError, match=r"x must be a float32 or float64 numpy array, got .*int64"):
        F.batch_norm_forward(np.ones((4, 3), np.int64))
    with pytest.raises(TypeError, match="got an object of type list"):
        F.batch_norm_forward([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(bntune.DtypeError):
        F.batch_norm_forward(np.ones((4, 3), np.float16))


@pytest.mark.parametrize("name", ["gamma", "beta", "running_mean", "running_var"])
def test_mixed_dtypes_raise_type_error_and_modify_nothing(name):
    x, g, b, rm, rv = arrays()
    args = {"gamma": g, "beta": b, "running_mean": rm, "running_var": rv}
    args[name] = args[name].astype(np.float64)
    before = {k: v.copy() for k, v in args.items()}
    with pytest.raises(TypeError, match=rf"{name} must be a numpy array of x's dtype float32"):
        F.batch_norm_forward(x, **args)
    assert_untouched(*((args[k], before[k]) for k in args))


def test_backward_mixed_dtypes_raise_type_error():
    x, g, _, _, _ = arrays()
    mean, invstd = np.zeros(3), np.ones(3)
    with pytest.raises(TypeError, match="x must be a numpy array of dy's dtype float32"):
        F.batch_norm_backward(x, x.astype(np.float64), g, mean, invstd)
    with pytest.raises(TypeError, match="gamma must be a numpy array of x's dtype"):
        F.batch_norm_backward(x, x, g.astype(np.float64), mean, invstd)
    with pytest.raises(TypeError, match="mean must be a float64"):
        F.batch_norm_backward(x, x, g, np.zeros(3, np.int32), invstd)
    with pytest.raises(ValueError, match=r"invstd must have shape \(3,\)"):
        F.batch_norm_backward(x, x, g, mean, np.ones(2))
    with pytest.raises(ValueError, match=r"x must have dy's shape"):
        F.batch_norm_backward(x, x[:2], g, mean, invstd)


def test_inference_without_running_statistics_raises():
    x, g, b, rm, _ = arrays()
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        F.batch_norm_forward(x, g, b, training=False)
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        F.batch_norm_forward(x, g, b, rm, None, training=False)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1)])
def test_training_with_one_value_per_channel_raises(shape):
    x, _, _, rm, rv = arrays(shape)
    rm0 = rm.copy()
    expected = (
        r"x: batch norm in training needs more than one value per channel, "
        rf"got shape \({', '.join(map(str, shape))}\)"
    )
    with pytest.raises(bntune.ShapeError, match=expected):
        F.batch_norm_forward(x, None, None, rm, rv)
    assert_untouched((rm, rm0))
    y, _, _ = F.batch_norm_forward(x, None, None, rm, rv, training=False)
    assert y.shape == shape


def test_bad_running_statistics_raise_before_anything_is_modified():
    x, g, b, rm, _ = arrays()
    out = np.full_like(x, 7.0)
    readonly = np.zeros(3, np.float32)
    readonly.flags.writeable = False
    strided = np.zeros(6, np.float32)[::2]
    for bad_rv, match in [
        (readonly, "running_var must be a writable array"),
        (strided, "running_var must be contiguous"),
        (np.ones(3, np.float64), "running_var must be a numpy array of x's dtype float32"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            F.batch_norm_forward(x, g, b, rm, bad_rv, out=out)
        assert_untouched((rm, np.zeros(3, np.float32)), (out, np.full_like(x, 7.0)))


def test_bad_out_raises():
    x, g, b, rm, rv = arrays()
    cases = [
        (np.empty((4, 3, 3), np.float32), ValueError, r"out must have x's shape \(4, 3, 2\)"),
        (np.empty((4, 3, 2), np.float64), TypeError, "out must be a numpy array of x's dtype"),
        (np.empty((4, 3, 4), np.float32)[:, :, ::2], ValueError, "out must be a C-contiguous"),
        (x, ValueError, "must not share memory"),
    ]
    for out, kind, match in cases:
        with pytest.raises(kind, match=match):
            F.batch_norm_forward(x, g, b, rm, rv, out=out)
        with pytest.raises(kind, match=match):
            F.batch_norm_backward(x.copy(), x, g, np.zeros(3), np.ones(3), out=out)
    np.testing.assert_array_equal(rm, np.zeros(3, np.float32))


@pytest.mark.parametrize("eps", [-1.0, float("nan"), float("inf")])
def test_bad_eps_raises(eps):
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        F.batch_norm_forward(arrays()[0], eps=eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 3), (6, 3, 5), (200, 1024), (4, 3, 5000)])
def test_nan_and_inf_propagate_per_channel(shape, dtype):
    x, g, b, _, _ = arrays(shape, dtype)
    x[2, 0] = np.nan
    x[3, 1] = np.inf
    y, mean, invstd = F.batch_norm_forward(x, g, b)
    assert np.isnan(mean[0])
    assert np.isinf(mean[1])
    assert np.isfinite(mean[2])
    assert np.all(np.isnan(y[:, 0]))
    assert np.all(np.isnan(y[:, 1]))
    rest = x[:, 2].astype(np.float64)
    want = (rest - rest.mean()) / np.sqrt(rest.var() + 1e-5)
    np.testing.assert_allclose(y[:, 2], want, rtol=1e-5, atol=1e-6)
    dx, dgamma, dbeta = F.batch_norm_backward(np.ones_like(x), x, g, mean, invstd)
    assert np.all(np.isnan(dx[:, 0]))
    assert np.isnan(dgamma[0])
    assert np.all(np.isfinite(dx[:, 2]))
    assert np.isfinite(dbeta[2])


DTYPES = [np.float32, np.float64, np.int32, np.float16, np.complex64]


@st.composite
def calls(draw):
    ndim = draw(st.integers(0, 5))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(st.sampled_from(["normal", "nan", "inf", "huge", "zero"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = np.array(rng.standard_normal(shape) * (1e300 if values == "huge" else 1.0))
    if values == "nan" and x.size:
        x.flat[0] = np.nan
    if values == "inf" and x.size:
        x.flat[-1] = -np.inf
    if values == "zero":
        x[...] = 0
    with np.errstate(all="ignore"):
        x = x.astype(dtype)
    if draw(st.booleans()) and ndim >= 1:
        x = x[::2]
    if draw(st.booleans()):
        x = np.asfortranarray(x)
    c = draw(st.integers(0, 5))
    pdtype = draw(st.sampled_from(DTYPES))

    def param():
        kind = draw(st.sampled_from(["none", "ok", "wrong"]))
        if kind == "none":
            return None
        n = shape[1] if kind == "ok" and ndim >= 2 else c
        return np.ones(n, pdtype if kind == "wrong" else x.dtype)

    return x, [param() for _ in range(4)], draw(st.booleans()), draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls())
def test_no_input_makes_rust_panic(call):
    x, (g, b, rm, rv), training, with_out = call
    out = np.empty_like(x, order="C") if with_out else None
    try:
        y, mean, invstd = F.batch_norm_forward(x, g, b, rm, rv, training=training, out=out)
    except (ValueError, TypeError):
        return
    assert y.shape == x.shape
    assert y.dtype == x.dtype
    try:
        dx, _, _ = F.batch_norm_backward(x, x, g, mean, invstd, training=training, out=out)
    except (ValueError, TypeError):
        return
    assert dx.shape == x.shape
