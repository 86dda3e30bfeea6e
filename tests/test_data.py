"""Generated and shipped data: shapes, determinism, no downloads."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lnbook import data


def test_activations_are_seeded_and_offset():
    a = data.activations(4, 5, offset=10.0, scale=2.0, dtype=np.float32, seed=3)
    assert a.shape == (4, 5) and a.dtype == np.float32
    np.testing.assert_array_equal(
        a, data.activations(4, 5, offset=10.0, scale=2.0, dtype=np.float32, seed=3)
    )
    assert abs(a.mean() - 10.0) < 4.0


def test_digits_ship_with_scikit_learn():
    from sklearn.datasets import load_digits  # the oracle: what scikit-learn itself reads

    images, labels = data.digits()
    bunch = load_digits()
    np.testing.assert_array_equal(images, bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)
    assert images.dtype == np.float64 and labels.dtype == int
    assert images.shape == (1797, 64) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16 and set(labels) == set(range(10))
    sub, sub_labels = data.digits(10, seed=1)
    assert sub.shape == (10, 64)
    np.testing.assert_array_equal(sub, data.digits(10, seed=1)[0])


@pytest.mark.parametrize("n", [0, 1798])
def test_digits_rejects_impossible_subsets(n):
    with pytest.raises(ValueError, match="n must be between 1 and 1797"):
        data.digits(n)


def test_layer_activations_vary_per_example():
    h = data.layer_activations(16, 32, seed=0)
    assert h.shape == (16, 32) and (h >= 0).all()  # after a ReLU
    means = h.mean(axis=1)
    assert means.max() > 3 * means.min()  # examples differ: what layer norm removes


@pytest.mark.parametrize(
    "kwargs, match", [({"n_examples": 0}, "n_examples"), ({"n_features": 0}, "n_features")]
)
def test_layer_activations_names_the_bad_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.layer_activations(**kwargs)


def test_digits_without_sklearn_read_the_packed_copy_exactly(tmp_path, monkeypatch):
    packed = data.save_digits(tmp_path / "pkg" / data.DIGITS_FILE)
    assert packed.is_file() and packed.stat().st_size < 50_000
    want = data.digits(), data.digits(10, seed=1)
    # DIGITS_FILE is relative to the package folder; an absolute path points elsewhere.
    monkeypatch.setattr(data, "DIGITS_FILE", str(packed))
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "sklearn", None)
        m.setitem(sys.modules, "sklearn.datasets", None)
        got = data.digits(), data.digits(10, seed=1)
    for (images, labels), (want_images, want_labels) in zip(got, want, strict=True):
        assert images.dtype == want_images.dtype and labels.dtype == want_labels.dtype
        np.testing.assert_array_equal(images, want_images)
        np.testing.assert_array_equal(labels, want_labels)


def test_save_digits_writes_the_same_bytes_every_time(tmp_path):
    first = data.save_digits(tmp_path / "a.npz").read_bytes()
    assert data.save_digits(tmp_path / "b.npz").read_bytes() == first  # a reproducible wheel


def test_digits_without_sklearn_or_packed_copy_say_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DIGITS_FILE", str(tmp_path / "absent.npz"))
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="need scikit-learn.*absent.npz.*save_digits"):
        data.digits()


@pytest.mark.parametrize(
    "args, match",
    [((4, -3), "n_features must be >= 1, got -3"), ((0, 8), "n_examples must be >= 1, got 0")],
)
def test_activations_names_a_size_that_is_not_one(args, match):
    with pytest.raises(ValueError, match=match):
        data.activations(*args)
