"""``partial_fit`` of both transformers: first call, later calls, determinism."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from conftest import HOLD_OUT, RaiseAtTrainEnd, TinyEncoder, assert_noted

import skae
from skae import AutoencoderTransformer, VAETransformer

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), random_state=0, **HOLD_OUT)
ESTIMATORS = [AutoencoderTransformer, VAETransformer]


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return rng.randn(240, 2) @ rng.randn(2, 5) + 0.1 * rng.randn(240, 5) + 3.0


def chunks(X, n=3):
    return np.array_split(X, n)


def trained(cls, X, calls=3, **params):
    est = cls(**{**SMALL, **params})
    for chunk in chunks(X, calls):
        est.partial_fit(chunk)
    return est


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("epochs", [1, 3])
def test_first_call_is_fit_without_early_stopping(cls, X, epochs):
    # The first call initialises from its chunk exactly as fit does (with
    # batches of 200: fit's "auto" sizes them by the data, partial_fit cannot
    # know the later chunks).
    partial = cls(**SMALL, partial_fit_epochs=epochs).partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit's ConvergenceWarning
        full = cls(**{**SMALL, "early_stopping": False}, max_epochs=epochs, batch_size=200).fit(X)
    np.testing.assert_array_equal(partial.transform(X), full.transform(X))
    assert partial.loss_curve_ == full.loss_curve_
    assert partial.n_epochs_ == epochs
    assert partial.batch_size_ == 200


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_later_calls_extend_history_and_keep_the_optimizer_state(cls, X):
    est = cls(**SMALL, partial_fit_epochs=2)
    first, second = X[:100], X[100:]
    est.partial_fit(first)
    assert est.n_epochs_ == 2 and len(est.loss_curve_) == 2 and est.n_samples_seen_ == 100
    est.partial_fit(second)
    assert est.n_epochs_ == 4 and len(est.history_) == 4 and len(est.loss_curve_) == 4
    assert est.n_samples_seen_ == len(X)
    # Adam's step counts run on across calls: one batch per epoch and chunk here.
    steps = {int(state["step"]) for state in est.net_.optimizer_.state.values()}
    assert steps == {4}
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.loss_curve_[est.best_epoch_ - 1] == est.best_loss_


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_learns(cls, X):
    est = trained(cls, np.tile(X, (2, 1)), calls=10, init="random", learning_rate=1e-2)
    first, last = est.loss_curve_[0], est.loss_curve_[-1]
    assert last < first - 0.2 * abs(first)  # the VAE's loss is in nats, not a ratio


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_same_calls_same_model_and_random_state_matters(cls, X):
    a, b = trained(cls, X), trained(cls, X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.loss_curve_ == b.loss_curve_
    other = trained(cls, X, random_state=1)
    assert not np.array_equal(a.transform(X), other.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_later_calls_shuffle_differently(cls, X):
    # The same chunk twice: a second call reusing the first call's seed would
    # replay the same batches; dropout and noise draw anew too.
    est = cls(**SMALL, batch_size=20, dropout=0.2).partial_fit(X[:100])
    orders = []
    for _ in range(2):
        iterator = est.net_.get_iterator(est._datasets(X[:100], np.arange(100), [])[0], True)
        orders.append(next(iter(iterator))[0])
        est.partial_fit(X[:100])
    assert not np.array_equal(orders[0], orders[1])


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("y", [np.arange(240), np.zeros((240, 3)), "placeholder", 0])
def test_y_is_ignored(cls, X, y):
    with_y = cls(**SMALL).partial_fit(X, y)
    without = cls(**SMALL).partial_fit(X)
    np.testing.assert_array_equal(with_y.transform(X), without.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_chunk_of_another_width_is_an_error(cls, X):
    est = cls(**SMALL).partial_fit(X)
    with pytest.raises(ValueError, match="X has 4 features, but .* is expecting 5 features"):
        est.partial_fit(X[:, :4])
    assert est.n_epochs_ == 1


@pytest.mark.parametrize(
    "name, value, fitted",
    [("n_components", 3, "2"), ("hidden_layer_sizes", (8, 4), r"\(8,\)"),
     ("hidden_layer_sizes", "auto", r"\(8,\)")],
)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_changed_network_shape_is_an_error(cls, X, name, value, fitted):
    # As IncrementalPCA refuses a new n_components between partial_fit calls.
    est = cls(**SMALL).partial_fit(X).set_params(**{name: value})
    with pytest.raises(ValueError, match=rf"{name} changed from {fitted} to .* Call fit"):
        est.partial_fit(X)
    assert est.n_epochs_ == 1
    est.set_params(**SMALL).partial_fit(X)  # set back, it continues
    assert est.n_epochs_ == 2


@pytest.mark.parametrize(
    "cls, name, value",
    [(cls, name, value) for cls in ESTIMATORS for name, value in [
        ("activation", "tanh"), ("dropout", 0.1), ("learning_rate", 0.05),
        ("input_scaling", None), ("batch_size", 7),
    ]]
    + [(AutoencoderTransformer, "loss", "mse"), (AutoencoderTransformer, "noise", 0.5),
       (VAETransformer, "beta", 4.0), (VAETransformer, "decoder_variance", "feature")],
)
def test_a_setting_the_first_call_built_in_is_not_silently_ignored(cls, name, value, X):
    # The network, objective and optimizer keep the first call's setting: a
    # later call under another one would report a model it does not train.
    est = cls(**SMALL).partial_fit(X)
    fitted = est.get_params()[name]
    est.set_params(**{name: value})
    with pytest.raises(ValueError, match=rf"{name} changed from .* Call fit"):
        est.partial_fit(X)
    assert est.n_epochs_ == 1
    est.set_params(**{name: fitted}).partial_fit(X)
    assert est.n_epochs_ == 2
    est.set_params(**{name: value}).fit(X).partial_fit(X)  # fit starts afresh


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_the_same_input_shape_as_a_list_or_an_array_is_no_change(cls, X):
    est = cls(**SMALL, input_shape=(1, 5)).partial_fit(X)
    for same in ([1, 5], np.array([1, 5])):
        est.set_params(input_shape=same).partial_fit(X)
    assert est.n_epochs_ == 3
    with pytest.raises(ValueError, match=r"input_shape changed from \(1, 5\) to \[5, 1\]"):
        est.set_params(input_shape=[5, 1]).partial_fit(X)


def test_a_parameter_dict_changed_in_place_is_a_change(X):
    kwargs = {"width": 3}
    est = AutoencoderTransformer(**SMALL, encoder=TinyEncoder, encoder_kwargs=kwargs).partial_fit(X)
    est.partial_fit(X)  # the same dict, unchanged
    assert est.n_epochs_ == 2
    kwargs["width"] = 6
    with pytest.raises(ValueError, match="encoder_kwargs changed from {'width': 3}"):
        est.partial_fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_after_fit_continues_without_early_stopping(cls, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(**SMALL, max_epochs=3).fit(X)
    weights = [p.detach().clone() for p in est.net_.module_.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: nothing stops early
        est.partial_fit(X[:50])
    assert est.n_epochs_ == 4 and est.n_samples_seen_ == len(X) + 50
    changed = [not np.array_equal(w, p.detach()) for w, p in zip(weights, est.net_.module_.parameters())]
    assert any(changed)
    assert "convergence" not in dict(est.net_.callbacks_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_after_a_fall_back_to_pca(cls, X):
    # Rows close to a plane, k=2: no epoch clearly beats PCA, so fit returns PCA's
    # solution and discards the network its epochs trained.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(**SMALL, max_epochs=3).fit(X)
    assert est.best_epoch_ == 0 and est.n_epochs_ == 3
    est.partial_fit(X)
    # A fresh optimizer (Adam's moments were the discarded weights'): its steps
    # are this call's only.
    steps = {int(state["step"]) for state in est.net_.optimizer_.state.values()}
    assert steps == {math.ceil(len(X) / est.batch_size_)}
    # The best epoch is one of the network trained now, not a discarded one.
    assert est.n_epochs_ == 4 and est.best_epoch_ == 4
    assert est.best_loss_ == est.loss_curve_[-1]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_loaded_model_continues_as_the_original(cls, X, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(**SMALL, max_epochs=3).fit(X)
    skae.save(est, tmp_path / "model.skae")
    loaded = skae.load(tmp_path / "model.skae")
    est.partial_fit(X[:100])
    loaded.partial_fit(X[:100])
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_on_sparse_chunks(cls, X):
    dense = trained(cls, X)
    sparse = cls(**SMALL)
    for chunk in chunks(X):
        sparse.partial_fit(sp.csr_matrix(chunk))
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_validates_every_chunk(cls, X):
    est = cls(**SMALL).partial_fit(X[:100])
    bad = X[100:].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(bad)


def test_bernoulli_support_is_checked_on_later_chunks():
    X = np.random.RandomState(0).uniform(size=(60, 4))
    est = AutoencoderTransformer(loss="bce", **SMALL).partial_fit(X)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        est.partial_fit(X * 2)


def test_latent_gaussian_is_merged_over_chunks(X):
    est = AutoencoderTransformer(**SMALL).partial_fit(X[:100])
    codes = est.transform(X[:100])
    np.testing.assert_allclose(est.latent_mean_, codes.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(est.latent_covariance_, np.cov(codes, rowvar=False), rtol=1e-12)
    # a later chunk is encoded by the network as trained by its call, and merged
    est.partial_fit(X[100:])
    both = np.vstack([codes, est.transform(X[100:])])
    np.testing.assert_allclose(est.latent_mean_, both.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(est.latent_covariance_, np.cov(both, rowvar=False), rtol=1e-10)


def test_partial_fit_epochs_is_validated(X):
    with pytest.raises(ValueError, match="partial_fit_epochs"):
        AutoencoderTransformer(partial_fit_epochs=0).partial_fit(X)


def test_later_calls_keep_adam_flat_and_train_the_same_model(X, monkeypatch):
    # FlatAdam is unpacked when a call ends; the next call flattens it again,
    # Adam's state included, and the model is the per-tensor optimizer's
    from skorch.callbacks import Callback

    class FlatSeen(Callback):
        # Over every call: each call initializes its callbacks, so not in initialize().
        def __init__(self):
            self.flat = []

        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                self.flat.append(net.optimizer_._flat is not None)

    seen = FlatSeen()
    params = dict(hidden_layer_sizes=(64,), batch_size=40)
    fast = trained(AutoencoderTransformer, X, callbacks=[("seen", seen)], **params)
    assert len(seen.flat) == 6 and all(seen.flat)  # two batches in each of three calls
    monkeypatch.setattr(skae._fast_path, "ENABLED", False)
    slow = trained(AutoencoderTransformer, X, **params)
    assert fast.loss_curve_ == slow.loss_curve_
    np.testing.assert_array_equal(fast.transform(X), slow.transform(X))


@pytest.mark.parametrize("failure", ["divergence", "interrupt"])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_failed_call_leaves_the_model_as_it_was(cls, X, failure):
    # A chunk far outside the first one's scale diverges after a step; an
    # interrupt comes once the epochs are over. Either way the call is undone:
    # the next calls continue as if it had never been made.
    stop = RaiseAtTrainEnd()
    est = cls(**SMALL, callbacks=[stop]).partial_fit(X[:100])
    before = est.transform(X)
    fitted = {name: getattr(est, name) for name in vars(est) if name.endswith("_")}
    if failure == "divergence":
        with pytest.raises(FloatingPointError, match="diverged") as error:
            est.partial_fit(X[100:] * 1e4)
    else:
        stop.error = KeyboardInterrupt()
        with pytest.raises(KeyboardInterrupt) as error:
            est.partial_fit(X[100:])
        stop.error = None
    assert_noted(error, f"{cls.__name__}.partial_fit raised: the estimator is left as it was "
                        "before the call.")
    np.testing.assert_array_equal(est.transform(X), before)
    assert sorted(name for name in vars(est) if name.endswith("_")) == sorted(fitted)
    assert all(getattr(est, name) is value for name, value in fitted.items())
    assert len(est.history_) == 1
    twin = cls(**SMALL, callbacks=[RaiseAtTrainEnd()]).partial_fit(X[:100])
    for model in (est, twin):
        model.partial_fit(X[100:])
    np.testing.assert_array_equal(est.transform(X), twin.transform(X))
    assert est.loss_curve_ == twin.loss_curve_


@pytest.mark.parametrize("cls, learning_rate", [(AutoencoderTransformer, 10.0),
                                                (VAETransformer, 1.0)])
def test_divergence_in_the_last_step_is_raised_by_its_call(cls, learning_rate, X):
    # A chunk of one batch is one step: the epoch's training loss, computed
    # before it, is fine; the network it leaves is not, and the call says so.
    est = cls(**SMALL, learning_rate=learning_rate)
    with pytest.raises(FloatingPointError, match="after the last step of epoch 1") as error:
        est.partial_fit(X[:60])
    assert_noted(error, f"{cls.__name__}.partial_fit raised: the estimator is left unfitted.")
    with pytest.raises(NotFittedError):
        est.transform(X)
