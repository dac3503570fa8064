"""One or several torch threads for CPU training: quiet cores against one busy core.

For each network, the median time of one training step (forward, backward, Adam)
on one thread and on every thread torch has (``torch.get_num_threads()`` at
start), in two conditions, alternated round by round:

* **quiet** -- nothing started by this script besides itself;
* **busy** -- one extra process spinning in a loop, pinned to CPU 0 (``taskset``
  where available), as when anything else runs on the machine.

Then whole ``fit`` calls of skae's default autoencoder on the 784-pixel MNIST
rows, against a hand-written loop on one thread, in those two conditions and a
third, **busy mid-fit** -- the spinning process starts ``--busy-after`` seconds
into each fit (and loop), as when something starts while skae trains: skae's
choice is made again during training (``skae/_threads.py``); the table gives
the thread counts skae's epochs ran on. And the determinism check: the same
training on 1 and on N threads must give bit-identical parameters.

Run from the repository root::

    python benchmarks/bench_threads.py             # ~3 min
    python benchmarks/bench_threads.py --rounds 5 --steps 30
    python benchmarks/bench_threads.py --only-fit --fit-epochs 10   # the fit table only

The machine's load average (``/proc/loadavg``) is printed beside each round.
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch.nn import functional as F

import _datasets
import _reference
from _threads_seen import ThreadsSeen
import skae

N_THREADS = torch.get_num_threads()


def load():
    return open("/proc/loadavg").read().split()[0]


def _die_with_parent():
    """Linux: the spinning child gets SIGKILL when this process dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except OSError:
        pass


@contextlib.contextmanager
def busy_core(active, after=None):
    """A process spinning on CPU 0 while the block runs (nothing when not ``active``).

    ``after``: it starts that many seconds into the block (if the block lasts that
    long) instead of before it.
    """
    if not active:
        yield
        return
    cmd = [sys.executable, "-c", "while True: pass"]
    if os.path.exists("/usr/bin/taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    procs = []

    def start():
        procs.append(subprocess.Popen(cmd, preexec_fn=_die_with_parent))

    timer = None
    if after is None:
        start()
        time.sleep(0.5)  # let it reach the scheduler
    else:
        timer = threading.Timer(after, start)
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
        for proc in procs:
            proc.terminate()
            proc.wait()


def networks(X_img, X_gp, gp_shape):
    """``name -> (build, X, loss, batch_size)``."""
    return {
        "MLP 784-128-64-16 (the VAE's default widths), batch 200": (
            lambda: _reference.MLPAE(784, (128, 64), 16), X_img, "mse", 200),
        "MLP 784-256-128-16, batch 200": (
            lambda: _reference.MLPAE(784, (256, 128), 16), X_img, "mse", 200),
        "conv 32-64 on 1x28x28, k=16, batch 200": (
            lambda: _reference.ConvAE((1, 28, 28), 16), X_img, "bce", 200),
        "GRU 64 on GunPoint 1x150, k=8, batch 50": (
            lambda: _reference.RecurrentAE(gp_shape, 8, 64, "gru"), X_gp, "mse", 50),
    }


def step_times(build, X, loss, batch_size, threads, steps):
    """Milliseconds per training step (median over ``steps`` after 3 warm-up steps)."""
    with _reference.torch_threads(threads):
        torch.manual_seed(0)
        model = build().train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        criterion = F.binary_cross_entropy_with_logits if loss == "bce" else F.mse_loss
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        times = []
        for i in range(steps + 3):
            s = (i * batch_size) % max(len(Xt) - batch_size, 1)
            xb = Xt[s:s + batch_size]
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            criterion(model(xb), xb).backward()
            opt.step()
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[3:])


def same_on_any_thread_count(build, X, loss, batch_size, steps=20):
    """Parameters after ``steps`` steps on 1 thread and on N threads: bit-identical?"""
    params = []
    for threads in (1, N_THREADS):
        with _reference.torch_threads(threads):
            torch.manual_seed(0)
            model = build()
            model, _ = _reference.train(model, X[: batch_size * steps], loss=loss, epochs=1,
                                        batch_size=batch_size, seed=0, threads=threads)
            params.append([p.detach().clone() for p in model.parameters()])
    return all(torch.equal(a, b) for a, b in zip(*params))


def skae_fit(X, epochs):
    """Seconds of one fit and the thread count of each of its epochs."""
    seen = ThreadsSeen()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        skae.AutoencoderTransformer(
            n_components=16, max_epochs=epochs, early_stopping=False, random_state=0,
            callbacks=[("threads", seen)],
        ).fit(X)
        return time.perf_counter() - start, seen.threads_


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--fit-epochs", type=int, default=3)
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--only-fit", action="store_true",
                        help="skip the determinism check and the per-step table")
    parser.add_argument("--busy-after", type=float, default=2.0,
                        help="seconds into each fit at which 'busy mid-fit' starts spinning")
    args = parser.parse_args()
    X_img, _, _, _ = _datasets.mnist_split()
    X_gp, _, _, _ = _datasets.load_ucr("GunPoint")
    gp_shape = X_gp.shape[1:]
    X_gp = X_gp.reshape(len(X_gp), -1)
    nets = networks(X_img, X_gp, gp_shape)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads {N_THREADS}, "
          f"load {load()}")

    if not args.only_fit:
        step_tables(nets, args)
    if args.skip_fit:
        return
    fit_table(X_img, args)


def step_tables(nets, args):
    """The determinism check and the per-step table of every network."""
    print("\n## Determinism: 1 thread against", N_THREADS, "threads (20 steps, bit for bit)")
    for name, (build, X, loss, bs) in nets.items():
        same = same_on_any_thread_count(build, X, loss, bs)
        print(f"- {name}: {'identical' if same else 'DIFFERENT'}")

    results = {}
    for r in range(args.rounds):
        for busy in (False, True):
            cond = "busy" if busy else "quiet"
            with busy_core(busy):
                before = load()
                for name, (build, X, loss, bs) in nets.items():
                    for threads in (1, N_THREADS):
                        ms = step_times(build, X, loss, bs, threads, args.steps)
                        results.setdefault((name, cond, threads), []).append(ms)
                print(f"  round {r + 1} {cond} (load {before} -> {load()}): " + ", ".join(
                    f"{n.split(',')[0]} {t}t {results[(n, cond, t)][-1]:.1f}ms"
                    for n in nets for t in (1, N_THREADS)), flush=True)

    print(f"\n## Training step, ms (median of {args.rounds} rounds x {args.steps} steps)\n")
    print(f"| network | quiet, 1 thread | quiet, {N_THREADS} | busy, 1 thread | busy, {N_THREADS} "
          f"| busy {N_THREADS}t / busy 1t |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in nets:
        m = {k[1:]: statistics.median(v) for k, v in results.items() if k[0] == name}
        print(f"| {name} | {m[('quiet', 1)]:.1f} | {m[('quiet', N_THREADS)]:.1f} | "
              f"{m[('busy', 1)]:.1f} | {m[('busy', N_THREADS)]:.1f} | "
              f"{m[('busy', N_THREADS)] / m[('busy', 1)]:.1f}x |")


def fit_table(X_img, args):
    """skae's whole fits, against a one-thread loop, quiet, busy and busy mid-fit."""
    print(f"\n## skae fit on 4,000 x 784 MNIST rows, {args.fit_epochs} epochs, k=16 "
          "(skae's own thread choice) against a 1-thread loop of 784-256-128-16, skae's "
          "default widths")
    fits, threads_seen = {}, {}
    conditions = {"quiet": (False, None), "busy": (True, None),
                  f"busy from {args.busy_after:g} s": (True, args.busy_after)}
    for r in range(args.rounds):
        for cond, (busy, after) in conditions.items():
            before = load()
            with busy_core(busy, after):
                seconds, threads = skae_fit(X_img, args.fit_epochs)
            fits.setdefault(("skae", cond), []).append(seconds)
            threads_seen.setdefault(cond, []).append(threads)
            with busy_core(busy, after):
                _, s = _reference.train(_reference.MLPAE(784, (256, 128), 16), X_img,
                                        epochs=args.fit_epochs, batch_size=200, threads=1)
            fits.setdefault(("loop 1 thread", cond), []).append(s)
            print(f"  round {r + 1} {cond} (load {before} -> {load()}): skae "
                  f"{seconds:.2f}s on {threads} threads per epoch, loop {s:.2f}s", flush=True)
    print("\n| condition | skae fit (s) | skae threads per epoch (each round) "
          "| loop, 1 thread (s) | skae / loop |")
    print("|---|---:|---|---:|---:|")
    for cond in conditions:
        a = statistics.median(fits[("skae", cond)])
        b = statistics.median(fits[("loop 1 thread", cond)])
        seen = "; ".join(",".join(map(str, t)) for t in threads_seen[cond])
        print(f"| {cond} | {a:.2f} | {seen} | {b:.2f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
