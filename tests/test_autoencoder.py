"""Tests of AutoencoderTransformer: PCA as reference, quality floors, the scikit-learn contract."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from scipy.linalg import subspace_angles
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

import skae._base
from skae import AutoencoderTransformer

#: Few epochs and a small network: for tests where quality is not the point.
FAST = dict(max_epochs=10, hidden_layer_sizes=(16,), random_state=0)


def _mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def _reconstruction_basis(model, X, k):
    """Orthonormal basis of the (affine) subspace the reconstructions of ``X`` span."""
    R = model.inverse_transform(model.transform(X))
    return np.linalg.svd(R - R.mean(axis=0), full_matrices=False)[2][:k].T


@pytest.fixture(scope="module")
def fitted(low_rank_X):
    """A fitted model for read-only tests (never refit or modify it)."""
    return AutoencoderTransformer(n_components=2, **FAST).fit(low_rank_X)


@pytest.fixture(scope="module")
def noisy_low_rank():
    rng = np.random.RandomState(3)
    return rng.randn(120, 2) @ rng.randn(2, 6) * 3.0 + 5.0 + 0.5 * rng.randn(120, 6)


# ---------------------------------------------------------------- PCA as reference
@pytest.mark.parametrize(
    "params, max_angle, max_ratio",
    [
        # Started at PCA's solution (a stationary point of the linear autoencoder).
        (dict(init="pca", max_epochs=20), 0.1, 1.001),
        # Trained from random weights (full-batch Adam) to PCA's subspace.
        (dict(init="random", max_epochs=1000, learning_rate=3e-2, batch_size=120, tol=0.0,
              n_iter_no_change=50), 0.5, 1.01),
    ],
)
def test_linear_autoencoder_spans_pca_subspace(noisy_low_rank, params, max_angle, max_ratio):
    X = noisy_low_rank
    ae = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(), early_stopping=False, random_state=0, **params
    ).fit(X)
    pca = PCA(n_components=2).fit(X)
    angles = np.degrees(subspace_angles(_reconstruction_basis(ae, X, 2), pca.components_.T))
    assert np.all(angles < max_angle), angles
    # and the codes are an invertible linear function of PCA's scores
    codes = ae.transform(X)
    scores = pca.transform(X)
    A, *_ = np.linalg.lstsq(np.c_[codes, np.ones(len(X))], scores, rcond=None)
    np.testing.assert_allclose(np.c_[codes, np.ones(len(X))] @ A, scores, atol=0.05 * scores.std())
    ratio = _mse(ae, X) / _mse(pca, X)
    assert 1 - 1e-6 < ratio < max_ratio  # PCA's error is the optimum of a linear autoencoder


def test_training_from_random_weights_learns(low_rank_X):
    ae = AutoencoderTransformer(
        n_components=2, init="random", early_stopping=False, batch_size=16,
        **{**FAST, "max_epochs": 20},
    ).fit(low_rank_X)
    assert len(ae.loss_curve_) == ae.n_epochs_ > 1
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]


@pytest.fixture(scope="module")
def digits_split(digits):
    X, y = digits
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def digits_pipelines(digits_split):
    """AE(8) -> StandardScaler -> LogisticRegression and the same with PCA(8), fitted."""
    X_train, _, y_train, _ = digits_split
    pipes = {}
    for name, reducer in [
        ("ae", AutoencoderTransformer(n_components=8, random_state=0)),
        ("pca", PCA(n_components=8)),
    ]:
        pipe = make_pipeline(reducer, StandardScaler(), LogisticRegression(max_iter=2000))
        pipes[name] = pipe.fit(X_train, y_train)
    return pipes


def test_quality_floor_on_digits_reconstruction(digits_split, digits_pipelines):
    # Measured: 0.54x PCA(8)'s held-out squared error.
    _, X_test, _, _ = digits_split
    ae, pca = digits_pipelines["ae"][0], digits_pipelines["pca"][0]
    assert _mse(ae, X_test) <= 0.6 * _mse(pca, X_test)
    np.testing.assert_allclose(ae.reconstruction_error(X_test).mean(), _mse(ae, X_test), rtol=1e-6)


def test_quality_floor_on_digits_classification(digits_split, digits_pipelines):
    # Measured: 0.941 vs 0.902 accuracy with PCA(8).
    _, X_test, _, y_test = digits_split
    ae_accuracy = digits_pipelines["ae"].score(X_test, y_test)
    pca_accuracy = digits_pipelines["pca"].score(X_test, y_test)
    assert ae_accuracy >= pca_accuracy


@pytest.mark.parametrize("loader", [load_wine, load_iris])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("n_components", [1, 2])
def test_never_worse_than_pca_on_small_data(loader, standardize, n_components):
    X, y = loader(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=0)
    if standardize:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ae = AutoencoderTransformer(n_components=n_components, random_state=0).fit(X_train)
    pca = PCA(n_components=n_components).fit(X_train)
    assert _mse(ae, X_test) <= 1.02 * _mse(pca, X_test)


# ------------------------------------------------------------------- composition
def test_in_pipeline_and_clone(low_rank_X):
    y = (low_rank_X[:, 0] > np.median(low_rank_X[:, 0])).astype(int)
    pipe = make_pipeline(
        StandardScaler(), AutoencoderTransformer(n_components=2, **FAST), LogisticRegression()
    ).fit(low_rank_X, y)
    assert pipe.score(low_rank_X, y) > 0.8
    assert pipe[1].n_features_in_ == 6

    est = AutoencoderTransformer(n_components=3, callbacks=[], **FAST)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert copy is not est and not hasattr(copy, "net_")
    fitted_clone = clone(pipe[1])
    assert not hasattr(fitted_clone, "net_")


def test_column_transformer(low_rank_X):
    df = pd.DataFrame(low_rank_X, columns=[f"f{i}" for i in range(6)])
    df["label"] = ["a", "b"] * 60
    ct = ColumnTransformer(
        [("ae", AutoencoderTransformer(n_components=2, **FAST), [f"f{i}" for i in range(6)])],
        remainder="drop",
    )
    out = ct.fit_transform(df)
    assert out.shape == (120, 2)
    alone = AutoencoderTransformer(n_components=2, **FAST).fit(df.iloc[:, :6])
    np.testing.assert_allclose(out, alone.transform(df.iloc[:, :6]))
    assert list(ct.get_feature_names_out()) == [
        "ae__autoencodertransformer0",
        "ae__autoencodertransformer1",
    ]


@pytest.fixture(scope="module")
def grid_searches(noisy_low_rank):
    searches = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(
            AutoencoderTransformer(**FAST), {"n_components": [1, 2, 3]}, cv=3, n_jobs=n_jobs
        )
        searches[n_jobs] = search.fit(noisy_low_rank)
    return searches


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_n_components_with_default_scoring(grid_searches, n_jobs, noisy_low_rank):
    search = grid_searches[n_jobs]
    scores = search.cv_results_["mean_test_score"]
    # score = -reconstruction error: rank-2 data is far better explained by 2 codes than by 1
    assert scores[1] > scores[0] + 0.1 * abs(scores[0])
    assert search.best_params_["n_components"] >= 2
    n_best = search.best_params_["n_components"]
    assert search.best_estimator_.transform(noisy_low_rank).shape[1] == n_best


def test_grid_search_results_do_not_depend_on_n_jobs(grid_searches):
    np.testing.assert_allclose(
        grid_searches[1].cv_results_["mean_test_score"],
        grid_searches[2].cv_results_["mean_test_score"],
        rtol=1e-5,
    )


def test_set_output_pandas(fitted, low_rank_X):
    df = pd.DataFrame(low_rank_X, columns=list("abcdef"), index=np.arange(100, 220))
    est = AutoencoderTransformer(n_components=3, **FAST).set_output(transform="pandas")
    out = est.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert list(out.index) == list(df.index)
    assert list(est.feature_names_in_) == list("abcdef")
    np.testing.assert_allclose(out.to_numpy(), est.set_output(transform="default").transform(df))
    names = ["autoencodertransformer0", "autoencodertransformer1"]
    assert list(fitted.get_feature_names_out()) == names
    # inverse_transform is not wrapped
    est.set_output(transform="pandas")
    assert isinstance(est.inverse_transform(out.to_numpy()), np.ndarray)


# ---------------------------------------------------------------------- pickling
def test_pickle_round_trip(fitted, low_rank_X):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(low_rank_X), fitted.transform(low_rank_X))
    Z = fitted.transform(low_rank_X)
    np.testing.assert_array_equal(restored.inverse_transform(Z), fitted.inverse_transform(Z))
    np.testing.assert_array_equal(
        restored.score_samples(low_rank_X), fitted.score_samples(low_rank_X)
    )


def test_joblib_round_trip(fitted, low_rank_X, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    restored = joblib.load(path)
    np.testing.assert_array_equal(restored.transform(low_rank_X), fitted.transform(low_rank_X))
    np.testing.assert_array_equal(
        restored.sample(5, random_state=0), fitted.sample(5, random_state=0)
    )


def test_pickled_data_is_not_kept(fitted, low_rank_X):
    # The validation split (training rows) must not travel with the pickle.
    assert fitted.net_.train_split is None
    assert len(pickle.dumps(fitted)) < 1e6


def test_model_fitted_on_cuda_loads_on_cpu(low_rank_X, monkeypatch):
    # Simulated on CPU: mark the fitted model as living on CUDA, then unpickle on a
    # machine without CUDA. skorch maps its tensors to the CPU; inference must use
    # the net's (remapped) device, not the stale ``device_``.
    est = AutoencoderTransformer(n_components=2, **FAST).fit(low_rank_X)
    expected = est.transform(low_rank_X)
    est.device_ = "cuda"
    est.net_.device = "cuda"
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(Warning, match="(?i)cuda"):
        restored = pickle.loads(blob)
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_allclose(restored.transform(low_rank_X), expected, rtol=1e-6)
    assert restored.inverse_transform(expected).shape == low_rank_X.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_on_cuda_matches_cpu(low_rank_X):
    gpu = AutoencoderTransformer(n_components=2, device="cuda", **FAST).fit(low_rank_X)
    assert gpu.device_.startswith("cuda")
    cpu = AutoencoderTransformer(n_components=2, device="cpu", **FAST).fit(low_rank_X)
    np.testing.assert_allclose(gpu.transform(low_rank_X), cpu.transform(low_rank_X), atol=1e-3)
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_array_equal(restored.transform(low_rank_X), gpu.transform(low_rank_X))


# --------------------------------------------------------------- input handling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(fitted, low_rank_X, dtype):
    X = low_rank_X.astype(dtype)
    est = AutoencoderTransformer(n_components=2, **FAST)
    assert est.fit_transform(X).dtype == dtype
    Z = est.transform(X)
    assert Z.dtype == dtype
    assert est.inverse_transform(Z).dtype == dtype
    assert fitted.transform(X).dtype == dtype
    assert fitted.reconstruction_error(X).dtype == np.float64
    np.testing.assert_allclose(
        fitted.transform(X), fitted.transform(low_rank_X), rtol=1e-4, atol=1e-4
    )


def test_integer_input_gives_float64(fitted, low_rank_X):
    X = np.round(low_rank_X).astype(np.int64)
    assert fitted.transform(X).dtype == np.float64


def test_fit_on_dataframe_warns_nothing(low_rank_X):
    df = pd.DataFrame(low_rank_X, columns=list("abcdef"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = AutoencoderTransformer(n_components=2, **FAST).fit(df)
        est.fit_transform(df)
        est.transform(df)
    with pytest.warns(UserWarning, match="feature names"):
        est.transform(low_rank_X)


def test_dataframe_and_list_inputs(fitted, low_rank_X):
    expected = fitted.transform(low_rank_X)
    np.testing.assert_array_equal(fitted.transform(low_rank_X.tolist()), expected)
    np.testing.assert_array_equal(fitted.transform(pd.DataFrame(low_rank_X)), expected)

    est = AutoencoderTransformer(n_components=2, **FAST).fit(low_rank_X.tolist())
    np.testing.assert_array_equal(est.transform(low_rank_X), expected)


def test_sparse_input_same_as_dense(rng):
    X = rng.uniform(size=(60, 8))
    X[X < 0.6] = 0.0
    dense = AutoencoderTransformer(n_components=2, **FAST).fit(X)
    for fmt in (sp.csr_matrix, sp.csr_array, sp.csc_matrix):
        Xs = fmt(X)
        np.testing.assert_allclose(dense.transform(Xs), dense.transform(X), rtol=1e-6)
        np.testing.assert_allclose(
            dense.reconstruction_error(Xs), dense.reconstruction_error(X), rtol=1e-6
        )
    sparse = AutoencoderTransformer(n_components=2, **FAST).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-5)


def test_inference_in_chunks_matches_one_chunk(fitted, low_rank_X, monkeypatch):
    expected_Z = fitted.transform(low_rank_X)
    expected_err = fitted.reconstruction_error(low_rank_X, per_feature=True)
    monkeypatch.setattr(skae._base, "_INFERENCE_CHUNK_ELEMENTS", 6 * 7)  # 7 rows per chunk
    np.testing.assert_allclose(fitted.transform(low_rank_X), expected_Z, rtol=1e-6)
    np.testing.assert_allclose(
        fitted.reconstruction_error(low_rank_X, per_feature=True), expected_err, rtol=1e-6
    )
    Xs = sp.csr_matrix(low_rank_X)
    np.testing.assert_allclose(fitted.transform(Xs), expected_Z, rtol=1e-6)


@pytest.mark.parametrize("n_samples", [2, 3])
def test_training_set_smaller_than_a_batch(low_rank_X, n_samples):
    X = low_rank_X[:n_samples]
    est = AutoencoderTransformer(n_components=1, batch_size=200, **FAST).fit(X)
    assert est.batch_size_ <= n_samples
    assert est.n_epochs_ >= 1
    assert np.all(np.isfinite(est.loss_curve_))
    assert est.transform(X).shape == (n_samples, 1)
    assert np.all(np.isfinite(est.transform(low_rank_X)))
    assert est.sample(4, random_state=0).shape == (4, 6)


def test_last_smaller_batch_is_trained(low_rank_X):
    est = AutoencoderTransformer(
        n_components=2, batch_size=50, early_stopping=False, **{**FAST, "max_epochs": 2}
    ).fit(low_rank_X)
    batches = est.history_[0, "batches"]
    assert len(batches) == 3  # 50 + 50 + 20 rows


def test_same_random_state_same_model(low_rank_X):
    params = dict(n_components=2, init="random", dropout=0.1, noise=0.1, **FAST)
    a = AutoencoderTransformer(**params).fit(low_rank_X)
    b = AutoencoderTransformer(**params).fit(low_rank_X)
    state_a, state_b = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    np.testing.assert_array_equal(a.transform(low_rank_X), b.transform(low_rank_X))
    assert a.loss_curve_ == b.loss_curve_

    c = AutoencoderTransformer(**{**params, "random_state": 1}).fit(low_rank_X)
    assert not np.allclose(c.transform(low_rank_X), a.transform(low_rank_X))


def test_random_state_instance_is_accepted(low_rank_X):
    a = AutoencoderTransformer(n_components=2, **{**FAST, "random_state": np.random.RandomState(5)})
    b = AutoencoderTransformer(n_components=2, **{**FAST, "random_state": np.random.RandomState(5)})
    np.testing.assert_array_equal(a.fit_transform(low_rank_X), b.fit_transform(low_rank_X))


def test_fit_leaves_global_rngs_untouched(low_rank_X):
    torch.manual_seed(1234)
    np.random.seed(1234)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    AutoencoderTransformer(n_components=2, init="random", noise=0.1, dropout=0.1, **FAST).fit(
        low_rank_X
    )
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


def test_fit_restores_thread_settings(low_rank_X):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    from skorch.callbacks import Callback
    from threadpoolctl import threadpool_limits

    class RecordThreads(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append((torch.get_num_threads(), blas_threads()))

    seen = []
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with threadpool_limits(limits=2, user_api="blas"):
            blas_before = blas_threads()
            AutoencoderTransformer(n_components=2, callbacks=[RecordThreads()], **FAST).fit(
                low_rank_X
            )
            assert torch.get_num_threads() == 2
            assert blas_threads() == blas_before
    finally:
        torch.set_num_threads(previous)
    # while training, this small network ran on one torch and one BLAS thread
    assert seen and all(t == 1 and set(b) <= {1} for t, b in seen)


def test_fit_transform_equals_fit_then_transform(low_rank_X):
    est = AutoencoderTransformer(n_components=2, **FAST)
    Z = est.fit_transform(low_rank_X)
    np.testing.assert_array_equal(Z, est.transform(low_rank_X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_callers_array_is_not_modified(low_rank_X, dtype):
    X = np.ascontiguousarray(low_rank_X, dtype=dtype)
    original = X.copy()
    # noise and no scaling: the in-place-prone path, on float32 C-contiguous data
    est = AutoencoderTransformer(n_components=2, noise=0.5, input_scaling=None, **FAST).fit(X)
    np.testing.assert_array_equal(X, original)
    Z = est.transform(X)
    est.reconstruction_error(X)
    est.score_samples(X)
    np.testing.assert_array_equal(X, original)
    Z_original = Z.copy()
    est.inverse_transform(Z)
    np.testing.assert_array_equal(Z, Z_original)


def test_read_only_input_is_not_handed_to_torch(low_rank_X, monkeypatch):
    # joblib hands read-only memmaps to parallel workers (GridSearchCV(n_jobs=2)).
    # torch.as_tensor on a read-only float32 array aliases memory torch may write
    # and warns "The given NumPy array is not writable" -- only once per process,
    # so the cause is checked directly rather than the (order-dependent) warning.
    X = low_rank_X.astype(np.float32)
    X.flags.writeable = False
    as_tensor = torch.as_tensor

    def checked_as_tensor(data, *args, **kwargs):
        if isinstance(data, np.ndarray):
            assert data.flags.writeable, "a read-only array was handed to torch.as_tensor"
        return as_tensor(data, *args, **kwargs)

    monkeypatch.setattr(torch, "as_tensor", checked_as_tensor)
    est = AutoencoderTransformer(n_components=2, **FAST).fit(X)
    est.transform(X)
    est.inverse_transform(est.transform(X))


# ----------------------------------------------------------- scores and sampling
def test_reconstruction_error_per_feature(fitted, low_rank_X):
    per_feature = fitted.reconstruction_error(low_rank_X, per_feature=True)
    rows = fitted.reconstruction_error(low_rank_X)
    assert per_feature.shape == low_rank_X.shape
    assert rows.shape == (len(low_rank_X),)
    assert np.all(per_feature >= 0)
    np.testing.assert_allclose(per_feature.mean(axis=1), rows, rtol=1e-6)
    # squared error in the original units
    reconstruction = fitted.inverse_transform(fitted.transform(low_rank_X))
    np.testing.assert_allclose(
        per_feature, (reconstruction - low_rank_X) ** 2, rtol=1e-3, atol=1e-6
    )


def test_score_is_mean_of_score_samples(fitted, low_rank_X):
    samples = fitted.score_samples(low_rank_X)
    assert samples.shape == (len(low_rank_X),)
    np.testing.assert_allclose(samples, -fitted.reconstruction_error(low_rank_X))
    assert fitted.score(low_rank_X) == pytest.approx(np.mean(samples), rel=1e-12)
    # an outlier scores lower (higher = more normal)
    outlier = low_rank_X[:1] + 20.0 * np.array([[1, -1, 1, -1, 1, -1]])
    assert fitted.score_samples(outlier)[0] < samples.min()


def test_sample_shapes_and_reproducibility(fitted, low_rank_X):
    assert fitted.sample().shape == (1, 6)
    draws = fitted.sample(50, random_state=0)
    assert draws.shape == (50, 6)
    np.testing.assert_array_equal(draws, fitted.sample(50, random_state=0))
    np.testing.assert_array_equal(
        draws, fitted.sample(50, random_state=np.random.RandomState(0))
    )
    assert not np.allclose(draws, fitted.sample(50, random_state=1))
    # latent Gaussian fitted to the training codes
    codes = fitted.transform(low_rank_X)
    np.testing.assert_allclose(fitted.latent_mean_, codes.mean(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fitted.latent_covariance_, np.cov(codes, rowvar=False), rtol=1e-5)
    # samples look like the data: same location and spread, roughly
    many = fitted.sample(2000, random_state=0)
    np.testing.assert_allclose(many.mean(axis=0), low_rank_X.mean(axis=0), atol=0.5)


@pytest.mark.parametrize("n_samples", [0, -1, 1.5])
def test_sample_rejects_bad_n_samples(fitted, n_samples):
    with pytest.raises(ValueError):
        fitted.sample(n_samples)


def test_fitted_attributes(fitted, low_rank_X):
    assert fitted.n_components_ == 2
    assert fitted.n_features_in_ == 6
    assert fitted.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert fitted.n_epochs_ == len(fitted.loss_curve_) == len(fitted.history_)
    assert len(fitted.validation_scores_) == fitted.n_epochs_
    assert 0 <= fitted.best_epoch_ <= fitted.n_epochs_
    assert np.isfinite(fitted.best_loss_)
    if fitted.best_epoch_ > 0:
        best_validation_loss = -fitted.validation_scores_[fitted.best_epoch_ - 1]
        assert fitted.best_loss_ == pytest.approx(best_validation_loss)
    assert not fitted.net_.module_.training  # left in eval mode
    assert not hasattr(fitted, "feature_names_in_")
    # constructor parameters are stored untouched
    assert fitted.get_params()["hidden_layer_sizes"] == (16,)
    assert fitted.get_params()["batch_size"] == "auto"
    assert fitted.batch_size_ == min(200, len(low_rank_X))


def test_without_early_stopping_no_validation_scores(low_rank_X):
    est = AutoencoderTransformer(n_components=2, early_stopping=False, **FAST).fit(low_rank_X)
    assert not hasattr(est, "validation_scores_")
    assert est.best_loss_ == pytest.approx(min(est.loss_curve_))


def test_convergence_warning_when_max_epochs_reached(low_rank_X):
    with pytest.warns(ConvergenceWarning, match="max_epochs"):
        AutoencoderTransformer(
            n_components=2, init="random", early_stopping=False, **{**FAST, "max_epochs": 2}
        ).fit(low_rank_X)


# ------------------------------------------------------------ verbosity, callbacks
def test_verbose_zero_prints_nothing(low_rank_X, capsys):
    AutoencoderTransformer(n_components=2, verbose=0, **FAST).fit(low_rank_X)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_one_prints_an_epoch_table(low_rank_X, capsys):
    est = AutoencoderTransformer(n_components=2, verbose=1, **{**FAST, "max_epochs": 3})
    est.fit(low_rank_X)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out and "valid_loss" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == est.n_epochs_


class CountEpochs(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


@pytest.mark.parametrize("named", [False, True])
def test_user_callbacks_run_and_are_not_mutated(low_rank_X, named):
    counter = CountEpochs()
    entry = ("count", counter) if named else counter
    callbacks = [entry]
    est = AutoencoderTransformer(
        n_components=2, callbacks=callbacks, early_stopping=False, **{**FAST, "max_epochs": 3}
    ).fit(low_rank_X)
    assert counter.epochs == 0  # the user's instance is untouched
    assert est.callbacks is callbacks and callbacks == [entry]
    used = [cb for _, cb in est.net_.callbacks_ if isinstance(cb, CountEpochs)]
    assert len(used) == 1 and used[0] is not counter
    assert used[0].epochs == est.n_epochs_ == 3  # the copy did run
    # a second fit starts from a fresh copy again
    est.fit(low_rank_X)
    assert counter.epochs == 0
    assert [cb for _, cb in est.net_.callbacks_ if isinstance(cb, CountEpochs)][0].epochs == 3


# tol=1.0 with n_iter_no_change=2: early stopping triggers at epoch 2.
EARLY_STOP = dict(n_components=2, tol=1.0, n_iter_no_change=2, **FAST)


def test_every_callback_sees_the_epoch_that_stops_training(low_rank_X):
    est = AutoencoderTransformer(callbacks=[CountEpochs()], **EARLY_STOP).fit(low_rank_X)
    assert est.n_epochs_ == 2
    used = [cb for _, cb in est.net_.callbacks_ if isinstance(cb, CountEpochs)][0]
    assert used.epochs == est.n_epochs_


def test_verbose_prints_the_epoch_that_stops_training(low_rank_X, capsys):
    est = AutoencoderTransformer(verbose=1, **EARLY_STOP).fit(low_rank_X)
    out = capsys.readouterr().out
    assert est.n_epochs_ == 2
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == est.n_epochs_


# -------------------------------------------------------------------------- bce
def test_bce_on_unit_interval_data(unit_interval_X):
    est = AutoencoderTransformer(n_components=2, loss="bce", **FAST).fit(unit_interval_X)
    reconstruction = est.inverse_transform(est.transform(unit_interval_X))
    assert np.all((reconstruction >= 0) & (reconstruction <= 1))
    # extreme codes too
    wild = est.inverse_transform(np.array([[1e3, -1e3], [-1e3, 1e3]]))
    assert np.all((wild >= 0) & (wild <= 1))
    errors = est.reconstruction_error(unit_interval_X, per_feature=True)
    assert np.all(np.isfinite(errors)) and np.all(errors >= 0)
    # per-feature error is the binary cross-entropy
    p = np.clip(reconstruction, 1e-7, 1 - 1e-7)
    bce = -(unit_interval_X * np.log(p) + (1 - unit_interval_X) * np.log(1 - p))
    np.testing.assert_allclose(errors, bce, rtol=1e-3, atol=1e-4)
    assert est.score(unit_interval_X) == pytest.approx(-errors.mean(), rel=1e-6)


def test_bce_training_learns(unit_interval_X):
    X = np.repeat(unit_interval_X[:, :2], 3, axis=1)  # redundant features: compressible
    est = AutoencoderTransformer(
        n_components=2,
        loss="bce",
        init="random",
        early_stopping=False,
        **{**FAST, "max_epochs": 30},
    ).fit(X)
    assert est.loss_curve_[-1] < est.loss_curve_[0]


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("method", ["fit", "transform"])
def test_nan_input_raises(fitted, low_rank_X, method):
    X = low_rank_X.copy()
    X[3, 2] = np.nan
    target = AutoencoderTransformer(**FAST) if method == "fit" else fitted
    with pytest.raises(ValueError, match="NaN"):
        getattr(target, method)(X)


@pytest.mark.parametrize("method", ["fit", "transform", "score_samples"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_input_raises(fitted, low_rank_X, method, value):
    X = low_rank_X.copy()
    X[0, 0] = value
    target = AutoencoderTransformer(**FAST) if method == "fit" else fitted
    with pytest.raises(ValueError, match="infinity"):
        getattr(target, method)(X)


@pytest.mark.parametrize("method", ["transform", "score_samples", "reconstruction_error", "score"])
def test_wrong_number_of_features_raises(fitted, low_rank_X, method):
    with pytest.raises(ValueError, match="features"):
        getattr(fitted, method)(low_rank_X[:, :5])


def test_string_input_raises(fitted):
    X = np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object)
    with pytest.raises(ValueError):
        AutoencoderTransformer(**FAST).fit(X)
    with pytest.raises(ValueError):
        fitted.transform(np.full((2, 6), "x"))


@pytest.mark.parametrize(
    "X",
    [np.ones(10), np.empty((0, 3)), np.ones((5, 0)), np.ones((4, 3)) * 1j],
    ids=["1d", "no-rows", "no-features", "complex"],
)
def test_degenerate_shapes_and_complex_raise(X):
    with pytest.raises(ValueError):
        AutoencoderTransformer(n_components=1, **FAST).fit(X)


@pytest.mark.parametrize(
    "method, args",
    [
        ("transform", (np.ones((2, 3)),)),
        ("inverse_transform", (np.ones((2, 2)),)),
        ("score_samples", (np.ones((2, 3)),)),
        ("score", (np.ones((2, 3)),)),
        ("reconstruction_error", (np.ones((2, 3)),)),
        ("sample", (3,)),
        ("get_feature_names_out", ()),
    ],
)
def test_unfitted_raises_not_fitted_error(method, args):
    with pytest.raises(NotFittedError):
        getattr(AutoencoderTransformer(), method)(*args)


@pytest.mark.parametrize(
    "params",
    [
        dict(n_components=0),
        dict(n_components=1.5),
        dict(activation="foo"),
        dict(learning_rate=-1),
        dict(learning_rate=0),
        dict(dropout=1.5),
        dict(dropout=-0.1),
        dict(loss="l1"),
        dict(noise=-1.0),
        dict(init="zeros"),
        dict(input_scaling="minmax"),
        dict(batch_size=0),
        dict(batch_size="big"),
        dict(max_epochs=0),
        dict(validation_fraction=0.0),
        dict(validation_fraction=1.0),
        dict(n_iter_no_change=0),
        dict(tol=-1.0),
        dict(weight_decay=-1.0),
        dict(early_stopping="yes"),
        dict(callbacks="foo"),
    ],
)
def test_invalid_parameters_raise_invalid_parameter_error(low_rank_X, params):
    with pytest.raises(InvalidParameterError):
        AutoencoderTransformer(**params).fit(low_rank_X)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(16, -1)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(1.5,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(True,)), "hidden_layer_sizes"),
        (dict(device="nonsense"), "device"),
        (dict(n_components=7), "n_components"),
    ],
)
def test_invalid_values_raise_value_error(low_rank_X, params, match):
    with pytest.raises(ValueError, match=match):
        AutoencoderTransformer(**params).fit(low_rank_X)


def test_bce_rejects_data_outside_unit_interval(low_rank_X, unit_interval_X):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AutoencoderTransformer(loss="bce", **FAST).fit(low_rank_X)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AutoencoderTransformer(loss="bce", **FAST).fit(sp.csr_matrix(unit_interval_X * 2))
    # the boundary values themselves are fine
    X = unit_interval_X.copy()
    X[0, :] = 0.0
    X[1, :] = 1.0
    AutoencoderTransformer(loss="bce", **{**FAST, "max_epochs": 1}).fit(X)


def test_divergence_raises_a_clear_error(low_rank_X):
    with pytest.raises(FloatingPointError, match="diverged"):
        AutoencoderTransformer(input_scaling=None, **FAST).fit(low_rank_X * 1e30)


def test_extreme_values_beyond_float32_never_give_silent_nan_codes(fitted, low_rank_X):
    # float64 values outside float32's range pass validation but overflow in the
    # float32 network: the result must be an error, not NaN/inf codes.
    X = low_rank_X * 1e39
    try:
        Z = fitted.transform(X)
    except ValueError:
        return
    assert np.all(np.isfinite(Z))


@pytest.mark.parametrize("input_scaling", ["global", None])
def test_fit_on_values_beyond_float32_raises_value_error(low_rank_X, input_scaling):
    # As transform does: a float64 input that overflows float32 is a bad input
    # (ValueError), not a training divergence.
    with pytest.raises(ValueError):
        AutoencoderTransformer(input_scaling=input_scaling, **FAST).fit(low_rank_X * 1e39)


def test_inverse_transform_wrong_width_raises(fitted):
    with pytest.raises(ValueError, match="n_components"):
        fitted.inverse_transform(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        fitted.inverse_transform(np.zeros((3, 2)) + np.nan)
