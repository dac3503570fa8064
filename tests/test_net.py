"""The skorch net: device resolution, seeded RNG, training with skae's iterator, stopping."""

import numpy as np
import pytest
import torch

from conftest import CountEpochs

from skae._callbacks import ConvergenceMonitor
from skae._data import RowDataset, to_float32_tensor
from skae._modules import Autoencoder
from skae._net import resolve_device
from skae._objectives import ReconstructionLoss


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


def test_skae_net_trains_with_the_batch_iterator(fit_net, rng):
    X = to_float32_tensor(rng.randn(50, 4), "cpu")
    module = Autoencoder(4, 2, (8,))
    net = fit_net(module, X, lr=1e-2, max_epochs=3, batch_size=16,
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


def test_callbacks_listed_after_the_monitor_see_the_epoch_that_stops_training(fit_net, rng):
    # skae lists the monitor before the VAE's RecordELBOTerms and the user's
    # callbacks, and skorch always runs PrintLog last: the stopping epoch must
    # still reach every callback (history terms, printed table, user callbacks).
    X = to_float32_tensor(rng.randn(40, 4), "cpu")
    net = fit_net(
        Autoencoder(4, 2, ()), X, max_epochs=10, batch_size=40,
        callbacks=[
            ("convergence", ConvergenceMonitor("train_loss", patience=2, tol=1.0)),
            ("count", CountEpochs()),
        ],
    )
    assert dict(net.callbacks_)["convergence"].stopped_early_
    assert len(net.history) == 3  # epoch 1 beats inf; 2 and 3 do not improve by tol
    assert dict(net.callbacks_)["count"].epochs == len(net.history)


def test_skae_net_set_training_notices_any_submodule_and_is_not_pickled(fit_net, rng):
    import pickle

    X = to_float32_tensor(rng.randn(20, 4), "cpu")
    net = fit_net(Autoencoder(4, 2, (8,)), X, max_epochs=1, batch_size=10)
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())
    net.module_.encoder.mlp[1].train()  # one submodule flipped behind skorch's back
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    restored = pickle.loads(pickle.dumps(net))
    assert "_mode_modules" in vars(net) and "_mode_modules" not in vars(restored)


class _RecordingLoss(ReconstructionLoss):
    """Reports each batch's row count through ``record``, as NegativeELBO reports its terms."""

    def forward(self, output, x, network, training=False, record=None):
        if record is not None:
            record("rows", x.shape[0])
        return super().forward(output, x, network, training=training)


def test_skae_net_records_what_the_objective_reports_per_batch(fit_net, rng):
    from skorch.helper import predefined_split

    X = to_float32_tensor(rng.randn(30, 4), "cpu")
    valid = RowDataset(X, np.arange(7), "cpu")
    net = fit_net(Autoencoder(4, 2, (8,)), X, criterion=_RecordingLoss(),
                  max_epochs=2, batch_size=8, train_split=predefined_split(valid))
    for epoch in net.history:
        train = [b["train_rows"] for b in epoch["batches"] if "train_loss" in b]
        valid_rows = [b["valid_rows"] for b in epoch["batches"] if "valid_loss" in b]
        assert train == [8, 8, 8, 6] and valid_rows == [7]
    # Outside skorch's epoch loop (the starting point's score) nothing is recorded.
    before = [dict(b) for b in net.history[-1, "batches"]]
    net.evaluate_loss(valid)
    assert net.history[-1, "batches"] == before
