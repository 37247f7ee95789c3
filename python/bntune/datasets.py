"""Small real datasets for examples, tests and the demo (no download)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bntune.nn.module import float_dtype


class Split(NamedTuple):
    """A dataset cut into train, dev and test sets; unpacks as
    ``X_train, y_train, X_dev, y_dev, X_test, y_test``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            "bntune.datasets.digits needs scikit-learn, which is not installed; install it "
            "with the demo extra: pip install 'bntune[demo]' (the test extra has it too)"
        ) from err
    bunch = load_digits()
    return np.asarray(bunch.data), np.asarray(bunch.target)


def digits(seed: int = 0, *, dtype: Any = np.float32) -> Split:
    """scikit-learn's bundled handwritten digits: 1797 images of 8x8 pixels, 10 classes.

    Pixels (0..16) are scaled to [0, 1] by dividing by 16 (a fixed scale, so no statistic
    leaks from the dev or test sets). The samples are shuffled with ``seed`` and split 70/15/15
    into train (1258), dev (270) and test (269) sets. X is (n, 64) of ``dtype`` (float32 by
    default), y is (n,) int64 labels in [0, 9].
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"digits: seed must be an int, got {seed!r}")
    dtype = float_dtype(dtype, owner="digits")
    images, labels = _load_digits()
    X = (images / 16.0).astype(dtype)  # noqa: N806  (X, y as in the literature)
    y = labels.astype(np.int64)
    n = X.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(0.70 * n)
    n_dev = round(0.15 * n)
    train, dev, test = np.split(order, [n_train, n_train + n_dev])
    return Split(X[train], y[train], X[dev], y[dev], X[test], y[test])
