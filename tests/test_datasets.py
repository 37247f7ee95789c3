# ruff: noqa: N806  (X_train, X_dev: the usual names)
"""bntune.datasets.digits: scikit-learn's bundled digits, scaled and split 70/15/15."""

import sys

import numpy as np
import pytest

from bntune import datasets

load_digits = pytest.importorskip("sklearn.datasets").load_digits


def test_digits_split_sizes_types_and_scale():
    split = datasets.digits()
    X_train, y_train, X_dev, y_dev, X_test, y_test = split
    assert (X_train.shape, X_dev.shape, X_test.shape) == ((1258, 64), (270, 64), (269, 64))
    assert (y_train.shape, y_dev.shape, y_test.shape) == ((1258,), (270,), (269,))
    assert X_train.dtype == np.float32
    assert y_train.dtype == np.int64
    for X, y in ((X_train, y_train), (X_dev, y_dev), (X_test, y_test)):
        assert X.min() >= 0.0
        assert X.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))
    assert split.X_dev is X_dev


def test_digits_is_a_partition_of_the_scikit_learn_data():
    reference = load_digits()
    X_train, y_train, X_dev, y_dev, X_test, y_test = datasets.digits(seed=3, dtype=np.float64)
    X = np.concatenate([X_train, X_dev, X_test]) * 16
    y = np.concatenate([y_train, y_dev, y_test])
    ours = sorted(zip(map(tuple, X.astype(np.int64)), y, strict=True))
    theirs = sorted(zip(map(tuple, reference.data.astype(np.int64)), reference.target, strict=True))
    assert ours == theirs
    np.testing.assert_array_equal(X, np.round(X))  # the scale is exactly 1/16


def test_digits_seed_decides_the_split():
    a, b, c = datasets.digits(seed=1), datasets.digits(seed=1), datasets.digits(seed=2)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a.y_train, c.y_train)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"scikit-learn.*bntune\[demo\]"):
        datasets.digits()


def test_digits_rejects_bad_arguments():
    with pytest.raises(TypeError, match="seed"):
        datasets.digits(seed=1.5)
    with pytest.raises(TypeError, match="dtype"):
        datasets.digits(dtype=np.int32)
