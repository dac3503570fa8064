"""The skorch side on its own: batch iterator, datasets, device, seeding, callbacks."""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback
from skorch.history import History

from skae._modules import Autoencoder
from skae._training import (
    BatchIterator,
    ConvergenceMonitor,
    DivergenceCheck,
    FlatAdam,
    ReconstructionLoss,
    RowDataset,
    SkaeNet,
    resolve_device,
    seeded_rng_context,
    to_float32_tensor,
)


def _row_ids(n):
    """A dataset whose rows carry their own index in column 0."""
    data = torch.stack([torch.arange(n, dtype=torch.float32), torch.zeros(n)], dim=1)
    return RowDataset(data, np.arange(n), "cpu")


def _epoch(iterator):
    batches = list(iterator)
    assert all(y is None for _, y in batches)
    return [X[:, 0].long().tolist() for X, _ in batches]


def _fit_net(module, X, **params):
    """A ``SkaeNet`` as skae builds it (batch iterator, no split, CPU), fitted on ``X``."""
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



@pytest.mark.parametrize("n, batch_size", [(23, 5), (20, 5), (3, 200), (1, 1)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_iterator_yields_every_row_once(n, batch_size, shuffle):
    iterator = BatchIterator(_row_ids(n), batch_size=batch_size, shuffle=shuffle, seed=0)
    for _ in range(3):
        batches = _epoch(iterator)
        sizes = [len(b) for b in batches]
        expected = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        assert sizes == expected  # the last, smaller batch is kept
        assert len(batches) == len(iterator) == math.ceil(n / batch_size)
        assert sorted(sum(batches, [])) == list(range(n))
        if not shuffle:
            assert sum(batches, []) == list(range(n))


def test_batch_iterator_reshuffles_each_epoch_deterministically():
    orders = {}
    for seed in (0, 0, 1):
        iterator = BatchIterator(_row_ids(50), batch_size=8, shuffle=True, seed=seed)
        orders.setdefault(seed, []).append([sum(_epoch(iterator), []) for _ in range(3)])
    first, again = orders[0]
    assert first == again  # same seed, same sequence of epochs
    assert first[0] != first[1] != first[2]  # a new order every epoch
    assert first[0] != list(range(50))
    assert orders[1][0] != first  # another seed, another sequence


def test_batch_iterator_over_a_subset_of_rows():
    data = torch.arange(10, dtype=torch.float32)[:, None]
    dataset = RowDataset(data, [1, 4, 7, 9], "cpu")
    assert len(dataset) == 4
    rows = sorted(sum(_epoch(BatchIterator(dataset, 3, shuffle=True, seed=2)), []))
    assert rows == [1, 4, 7, 9]


def test_row_dataset_with_csr_matches_dense(rng):
    dense = rng.randn(30, 4)
    dense[dense < 0.5] = 0.0
    csr = sp.csr_matrix(dense)
    indices = np.array([0, 3, 5, 8, 13, 21, 29])
    sparse_set = RowDataset(csr, indices, "cpu")
    dense_set = RowDataset(to_float32_tensor(dense, "cpu"), indices, "cpu")
    assert sparse_set.sparse and not dense_set.sparse
    assert len(sparse_set) == len(dense_set) == len(indices)
    positions = torch.tensor([0, 2, 6])
    got = sparse_set.rows(positions)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, dense_set.rows(positions))
    torch.testing.assert_close(got, torch.as_tensor(dense[indices[[0, 2, 6]]], dtype=torch.float32))
    X0, y0 = sparse_set[1]
    torch.testing.assert_close(X0, torch.as_tensor(dense[3], dtype=torch.float32))
    # The iterator densifies one batch at a time and still covers every row once.
    batches = [X for X, _ in BatchIterator(sparse_set, 3, shuffle=True, seed=0)]
    assert [len(b) for b in batches] == [3, 3, 1]
    stacked = torch.cat(batches).numpy()
    expected = dense[indices].astype(np.float32)
    assert sorted(map(tuple, stacked)) == sorted(map(tuple, expected))


def test_to_float32_tensor():
    X = np.arange(6, dtype=np.float64).reshape(3, 2)
    t = to_float32_tensor(X, "cpu")
    assert t.dtype == torch.float32 and t.device.type == "cpu"
    np.testing.assert_array_equal(t.numpy(), X)


def test_resolve_device():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("device", ["nonsense", "gpu0", ""])
def test_resolve_device_rejects_bad_strings(device):
    with pytest.raises(ValueError, match="device"):
        resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_resolve_device_rejects_cuda_when_unavailable(device):
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device(device)


def test_seeded_rng_context_leaves_global_rng_untouched():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    expected_next = torch.rand(3)
    torch.set_rng_state(state)
    with seeded_rng_context(7, "cpu"):
        inside = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(torch.rand(3), expected_next)
    with seeded_rng_context(7, "cpu"):
        torch.testing.assert_close(torch.rand(3), inside)  # seeded: reproducible
    with seeded_rng_context(8, "cpu"):
        assert not torch.equal(torch.rand(3), inside)


def test_seeded_rng_context_restores_state_on_error():
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError):
        with seeded_rng_context(0, "cpu"):
            torch.rand(5)
            raise RuntimeError
    assert torch.equal(torch.get_rng_state(), state)


def _fake_net(losses, key="train_loss", module=None):
    history = History()

    def request_stop():  # SkaeNet ends training after the epoch's callbacks
        raise KeyboardInterrupt

    net = SimpleNamespace(
        history=history, max_epochs=len(losses), module_=module, request_stop=request_stop
    )
    for epoch, loss in enumerate(losses, start=1):
        history.new_epoch()
        history.record("epoch", epoch)
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


def _run_monitor(monitor, losses, module=None, weights=None):
    """Feed ``losses`` epoch by epoch; returns the epoch that stopped training (or None)."""
    monitor.initialize()
    for i, net in enumerate(_fake_net(losses, module=module)):
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


def test_convergence_monitor_restores_best_weights():
    module = torch.nn.Linear(1, 1, bias=False)
    monitor = ConvergenceMonitor("train_loss", patience=2, tol=0.0, restore_best=True)
    stopped = _run_monitor(
        monitor, [3.0, 1.0, 2.0, 2.5, 0.0], module=module, weights=[10.0, 20.0, 30.0, 40.0, 50.0]
    )
    assert stopped == 4
    assert module.weight.item() == 20.0
    assert monitor.best_epoch_ == 2


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
    monitor.initialize()
    for i, net in enumerate(_fake_net([1.0, 0.9, 0.8], module=module)):
        net.evaluate_loss = evaluate_loss
        if i == 0:
            monitor.on_train_begin(net)  # scores and snapshots the starting point
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
    assert monitor.baseline_dataset is None  # the held-out data is not kept


def test_reconstruction_loss_is_mean_squared_error_in_normalised_units(rng):
    X = torch.as_tensor(rng.randn(10, 4) * 3 + 1, dtype=torch.float32)
    net = Autoencoder(4, 2, (), loc=np.ones(4), scale=np.array([3.0]))
    output = torch.randn(10, 4)
    loss = ReconstructionLoss()(output, X, net)
    torch.testing.assert_close(loss, ((output - (X - 1) / 3) ** 2).mean())
    bern = Autoencoder(4, 2, (), likelihood="bernoulli")
    U = torch.rand(10, 4)
    torch.testing.assert_close(
        ReconstructionLoss()(output, U, bern),
        torch.nn.functional.binary_cross_entropy_with_logits(output, U),
    )


def test_skae_net_trains_with_the_batch_iterator(rng):
    X = to_float32_tensor(rng.randn(50, 4), "cpu")
    module = Autoencoder(4, 2, (8,))
    net = _fit_net(module, X, lr=1e-2, max_epochs=3, batch_size=16,
                   iterator_train__shuffle=True, iterator_train__seed=0)
    assert len(net.history) == 3
    assert [len(epoch["batches"]) for epoch in net.history] == [4, 4, 4]
    assert all(np.isfinite(net.history[:, "train_loss"]))
    # evaluate_loss is the batch-size-weighted mean of the loss over the rows.
    loss = net.evaluate_loss(RowDataset(X, np.arange(50), "cpu"))
    with torch.no_grad():
        module.eval()
        expected = ReconstructionLoss()(module(X), X, module).item()
    assert loss == pytest.approx(expected, rel=1e-5)


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_callbacks_listed_after_the_monitor_see_the_epoch_that_stops_training(rng):
    # skae lists the monitor before the VAE's RecordELBOTerms and the user's
    # callbacks, and skorch always runs PrintLog last: the stopping epoch must
    # still reach every callback (history terms, printed table, user callbacks).
    X = to_float32_tensor(rng.randn(40, 4), "cpu")
    net = _fit_net(
        Autoencoder(4, 2, ()), X, max_epochs=10, batch_size=40,
        callbacks=[
            ("convergence", ConvergenceMonitor("train_loss", patience=2, tol=1.0)),
            ("count", _CountEpochs()),
        ],
    )
    assert dict(net.callbacks_)["convergence"].stopped_early_
    assert len(net.history) == 3  # epoch 1 beats inf; 2 and 3 do not improve by tol
    assert dict(net.callbacks_)["count"].epochs == len(net.history)


@pytest.mark.parametrize("loss_kind", ["gaussian", "bernoulli"])
def test_reconstruction_loss_and_gradients_equal_autograd_bit_for_bit(rng, loss_kind):
    import copy

    X = torch.as_tensor(rng.rand(20, 5), dtype=torch.float32)
    reference = Autoencoder(5, 2, (6,), likelihood=loss_kind, loc=X.mean(0), scale=[X.std()])
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.2 * torch.randn_like(p))
    net = copy.deepcopy(reference)
    criterion = ReconstructionLoss()
    expected = criterion(reference(X), X, reference)
    expected.backward()
    loss, output = criterion.loss_and_gradients(net, X)
    assert torch.equal(loss, expected.detach())
    assert not loss.requires_grad and not output.requires_grad
    for (name, p), q in zip(reference.named_parameters(), net.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        assert p.grad is None or torch.equal(p.grad, q.grad), name


def _fit_skae_net(X, force_autograd, monkeypatch, **params):
    if force_autograd:
        monkeypatch.setattr(ReconstructionLoss, "loss_and_gradients",
                            lambda self, network, x: (None, None))
    torch.manual_seed(0)
    net = _fit_net(Autoencoder(4, 2, (8,), loc=X.mean(0), scale=[X.std()]), X, lr=1e-2,
                   max_epochs=4, batch_size=16, iterator_train__shuffle=True, **params)
    monkeypatch.undo()
    return net


@pytest.mark.parametrize("clip", [False, True])
def test_skae_net_manual_gradients_train_the_same_model_as_autograd(rng, monkeypatch, clip):
    from skorch.callbacks import GradientNormClipping

    # A callback acting on the gradients (on_grad_computed) sees the hand-written ones.
    params = {"callbacks": [("clip", GradientNormClipping(0.05))]} if clip else {}
    X = to_float32_tensor(rng.randn(50, 4), "cpu")
    manual = _fit_skae_net(X, False, monkeypatch, **params)
    autograd = _fit_skae_net(X, True, monkeypatch, **params)
    assert manual.history[:, "train_loss"] == autograd.history[:, "train_loss"]
    for p, q in zip(manual.module_.parameters(), autograd.module_.parameters()):
        assert torch.equal(p, q)
    if clip:  # clipping changed the training: the comparison above can fail
        unclipped = _fit_skae_net(X, False, monkeypatch)
        assert unclipped.history[:, "train_loss"] != manual.history[:, "train_loss"]


def test_skae_net_set_training_notices_any_submodule_and_is_not_pickled(rng):
    import pickle

    X = to_float32_tensor(rng.randn(20, 4), "cpu")
    net = _fit_net(Autoencoder(4, 2, (8,)), X, max_epochs=1, batch_size=10)
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())
    net.module_.encoder.mlp[1].train()  # one submodule flipped behind skorch's back
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    restored = pickle.loads(pickle.dumps(net))
    assert "_mode_modules" in vars(net) and "_mode_modules" not in vars(restored)


# Shapes of the default autoencoder's kind plus ragged ones (8 and 21 elements),
# which must stay outside the flat buffer for the updates to match bit for bit.
_SHAPES = [(8, 64), (8,), (128, 64), (128,), (64, 128), (64,), (7, 3), (64, 8)]


def _adam_pair(fused, **kwargs):
    gen = torch.Generator().manual_seed(0)
    ps = [torch.randn(s, generator=gen).requires_grad_() for s in _SHAPES]
    qs = [p.detach().clone().requires_grad_() for p in ps]
    return (ps, torch.optim.Adam(ps, lr=1e-2, fused=fused, **kwargs),
            qs, FlatAdam(qs, lr=1e-2, fused=fused, **kwargs))


def _set_grads(ps, qs, gen, skip=()):
    for i, (p, q) in enumerate(zip(ps, qs)):
        if i in skip:
            continue
        g = torch.randn(p.shape, generator=gen) * 10.0 ** -torch.randint(0, 7, (), generator=gen)
        p.grad, q.grad = g.clone(), g.clone()


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 1e-2}, {"amsgrad": True}])
def test_flat_adam_equals_adam_bit_for_bit(fused, kwargs):
    ps, adam, qs, flat = _adam_pair(fused, **kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(30):
        adam.zero_grad()
        flat.zero_grad()
        _set_grads(ps, qs, gen)
        adam.step()
        flat.step()
        for p, q in zip(ps, qs):
            assert torch.equal(p, q)
    flat_param, members, others = flat._flat
    assert len(flat.param_groups[0]["params"]) == 1 + len(others) < len(qs)
    assert {q.numel() for q in others} == {8, 21}  # the ragged tensors stay apart
    # The members keep their identity; their storage is the flat parameter's.
    assert all(any(q is m for m in members) for q in qs if q.numel() % 64 == 0)
    assert all(m.untyped_storage().data_ptr() == flat_param.untyped_storage().data_ptr()
               for m in members)


def test_flat_adam_zero_grad_clears_the_members_gradients():
    ps, _, qs, flat = _adam_pair(True)
    _set_grads(ps, qs, torch.Generator().manual_seed(0))
    flat.step()
    flat.zero_grad()
    assert all(q.grad is None for q in qs)
    _set_grads(ps, qs, torch.Generator().manual_seed(0))
    flat.zero_grad(set_to_none=False)
    assert all(q.grad is not None and not q.grad.any() for q in qs)


def test_flat_adam_follows_learning_rate_changes_and_closures():
    ps, adam, qs, flat = _adam_pair(True)
    gen = torch.Generator().manual_seed(2)
    for step in range(6):
        if step == 3:  # as skorch's LRScheduler does, on the (now flat) group
            adam.param_groups[0]["lr"] = flat.param_groups[0]["lr"] = 1e-3
        _set_grads(ps, qs, gen)
        adam.step()
        assert flat.step(lambda: torch.tensor(1.5)).item() == 1.5
    assert all(torch.equal(p, q) for p, q in zip(ps, qs))


def test_flat_adam_returns_to_per_tensor_adam_when_a_gradient_disappears():
    ps, adam, qs, flat = _adam_pair(True, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(3)
    for step in range(12):
        adam.zero_grad()
        flat.zero_grad()
        # From step 6 the 128 x 64 weight is frozen: no gradient, no update.
        _set_grads(ps, qs, gen, skip=(2,) if step >= 6 else ())
        adam.step()
        flat.step()
        assert (flat._flat is not None) == (step < 6)
        assert all(torch.equal(p, q) for p, q in zip(ps, qs))


@pytest.mark.parametrize("block_elements", [1, 2 * 7 * 2, 10**6])
def test_batch_iterator_blocks_do_not_change_the_batches(monkeypatch, block_elements):
    # Rows are gathered a block at a time: any block size yields the same batches
    # (one batch per block, blocks of two batches, everything in one block).
    reference = [X.tolist() for X, _ in BatchIterator(_row_ids(23), 7, shuffle=True, seed=4)]
    monkeypatch.setattr(BatchIterator, "BLOCK_ELEMENTS", block_elements)
    blocked = [X.tolist() for X, _ in BatchIterator(_row_ids(23), 7, shuffle=True, seed=4)]
    assert blocked == reference
    assert [len(b) for b in blocked] == [7, 7, 7, 2]


def test_flat_adam_unflatten_gives_members_their_own_storage_and_state():
    ps, adam, qs, flat = _adam_pair(True, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(4)
    for step in range(8):
        if step == 4:
            flat.unflatten()
            flat.unflatten()  # a no-op once per-tensor
            assert flat._flat is None
            pointers = {q.untyped_storage().data_ptr() for q in qs}
            assert len(pointers) == len(qs)
            assert set(flat.state) == {q for q in qs}  # every tensor has its Adam state
        adam.zero_grad()
        flat.zero_grad()
        _set_grads(ps, qs, gen)
        adam.step()
        flat.step()
        assert all(torch.equal(p, q) for p, q in zip(ps, qs))


def test_flat_adam_pickled_with_its_parameters_keeps_training(rng):
    import pickle

    ps, adam, qs, flat = _adam_pair(True)
    gen = torch.Generator().manual_seed(5)
    _set_grads(ps, qs, gen)
    adam.step()
    flat.step()
    qs, flat = pickle.loads(pickle.dumps((qs, flat)))  # as skorch pickles module and optimizer
    assert flat._flat is not None
    _set_grads(ps, qs, gen)
    adam.step()
    flat.step()
    assert all(torch.equal(p, q) for p, q in zip(ps, qs))


def test_skae_net_parameters_own_their_storage_after_training(rng):
    import pickle

    X = to_float32_tensor(rng.randn(40, 4), "cpu")
    net = _fit_net(Autoencoder(4, 2, (64,)), X, optimizer=FlatAdam, max_epochs=2, batch_size=10)
    params = list(net.module_.parameters())
    assert net.optimizer_._flat is None and not net.optimizer_._flat_possible
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)
    # so a pickle holds each weight once (a view would carry the whole flat buffer)
    weights = sum(p.numel() * 4 for p in params)
    assert len(pickle.dumps(net.module_)) < 3 * weights + 20_000
