"""dask integration: dask-ml's wrappers and a search on a distributed cluster.

Needs the ``dask`` extra (``pip install skae[dask]``); skipped without it.
"""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
distributed = pytest.importorskip("distributed")

from joblib import parallel_config  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from conftest import HOLD_OUT  # noqa: E402

from skae import AutoencoderTransformer, VAETransformer  # noqa: E402

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), random_state=0, **HOLD_OUT)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return rng.randn(200, 2) @ rng.randn(2, 5) + 0.1 * rng.randn(200, 5) + 3.0


@pytest.mark.parametrize("cls", [AutoencoderTransformer, VAETransformer])
def test_incremental_trains_one_partial_fit_per_block(cls, X):
    lazy_X = da.from_array(X, chunks=(50, -1))
    inc = dask_ml_wrappers.Incremental(cls(**SMALL), shuffle_blocks=True, random_state=0)
    inc.fit(lazy_X)
    est = inc.estimator_
    assert est.n_epochs_ == 4 and est.n_samples_seen_ == len(X)
    codes = inc.transform(lazy_X)
    # dask-ml's wrappers declare the input's columns for the output
    # (map_blocks without chunks); the values are right, and skae's own
    # transform of a dask array declares the right ones
    assert isinstance(codes, da.Array) and codes.compute().shape == (len(X), 2)
    np.testing.assert_array_equal(codes.compute(), est.transform(lazy_X).compute())
    assert est.transform(lazy_X).chunks == ((50,) * 4, (2,))
    # Incremental scores with the estimator's own score (PCA's contract)
    assert inc.score(lazy_X, None) == pytest.approx(est.score(X), rel=1e-6)
    # the same blocks in the same order give the same model
    again = dask_ml_wrappers.Incremental(cls(**SMALL), shuffle_blocks=True, random_state=0)
    np.testing.assert_array_equal(again.fit(lazy_X).estimator_.transform(X), est.transform(X))


def test_parallel_post_fit_transforms_dask_arrays_lazily(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = dask_ml_wrappers.ParallelPostFit(
            AutoencoderTransformer(**SMALL, max_epochs=3)
        ).fit(X)
    lazy_X = da.from_array(X, chunks=(50, -1))
    codes = wrapped.transform(lazy_X)
    assert isinstance(codes, da.Array)
    expected = np.vstack([wrapped.estimator.transform(block) for block in np.split(X, 4)])
    np.testing.assert_array_equal(codes.compute(), expected)
    scores = wrapped.score(lazy_X, None)
    assert scores == pytest.approx(wrapped.estimator.score(X), rel=1e-6)


def test_grid_search_on_a_local_cluster_matches_a_local_search(X):
    grid = {"n_components": [1, 2], "learning_rate": [1e-3, 1e-2]}
    estimator = VAETransformer(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = GridSearchCV(estimator, grid, cv=2).fit(X)
        with distributed.LocalCluster(
            # two fits at once in threads of this process: each has its own
            # generators, so the scores equal the sequential ones
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster, distributed.Client(cluster):
            with parallel_config(backend="dask"):
                remote = GridSearchCV(estimator, grid, cv=2, n_jobs=-1).fit(X)
    # scored with VAETransformer.score (no scorer), the same on the cluster
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_
