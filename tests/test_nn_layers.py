"""bntune.nn layers and losses: backward against central finite differences in float64,
forward against plain numpy formulas, initialisation statistics, and error messages."""

import numpy as np
import pytest

import bntune
from bntune import nn
from nn_helpers import HAVE_BN_KERNELS, needs_bn

GRAD_RTOL = 1e-6  # the target: max relative error of backward vs finite differences
H = 1e-6


def numeric_grad(f, array):
    """Central differences of the scalar f() with respect to every entry of ``array`` (in place)."""
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + H
        up = f()
        array[index] = old - H
        down = f()
        array[index] = old
        grad[index] = (up - down) / (2 * H)
    return grad


def max_relative_error(analytic, numeric):
    scale = np.max(np.abs(numeric))
    assert scale > 0, "degenerate check: the numeric gradient is zero"
    return np.max(np.abs(analytic - numeric)) / scale


def check_layer_gradients(layer, x, rng):
    """Checks dL/dx and dL/dparam for L = Σ forward(x)·R with a fixed random R."""
    r = rng.standard_normal(layer.forward(x).shape)

    def objective():
        return float(np.sum(layer.forward(x) * r))

    layer.zero_grad()
    layer.forward(x)
    dx = layer.backward(r)
    param_grads = {name: p.grad.copy() for name, p in layer.named_parameters().items()}
    assert max_relative_error(dx, numeric_grad(objective, x)) <= GRAD_RTOL
    for name, p in layer.named_parameters().items():
        err = max_relative_error(param_grads[name], numeric_grad(objective, p.value))
        assert err <= GRAD_RTOL, f"{name}: {err}"


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients(bias):
    rng = np.random.default_rng(0)
    layer = nn.Dense(5, 4, bias=bias, dtype=np.float64, seed=1)
    check_layer_gradients(layer, rng.standard_normal((6, 5)), rng)


def test_dense_forward_is_affine_map():
    rng = np.random.default_rng(1)
    layer = nn.Dense(3, 2, dtype=np.float64, seed=0)
    layer.bias.value[:] = [0.5, -1.0]
    x = rng.standard_normal((4, 3))
    w = layer.weight.value
    expected = np.array(
        [[sum(x[n, i] * w[i, j] for i in range(3)) for j in range(2)] for n in range(4)]
    )
    np.testing.assert_allclose(layer.forward(x), expected + np.array([0.5, -1.0]), rtol=1e-12)


@pytest.mark.parametrize(
    ("init", "variance"),
    [("he", lambda i, o: 2 / i), ("xavier", lambda i, o: 2 / (i + o))],
)
def test_dense_initialisation_variance(init, variance):
    layer = nn.Dense(400, 300, init=init, seed=3)
    w = layer.weight.value.astype(np.float64)
    assert layer.weight.value.dtype == np.float32
    assert abs(w.mean()) < 0.01 * np.sqrt(variance(400, 300))  # 3.5 standard errors
    assert w.var() == pytest.approx(variance(400, 300), rel=0.02)
    np.testing.assert_array_equal(layer.bias.value, 0)


def test_dense_seed_fixes_weights():
    a = nn.Dense(8, 3, seed=5).weight.value
    b = nn.Dense(8, 3, seed=5).weight.value
    c = nn.Dense(8, 3, seed=6).weight.value
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gradients_accumulate_until_zero_grad():
    rng = np.random.default_rng(2)
    layer = nn.Dense(3, 2, dtype=np.float64, seed=0)
    x, r = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    layer.backward(r)
    once = layer.weight.grad.copy()
    layer.forward(x)
    layer.backward(r)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-14)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.weight.grad, 0)


@pytest.mark.parametrize(
    "make", [nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, lambda: nn.LeakyReLU(0.2)]
)
def test_activation_gradients(make):
    rng = np.random.default_rng(3)
    check_layer_gradients(make(), rng.standard_normal((5, 4)) * 2, rng)


def test_activation_forward_formulas():
    x = np.array([[-3.0, -0.5, 0.0, 0.25, 4.0]])
    np.testing.assert_array_equal(nn.ReLU().forward(x), [[0, 0, 0, 0.25, 4.0]])
    np.testing.assert_allclose(
        nn.LeakyReLU(0.1).forward(x), [[-0.3, -0.05, 0, 0.25, 4.0]], rtol=1e-15
    )
    np.testing.assert_allclose(nn.Tanh().forward(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(nn.Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)


def test_sigmoid_saturates_without_overflow():
    x = np.array([[-1000.0, 1000.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = nn.Sigmoid().forward(x)
    np.testing.assert_array_equal(y, [[0.0, 1.0]])


def reference_cross_entropy(logits, labels):
    """Float64 reference: log-sum-exp written with the max shift, per row, then the mean."""
    losses = []
    for row, label in zip(logits.astype(np.float64), labels, strict=True):
        m = row.max()
        losses.append(m + np.log(np.sum(np.exp(row - m))) - row[label])
    return float(np.mean(losses))


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 5)) * 3
    labels = np.array([0, 4, 2, 2, 1, 3])
    loss_fn = nn.SoftmaxCrossEntropy()
    assert loss_fn(logits, labels) == pytest.approx(reference_cross_entropy(logits, labels), 1e-13)
    analytic = loss_fn.backward()
    numeric = numeric_grad(lambda: loss_fn(logits, labels), logits)
    assert max_relative_error(analytic, numeric) <= GRAD_RTOL


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], dtype=np.float32)
    loss_fn = nn.SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = loss_fn(logits, np.array([0, 1]))
    assert loss == pytest.approx(np.log(2) / 2, rel=1e-6)
    grad = loss_fn.backward()
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [[0, 0, 0], [0, -0.25, 0.25]], atol=1e-7)


def test_mse_value_and_gradient():
    rng = np.random.default_rng(5)
    outputs, targets = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss_fn = nn.MSE()
    expected = sum((outputs[i, j] - targets[i, j]) ** 2 for i in range(4) for j in range(3)) / 12
    assert loss_fn(outputs, targets) == pytest.approx(expected, rel=1e-14)
    numeric = numeric_grad(lambda: loss_fn(outputs, targets), outputs)
    assert max_relative_error(loss_fn.backward(), numeric) <= GRAD_RTOL


# --- batch norm (the Rust kernels) --------------------------------------------------------------


def reference_batch_norm(x, gamma, beta, eps):
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x = x.astype(np.float64)
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * gamma.reshape(shape) + beta.reshape(shape), mean, var


@needs_bn
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 2, 5)])
def test_batchnorm_forward_and_running_statistics(shape):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape) * 3 + 2
    layer = nn.BatchNorm(3, momentum=0.2, dtype=np.float64)
    layer.gamma.value[:] = [1.5, 0.5, -2.0]
    layer.beta.value[:] = [0.1, 0.2, 0.3]
    expected, mean, var = reference_batch_norm(x, layer.gamma.value, layer.beta.value, 1e-5)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)
    m = x.size // 3
    np.testing.assert_allclose(layer.running_mean, 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.8 + 0.2 * var * m / (m - 1), rtol=1e-12)
    layer.eval()
    shape_c = (1, -1) + (1,) * (x.ndim - 2)
    rm, rv = layer.running_mean.reshape(shape_c), layer.running_var.reshape(shape_c)
    inference = (x - rm) / np.sqrt(rv + 1e-5) * layer.gamma.value.reshape(shape_c)
    inference += layer.beta.value.reshape(shape_c)
    np.testing.assert_allclose(layer.forward(x), inference, rtol=1e-10, atol=1e-12)


@needs_bn
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(shape, training):
    rng = np.random.default_rng(7)
    layer = nn.BatchNorm(4, dtype=np.float64)
    layer.gamma.value[:] = rng.uniform(0.5, 2.0, 4)
    layer.beta.value[:] = rng.standard_normal(4)
    layer.running_mean[:] = rng.standard_normal(4)
    layer.running_var[:] = rng.uniform(0.5, 2.0, 4)
    layer.train(training)
    check_layer_gradients(layer, rng.standard_normal(shape) * 2 + 1, rng)


@needs_bn
def test_sequential_with_batchnorm_gradients_end_to_end():
    rng = np.random.default_rng(8)
    f64 = np.float64
    model = nn.Sequential(
        nn.Dense(5, 7, dtype=f64, seed=1),
        nn.BatchNorm(7, dtype=f64),
        nn.ReLU(),
        nn.Dense(7, 6, bias=False, dtype=f64, seed=2),
        nn.BatchNorm(6, dtype=f64),
        nn.Tanh(),
        nn.Dense(6, 3, dtype=f64, seed=3),
    )
    x = rng.standard_normal((9, 5))
    labels = rng.integers(0, 3, 9)
    loss_fn = nn.SoftmaxCrossEntropy()

    def objective():
        return loss_fn(model.forward(x), labels)

    model.zero_grad()
    objective()
    dx = model.backward(loss_fn.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters().items()}
    assert set(grads) == {
        "0.weight", "0.bias", "1.gamma", "1.beta", "3.weight", "4.gamma", "4.beta",
        "6.weight", "6.bias",
    }  # fmt: skip
    assert max_relative_error(dx, numeric_grad(objective, x)) <= GRAD_RTOL
    for name, p in model.named_parameters().items():
        numeric = numeric_grad(objective, p.value)
        if name == "0.bias":
            # A bias right before batch norm is cancelled by the mean subtraction: its gradient
            # is zero, which is why mlp() leaves it out.
            assert np.max(np.abs(grads[name])) < 1e-12
            assert np.max(np.abs(numeric)) < 1e-8
            continue
        err = max_relative_error(grads[name], numeric)
        assert err <= GRAD_RTOL, f"{name}: {err}"


def test_sequential_without_batchnorm_gradients_end_to_end():
    rng = np.random.default_rng(9)
    model = nn.mlp(4, 3, hidden=6, layers=2, batch_norm=False, activation="sigmoid",
                   seed=0, dtype=np.float64)  # fmt: skip
    x, targets = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    loss_fn = nn.MSE()

    def objective():
        return loss_fn(model.forward(x), targets)

    model.zero_grad()
    objective()
    dx = model.backward(loss_fn.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters().items()}
    assert max_relative_error(dx, numeric_grad(objective, x)) <= GRAD_RTOL
    for name, p in model.named_parameters().items():
        assert max_relative_error(grads[name], numeric_grad(objective, p.value)) <= GRAD_RTOL


def test_mlp_architecture():
    model = nn.mlp(64, 10, hidden=100, layers=2)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Dense", "BatchNorm", "ReLU", "Dense", "BatchNorm", "ReLU", "Dense"]
    assert model[0].bias is None  # redundant before batch norm
    assert (model[0].in_features, model[0].out_features) == (64, 100)
    assert (model[6].in_features, model[6].out_features) == (100, 10)
    plain = nn.mlp(64, 10, hidden=50, layers=3, batch_norm=False, activation="tanh")
    assert [type(layer).__name__ for layer in plain] == ["Dense", "Tanh"] * 3 + ["Dense"]
    assert plain[0].bias is not None
    assert plain[0].init == "xavier"
    assert all(p.dtype == np.float32 for p in model.parameters())


# --- bad input ----------------------------------------------------------------------------------


def test_shape_mismatch_between_layers_names_layer_and_shapes():
    model = nn.Sequential(nn.Dense(64, 100), nn.ReLU(), nn.Dense(50, 10))
    x = np.zeros((8, 64), dtype=np.float32)
    with pytest.raises(bntune.ShapeError) as info:
        model.forward(x)
    message = str(info.value)
    assert "layer 2" in message
    assert "Dense(50, 10" in message
    assert "(8, 100)" in message
    assert isinstance(info.value, ValueError)


def test_wrong_dtype_is_a_type_error_naming_both_dtypes():
    with pytest.raises(bntune.DtypeError, match=r"float32.*float64") as info:
        nn.Dense(4, 2).forward(np.zeros((3, 4)))
    assert isinstance(info.value, TypeError)
    with pytest.raises(TypeError, match="int64"):
        nn.Dense(4, 2).forward(np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="int"):
        nn.ReLU().forward(np.zeros((3, 4), dtype=np.int32))


def test_empty_batch_is_rejected():
    with pytest.raises(bntune.ShapeError, match="empty batch"):
        nn.Dense(4, 2).forward(np.zeros((0, 4), dtype=np.float32))
    with pytest.raises(bntune.ShapeError, match="empty batch"):
        nn.BatchNorm(4).forward(np.zeros((0, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        nn.SoftmaxCrossEntropy()(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_batchnorm_training_needs_two_values_per_channel():
    with pytest.raises(bntune.ShapeError, match=r"more than one value per channel.*\(1, 4\)"):
        nn.BatchNorm(4).forward(np.zeros((1, 4), dtype=np.float32))


def test_labels_out_of_range_and_of_wrong_dtype():
    logits = np.zeros((3, 10), dtype=np.float32)
    with pytest.raises(ValueError, match=r"label 10 .* 10 classes"):
        nn.SoftmaxCrossEntropy()(logits, np.array([0, 10, 2]))
    with pytest.raises(ValueError, match="label -1"):
        nn.SoftmaxCrossEntropy()(logits, np.array([0, -1, 2]))
    with pytest.raises(TypeError, match="integer class labels"):
        nn.SoftmaxCrossEntropy()(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        nn.SoftmaxCrossEntropy()(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        nn.MSE()(logits, np.zeros((3, 9)))


def test_backward_before_forward_and_with_wrong_shape():
    layer = nn.Dense(4, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((3, 2), dtype=np.float32))
    layer.forward(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(bntune.ShapeError, match=r"\(3, 5\).*\(3, 2\)"):
        layer.backward(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before the loss"):
        nn.SoftmaxCrossEntropy().backward()


def test_constructor_arguments_are_validated():
    with pytest.raises(ValueError, match="in_features"):
        nn.Dense(0, 3)
    with pytest.raises(ValueError, match="init"):
        nn.Dense(3, 3, init="uniform")
    with pytest.raises(TypeError, match="dtype"):
        nn.Dense(3, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        nn.BatchNorm(3, eps=0)
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.ReLU(), "relu")
    with pytest.raises(ValueError, match="activation"):
        nn.mlp(4, 2, hidden=3, layers=1, activation="swish")


def test_backward_params_accumulates_the_same_gradients_as_backward():
    rng = np.random.default_rng(10)
    model = nn.mlp(5, 3, hidden=4, layers=2, batch_norm=HAVE_BN_KERNELS, seed=0)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    r = rng.standard_normal((8, 3)).astype(np.float32)
    model.forward(x)
    model.backward(r)
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model.forward(x)
    assert model.backward_params(r) is None
    for p, expected in zip(model.parameters(), full, strict=True):
        np.testing.assert_array_equal(p.grad, expected)
