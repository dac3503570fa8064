"""skae's skorch net: the training loop and the device it runs on.

skorch runs the training loop (callbacks, history, device moves). A training
step goes through the speed layer's :func:`~skae._fast_path.manual_step`
first: for the networks it knows it computes the gradients by hand; for any
other, or when the speed layer is switched off, skorch's autograd step runs.
"""

import functools

import torch
from skorch import NeuralNet
from skorch.callbacks import TensorBoard
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._fast_path import FlatAdam, manual_step
from ._progress import EpochProgressBar
from ._threads import adjust_training_threads


def resolve_device(device):
    """Resolve ``"auto"`` to ``"cuda"`` when CUDA is available, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    try:
        # A valid name is not a usable device: "meta" holds no data, "mps" needs
        # a torch built for it. One tiny operation and a copy back tell.
        torch.ones(1, device=resolved).add_(1).cpu()
    except Exception as exc:
        raise ValueError(f"device={device!r} cannot be used for training: {exc}") from exc
    return str(resolved)


def copy_training_state(net):
    """Copies of what training changes in ``net``: ``(weights, adam_state)``.

    The module's state (weights and buffers) and the optimizer's state per
    parameter (:meth:`~skae._fast_path.FlatAdam.state_by_parameter`), to be put
    back by :func:`load_training_state`. Each tensor is cloned: a deep copy of
    the state dict takes several times longer for the same result.
    """
    weights = {name: value.clone() for name, value in net.module_.state_dict().items()}
    return weights, net.optimizer_.state_by_parameter()


def load_training_state(net, weights, adam_state):
    """Put back the state :func:`copy_training_state` copied (taken over, not copied)."""
    net.module_.load_state_dict(weights)
    net.optimizer_.load_state_by_parameter(adam_state)


class SkaeNet(NeuralNet):
    """skorch ``NeuralNet`` whose loss is the criterion applied to (output, X, module).

    skorch feeds a dummy target when ``y=None``; skae's objectives compare the
    network's output with its own input, so ``get_loss`` ignores ``y_true``.
    """

    def get_default_callbacks(self):
        """skorch's default callbacks but its epoch table, ``PrintLog``.

        The estimator puts what ``verbose`` asks for among the net's callbacks
        (:func:`~skae._progress.progress_callbacks`), where ``partial_fit``
        sets them anew with the others at every call. A default table would
        be formatted every epoch even with nothing to print.
        """
        return [(name, cb) for name, cb in super().get_default_callbacks() if name != "print_log"]

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.stop_requested = False
        self._in_epoch = False
        self._batch_prefix = None  # even if an interrupted fit left a batch open

    def request_stop(self):
        """End training once every callback has seen the current epoch.

        skorch stops on a ``KeyboardInterrupt`` raised by a callback, but one
        raised in ``on_epoch_end`` hides that epoch from the callbacks after it
        (the VAE's ELBO terms, the user's callbacks, and PrintLog, always last).
        """
        self.stop_requested = True

    def notify(self, method_name, **cb_kwargs):
        if method_name == "on_epoch_begin":
            self._in_epoch = True
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_epoch_end":
            self._in_epoch = False
            if self.stop_requested:
                raise KeyboardInterrupt  # skorch's documented way to end fit_loop

    @property
    def epoch_interrupted(self):
        """Whether the training run ended inside an epoch (Ctrl-C), seen from ``on_train_end`` on.

        skorch ends training on a ``KeyboardInterrupt`` anywhere in its epochs
        and calls ``on_train_end`` as for a run that ended. The epoch it
        interrupted keeps its history row, with the batches that ran (their
        steps changed the weights), but no epoch loss: its ``on_epoch_end``,
        where the losses are recorded, never came (or not for every callback).
        Also True when a callback raises the ``KeyboardInterrupt`` itself in
        ``on_epoch_end`` to stop training, as skorch's ``EarlyStopping`` does:
        the callbacks before it have recorded the epoch's losses, and the
        run, stopped on purpose, is not reported as unconverged.
        """
        return getattr(self, "_in_epoch", False)

    def train_step_single(self, batch, **fit_params):
        """skorch's training step, through the speed layer when it handles the network.

        :func:`~skae._fast_path.manual_step` computes the loss and writes the
        gradients itself, equal to autograd's; when it declines (another
        network or objective, dropout, hooks, the layer switched off), or with
        ``fit_params``, skorch's own autograd step runs.
        """
        if not fit_params:
            self._set_training(True)
            Xi, _ = unpack_data(batch)
            step = manual_step(self.module_, self.criterion_, to_tensor(Xi, device=self.device),
                               record=self.record_batch)
            if step is not None:
                loss, y_pred = step
                return {"loss": loss, "y_pred": y_pred}
        return super().train_step_single(batch, **fit_params)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        super().on_batch_begin(net, batch=batch, training=training, **kwargs)
        self._batch_prefix = "train" if training else "valid"
        if training:
            # Other processes may have taken or freed a core since the fit began.
            adjust_training_threads()

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        self._batch_prefix = None

    def record_batch(self, name, value):
        """Record ``value`` as ``{train,valid}_name`` of the batch skorch is running.

        The objectives report their terms through it. Batches outside skorch's
        epoch loop (``evaluate_loss``: the starting point's score) are not
        recorded: the history has no entry for them.
        """
        prefix = getattr(self, "_batch_prefix", None)
        if prefix is not None:
            self.history.record_batch(f"{prefix}_{name}", value)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        X = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, X, self.module_, training=training,
                               record=self.record_batch)

    @staticmethod
    @functools.lru_cache
    def fused_adam_supported(device):
        """Whether ``torch.optim.Adam(fused=True)`` runs on ``device`` (CPU from torch 2.4).

        The fused kernel makes a small network's step ~25 % faster on CPU. It
        rounds differently from the per-tensor loop (weights differ by ~1 ulp
        per step), so results differ from the unfused optimizer; they stay
        deterministic for a given ``random_state``.
        """
        try:
            param = torch.zeros(1, device=device, requires_grad=True)
            torch.optim.Adam([param], fused=True)
        except (RuntimeError, ValueError, TypeError):
            return False
        return True

    def _set_training(self, training=True):
        """Set train/eval mode, skipping the work when nothing would change.

        skorch calls this before every batch; ``nn.Module.train()`` recurses
        through every submodule with ``__setattr__``, a noticeable part of a small
        network's training step. Checking the flags of every submodule (listed
        once per training) costs far less and still notices a mode changed
        anywhere, by a callback or by the user.
        """
        training = bool(training)
        roots = [getattr(self, name + "_") for name in self._modules + self._criteria]
        key = [id(root) for root in roots]
        if getattr(self, "_mode_modules", (None,))[0] != key:
            submodules = [
                m for root in roots if isinstance(root, torch.nn.Module) for m in root.modules()
            ]
            self._mode_modules = (key, submodules)
        if any(m.training != training for m in self._mode_modules[1]):
            super()._set_training(training)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        if isinstance(self.optimizer_, FlatAdam):
            # the fitted module's parameters own their storage again, until the
            # next training run (partial_fit) flattens them at its first step
            self.optimizer_.unflatten(for_good=False)

    def train_epochs(self, dataset, epochs):
        """Train ``epochs`` more epochs on ``dataset`` (skorch's ``partial_fit``).

        ``planned_epochs_`` tells the callbacks how many the run may train
        (the progress bar's total). A run that raises first closes what its
        callbacks hold open (:meth:`release_after_error`).
        """
        self.planned_epochs_ = epochs
        try:
            self.partial_fit(dataset, None, epochs=epochs)
        except BaseException as exc:
            self.release_after_error(exc)
            raise
        return self

    def release_after_error(self, error):
        """Close what a training run that raised ``error`` leaves open, and nothing else.

        skorch calls ``on_train_end`` only when training ends normally (a
        ``KeyboardInterrupt`` within the epochs included), and skae keeps that
        rule for callbacks, which may save or publish the model there. Two
        callbacks only release a resource there, and are ended here: skae's
        live progress bar, closed, and skorch's ``TensorBoard``, whose writer
        (a thread and an open file) is closed as at the end of a fit that
        returns, through its ``on_train_end`` -- where a subclass that opens a
        writer per fit lets it go (the user guide's ``TensorBoardPerFit``), and
        a subclass that also publishes there publishes after the error too --
        or flushed with ``close_after_train=False``. A failure to close one is
        noted on ``error``, which stays the error raised.
        """
        for name, callback in getattr(self, "callbacks_", []):
            try:
                if isinstance(callback, EpochProgressBar):
                    callback.close()
                elif isinstance(callback, TensorBoard) and callback.writer is not None:
                    if callback.close_after_train:
                        callback.on_train_end(self)
                    else:
                        callback.writer.flush()
            except Exception as exc:  # noqa: BLE001 - error, not this, is what the caller gets
                if hasattr(error, "add_note"):  # Python >= 3.11
                    error.add_note(f"Closing callback {name!r} then failed too: {exc!r}")

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_mode_modules", None)  # a cache holding the modules: never pickled
        return state

    def evaluate_loss(self, dataset):
        """Mean loss over ``dataset`` in evaluation mode (weighted by batch size)."""
        total, count = 0.0, 0
        for batch in self.get_iterator(dataset, training=False):
            step = self.validation_step(batch)
            n = len(batch[0])
            total += step["loss"].item() * n
            count += n
        return total / count
