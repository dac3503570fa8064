"""CUDA tests: run only where a GPU is present (skipped on CPU-only machines and CI)."""

import pickle

import numpy as np
import pytest
import torch

from skae import AutoencoderTransformer, VAETransformer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

X = np.random.RandomState(0).rand(300, 10)


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_fit_on_cuda_and_round_trip(Estimator):
    est = Estimator(n_components=3, max_epochs=5, random_state=0).fit(X)
    assert est.device_ == "cuda"
    assert next(est.net_.module_.parameters()).is_cuda
    Z = est.transform(X)
    assert Z.dtype == np.float64 and np.all(np.isfinite(Z))
    assert np.all(np.isfinite(est.score_samples(X)))
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), Z)


def test_cuda_and_cpu_agree():
    kwargs = dict(n_components=3, max_epochs=3, random_state=0)
    gpu = AutoencoderTransformer(device="cuda", **kwargs).fit(X)
    cpu = AutoencoderTransformer(device="cpu", **kwargs).fit(X)
    # Same seed and data: the same model up to float32 kernel differences.
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), atol=1e-3)


def test_cuda_pickle_loads_on_cpu_only_machine(monkeypatch):
    est = AutoencoderTransformer(n_components=3, max_epochs=3, random_state=0).fit(X)
    Z_gpu = est.transform(X)
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(Warning):  # skorch says it maps the CUDA net to the CPU
        restored = pickle.loads(blob)
    assert restored.net_.device == "cpu"
    assert not next(restored.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(restored.transform(X), Z_gpu, atol=1e-5)


def test_hand_written_gradients_match_autograd_on_cuda():
    import copy

    from skae._fast_path import manual_step
    from skae._modules import Autoencoder
    from skae._objectives import ReconstructionLoss

    x = torch.rand(64, 10, device="cuda")
    reference = Autoencoder(10, 3, (16, 8), loc=0.5, scale=[0.3]).cuda().train()
    net = copy.deepcopy(reference)
    criterion = ReconstructionLoss()
    expected = criterion(reference(x), x, reference)
    expected.backward()
    loss, _ = manual_step(net, criterion, x)
    torch.testing.assert_close(loss, expected.detach())
    for p, q in zip(reference.parameters(), net.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-7)


def test_flat_adam_matches_adam_on_cuda():
    from skae._fast_path import FlatAdam

    gen = torch.Generator(device="cuda").manual_seed(0)
    shapes = [(64, 10), (64,), (3, 64), (3,)]
    ps = [torch.randn(s, device="cuda", generator=gen).requires_grad_() for s in shapes]
    qs = [p.detach().clone().requires_grad_() for p in ps]
    adam = torch.optim.Adam(ps, lr=1e-2, fused=True)
    flat = FlatAdam(qs, lr=1e-2, fused=True)
    for _ in range(10):
        for p, q in zip(ps, qs):
            g = torch.randn(p.shape, device="cuda", generator=gen)
            p.grad, q.grad = g.clone(), g.clone()
        adam.step()
        flat.step()
    assert flat._flat is not None
    for p, q in zip(ps, qs):
        torch.testing.assert_close(q, p, rtol=1e-6, atol=1e-7)


def test_skae_save_on_cuda_loads_on_cpu_only_machine(monkeypatch, tmp_path):
    import skae

    est = AutoencoderTransformer(n_components=3, max_epochs=3, random_state=0).fit(X)
    assert est.device_ == "cuda"
    Z_gpu = est.transform(X)
    skae.save(est, tmp_path / "model.skae")
    on_gpu = skae.load(tmp_path / "model.skae", device="cuda")
    np.testing.assert_array_equal(on_gpu.transform(X), Z_gpu)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = skae.load(tmp_path / "model.skae")  # device="cpu"
    assert restored.device_ == "cpu" and restored.net_.device == "cpu"
    assert not next(restored.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(restored.transform(X), Z_gpu, atol=1e-5)


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_cuda_fits_draw_from_their_own_generators(Estimator):
    # dropout masks and noise drawn on the device from the fit's generator: the
    # global CUDA and CPU generators are untouched, and a refit repeats the draws.
    kwargs = dict(n_components=3, max_epochs=3, dropout=0.2, device="cuda", random_state=0)
    cuda_state, cpu_state = torch.cuda.get_rng_state(), torch.get_rng_state()
    first = Estimator(**kwargs).fit(X)
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)
    assert torch.equal(torch.get_rng_state(), cpu_state)
    second = Estimator(**kwargs).fit(X)
    np.testing.assert_allclose(first.transform(X), second.transform(X), atol=1e-5)
