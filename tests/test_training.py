# ruff: noqa: N806  (X_train, X_dev: the usual names)
"""nn.fit on real data: determinism, the learning curve, callbacks, divergence, bad input, and
the issue's two accuracy claims on scikit-learn's digits."""

import contextlib
import pickle

import numpy as np
import pytest

import bntune
from bntune import datasets, nn, optim

pytest.importorskip("sklearn")

from nn_helpers import HAVE_BN_KERNELS, needs_bn


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """The digits network's matrices are tiny: a BLAS thread pool only adds spin-waiting, which on
    a busy 2-core machine makes these epochs 10-20x slower (measured). One thread keeps the file
    fast."""
    threadpoolctl = pytest.importorskip("threadpoolctl")  # a scikit-learn dependency
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    return datasets.digits(seed=0)


def train(digits, *, seed, epochs, lr=1e-3, batch_norm=True, dtype=np.float32, **fit_args):
    X_train, y_train, X_dev, y_dev, *_ = digits
    model = nn.mlp(64, 10, hidden=100, layers=2, batch_norm=batch_norm, seed=seed, dtype=dtype)
    opt = optim.Adam(model.parameters(), lr=lr)
    curve = nn.fit(
        model, nn.SoftmaxCrossEntropy(), opt,
        X_train.astype(dtype), y_train, X_dev=X_dev.astype(dtype), y_dev=y_dev,
        epochs=epochs, batch_size=128, seed=seed, **fit_args,
    )  # fmt: skip
    return model, curve


def test_accuracy_counts_argmax_hits():
    # Independent check of the accuracy nn.evaluate reports: a fixed linear "model".
    model = nn.Dense(2, 3, dtype=np.float64)
    model.weight.value[...] = [[1, 0, -1], [0, 1, 1]]
    X = np.array([[2.0, 0.0], [0.0, 2.0], [-1.0, 3.0], [1.0, 1.0]])  # argmax: 0, 1|2 tie->1, 2, 0
    loss, accuracy = nn.evaluate(model, nn.SoftmaxCrossEntropy(), X, np.array([0, 1, 1, 0]))
    assert accuracy == 0.75
    assert loss > 0


def test_fit_is_deterministic_for_a_seed(digits):
    model_a, curve_a = train(digits, seed=1, epochs=3, batch_norm=HAVE_BN_KERNELS)
    model_b, curve_b = train(digits, seed=1, epochs=3, batch_norm=HAVE_BN_KERNELS)
    _, curve_c = train(digits, seed=2, epochs=3, batch_norm=HAVE_BN_KERNELS)
    assert curve_a.records == curve_b.records
    for key, value in model_a.state_dict().items():
        np.testing.assert_array_equal(model_b.state_dict()[key], value)
    assert curve_a.train_loss != curve_c.train_loss


@needs_bn
def test_fit_gives_the_same_model_on_one_or_two_kernel_threads(digits):
    before = bntune.get_num_threads()
    try:
        bntune.set_num_threads(1)
        one, curve_one = train(digits, seed=4, epochs=2)
        bntune.set_num_threads(2)
        two, curve_two = train(digits, seed=4, epochs=2)
    finally:
        bntune.set_num_threads(before)
    assert curve_one.records == curve_two.records
    for key, value in one.state_dict().items():
        np.testing.assert_array_equal(two.state_dict()[key], value)


def test_learning_curve_has_one_record_per_epoch(digits):
    _, curve = train(digits, seed=0, epochs=4, batch_norm=False)
    assert len(curve) == 4
    assert curve.epochs == [1, 2, 3, 4]
    assert curve.lr == [1e-3] * 4
    assert curve.train_loss[-1] < curve.train_loss[0] < np.log(10) + 1
    assert all(0.0 <= a <= 1.0 for a in curve.dev_accuracy)
    assert curve.dev_accuracy[-1] > 0.8
    assert curve.stopped_early is False
    assert curve.as_dict()["records"][0]["epoch"] == 1


def test_train_loss_is_the_mean_over_batches_of_the_epoch():
    # One epoch of SGD with lr=0 leaves the model unchanged: the epoch's mean mini-batch loss is
    # then the loss on the whole training set, whatever the order.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 4, 50)
    model = nn.Dense(3, 4, dtype=np.float64, seed=0)
    full_loss, _ = nn.evaluate(model, nn.SoftmaxCrossEntropy(), X, y)
    curve = nn.fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.0),
                   X, y, epochs=1, batch_size=7, seed=0)  # fmt: skip
    assert curve.train_loss[0] == pytest.approx(full_loss, rel=1e-12)
    assert curve.dev_loss == [None]


def test_callback_sees_each_epoch_and_can_stop(digits):
    seen = []

    def callback(record):
        seen.append(record)
        return record.epoch == 3

    _, curve = train(digits, seed=0, epochs=10, batch_norm=False, callback=callback)
    assert [r.epoch for r in seen] == [1, 2, 3]
    assert len(curve) == 3
    assert curve.stopped_early is True
    assert seen == curve.records


def test_schedule_sets_the_learning_rate_of_each_epoch(digits):
    schedule = optim.InverseTimeDecay(1.0)
    _, curve = train(digits, seed=0, epochs=3, lr=0.01, batch_norm=False, schedule=schedule)
    assert curve.lr == pytest.approx([0.01 / 2, 0.01 / 3, 0.01 / 4])
    # Resuming continues the schedule's epoch count.
    model = nn.mlp(64, 10, hidden=10, layers=1, batch_norm=False, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    X, y = digits.X_train, digits.y_train
    resumed = nn.fit(model, nn.SoftmaxCrossEntropy(), opt, X, y, epochs=2, batch_size=256,
                     schedule=optim.StepDecay(3, 0.5), initial_epoch=2)  # fmt: skip
    assert resumed.epochs == [3, 4]
    assert resumed.lr == pytest.approx([0.1, 0.05])


def test_nan_loss_raises_training_diverged():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    X[37, 2] = np.nan
    y = rng.integers(0, 3, 64)
    model = nn.mlp(4, 3, hidden=5, layers=1, batch_norm=False, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(bntune.TrainingDiverged) as info:
        nn.fit(model, nn.SoftmaxCrossEntropy(), opt, X, y, epochs=2, batch_size=16, seed=0)
    err = info.value
    assert isinstance(err, ArithmeticError)
    assert isinstance(err, bntune.BntuneError)
    assert err.epoch == 1
    assert err.batch is not None
    assert np.isnan(err.loss)
    assert "epoch 1" in str(err)
    again = pickle.loads(pickle.dumps(err))  # crosses process boundaries intact
    assert (type(again), again.epoch, again.batch, str(again)) == (
        bntune.TrainingDiverged, err.epoch, err.batch, str(err),
    )  # fmt: skip


def test_exploding_learning_rate_raises_training_diverged():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5))
    y = X @ rng.standard_normal((5, 2)) * 10
    model = nn.mlp(5, 2, hidden=20, layers=2, batch_norm=False, seed=0, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=10.0)
    with pytest.raises(bntune.TrainingDiverged) as info:
        nn.fit(model, nn.MSE(), opt, X, y, epochs=50, batch_size=20, seed=0)
    assert info.value.curve is not None
    assert len(info.value.curve) == info.value.epoch - 1


def test_fit_rejects_bad_input(digits):
    X, y = digits.X_train, digits.y_train
    model = nn.mlp(64, 10, hidden=10, layers=1, batch_norm=False, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = nn.SoftmaxCrossEntropy()
    with pytest.raises(bntune.ShapeError, match="one target per sample"):
        nn.fit(model, loss, opt, X, y[:-1], epochs=1, batch_size=32)
    with pytest.raises(bntune.ShapeError, match="non-empty"):
        nn.fit(model, loss, opt, X[:0], y[:0], epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="batch_size"):
        nn.fit(model, loss, opt, X, y, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="X_dev and y_dev"):
        nn.fit(model, loss, opt, X, y, epochs=1, batch_size=32, X_dev=X)
    with pytest.raises(ValueError, match=r"label 10 is out of range for 10 classes"):
        nn.fit(model, loss, opt, X, np.where(y == 9, 10, y), epochs=1, batch_size=4096)
    with pytest.raises(TypeError, match="float32"):
        nn.fit(model, loss, opt, X.astype(np.float64), y, epochs=1, batch_size=32)
    with pytest.raises(bntune.ShapeError, match=r"Sequential layer 0: Dense.*64 features"):
        nn.fit(model, loss, opt, X[:, :32], y, epochs=1, batch_size=32)


def test_a_trailing_batch_of_one_joins_the_previous_batch():
    seen = []

    class Recorder(nn.Dense):
        def forward(self, x):
            seen.append(x.shape[0])
            return super().forward(x)

    rng = np.random.default_rng(0)
    model = Recorder(3, 2, dtype=np.float64, seed=0)
    X, y = rng.standard_normal((9, 3)), rng.integers(0, 2, 9)
    nn.fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
           epochs=1, batch_size=4, seed=0)  # fmt: skip
    assert seen == [4, 5]


def test_float64_trains_end_to_end_like_float32(digits):
    bn = HAVE_BN_KERNELS
    model, curve = train(digits, seed=0, epochs=5, dtype=np.float64, batch_norm=bn)
    _, curve32 = train(digits, seed=0, epochs=5, dtype=np.float32, batch_norm=bn)
    assert all(p.value.dtype == np.float64 for p in model.parameters())
    assert curve.dev_accuracy[-1] > 0.85
    # Same seed, same steps: the two precisions follow the same trajectory.
    np.testing.assert_allclose(curve.train_loss, curve32.train_loss, rtol=1e-3)


# --- the claims -------------------------------------------------------------------------


@needs_bn
def test_batch_norm_mlp_reaches_97_percent_median_test_accuracy(digits):
    """64→100→BN→ReLU→100→BN→ReLU→10, Adam lr 1e-3, batch 128, 30 epochs, 5 seeds."""
    accuracies = []
    for seed in range(5):
        model, _ = train(digits, seed=seed, epochs=30)
        _, accuracy = nn.evaluate(model, nn.SoftmaxCrossEntropy(), digits.X_test, digits.y_test)
        accuracies.append(accuracy)
    assert np.median(accuracies) >= 0.97, accuracies


def median_test_accuracy(digits, *, lr, batch_norm):
    accuracies = []
    for seed in range(3):
        X_train, y_train, _, _, X_test, y_test = digits
        model = nn.mlp(64, 10, hidden=100, layers=2, batch_norm=batch_norm, seed=seed)
        opt = optim.Adam(model.parameters(), lr=lr)
        loss = nn.SoftmaxCrossEntropy()
        # A diverged model is scored as it stands (non-finite outputs count as wrong).
        with contextlib.suppress(bntune.TrainingDiverged):
            nn.fit(model, loss, opt, X_train, y_train, epochs=10, batch_size=128, seed=seed)
        with np.errstate(all="ignore"):
            accuracies.append(nn.evaluate(model, loss, X_test, y_test)[1])
    return float(np.median(accuracies))


@needs_bn
def test_batch_norm_makes_training_robust_to_the_learning_rate(digits):
    """The course's claim, measured: over lr in {1e-3, 1e-2, 1e-1, 1} (Adam, 10 epochs), the
    spread of the median test accuracy is narrower with batch norm than without."""
    rates = [1e-3, 1e-2, 1e-1, 1.0]
    with_bn = [median_test_accuracy(digits, lr=lr, batch_norm=True) for lr in rates]
    without = [median_test_accuracy(digits, lr=lr, batch_norm=False) for lr in rates]
    spread_bn = max(with_bn) - min(with_bn)
    spread_plain = max(without) - min(without)
    assert spread_bn < spread_plain, (with_bn, without)
