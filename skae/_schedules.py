"""Learning-rate schedules: the skorch callback behind ``learning_rate_schedule``.

``"constant"`` needs no callback: the optimizer keeps ``learning_rate_``.
``"cosine"`` is :class:`WarmupCosine`. A schedule sets the learning rate of
every parameter group of ``net.optimizer_`` before each training step, which
both ``torch.optim.Adam`` and skae's ``FlatAdam`` read at every step.
"""

import math

from skorch.callbacks import Callback

#: Share of the schedule's steps spent warming up (at least one step).
WARMUP_FRACTION = 0.05


def warmup_cosine(step, total_steps, peak, warmup_fraction=WARMUP_FRACTION):
    """The learning rate of optimizer step ``step`` (0-based) of ``total_steps``.

    It rises linearly from ``peak / warmup`` to ``peak`` over the first
    ``warmup = max(1, int(warmup_fraction * total_steps))`` steps, then decays
    as half a cosine, reaching 0 after the last step. Adam's first steps are
    large for every parameter whatever its gradient's size; the warm-up keeps
    them small while its moment estimates settle.
    """
    warmup = max(1, int(warmup_fraction * total_steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup + 1) / (total_steps - warmup + 1))
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer, lr):
    """Set the learning rate of every parameter group of ``optimizer`` to ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


class WarmupCosine(Callback):
    """:func:`warmup_cosine` over ``epochs`` epochs of ``steps_per_epoch`` steps.

    The decay ends with the last epoch: the learning rate is then 0, so that
    epoch ends training (``net.request_stop()``), and the fit counts as
    converged -- :class:`~skae._callbacks.ConvergenceMonitor` does not warn.
    Early stopping may still end it before.
    """

    def __init__(self, peak, epochs, steps_per_epoch):
        self.peak = peak
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch

    def initialize(self):
        self.step_ = 0
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        set_learning_rate(
            net.optimizer_, warmup_cosine(self.step_, self.epochs * self.steps_per_epoch, self.peak)
        )
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) >= self.epochs:
            net.request_stop()
