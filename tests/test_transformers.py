"""What both transformers inherit from the shared base, tested on each of them.

Pickling, dtypes, pandas and sparse input, chunked inference, batching, RNG
isolation, threads, callbacks and verbosity, fitted attributes and bad input:
:class:`~skae._base._BaseAutoencoder` implements them once, so every test here
runs on :class:`AutoencoderTransformer` and :class:`VAETransformer` alike.
What only one transformer does is tested in ``test_autoencoder.py`` or
``test_vae.py``.
"""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from conftest import CountEpochs, HOLD_OUT

import skae._base
from skae import AutoencoderTransformer, VAETransformer

#: Few epochs and a small network: for tests where quality is not the point.
FAST = dict(max_epochs=10, hidden_layer_sizes=(16,), random_state=0, **HOLD_OUT)

#: Each transformer's options that draw random numbers during training.
RANDOM_TRAINING = {
    AutoencoderTransformer: dict(init="random", dropout=0.1, noise=0.1),
    VAETransformer: dict(init="random", dropout=0.1),
}

#: Each transformer's option that takes data in [0, 1] only.
UNIT_INTERVAL = {
    AutoencoderTransformer: dict(loss="bce"),
    VAETransformer: dict(likelihood="bernoulli"),
}


@pytest.fixture(params=[AutoencoderTransformer, VAETransformer], ids=lambda cls: cls.__name__,
                scope="module")
def Estimator(request):
    """Each transformer class in turn."""
    return request.param


@pytest.fixture(scope="module")
def fitted(Estimator, low_rank_X):
    """A fitted model for read-only tests (never refit or modify it)."""
    return Estimator(n_components=2, **FAST).fit(low_rank_X)


def _assert_same_state(a, b):
    state_a, state_b = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


# ------------------------------------------------------------------- composition
def test_clone_keeps_parameters_and_drops_the_fit(Estimator, fitted):
    est = Estimator(n_components=3, callbacks=[], **FAST)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert copy is not est and not hasattr(copy, "net_")
    assert not hasattr(clone(fitted), "net_")


def test_set_output_pandas(Estimator, fitted, low_rank_X):
    df = pd.DataFrame(low_rank_X, columns=list("abcdef"), index=np.arange(100, 220))
    est = Estimator(n_components=3, **FAST).set_output(transform="pandas")
    out = est.fit_transform(df)
    prefix = Estimator.__name__.lower()
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"{prefix}{i}" for i in range(3)]
    assert list(out.index) == list(df.index)
    assert list(est.feature_names_in_) == list("abcdef")
    np.testing.assert_allclose(out.to_numpy(), est.set_output(transform="default").transform(df))
    assert list(fitted.get_feature_names_out()) == [f"{prefix}0", f"{prefix}1"]
    # inverse_transform is not wrapped
    est.set_output(transform="pandas")
    assert isinstance(est.inverse_transform(out.to_numpy()), np.ndarray)


def test_tags_say_which_input_is_accepted(Estimator):
    tags = get_tags(Estimator())
    # (n_samples, C, T) sequences are accepted besides rows (test_shapes.py).
    assert tags.input_tags.sparse and tags.input_tags.three_d_array
    assert not tags.input_tags.allow_nan and not tags.input_tags.positive_only
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]
    assert tags.requires_fit and not tags.non_deterministic


def test_data_in_the_unit_interval_only_is_tagged_positive_only(Estimator, low_rank_X):
    est = Estimator(n_components=2, **UNIT_INTERVAL[Estimator], **FAST)
    assert get_tags(est).input_tags.positive_only
    with pytest.raises(ValueError, match=r"needs data in \[0, 1\]"):
        est.fit(-low_rank_X)


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


def test_pickled_data_is_not_kept(fitted):
    # The validation split (training rows) must not travel with the pickle.
    assert fitted.net_.train_split is None
    assert len(pickle.dumps(fitted)) < 1e6


def test_model_fitted_on_cuda_loads_on_cpu(Estimator, low_rank_X, monkeypatch):
    # Simulated on CPU: mark the fitted model as living on CUDA, then unpickle on a
    # machine without CUDA. skorch maps its tensors to the CPU; inference must use
    # the net's (remapped) device, not the stale ``device_``.
    est = Estimator(n_components=2, **FAST).fit(low_rank_X)
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


# --------------------------------------------------------------- input handling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(Estimator, fitted, low_rank_X, dtype):
    X = low_rank_X.astype(dtype)
    est = Estimator(n_components=2, **FAST)
    assert est.fit_transform(X).dtype == dtype
    Z = est.transform(X)
    assert Z.dtype == dtype
    assert est.inverse_transform(Z).dtype == dtype
    assert fitted.transform(X).dtype == dtype
    assert fitted.score_samples(X).dtype == np.float64
    np.testing.assert_allclose(
        fitted.transform(X), fitted.transform(low_rank_X), rtol=1e-4, atol=1e-4
    )


def test_integer_input_gives_float64(fitted, low_rank_X):
    X = np.round(low_rank_X).astype(np.int64)
    assert fitted.transform(X).dtype == np.float64


def dataframe(library, X, columns):
    if library == "pandas":
        return pd.DataFrame(X, columns=columns)
    return pl.DataFrame(X, schema=columns)


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_fit_on_dataframe_warns_nothing(Estimator, low_rank_X, library):
    df = dataframe(library, low_rank_X, list("abcdef"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Estimator(n_components=2, **FAST).fit(df)
        est.fit_transform(df)
        codes = est.transform(df)
    np.testing.assert_array_equal(est.feature_names_in_, list("abcdef"))
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(est.transform(low_rank_X), codes)


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_dataframe_columns_of_strings_or_missing_values_are_refused(
    Estimator, low_rank_X, library
):
    # Converted as scikit-learn converts them: a categorical column is its
    # categories' values (strings: a ValueError, never their integer codes),
    # a missing value (pd.NA, polars' null) a NaN.
    labels = np.where(low_rank_X[:, 0] > np.median(low_rank_X[:, 0]), "high", "low")
    df = dataframe(library, low_rank_X[:, :5], list("abcde"))
    if library == "pandas":
        categorical = df.assign(f=pd.Categorical(labels))
        missing = df.astype("Float64").assign(a=lambda d: d["a"].mask(d.index == 3, pd.NA))
    else:
        categorical = df.with_columns(pl.Series("f", labels, dtype=pl.Categorical))
        missing = df.with_columns(pl.when(pl.int_range(len(df)) == 3).then(None)
                                  .otherwise(pl.col("a")).alias("a"))
    with pytest.raises(ValueError, match="could not convert string to float"):
        Estimator(n_components=2, **FAST).fit(categorical)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        Estimator(n_components=2, **FAST).fit(missing)


def test_dataframe_and_list_inputs(Estimator, fitted, low_rank_X):
    expected = fitted.transform(low_rank_X)
    np.testing.assert_array_equal(fitted.transform(low_rank_X.tolist()), expected)
    np.testing.assert_array_equal(fitted.transform(pd.DataFrame(low_rank_X)), expected)

    est = Estimator(n_components=2, **FAST).fit(low_rank_X.tolist())
    np.testing.assert_array_equal(est.transform(low_rank_X), expected)


def test_sparse_input_same_as_dense(Estimator, rng):
    X = rng.uniform(size=(60, 8))
    X[X < 0.6] = 0.0
    dense = Estimator(n_components=2, **FAST).fit(X)
    for fmt in (sp.csr_matrix, sp.csr_array, sp.csc_matrix):
        Xs = fmt(X)
        np.testing.assert_allclose(dense.transform(Xs), dense.transform(X), rtol=1e-6)
        np.testing.assert_allclose(dense.score_samples(Xs), dense.score_samples(X), rtol=1e-6)
    sparse = Estimator(n_components=2, **FAST).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-5)


def test_inference_in_chunks_matches_one_chunk(fitted, low_rank_X, monkeypatch):
    expected_Z = fitted.transform(low_rank_X)
    expected_scores = fitted.score_samples(low_rank_X)
    monkeypatch.setattr(skae._base, "_INFERENCE_CHUNK_ELEMENTS", 6 * 7)  # 7 rows per chunk
    # float32 rounding relative to the codes' scale (a code near 0 has no relative precision)
    atol = 1e-6 * np.abs(expected_Z).max()
    np.testing.assert_allclose(fitted.transform(low_rank_X), expected_Z, rtol=1e-6, atol=atol)
    # The VAE's score is a log-mean-exp of float32 log-densities: a few ulps of
    # the matrix products (blocked by chunk size) move it by about 1e-6.
    np.testing.assert_allclose(fitted.score_samples(low_rank_X), expected_scores, rtol=1e-5)
    Xs = sp.csr_matrix(low_rank_X)
    np.testing.assert_allclose(fitted.transform(Xs), expected_Z, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("n_samples", [2, 3])
def test_training_set_smaller_than_a_batch(Estimator, low_rank_X, n_samples):
    X = low_rank_X[:n_samples]
    est = Estimator(n_components=1, batch_size=200, **FAST).fit(X)
    assert est.batch_size_ <= n_samples
    assert est.n_epochs_ >= 1
    assert np.all(np.isfinite(est.loss_curve_))
    assert est.transform(X).shape == (n_samples, 1)
    assert np.all(np.isfinite(est.transform(low_rank_X)))
    assert est.sample(4, random_state=0).shape == (4, 6)


def test_last_smaller_batch_is_trained(Estimator, low_rank_X):
    est = Estimator(
        n_components=2, batch_size=50, **{**FAST, "early_stopping": False, "max_epochs": 2}
    ).fit(low_rank_X)
    batches = est.history_[0, "batches"]
    assert [batch["train_batch_size"] for batch in batches] == [50, 50, 20]
    # Each batch took an optimizer step, the short one too: 2 epochs x 3 batches.
    state = est.net_.optimizer_.state_by_parameter()
    assert {int(parameter["step"]) for parameter in state.values()} == {6}


# ------------------------------------------------------------ randomness, threads
def test_same_random_state_same_model(Estimator, low_rank_X):
    params = dict(n_components=2, **RANDOM_TRAINING[Estimator], **FAST)
    a = Estimator(**params).fit(low_rank_X)
    b = Estimator(**params).fit(low_rank_X)
    _assert_same_state(a, b)
    np.testing.assert_array_equal(a.transform(low_rank_X), b.transform(low_rank_X))
    np.testing.assert_array_equal(a.score_samples(low_rank_X), b.score_samples(low_rank_X))
    assert a.loss_curve_ == b.loss_curve_

    c = Estimator(**{**params, "random_state": 1}).fit(low_rank_X)
    assert not np.allclose(c.transform(low_rank_X), a.transform(low_rank_X))


def test_random_state_instance_is_accepted(Estimator, low_rank_X):
    a = Estimator(n_components=2, **{**FAST, "random_state": np.random.RandomState(5)})
    b = Estimator(n_components=2, **{**FAST, "random_state": np.random.RandomState(5)})
    np.testing.assert_array_equal(a.fit_transform(low_rank_X), b.fit_transform(low_rank_X))


def test_fit_leaves_global_rngs_untouched(Estimator, low_rank_X):
    torch.manual_seed(1234)
    np.random.seed(1234)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    est = Estimator(n_components=2, **RANDOM_TRAINING[Estimator], **FAST).fit(low_rank_X)
    est.score_samples(low_rank_X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


def test_fit_restores_thread_settings(Estimator, low_rank_X):
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    class RecordThreads(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append((torch.get_num_threads(), blas_threads()))

    seen = []
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with threadpool_limits(limits=2, user_api="blas"):
            blas_before = blas_threads()
            Estimator(n_components=2, callbacks=[RecordThreads()], **FAST).fit(low_rank_X)
            assert torch.get_num_threads() == 2
            assert blas_threads() == blas_before
    finally:
        torch.set_num_threads(previous)
    # while training, this small network ran on one torch and one BLAS thread
    assert seen and all(t == 1 and set(b) <= {1} for t, b in seen)


def test_fit_transform_equals_fit_then_transform(Estimator, low_rank_X):
    est = Estimator(n_components=2, **FAST)
    Z = est.fit_transform(low_rank_X)
    np.testing.assert_array_equal(Z, est.transform(low_rank_X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_callers_array_is_not_modified(Estimator, low_rank_X, dtype):
    X = np.ascontiguousarray(low_rank_X, dtype=dtype)
    original = X.copy()
    # random training and no scaling: the in-place-prone path, on C-contiguous data
    est = Estimator(
        n_components=2, input_scaling=None, **RANDOM_TRAINING[Estimator], **FAST
    ).fit(X)
    np.testing.assert_array_equal(X, original)
    Z = est.transform(X)
    est.score_samples(X)
    np.testing.assert_array_equal(X, original)
    Z_original = Z.copy()
    est.inverse_transform(Z)
    np.testing.assert_array_equal(Z, Z_original)


def test_read_only_input_is_not_handed_to_torch(Estimator, low_rank_X, monkeypatch):
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
    est = Estimator(n_components=2, **FAST).fit(X)
    est.transform(X)
    est.score_samples(X)
    est.inverse_transform(est.transform(X))


# ----------------------------------------------------------- fitted attributes
def test_fitted_attributes(fitted, low_rank_X):
    assert fitted.n_components_ == 2
    assert fitted.n_features_in_ == 6
    assert fitted.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert fitted.n_epochs_ == len(fitted.loss_curve_) == len(fitted.history_)
    assert len(fitted.validation_scores_) == fitted.n_epochs_
    assert 0 <= fitted.best_epoch_ <= fitted.n_epochs_
    # (Here PCA's start is kept, best_epoch_ == 0: what best_loss_ is for a
    # trained epoch is tested from random weights, below.)
    assert not fitted.net_.module_.training  # left in eval mode
    assert not hasattr(fitted, "feature_names_in_")
    # constructor parameters are stored untouched
    assert fitted.get_params()["hidden_layer_sizes"] == (16,)
    assert fitted.get_params()["batch_size"] == "auto"
    # 120 rows: batches of 12, about ten steps per epoch
    assert fitted.batch_size_ == 12


def test_best_loss_is_the_best_epochs_validation_loss(Estimator, low_rank_X):
    # From random weights, training improves on the start.
    est = Estimator(n_components=2, init="random", **FAST).fit(low_rank_X)
    assert est.best_epoch_ > 0
    losses = -np.asarray(est.validation_scores_)
    assert est.best_loss_ == pytest.approx(losses[est.best_epoch_ - 1])
    assert est.best_loss_ <= losses.min() + est.tol


def test_without_early_stopping_no_validation_scores(Estimator, low_rank_X):
    est = Estimator(n_components=2, **{**FAST, "early_stopping": False}).fit(low_rank_X)
    assert not hasattr(est, "validation_scores_")
    assert est.best_loss_ == pytest.approx(min(est.loss_curve_))


def test_convergence_warning_when_max_epochs_reached(Estimator, low_rank_X):
    with pytest.warns(ConvergenceWarning, match="max_epochs"):
        Estimator(
            n_components=2, init="random", **{**FAST, "early_stopping": False, "max_epochs": 2}
        ).fit(low_rank_X)


@pytest.mark.parametrize("n_samples", [0, -1, 1.5])
def test_sample_rejects_bad_n_samples(fitted, n_samples):
    with pytest.raises(ValueError):
        fitted.sample(n_samples)


# ------------------------------------------------------------ verbosity, callbacks
def test_verbose_zero_prints_nothing(Estimator, low_rank_X, capsys):
    Estimator(n_components=2, verbose=0, **FAST).fit(low_rank_X)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_one_prints_an_epoch_table(Estimator, low_rank_X, capsys):
    est = Estimator(n_components=2, verbose=1, **{**FAST, "max_epochs": 3})
    est.fit(low_rank_X)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out and "valid_loss" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == est.n_epochs_


@pytest.mark.parametrize("named", [False, True])
def test_user_callbacks_are_used_as_given(Estimator, low_rank_X, named):
    # As skorch's NeuralNet does: fit runs the instances passed and never copies
    # them (a TensorBoard writer holds a lock); the list itself is not changed.
    counter = CountEpochs()
    entry = ("count", counter) if named else counter
    callbacks = [entry]
    est = Estimator(
        n_components=2, callbacks=callbacks, **{**FAST, "early_stopping": False, "max_epochs": 3}
    ).fit(low_rank_X)
    assert est.callbacks is callbacks and callbacks == [entry]
    used = [cb for _, cb in est.net_.callbacks_ if isinstance(cb, CountEpochs)]
    assert used == [counter]
    assert counter.epochs == est.n_epochs_ == 3


#: tol far above any improvement with n_iter_no_change=2: early stopping ends epoch 2.
EARLY_STOP = dict(n_components=2, tol=1e6, n_iter_no_change=2, **FAST)


def test_every_callback_sees_the_epoch_that_stops_training(Estimator, low_rank_X):
    est = Estimator(callbacks=[CountEpochs()], **EARLY_STOP).fit(low_rank_X)
    assert est.n_epochs_ == 2
    used = [cb for _, cb in est.net_.callbacks_ if isinstance(cb, CountEpochs)][0]
    assert used.epochs == est.n_epochs_


def test_verbose_prints_the_epoch_that_stops_training(Estimator, low_rank_X, capsys):
    est = Estimator(verbose=1, **EARLY_STOP).fit(low_rank_X)
    out = capsys.readouterr().out
    assert est.n_epochs_ == 2
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == est.n_epochs_


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("method", ["fit", "transform"])
def test_nan_input_raises(Estimator, fitted, low_rank_X, method):
    X = low_rank_X.copy()
    X[3, 2] = np.nan
    target = Estimator(**FAST) if method == "fit" else fitted
    with pytest.raises(ValueError, match="NaN"):
        getattr(target, method)(X)


@pytest.mark.parametrize("method", ["fit", "transform", "score_samples"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_input_raises(Estimator, fitted, low_rank_X, method, value):
    X = low_rank_X.copy()
    X[0, 0] = value
    target = Estimator(**FAST) if method == "fit" else fitted
    with pytest.raises(ValueError, match="infinity"):
        getattr(target, method)(X)


@pytest.mark.parametrize("method", ["transform", "score_samples", "score"])
def test_wrong_number_of_features_raises(fitted, low_rank_X, method):
    with pytest.raises(ValueError, match="features"):
        getattr(fitted, method)(low_rank_X[:, :5])


def test_inverse_transform_wrong_width_raises(fitted):
    with pytest.raises(ValueError, match="n_components"):
        fitted.inverse_transform(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        fitted.inverse_transform(np.zeros((3, 2)) + np.nan)


def test_string_input_raises(Estimator, fitted):
    X = np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object)
    with pytest.raises(ValueError):
        Estimator(**FAST).fit(X)
    with pytest.raises(ValueError):
        fitted.transform(np.full((2, 6), "x"))


@pytest.mark.parametrize(
    "X",
    [np.ones(10), np.empty((0, 3)), np.ones((5, 0)), np.ones((4, 3)) * 1j],
    ids=["1d", "no-rows", "no-features", "complex"],
)
def test_degenerate_shapes_and_complex_raise(Estimator, X):
    with pytest.raises(ValueError):
        Estimator(n_components=1, **FAST).fit(X)


@pytest.mark.parametrize(
    "method, args",
    [
        ("transform", (np.ones((2, 3)),)),
        ("inverse_transform", (np.ones((2, 2)),)),
        ("score_samples", (np.ones((2, 3)),)),
        ("score", (np.ones((2, 3)),)),
        ("sample", (3,)),
        ("get_feature_names_out", ()),
    ],
)
def test_unfitted_raises_not_fitted_error(Estimator, method, args):
    with pytest.raises(NotFittedError):
        getattr(Estimator(), method)(*args)


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
def test_invalid_parameters_raise_invalid_parameter_error(Estimator, low_rank_X, params):
    with pytest.raises(InvalidParameterError):
        Estimator(**params).fit(low_rank_X)


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
def test_invalid_values_raise_value_error(Estimator, low_rank_X, params, match):
    with pytest.raises(ValueError, match=match):
        Estimator(**params).fit(low_rank_X)


def test_a_bare_int_is_one_hidden_layer_of_that_width(Estimator, low_rank_X):
    # As MLPRegressor reads hidden_layer_sizes=16: the same network as (16,).
    params = {**FAST, "early_stopping": False}
    as_int = Estimator(2, **{**params, "hidden_layer_sizes": np.int64(16)}).fit(low_rank_X)
    as_tuple = Estimator(2, **{**params, "hidden_layer_sizes": (16,)}).fit(low_rank_X)
    assert as_int.hidden_layer_sizes_ == (16,)
    np.testing.assert_array_equal(as_int.transform(low_rank_X), as_tuple.transform(low_rank_X))
    with pytest.raises(InvalidParameterError, match="hidden_layer_sizes"):
        Estimator(2, **{**params, "hidden_layer_sizes": 0}).fit(low_rank_X)


def test_divergence_raises_a_clear_error(Estimator, low_rank_X):
    with pytest.raises(FloatingPointError, match="diverged"):
        Estimator(input_scaling=None, **FAST).fit(low_rank_X * 1e30)


def test_a_finite_loss_blowing_up_is_divergence(Estimator, low_rank_X):
    # A learning rate far too large: the loss stays finite but rises ~1e15-fold
    # at once, then wanders; no stopping rule would report it.
    params = {**FAST, "learning_rate": 100.0, "early_stopping": False}
    with pytest.raises(FloatingPointError, match=r"diverged at epoch 1: .* at the starting"):
        Estimator(**params).fit(low_rank_X)


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
def test_fit_on_values_beyond_float32_raises_value_error(Estimator, low_rank_X, input_scaling):
    # As transform does: a float64 input that overflows float32 is a bad input
    # (ValueError), not a training divergence.
    with pytest.raises(ValueError):
        Estimator(input_scaling=input_scaling, **FAST).fit(low_rank_X * 1e39)
