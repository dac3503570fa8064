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
