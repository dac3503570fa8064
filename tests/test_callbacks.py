"""skae's skorch callbacks on their own: divergence check, convergence monitor, ELBO terms."""

import math
import pickle
import warnings
from types import SimpleNamespace

import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.history import History

from skae._callbacks import ConvergenceMonitor, DivergenceCheck, Plateau, RecordELBOTerms
from skae._fast_path import FlatAdam


def _fake_net(losses, key="train_loss", module=None, optimizer=None):
    history = History()

    def request_stop():  # SkaeNet ends training after the epoch's callbacks
        net.stop_requested = True
        raise KeyboardInterrupt

    net = SimpleNamespace(
        history=history,
        max_epochs=len(losses),
        module_=module,
        optimizer_=optimizer,
        request_stop=request_stop,
        stop_requested=False,
        epoch_interrupted=False,
    )
    for epoch, loss in enumerate(losses, start=1):
        history.new_epoch()
        history.record("epoch", epoch)
        history.new_batch()  # one batch per epoch, its loss the epoch's
        history.record_batch("train_loss", loss)
        history.record(key, loss)
        yield net


@pytest.mark.parametrize("key", ["train_loss", "valid_loss"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_divergence_check_raises(key, bad):
    check = DivergenceCheck()
    nets = _fake_net([1.0, 0.5, bad], key=key)
    check.on_epoch_end(next(nets))
    check.on_epoch_end(next(nets))
    with pytest.raises(FloatingPointError, match="diverged at epoch 3"):
        check.on_epoch_end(next(nets))


@pytest.mark.parametrize("start", [1.0, -3.0, 0.0])
def test_divergence_check_raises_when_the_loss_blows_up(start):
    # A finite loss far above the starting point's: a learning rate far too large.
    limit = start + DivergenceCheck.BLOW_UP * max(abs(start), 1.0)
    check = DivergenceCheck()
    nets = _fake_net([start, start - 0.5, 0.99 * limit, 1.01 * limit])
    for _ in range(3):  # learning, then up to just below the limit: no error
        check.on_epoch_end(next(nets))
    with pytest.raises(FloatingPointError, match=r"diverged at epoch 4: the train loss is"):
        check.on_epoch_end(next(nets))


@pytest.mark.parametrize("after, message", [
    (0.5, None),
    (math.nan, "is nan"),
    (1.01 * (1.0 + DivergenceCheck.BLOW_UP), r"is 1.01e\+04, against 1 at the starting point"),
])
def test_divergence_check_tests_the_network_the_last_step_leaves(after, message):
    # The epoch's loss, computed before its step, is fine; the same batch's loss
    # after the step is tested by the same rule, once the run has ended.
    check = DivergenceCheck()
    net = next(_fake_net([1.0]))
    batches = []

    def validation_step(batch):
        batches.append(batch)
        return {"loss": torch.tensor(after)}

    net.validation_step = validation_step
    check.on_train_begin(net)
    check.on_batch_end(net, batch="last batch", training=True)
    check.on_batch_end(net, batch="a validation batch", training=False)
    check.on_epoch_end(net)
    # The batch is working state, never pickled with a model.
    assert "_last_batch" not in vars(pickle.loads(pickle.dumps(check)))
    if message is None:
        check.check_last_step(net)
    else:
        with pytest.raises(FloatingPointError, match="after the last step of epoch 1: .*"
                           + message):
            check.check_last_step(net)
    assert batches == ["last batch"]
    check.check_last_step(net)  # no step since: nothing to test
    assert batches == ["last batch"]


def _run_monitor(monitor, losses, module=None, weights=None, optimizer=None):
    """Feed ``losses`` epoch by epoch; returns the epoch that stopped training (or None).

    ``optimizer`` takes one step per epoch, on the gradient of the weights' sum.
    """
    monitor.initialize()
    for i, net in enumerate(_fake_net(losses, module=module, optimizer=optimizer)):
        if optimizer is not None:
            optimizer.zero_grad()
            module.weight.sum().backward()
            optimizer.step()
        if weights is not None:
            with torch.no_grad():
                module.weight.fill_(weights[i])
        if i == 0:
            monitor.on_train_begin(net)
        try:
            monitor.on_epoch_end(net)
        except KeyboardInterrupt:
            monitor.on_train_end(net)
            return i + 1
    monitor.on_train_end(net)
    return None


def test_convergence_monitor_stops_after_patience():
    monitor = ConvergenceMonitor("train_loss", patience=3, tol=0.01)
    losses = [5.0, 4.0, 3.0, 2.995, 2.99, 2.5, 2.6, 2.7, 2.8, 0.1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = _run_monitor(monitor, losses)
    # Epochs 4 and 5 improve by less than tol, epoch 6 resets patience (by 0.49),
    # then 7, 8, 9 do not improve: stop at 9, never seeing the 0.1.
    assert stopped == 9
    assert monitor.stopped_early_
    assert monitor.best_loss_ == 2.5
    assert monitor.best_epoch_ == 6


def test_convergence_monitor_counts_small_improvements_as_best_but_not_progress():
    monitor = ConvergenceMonitor("train_loss", patience=2, tol=0.1)
    stopped = _run_monitor(monitor, [1.0, 0.99, 0.98, 0.5])
    assert stopped == 3
    assert monitor.best_loss_ == 0.98 and monitor.best_epoch_ == 3


def test_convergence_monitor_warns_when_max_epochs_reached():
    monitor = ConvergenceMonitor("train_loss", patience=5, tol=0.0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=4"):
        assert _run_monitor(monitor, [4.0, 3.0, 2.0, 1.0]) is None
    assert not monitor.stopped_early_
    assert monitor.best_epoch_ == 4


def test_convergence_monitor_does_not_warn_when_another_callback_stopped_training():
    monitor = ConvergenceMonitor("train_loss", patience=5, tol=0.0)
    monitor.initialize()
    for net in _fake_net([4.0, 3.0]):
        monitor.on_epoch_end(net)
    net.stop_requested = True  # e.g. a scikit-learn callback asked to stop
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        monitor.on_train_end(net)
    assert not monitor.stopped_early_


def test_convergence_monitor_restores_best_weights():
    module = torch.nn.Linear(1, 1, bias=False)
    optimizer = FlatAdam(module.parameters(), lr=0.1)
    monitor = ConvergenceMonitor("train_loss", patience=2, tol=0.0, restore_best=True)
    stopped = _run_monitor(
        monitor, [3.0, 1.0, 2.0, 2.5, 0.0], module=module, weights=[10.0, 20.0, 30.0, 40.0, 50.0],
        optimizer=optimizer,
    )
    assert stopped == 4
    assert module.weight.item() == 20.0
    assert monitor.best_epoch_ == 2
    # Adam's state too, as after epoch 2's step, not epoch 4's
    assert optimizer.state[module.weight]["step"].item() == 2


def test_convergence_monitor_keeps_the_starting_point_when_no_epoch_beats_it():
    module = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        module.weight.fill_(-1.0)
    baseline = object()
    seen = []

    def evaluate_loss(dataset):
        seen.append(dataset)
        return 0.5

    monitor = ConvergenceMonitor(
        "train_loss", patience=2, tol=0.0, restore_best=True, baseline_dataset=baseline
    )
    optimizer = FlatAdam(module.parameters(), lr=0.1)
    monitor.initialize()
    for i, net in enumerate(_fake_net([1.0, 0.9, 0.8], module=module, optimizer=optimizer)):
        net.evaluate_loss = evaluate_loss
        if i == 0:
            monitor.on_train_begin(net)  # scores and snapshots the starting point
        optimizer.zero_grad()
        module.weight.sum().backward()
        optimizer.step()
        with torch.no_grad():
            module.weight.fill_(float(i))  # what the epoch trained
        try:
            monitor.on_epoch_end(net)
        except KeyboardInterrupt:
            break
    monitor.on_train_end(net)
    assert seen == [baseline]
    assert monitor.best_epoch_ == 0 and monitor.best_loss_ == 0.5
    assert module.weight.item() == -1.0
    assert not optimizer.state  # the start had taken no Adam step
    assert monitor.baseline_dataset is None  # the held-out data is not kept


def test_record_elbo_terms_writes_the_epochs_means_per_row():
    history = History()
    history.new_epoch()
    sums = {"train": [(10.5, 1.25), (7.0, 0.5), (3.0, 0.125)], "valid": [(4.0, 1.0)]}
    sizes = {"train": [4, 4, 2], "valid": [3]}
    for prefix in ("train", "valid"):
        for (reconstruction, kl), size in zip(sums[prefix], sizes[prefix]):
            history.new_batch()
            history.record_batch(f"{prefix}_reconstruction_sum", reconstruction)
            history.record_batch(f"{prefix}_kl_sum", kl)
            history.record_batch(f"{prefix}_batch_size", size)
    RecordELBOTerms().on_epoch_end(SimpleNamespace(history=history))
    assert history[-1, "train_reconstruction"] == pytest.approx(20.5 / 10)
    assert history[-1, "train_kl"] == pytest.approx(1.875 / 10)
    assert history[-1, "valid_reconstruction"] == pytest.approx(4.0 / 3)
    assert history[-1, "valid_kl"] == pytest.approx(1.0 / 3)


def test_record_elbo_terms_skips_what_was_not_recorded():
    history = History()
    history.new_epoch()
    history.new_batch()
    history.record_batch("train_loss", 1.0)
    RecordELBOTerms().on_epoch_end(SimpleNamespace(history=history))
    assert not any(key.endswith(("_reconstruction", "_kl")) for key in history[-1])


def test_plateau_counts_losses_without_an_improvement_larger_than_tol():
    plateau = Plateau(patience=2, tol=0.1, best_loss=1.0)
    assert plateau.update(0.95) and plateau.best_loss == 0.95  # best, but within tol
    assert not plateau.stalled
    assert not plateau.update(0.99)
    assert plateau.stalled  # two losses in a row without a gain above tol
    assert plateau.update(0.5) and not plateau.stalled
