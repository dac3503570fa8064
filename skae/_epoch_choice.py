"""The number of epochs chosen by cross-validation on small data (``early_stopping="auto"``).

``_BaseAutoencoder._select_epochs`` trains one network per fold and records each
fold's validation loss after every epoch; :func:`choose_epochs` turns those
curves into the number of epochs the final network trains on every row.
"""

import dataclasses
import math

import numpy as np


@dataclasses.dataclass
class FoldRun:
    """One fold of the cross-validation: its net, data, and the states the choice needs."""

    net: object
    seed: int
    train_set: object
    valid_set: object
    valid_rows: np.ndarray
    #: ``scores[e]``: each validation row's score after ``e`` epochs, as the choice
    #: estimates it (``_decision_scores``; 0: the start, PCA of the fold's training rows).
    scores: list = dataclasses.field(default_factory=list)


def choose_epochs(fold_losses, weights):
    """``(best, chosen)``: the folds' best epoch and the number of epochs to train.

    ``fold_losses[f, e]`` is fold ``f``'s validation loss after ``e`` epochs
    (column 0: the start); the folds' loss of an epoch is their ``weights``-mean
    (each fold's share of the rows). ``best`` is the epoch where that mean is
    lowest (the first, on ties). ``chosen`` is the *largest* epoch from ``best``
    on whose mean is within one standard error of the lowest: the error of
    the paired differences ``fold_losses[:, e] - fold_losses[:, best]`` across
    the folds, so that a fold's difficulty, common to every epoch, does not
    widen it. It is the one-standard-error rule (Breiman et al. 1984) turned
    round: on small data the folds' mean curve is often flat for tens of
    epochs past its minimum, whose position is then chance, and the final
    network trains on every row, a quarter more than a fold's, so it can use
    more epochs; among epochs the folds cannot tell apart, the longest
    training is chosen. ``best == 0`` (no epoch beat the start) gives
    ``(0, 0)``.
    """
    fold_losses = np.asarray(fold_losses, dtype=np.float64)
    mean = np.asarray(weights, dtype=np.float64) @ fold_losses
    best = int(np.argmin(mean))
    if best == 0:
        return 0, 0
    differences = fold_losses[:, best:] - fold_losses[:, [best]]
    standard_error = differences.std(axis=0, ddof=1) / math.sqrt(len(fold_losses))
    within = np.flatnonzero(mean[best:] - mean[best] <= standard_error)
    return best, best + int(within[-1])
