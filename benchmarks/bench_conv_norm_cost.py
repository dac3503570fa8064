"""Cost of the GroupNorm in skae's 2-D conv body: one training step with and without it.

The default conv network of ``AutoencoderTransformer`` on MNIST-5k (1x28x28, k=16,
32/64 channels, batch 64, fused Adam, one thread), built by the estimator with its
GroupNorm (8 groups) and with none, then (second table) also with NCHW instead of
channels-last maps; 5 interleaved rounds of 10 steps, medians in ms per step.
Run from the repository root::

    python benchmarks/bench_conv_norm_cost.py
"""
import contextlib, sys, time, numpy as np, torch
sys.path.insert(0, "benchmarks"); sys.path.insert(0, ".")
torch.set_num_threads(1)
import _datasets
from skae import AutoencoderTransformer
from skae._random import fit_generators
from skae._objectives import ReconstructionLoss
X = _datasets.mnist_split(random_state=0)[0].astype(np.float32)
def build(groups):
    est = AutoencoderTransformer(n_components=16, architecture="conv", input_shape=(1, 28, 28), random_state=0)
    est._image_norm_groups = groups
    est._resolve_parameters(X, None)
    v, t = est._validation_split(X); ig, _ = fit_generators(est._seed, "cpu")
    with contextlib.ExitStack() as s:
        m, _, _ = est._initialize_module(X, t, v, ig, s)
    torch.set_num_threads(1)
    return m, torch.optim.Adam(m.parameters(), lr=1e-3, fused=True)
nets = {"no norm": build(None), "GroupNorm": build(8)}
crit = ReconstructionLoss(); xb = torch.from_numpy(X[:64])
times = {k: [] for k in nets}
for r in range(5):
    for k, (m, opt) in nets.items():
        m.train(); t0 = time.perf_counter()
        for _ in range(10):
            opt.zero_grad(); crit(m(xb), xb, m).backward(); opt.step()
        times[k].append((time.perf_counter() - t0) / 10 * 1e3)
med = {k: float(np.median(v)) for k, v in times.items()}
print({k: round(v, 1) for k, v in med.items()}, "ms/step; ratio GN/no-norm", round(med["GroupNorm"] / med["no norm"], 3), "load", open("/proc/loadavg").read().split()[0])
import skae._architectures as A
m, opt = build(8)
for mod in m.modules():
    if isinstance(mod, A.ChannelsLast):
        mod.forward = lambda x: x.contiguous()
nets["GroupNorm NCHW"] = (m, opt)
times = {k: [] for k in nets}
for r in range(5):
    for k, (m, opt) in nets.items():
        m.train(); t0 = time.perf_counter()
        for _ in range(10):
            opt.zero_grad(); crit(m(xb), xb, m).backward(); opt.step()
        times[k].append((time.perf_counter() - t0) / 10 * 1e3)
print({k: round(float(np.median(v)), 1) for k, v in times.items()}, "load", open("/proc/loadavg").read().split()[0])
