"""skorch callbacks skae's training adds: divergence, convergence, the VAE's KL warm-up and terms."""

import math
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from ._net import copy_training_state, load_training_state


class RecordELBOTerms(Callback):
    """Writes ``{train,valid}_reconstruction`` and ``{train,valid}_kl`` to the history.

    Each is the epoch's mean per row: the row sums :class:`~skae._objectives.NegativeELBO`
    recorded for every batch (``*_reconstruction_sum``, ``*_kl_sum``), added up
    in float32, over the epoch's rows (``*_batch_size``).
    """

    def on_epoch_end(self, net, **kwargs):
        batches = net.history[-1, "batches"]
        for prefix in ("train", "valid"):
            names = [f"{prefix}_reconstruction_sum", f"{prefix}_kl_sum"]
            recorded = [batch for batch in batches if names[0] in batch]
            if not recorded:
                continue
            total = 0
            for batch in recorded:
                total = total + torch.tensor([batch[name] for name in names])
            rows = sum(batch[f"{prefix}_batch_size"] for batch in recorded)
            reconstruction, kl = (total / rows).tolist()
            net.history.record(f"{prefix}_reconstruction", reconstruction)
            net.history.record(f"{prefix}_kl", kl)


class KLWarmup(Callback):
    """Linear KL warm-up: the KL weight grows from 0 to 1 over ``epochs`` epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        net.criterion_.kl_weight = min(1.0, epoch / self.epochs)


class DivergenceCheck(Callback):
    """Stops training with an error as soon as a loss is not finite, or blew up.

    Blew up: the training loss exceeds the loss of the network's first batch --
    computed before any step, at the starting point -- by more than
    ``BLOW_UP`` times that loss's magnitude (at least 1, so that a start near
    zero loss leaves room). No training that learns comes near it; a learning
    rate far too large goes past it in its first epoch and may then wander at a
    finite loss far above where it started, which no stopping rule reports.

    Each epoch's losses are checked at its end. Its training loss is the mean
    of its batches' losses, each computed before its own step, so the last step
    of a training run is in none of them (a ``partial_fit`` chunk of one batch
    is one such step): :meth:`check_last_step` checks the network the run
    leaves, on the last training batch.
    """

    #: How many times its magnitude a training loss may rise above the start's.
    BLOW_UP = 1e4
    _ADVICE = ("Lower learning_rate, keep input_scaling on ('global' or 'feature'), "
               "or check the input for extreme values.")

    def on_train_begin(self, net, **kwargs):
        self._last_batch = None

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self._last_batch = batch

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for key in ("train_loss", "valid_loss"):
            if key in row:
                self._check(net, row[key], f"at epoch {row['epoch']}: the {key.replace('_', ' ')}",
                            blow_up=key == "train_loss")

    def check_last_step(self, net):
        """Raise ``FloatingPointError`` if the network a training run leaves has diverged.

        Called once the run has ended (and early stopping restored the best
        epoch): the loss of the run's last training batch, computed again with
        the final weights, must pass the epochs' test. One forward pass without
        gradients; it uses every weight, so a weight that is not finite makes
        that loss not finite.
        """
        batch, self._last_batch = getattr(self, "_last_batch", None), None
        if batch is None:  # no step was taken
            return
        loss = net.validation_step(batch)["loss"].item()
        self._check(net, loss, f"after the last step of epoch {net.history[-1, 'epoch']}: "
                               "the loss of its last batch, computed again,")

    def _check(self, net, loss, what, blow_up=True):
        """Raise if ``loss`` is not finite, or (``blow_up``) blew up; ``what`` names it."""
        if not math.isfinite(loss):
            raise FloatingPointError(f"Training diverged {what} is {loss}. {self._ADVICE}")
        start = net.history[0, "batches"][0]["train_loss"]
        if blow_up and loss > start + self.BLOW_UP * max(abs(start), 1.0):
            raise FloatingPointError(
                f"Training diverged {what} is {loss:.3g}, against {start:.3g} at the "
                f"starting point. {self._ADVICE}"
            )

    def __getstate__(self):
        # A batch of training data, on the device, kept from a step to the check
        # after it: never pickled with a model (a failed run may leave it here).
        state = self.__dict__.copy()
        state.pop("_last_batch", None)
        return state


class Plateau:
    """The stopping rule: ``patience`` losses in a row without an improvement larger than ``tol``.

    :meth:`update` takes each new loss and says whether it is the best so far;
    ``stalled`` then says whether training should stop. :class:`ConvergenceMonitor`
    applies it to one net's history, the small-data cross-validation
    (``_BaseAutoencoder._select_epochs``) to the folds' mean validation loss.
    """

    def __init__(self, patience, tol, best_loss=math.inf):
        self.patience = patience
        self.tol = tol
        self.best_loss = best_loss
        self.stalled = False
        self._no_improvement = 0

    def update(self, loss):
        """Record ``loss``; True when it is the lowest so far."""
        if loss < self.best_loss - self.tol:
            self._no_improvement = 0
        else:
            self._no_improvement += 1
        self.stalled = self._no_improvement >= self.patience
        if loss < self.best_loss:
            self.best_loss = loss
            return True
        return False


class ConvergenceMonitor(Callback):
    """Early stopping and convergence, as ``MLPRegressor`` defines them.

    Training stops when ``monitor`` (``"valid_loss"`` with early stopping, else
    ``"train_loss"``) has not improved by more than ``tol`` for ``patience``
    consecutive epochs. With ``restore_best=True`` the best weights are kept in
    memory (never written to disk) and restored at the end, with Adam's state at
    that epoch: ``partial_fit`` continues as from a training run that ended
    there, not with the moments of the epochs the restore discarded. The
    network's state before the first epoch (e.g. PCA's solution, with no Adam
    state) competes too, scored on ``baseline_dataset``.
    """

    def __init__(self, monitor, patience, tol, restore_best=False, baseline_dataset=None):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best
        self.baseline_dataset = baseline_dataset

    def initialize(self):
        self.best_loss_ = math.inf
        self.best_epoch_ = 0
        self.stopped_early_ = False
        self.start_loss_ = None
        self.start_state_ = None
        self._best_state = self._best_optimizer_state = None
        self._plateau = Plateau(self.patience, self.tol)
        return self

    def _snapshot(self, net):
        if self.restore_best:
            self._best_state, self._best_optimizer_state = copy_training_state(net)

    def on_train_begin(self, net, **kwargs):
        if self.restore_best and self.baseline_dataset is not None:
            self.best_loss_ = self.start_loss_ = net.evaluate_loss(self.baseline_dataset)
            self._plateau.best_loss = self.start_loss_
            self._snapshot(net)
            # Kept apart from the best weights: the estimator may still prefer the
            # start to the best epoch (``_BaseAutoencoder._beats_start``).
            self.start_state_ = self._best_state

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, self.monitor]
        if self._plateau.update(loss):
            self.best_loss_ = loss
            self.best_epoch_ = len(net.history)
            self._snapshot(net)
        if self._plateau.stalled:
            self.stopped_early_ = True
            net.request_stop()

    def on_train_end(self, net, **kwargs):
        if self.restore_best and self._best_state is not None:
            load_training_state(net, self._best_state, self._best_optimizer_state)
        self._best_state = self._best_optimizer_state = None
        self.baseline_dataset = None
        # Another callback may have asked to stop (a scikit-learn callback, say),
        # or the user (Ctrl-C): neither is max_epochs reached.
        if not (self.stopped_early_ or net.stop_requested or net.epoch_interrupted):
            warn_not_converged(net.max_epochs, self.monitor)


def warn_not_converged(max_epochs, monitor):
    """The ``ConvergenceWarning`` of a training that ran ``max_epochs`` while ``monitor`` improved."""
    warnings.warn(
        f"Stopped after max_epochs={max_epochs} epochs without convergence "
        f"({monitor} still improving); increase max_epochs.",
        ConvergenceWarning,
    )
