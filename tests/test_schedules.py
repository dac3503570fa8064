"""Tests of the learning-rate schedules (``skae._schedules``) and ``learning_rate_schedule``."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from skae import AutoencoderTransformer, load, save
from skae._schedules import WARMUP_FRACTION, warmup_cosine


@pytest.mark.parametrize("total", [1, 7, 40, 1000])
def test_warmup_cosine_rises_to_the_peak_then_decays_to_zero(total):
    rates = np.array([warmup_cosine(step, total, 2.0) for step in range(total + 1)])
    warmup = max(1, int(WARMUP_FRACTION * total))
    np.testing.assert_allclose(rates[:warmup], 2.0 * np.arange(1, warmup + 1) / warmup)
    assert rates.max() == pytest.approx(2.0)
    assert np.all(np.diff(rates[warmup - 1:]) <= 1e-12)  # never rises after the warm-up
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)  # after the last step
    assert np.all(rates[:total] > 0)  # every step of the budget learns


def test_warmup_cosine_is_half_the_peak_halfway_through_the_decay():
    total = 1049
    warmup = int(WARMUP_FRACTION * total)  # 52: 998 decay steps, counting the end
    assert warmup_cosine(warmup - 1 + 499, total, 1.0) == pytest.approx(0.5)


class _RecordRate(Callback):
    """The learning rate of every training step."""

    def initialize(self):
        self.rates = []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.rates.append(net.optimizer_.param_groups[0]["lr"])


def _recorded(**params):
    """An autoencoder at learning rate 0.01, batches of 20, and the recorder of its rates."""
    record = _RecordRate()
    est = AutoencoderTransformer(
        n_components=2, learning_rate=0.01, batch_size=20, random_state=0, callbacks=[record],
        **params,
    )
    return est, record


def test_cosine_fit_follows_the_schedule_and_ends_without_a_warning():
    X = np.random.RandomState(0).rand(100, 6)
    est, record = _recorded(
        max_epochs=4, learning_rate_schedule="cosine", early_stopping=False, n_iter_no_change=100
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X)
    assert est.n_epochs_ == 4 and est.learning_rate_schedule_ == "cosine"
    expected = [warmup_cosine(step, 20, 0.01) for step in range(20)]  # 4 epochs x 5 batches
    np.testing.assert_allclose(record.rates, expected)
    assert max(record.rates) == pytest.approx(0.01)


def test_constant_schedule_keeps_the_rate_and_warns_at_max_epochs():
    X = np.random.RandomState(0).rand(100, 6)
    est, record = _recorded(max_epochs=2, early_stopping=False)
    with pytest.warns(ConvergenceWarning, match="max_epochs"):
        est.fit(X)
    assert est.learning_rate_schedule_ == "constant"
    assert record.rates == [0.01] * 10


def test_partial_fit_keeps_the_rate_constant():
    X = np.random.RandomState(0).rand(60, 6)
    est, record = _recorded(learning_rate_schedule="cosine")
    for _ in range(2):
        est.partial_fit(X)
        assert record.rates == [0.01] * 3  # each call initializes its callbacks


@pytest.mark.parametrize("saved", [False, True])
def test_partial_fit_after_a_cosine_fit_runs_its_epochs_at_the_constant_rate(saved, tmp_path):
    # The fit's schedule ends at 0; partial_fit continues at learning_rate,
    # for all of partial_fit_epochs, also on a model loaded from a file.
    X = np.random.RandomState(0).rand(60, 6)
    est, record = _recorded(
        max_epochs=3, learning_rate_schedule="cosine", early_stopping=False, partial_fit_epochs=2
    )
    est.fit(X)
    assert record.rates[-1] < 0.01 / 10
    if saved:
        save(est.set_params(callbacks=None), tmp_path / "model.skae")
        est = load(tmp_path / "model.skae").set_params(callbacks=[record])
    est.partial_fit(X)
    assert est.n_epochs_ == 5
    assert record.rates == [0.01] * 6  # 2 epochs x 3 batches


def test_invalid_schedule_is_rejected():
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        AutoencoderTransformer(learning_rate_schedule="step").fit(np.ones((10, 3)))
