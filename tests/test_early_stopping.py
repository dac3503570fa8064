"""Early stopping in ``fit``: the hold-out split, and cross-validated epochs on small data."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_dict_unchanged,
    check_dont_overwrite_parameters,
    check_estimators_overwrite_params,
    check_estimators_pickle,
    check_fit_idempotent,
    check_methods_sample_order_invariance,
    check_methods_subset_invariance,
    check_n_features_in,
    check_readonly_memmap_input,
    check_transformer_general,
    check_transformer_preserve_dtypes,
)

from conftest import CountEpochs

import skae._base
from skae import AutoencoderTransformer, VAETransformer
from skae._epoch_choice import choose_epochs

TRANSFORMERS = [AutoencoderTransformer, VAETransformer]
SMALL = dict(hidden_layer_sizes=(16,), max_epochs=60, n_iter_no_change=5, random_state=0)
FAST_ARC = dict(SMALL, learning_rate=1e-2)


def make_arc(n_samples=150, seed=0):
    """Rows near a half circle in 3-D: one code captures it only nonlinearly."""
    rng = np.random.RandomState(seed)
    angle = rng.uniform(0, np.pi, n_samples)
    X = np.c_[np.cos(angle), np.sin(angle), 0.5 * np.cos(2 * angle)]
    return 3.0 * X + 0.05 * rng.randn(n_samples, 3)


def _mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


@pytest.fixture(scope="module")
def arc_fit():
    X = make_arc()
    counter = CountEpochs()
    ae = AutoencoderTransformer(
        n_components=1, early_stopping="auto", callbacks=[counter], **FAST_ARC
    ).fit(X)
    return X, ae, counter


def test_auto_cross_validates_the_epochs_then_trains_on_every_row(arc_fit):
    X, ae, counter = arc_fit
    # The folds' mean validation loss chose a trained epoch over the PCA start,
    # at or after its lowest (choose_epochs, tested in test_epoch_choice.py) ...
    lowest = int(np.argmax(ae.validation_scores_)) + 1
    assert ae.best_epoch_ >= lowest > 0
    assert ae.best_loss_ == pytest.approx(-ae.validation_scores_[ae.best_epoch_ - 1])
    # ... ran on past the lowest for n_iter_no_change epochs ...
    assert len(ae.validation_scores_) == lowest + 5
    # ... and the model is that many epochs on every row, from PCA on every row:
    # exactly the fit without early stopping that stops there.
    assert ae.n_epochs_ == ae.best_epoch_ == len(ae.loss_curve_)
    plain = AutoencoderTransformer(
        n_components=1, early_stopping=False,
        **{**FAST_ARC, "max_epochs": ae.best_epoch_, "n_iter_no_change": 1000},
    ).fit(X)
    np.testing.assert_array_equal(ae.transform(X), plain.transform(X))
    assert _mse(ae, X) < 0.8 * _mse(PCA(1).fit(X), X)


def test_the_fold_curves_decide_the_epochs(monkeypatch):
    # choose_epochs gets every fold's curve, start included, and the fit trains
    # as many epochs as it chooses, even past the folds' lowest loss.
    seen = {}

    def three_more(fold_losses, weights):
        seen["losses"], seen["weights"] = np.asarray(fold_losses), np.asarray(weights)
        best, _ = choose_epochs(fold_losses, weights)
        return best, best + 3

    monkeypatch.setattr(skae._base, "choose_epochs", three_more)
    X = make_arc()
    ae = AutoencoderTransformer(n_components=1, early_stopping="auto", **FAST_ARC).fit(X)
    lowest = int(np.argmax(ae.validation_scores_)) + 1
    assert ae.n_epochs_ == ae.best_epoch_ == lowest + 3
    assert seen["losses"].shape == (5, len(ae.validation_scores_) + 1)
    assert seen["weights"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(seen["weights"] @ seen["losses"][:, 1:],
                               -np.array(ae.validation_scores_))
    plain = AutoencoderTransformer(
        n_components=1, early_stopping=False,
        **{**FAST_ARC, "max_epochs": lowest + 3, "n_iter_no_change": 1000},
    ).fit(X)
    np.testing.assert_array_equal(ae.transform(X), plain.transform(X))


def test_the_user_callbacks_see_only_the_model_returned(arc_fit):
    _, ae, counter = arc_fit
    assert counter.epochs == ae.n_epochs_


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_auto_returns_pca_fitted_on_every_row_without_a_clear_gain(Estimator, low_rank_X):
    # Rows close to a plane: at k=2 no network beats PCA clearly on the folds.
    est = Estimator(n_components=2, early_stopping="auto", **SMALL).fit(low_rank_X)
    assert est.best_epoch_ == 0 and est.n_epochs_ == 0 and est.loss_curve_ == []
    assert np.isfinite(est.best_loss_)  # the start's cross-validated loss
    assert len(est.validation_scores_) >= 5
    if Estimator is AutoencoderTransformer:
        pca = PCA(2).fit(low_rank_X)
        assert _mse(est, low_rank_X) == pytest.approx(_mse(pca, low_rank_X), rel=1e-5)
    else:  # probabilistic PCA's likelihood, on every row
        assert est.score(low_rank_X) == pytest.approx(PCA(2).fit(low_rank_X).score(low_rank_X),
                                                      rel=1e-4)


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_cross_validation_folds(Estimator, low_rank_X):
    est = Estimator(n_components=2, early_stopping="auto", **{**SMALL, "max_epochs": 1})
    est.fit(low_rank_X)
    folds = est._cross_validation_folds(low_rank_X)
    assert len(folds) == 5
    valid = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(valid), np.arange(len(low_rank_X)))
    for train, v in folds:
        np.testing.assert_array_equal(np.union1d(train, v), np.arange(len(low_rank_X)))
        assert len(np.intersect1d(train, v)) == 0 and len(v) == 24
    # a validation split of 100 rows or more, or early_stopping=True: the hold-out split
    assert est._cross_validation_folds(np.zeros((1000, 6))) is None
    est.set_params(validation_fraction=0.9)
    assert est._cross_validation_folds(low_rank_X) is None
    est.set_params(validation_fraction=0.1, early_stopping=True)
    assert est._cross_validation_folds(low_rank_X) is None


@pytest.mark.parametrize("architecture", ["mlp", "conv", "gru"])
def test_auto_trains_every_architecture(architecture):
    X = np.sin(np.linspace(0, 6, 16) + np.random.RandomState(0).uniform(0, 6, (60, 1)))
    est = AutoencoderTransformer(
        n_components=2, architecture=architecture, early_stopping="auto",
        hidden_layer_sizes=(4,), max_epochs=3, init="random", random_state=0,
    ).fit(X)
    assert 0 <= est.n_epochs_ == est.best_epoch_ <= 3
    assert len(est.validation_scores_) == 3
    assert np.isfinite(est.transform(X)).all()


@pytest.mark.parametrize("check", [
    check_fit_idempotent,
    check_transformer_general,
    check_transformer_preserve_dtypes,
    check_methods_subset_invariance,
    check_methods_sample_order_invariance,
    check_estimators_pickle,
    check_estimators_overwrite_params,
    check_dont_overwrite_parameters,
    check_dict_unchanged,
    check_n_features_in,
    check_readonly_memmap_input,
])
def test_cross_validated_fit_passes_sklearn_checks(check):
    # The common checks (tests/test_common.py) fit on a hold-out split, for
    # speed; these, the checks that fit and compare, cover the cross-validated
    # fit, the default on their few dozen rows.
    est = AutoencoderTransformer(
        early_stopping="auto", hidden_layer_sizes=(8,), max_epochs=3, random_state=0
    )
    check(type(est).__name__, est)


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_restoring_the_best_epoch_restores_adams_state(Estimator):
    """A fit that stops early and restores its best epoch holds the weights and
    Adam's state of a fit that ran that many epochs: partial_fit continues from
    there, not with the moments of the epochs the restore discarded."""
    X = make_arc()
    params = dict(FAST_ARC, n_components=1, early_stopping=True, n_iter_no_change=2)
    stopped = Estimator(**params).fit(X)
    assert 0 < stopped.best_epoch_ < stopped.n_epochs_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # stopped by max_epochs
        ran = Estimator(**dict(params, max_epochs=stopped.best_epoch_)).fit(X)
    assert ran.best_epoch_ == ran.n_epochs_ == stopped.best_epoch_
    n_trained = 0
    for p, q in zip(stopped.net_.module_.parameters(), ran.net_.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
        state, expected = stopped.net_.optimizer_.state[p], ran.net_.optimizer_.state[q]
        assert state.keys() == expected.keys()
        for key in state:
            torch.testing.assert_close(state[key], expected[key], rtol=0, atol=0)
        n_trained += "exp_avg" in state
    assert n_trained > 0
