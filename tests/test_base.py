"""The shared base's helpers: chunking, moments, support check, PCA starting point."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import PCA

import skae._base
from skae._base import _check_unit_interval, _column_moments, _dense_chunks, principal_axes


@pytest.mark.parametrize("sparse", [False, True])
def test_dense_chunks_cover_the_requested_rows_in_order(rng, monkeypatch, sparse):
    X = rng.randn(25, 4)
    monkeypatch.setattr(skae._base, "_CHUNK_ELEMENTS", 4 * 6)  # 6 rows per chunk
    data = sp.csr_matrix(X) if sparse else X
    blocks = list(_dense_chunks(data, dtype=np.float32))
    assert [len(b) for b in blocks] == [6, 6, 6, 6, 1]
    assert all(b.dtype == np.float32 and isinstance(b, np.ndarray) for b in blocks)
    np.testing.assert_array_equal(np.vstack(blocks), X.astype(np.float32))
    rows = np.array([0, 1, 2, 9, 3, 24, 7])  # contiguous and scattered runs
    np.testing.assert_array_equal(np.vstack(list(_dense_chunks(data, rows))), X[rows])


@pytest.mark.parametrize("sparse", [False, True])
def test_column_moments_match_numpy(rng, monkeypatch, sparse):
    X = rng.randn(31, 5) * [1, 2, 3, 4, 5] + 10
    monkeypatch.setattr(skae._base, "_CHUNK_ELEMENTS", 5 * 4)
    mean, var = _column_moments(sp.csr_matrix(X) if sparse else X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(var, X.var(axis=0), rtol=1e-10)


# Within float32's resolution (2**-23) of an end counts as in: rounding, not data.
@pytest.mark.parametrize("values", [[0.0, 1.0, 0.5], [0.0, 0.0, 0.0], [-1e-9, 1.0 + 1e-9, 0.5]])
def test_check_unit_interval_accepts_unit_interval(values):
    _check_unit_interval(np.array([values]), "test")
    _check_unit_interval(sp.csr_matrix(np.array([values])), "test")
    _check_unit_interval(np.empty((0, 3)), "test")


@pytest.mark.parametrize("bad", [-1e-6, 1.0 + 1e-6, 2.0])
def test_check_unit_interval_rejects_values_outside(bad):
    X = np.array([[0.0, 0.5, bad]])
    with pytest.raises(ValueError, match=r"what needs data in \[0, 1\]"):
        _check_unit_interval(X, "what")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _check_unit_interval(sp.csr_matrix(X), "what")


@pytest.mark.parametrize("randomized", [False, True])
def test_principal_axes_match_pca(low_rank_X, monkeypatch, randomized):
    if randomized:
        monkeypatch.setattr(skae._base, "_EXACT_EIGH_MAX_FEATURES", 0)
    loc, scale = low_rank_X.mean(axis=0), np.array([2.0])
    rows = np.arange(0, 120, 2)
    mean, eigenvalues, axes, total = principal_axes(low_rank_X, rows, loc, scale, 2, 0)
    scaled = (low_rank_X[rows] - loc) / scale
    pca = PCA(n_components=2).fit(scaled)
    np.testing.assert_allclose(mean, scaled.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(eigenvalues, pca.explained_variance_, rtol=1e-6)
    assert np.all(np.diff(eigenvalues) <= 0)
    # unit axes equal to PCA's up to sign
    signs = np.sign(np.sum(axes * pca.components_.T, axis=0))
    np.testing.assert_allclose(axes * signs, pca.components_.T, atol=1e-6)
    np.testing.assert_allclose(axes.T @ axes, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(total, np.trace(np.cov(scaled, rowvar=False)), rtol=1e-10)


def test_principal_axes_on_sparse_input(low_rank_X):
    rows = np.arange(120)
    dense = principal_axes(low_rank_X, rows, 0.0, 1.0, 3, 0)
    sparse = principal_axes(sp.csr_matrix(low_rank_X), rows, 0.0, 1.0, 3, 0)
    for a, b in zip(dense[:2] + dense[3:], sparse[:2] + sparse[3:]):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(np.abs(dense[2]), np.abs(sparse[2]), atol=1e-8)


def test_principal_axes_of_constant_data_are_finite():
    X = np.ones((10, 4))
    mean, eigenvalues, axes, total = principal_axes(X, np.arange(10), 1.0, 1.0, 2, 0)
    assert np.all(eigenvalues >= 0) and np.all(np.isfinite(axes))
    assert total == 0.0


@pytest.mark.parametrize(
    "n_samples, expected",
    [(1, 1), (5, 5), (10, 8), (45, 8), (160, 16), (500, 50), (1999, 200), (2000, 200),
     (10**6, 200)],
)
def test_auto_batch_size_gives_small_data_several_steps_per_epoch(n_samples, expected):
    # About ten steps per epoch, batches of 8 to 200 rows, never more than the data.
    assert skae._base.auto_batch_size(n_samples) == expected
