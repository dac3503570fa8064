"""Channels-last against contiguous feature maps in skae's conv network: a training step.

skae's default conv network for 28 x 28 images (k=16) as the estimator builds it,
and a copy whose :class:`~skae._architectures.ChannelsLast` layers are replaced by
``nn.Identity`` (contiguous NCHW maps, as before the change). Each trains on the
same random batches with fused Adam, the two interleaved, one thread; the median
time per step over ``--repeats`` rounds of 8 steps is printed per batch size with
the load average. Run from the repository root::

    python benchmarks/bench_conv_layout.py --repeats 5
"""

import argparse
import copy
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from skae import AutoencoderTransformer  # noqa: E402
from skae._architectures import ChannelsLast  # noqa: E402


def contiguous_copy(module):
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, ChannelsLast):
                setattr(parent, name, nn.Identity())
    return module


def stepper(module, criterion, X, batch):
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)

    def run(steps=8):
        start = time.perf_counter()
        for i in range(steps):
            xb = X[i * batch:(i + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            criterion(module(xb), xb, module).backward()
            optimizer.step()
        return (time.perf_counter() - start) / steps * 1000

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    X = torch.rand(2000, 784, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = AutoencoderTransformer(n_components=16, architecture="conv", input_shape=(1, 28, 28),
                                    max_epochs=1, random_state=0).fit(X[:300].numpy())
    torch.set_num_threads(1)
    layouts = {"channels last": ae.net_.module_, "contiguous": contiguous_copy(ae.net_.module_)}
    print("| batch | channels last (ms/step) | contiguous (ms/step) | contiguous / channels last "
          "| load |\n|---:|---:|---:|---:|---:|")
    for batch in (64, 200):
        criterion = ae.net_.criterion_
        runs = {name: stepper(module, criterion, X, batch) for name, module in layouts.items()}
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(run())
        med = {name: statistics.median(t) for name, t in times.items()}
        load = open("/proc/loadavg").read().split()[0]
        print(f"| {batch} | {med['channels last']:.1f} | {med['contiguous']:.1f} | "
              f"{med['contiguous'] / med['channels last']:.2f} | {load} |", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
