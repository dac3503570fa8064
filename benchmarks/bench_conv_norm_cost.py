"""Cost of the GroupNorm in skae's 2-D conv body: one training step with and without it.

The default conv network of ``AutoencoderTransformer`` on MNIST-5k (1x28x28, k=16,
32/64 channels, batch 64, fused Adam, one thread), built by the estimator with its
GroupNorm (8 groups) and with none, then (second table) also with NCHW instead of
channels-last maps; 5 interleaved rounds of 10 steps, medians in ms per step.
Run from the repository root::

    python benchmarks/bench_conv_norm_cost.py
"""
import contextlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, "benchmarks")
sys.path.insert(0, ".")
torch.set_num_threads(1)

import _datasets  # noqa: E402

import skae._architectures as architectures  # noqa: E402
from skae import AutoencoderTransformer  # noqa: E402
from skae._objectives import ReconstructionLoss  # noqa: E402
from skae._random import fit_generators  # noqa: E402

ROUNDS, STEPS, BATCH = 5, 10, 64


def build(X, groups):
    """The estimator's own conv network (``groups``: its GroupNorm, None for none) and Adam."""
    estimator = AutoencoderTransformer(
        n_components=16, architecture="conv", input_shape=(1, 28, 28), random_state=0
    )
    estimator._image_norm_groups = groups
    estimator._resolve_parameters(X, None)
    valid_rows, train_rows = estimator._validation_split(X)
    init_generator, _ = fit_generators(estimator._seed, "cpu")
    with contextlib.ExitStack() as threads:
        module, _, _ = estimator._initialize_module(
            X, train_rows, valid_rows, init_generator, threads
        )
    torch.set_num_threads(1)
    return module, torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)


def median_step_ms(nets, batch):
    """Median milliseconds per training step of each network, in interleaved rounds."""
    loss = ReconstructionLoss()
    times = {name: [] for name in nets}
    for _ in range(ROUNDS):
        for name, (module, optimizer) in nets.items():
            module.train()
            start = time.perf_counter()
            for _ in range(STEPS):
                optimizer.zero_grad()
                loss(module(batch), batch, module).backward()
                optimizer.step()
            times[name].append((time.perf_counter() - start) / STEPS * 1e3)
    return {name: float(np.median(values)) for name, values in times.items()}


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    X = _datasets.mnist_split(random_state=0)[0].astype(np.float32)
    batch = torch.from_numpy(X[:BATCH])
    nets = {"no norm": build(X, None), "GroupNorm": build(X, 8)}
    med = median_step_ms(nets, batch)
    print({k: round(v, 1) for k, v in med.items()}, "ms/step; ratio GN/no-norm",
          round(med["GroupNorm"] / med["no norm"], 3), "load", load())
    # The same GroupNorm network with its feature maps left in NCHW layout.
    module, optimizer = build(X, 8)
    for layer in module.modules():
        if isinstance(layer, architectures.ChannelsLast):
            layer.forward = lambda x: x.contiguous()
    nets["GroupNorm NCHW"] = (module, optimizer)
    med = median_step_ms(nets, batch)
    print({k: round(v, 1) for k, v in med.items()}, "load", load())


if __name__ == "__main__":
    main()
