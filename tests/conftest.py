"""Shared fixtures: seeds and tiny data sets, generic enough for every test file.

Session-scoped arrays are shared between tests: treat them as read-only and
copy before modifying.
"""

import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from skae._data import BatchIterator, RowDataset
from skae._net import SkaeNet
from skae._objectives import ReconstructionLoss

# The test networks and batches are tiny: one intra-op thread is faster than
# several (measured ~10x faster per fit on a busy 2-core machine, where torch's
# worker threads contend with other processes). skae's fit limits threads for
# small networks itself; this also covers inference and the module-level tests.
torch.set_num_threads(1)


#: Early stopping on a hold-out split. The transformers' tests that are not about
#: early stopping use it where AutoencoderTransformer's default, "auto", would
#: cross-validate their small data (five more networks per fit, and often PCA
#: itself, trained for no epoch, on a few dozen rows); the cross-validated fit has
#: its own tests (test_early_stopping.py, test_epoch_choice.py).
HOLD_OUT = {"early_stopping": True}


def make_low_rank(n_samples=120, n_features=6, rank=2, noise=0.1, shift=5.0, seed=0):
    """A low-rank Gaussian cloud plus small isotropic noise, in raw (uncentred) units."""
    rng = np.random.RandomState(seed)
    signal = rng.randn(n_samples, rank) @ rng.randn(rank, n_features) * 3.0
    return signal + shift + noise * rng.randn(n_samples, n_features)


class CountEpochs(Callback):
    """Counts the epochs it sees, over every fit it is used in (it never resets)."""

    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


class InterruptAt(Callback):
    """Ctrl-C after training batch ``batch`` of epoch ``epoch`` (both counted from 1).

    skorch ends training on a ``KeyboardInterrupt`` within its epochs and the
    fit returns: the interrupted epoch has its history row and no loss.
    """

    def __init__(self, epoch, batch=1):
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch and len(net.history[-1, "batches"]) == self.batch:
            raise KeyboardInterrupt


class TrainingBatchSizes(Callback):
    """Records the rows of every training batch of a training run in ``sizes_``."""

    def initialize(self):
        self.sizes_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.sizes_.append(len(batch[0]))


class RaiseAtTrainEnd(Callback):
    """A user's callback raising ``error`` when training ends, outside skorch's epoch loop."""

    def __init__(self, error=None):
        self.error = error

    def on_train_end(self, net, **kwargs):
        if self.error is not None:
            raise self.error


class RaiseAtEpochEnd(Callback):
    """A user's callback raising ``ValueError`` at the end of the epoch numbered ``epoch``.

    The training run fails within skorch's epoch loop, after the epochs before
    it ran to their end for every callback.
    """

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise ValueError(f"failed at the end of epoch {self.epoch}")


def assert_noted(error, note):
    """The error (a ``pytest.raises`` result) carries ``note``; Python < 3.11 has no notes."""
    if sys.version_info >= (3, 11):
        assert note in error.value.__notes__



class BatchNormEncoder(torch.nn.Module):
    """A user's encoder body with batch normalisation, for rows of 5 features."""

    def __init__(self, width=4):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(5, width), torch.nn.BatchNorm1d(width))

    def forward(self, x):
        return torch.tanh(self.layers(x))


class TinyEncoder(torch.nn.Module):
    """A user's encoder body for rows of 5 features: (batch, 5) -> (batch, width)."""

    def __init__(self, width=4):
        super().__init__()
        self.layer = torch.nn.Linear(5, width)

    def forward(self, x):
        return torch.tanh(self.layer(x))

@pytest.fixture
def rng():
    """A fresh ``numpy.random.RandomState(0)`` per test."""
    return np.random.RandomState(0)


@pytest.fixture
def torch_seed():
    """Seed torch's global RNG for the test (the test may still check it is untouched)."""
    torch.manual_seed(0)
    return 0


@pytest.fixture(scope="session")
def low_rank_X():
    """``(120, 6)`` float64 data close to a 2-D affine subspace."""
    return make_low_rank()


@pytest.fixture(scope="session")
def unit_interval_X():
    """``(80, 5)`` float64 data in [0, 1], some values exactly 0 or 1."""
    rng = np.random.RandomState(1)
    X = rng.uniform(size=(80, 5))
    X[::7, 0] = 0.0
    X[::5, 1] = 1.0
    return X


@pytest.fixture(scope="session")
def digits():
    """``load_digits()`` scaled to [0, 1] and its labels."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture
def fit_net():
    """``fit_net(module, X, **params)``: a ``SkaeNet`` as skae builds it, fitted on tensor ``X``.

    skae's batch iterator, no validation split, CPU, quiet; ``params`` override.
    """

    def fit(module, X, **params):
        params = {
            "criterion": ReconstructionLoss(),
            "optimizer": torch.optim.Adam,
            "iterator_train": BatchIterator,
            "iterator_valid": BatchIterator,
            "train_split": None,
            "device": "cpu",
            "verbose": 0,
            **params,
        }
        return SkaeNet(module=module, **params).fit(RowDataset(X, np.arange(len(X)), "cpu"), None)

    return fit
