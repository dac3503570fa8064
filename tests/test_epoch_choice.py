"""The epochs chosen from the folds' validation curves (``early_stopping="auto"``)."""

import numpy as np
import pytest

from skae._epoch_choice import choose_epochs

EQUAL = np.full(4, 0.25)


def test_a_flat_minimum_chooses_its_last_epoch_within_one_standard_error():
    # Lowest mean at epoch 2; epochs 3 and 4 are higher by less than one
    # standard error of the paired differences, epoch 5 by more.
    losses = np.array([
        [1.0, 0.6, 0.50, 0.52, 0.49, 0.70],
        [1.0, 0.6, 0.50, 0.48, 0.53, 0.70],
        [1.0, 0.6, 0.50, 0.51, 0.50, 0.70],
        [1.0, 0.6, 0.50, 0.50, 0.52, 0.70],
    ])
    # mean: 1.0, 0.6, 0.5, 0.5025, 0.51, 0.70; paired SE at 3: 0.0065, at 4: 0.0091
    assert choose_epochs(losses, EQUAL) == (2, 3)
    # Epoch 4's excess (0.01) is within a wider spread of differences:
    losses[0, 4], losses[1, 4] = 0.47, 0.55
    assert choose_epochs(losses, EQUAL) == (2, 4)


def test_a_sharp_minimum_is_kept():
    losses = np.array([[1.0, 0.5, 0.8, 0.9]] * 3) + np.array([[0.0], [0.01], [0.02]])
    assert choose_epochs(losses, np.full(3, 1 / 3)) == (1, 1)


def test_fold_difficulty_does_not_widen_the_error():
    # Folds of very different levels, every one worse after epoch 1 by the same
    # small amount: the paired differences have no spread, so no later epoch
    # is within one standard error (an error of the folds' losses themselves,
    # about 0.6 here, would take every epoch).
    levels = np.array([[0.0], [1.0], [2.0], [0.5]])
    losses = levels + np.array([[1.0, 0.5, 0.501, 0.502]])
    assert choose_epochs(losses, EQUAL) == (1, 1)


def test_no_epoch_better_than_the_start_chooses_none():
    losses = np.array([[1.0, 1.1, 1.2], [1.0, 1.05, 1.3]])
    assert choose_epochs(losses, [0.5, 0.5]) == (0, 0)


def test_the_folds_are_weighted_by_their_rows():
    # Fold 0 (3 rows of 4) is lowest at epoch 1, fold 1 at epoch 2: the
    # weighted mean, not the plain one, decides the best epoch.
    losses = np.array([[1.0, 0.5, 0.7], [1.0, 0.9, 0.4]])
    assert choose_epochs(losses, [0.75, 0.25])[0] == 1
    assert choose_epochs(losses, [0.5, 0.5])[0] == 2


@pytest.mark.parametrize("seed", range(5))
def test_the_choice_is_at_least_the_best_and_within_one_standard_error(seed):
    rng = np.random.RandomState(seed)
    losses = 1.0 + np.cumsum(rng.normal(-0.01, 0.02, (5, 40)), axis=1)
    best, chosen = choose_epochs(losses, np.full(5, 0.2))
    mean = losses.mean(axis=0)
    assert best == int(np.argmin(mean)) and chosen >= best
    differences = losses[:, chosen] - losses[:, best]
    assert mean[chosen] - mean[best] <= differences.std(ddof=1) / np.sqrt(5)
    later = losses[:, chosen + 1:] - losses[:, [best]]
    assert np.all(later.mean(axis=0) > later.std(axis=0, ddof=1) / np.sqrt(5))


def test_the_gain_over_pca_is_tested_at_the_epochs_the_refit_trains(monkeypatch):
    # The best epoch is the minimum of the folds' own losses, so its gain is
    # biased upwards; the guard tests the network the refit trains. Forcing
    # the choice to 0 epochs (the start) must leave no gain to test.
    import skae._base as base
    from skae import AutoencoderTransformer

    tested = []

    def clearly_better(gains):
        tested.append(np.asarray(gains).copy())
        return False

    def choose_start(fold_losses, weights):
        best, _ = choose_epochs(fold_losses, weights)
        return best, 0

    monkeypatch.setattr(base, "_clearly_better", clearly_better)
    monkeypatch.setattr(base, "choose_epochs", choose_start)
    rng = np.random.RandomState(0)
    # Points on a parabola: one nonlinear component, which epochs improve.
    t = rng.uniform(-2, 2, 120)
    X = np.c_[t, t**2, 0.05 * rng.randn(120)]
    ae = AutoencoderTransformer(n_components=1, loss="mse", max_epochs=10, n_iter_no_change=10,
                                random_state=0).fit(X)
    assert len(tested) == 1 and tested[0].shape == (120,)
    assert np.array_equal(tested[0], np.zeros(120))
    assert ae.n_epochs_ == 0
