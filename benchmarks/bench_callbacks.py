"""What callback support costs when no callback is set (issue #14), and when one is.

Run from the repository root::

    git archive <commit before the change> skae | tar -x -C /tmp/skae-base
    python benchmarks/bench_callbacks.py --base /tmp/skae-base --rounds 5

1. **fit, A/B** -- ``run.py``'s fit benchmark (50,000 x 64 digits-like rows, or
   ``--rows``; 64-128-64-8 mirrored, batch 128, 5 epochs, no validation split, one thread)
   with skae from ``--base`` (imported as ``skae_base``) against skae from this
   checkout, in one process, alternating fit by fit (the order alternates
   between rounds). The ratio is taken per round (this checkout / base); its
   median is reported, for CPU time (what the code costs, on one thread) and
   wall time (which adds the machine's other work).
2. **fit with callbacks on** -- the same network on 10,000 rows, interleaved: no
   callback, a scikit-learn callback with empty hooks (``set_callbacks``: one
   sub-task per epoch), and ``verbose=1`` with the live bar (drawn into a
   buffer).
3. **inference, progress off** -- ``transform`` with ``verbose=0`` as shipped
   against the same loop with ``chunks_with_progress`` replaced by the identity,
   interleaved, on 50,000 rows and on 1,000 rows (where a per-call cost weighs
   most).

Everything runs on one torch thread (``run.py --peer-threads 1``): on a shared
machine, threads contending with other work make timings erratic.

The load average is printed beside each round: the figures are ratios of
interleaved runs because other work shares the machine.
"""

import argparse
import gc
import importlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _load():
    return f"{os.getloadavg()[0]:.1f}"


def _import_base(base):
    """skae from the source tree ``base``, imported as the package ``skae_base``.

    skae imports its own modules relatively, so a copy of the package under
    another name loads beside this checkout's ``skae`` in the same process.
    """
    target = tempfile.mkdtemp(prefix="skae-ab-")
    shutil.copytree(os.path.join(base, "skae"), os.path.join(target, "skae_base"))
    sys.path.insert(0, target)
    return importlib.import_module("skae_base")


#: ``run.py``'s fit benchmark's network and training, as the fit A/B runs them.
RUN_FIT_PARAMS = dict(n_components=8, hidden_layer_sizes=(128, 64), batch_size=128, max_epochs=5,
                      early_stopping=False, n_iter_no_change=10**6, tol=0.0, random_state=0)


def fit_ab(base, rounds, X, params, label="fit, no callback"):
    """This checkout's ``AutoencoderTransformer(**params).fit(X)`` against ``base``'s,
    alternating fit by fit in this process; ``label`` names the ratios printed."""
    import skae

    skae_base = _import_base(base)
    contestants = {"base": skae_base.AutoencoderTransformer, "this": skae.AutoencoderTransformer}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cls in contestants.values():
            cls(**params).fit(X[:2000])  # warm-up: lazy imports, first-call kernel set-up
        times = {(name, clock): [] for name in contestants for clock in ("wall", "cpu")}
        for r in range(rounds):
            order = list(contestants) if r % 2 == 0 else list(contestants)[::-1]
            for name in order:
                gc.collect()
                wall, cpu = time.perf_counter(), time.process_time()
                contestants[name](**params).fit(X)
                times[name, "wall"].append(time.perf_counter() - wall)
                times[name, "cpu"].append(time.process_time() - cpu)
            print(f"  round {r + 1}/{rounds} (load {_load()}): "
                  + ", ".join(f"{name} {times[name, 'wall'][-1]:.3f} s wall "
                              f"{times[name, 'cpu'][-1]:.3f} s cpu" for name in contestants),
                  flush=True)
    # CPU time (one thread) is what the code costs; wall time adds the machine's other work.
    for clock in ("cpu", "wall"):
        ratios = [t / b for t, b in zip(times["this", clock], times["base", clock])]
        print(f"{label}, {clock} time: this / base = {statistics.median(ratios):.3f} "
              f"(median of {rounds} rounds; range {min(ratios):.3f}-{max(ratios):.3f}); "
              f"medians: base {statistics.median(times['base', clock]):.3f} s, "
              f"this {statistics.median(times['this', clock]):.3f} s")


class _EmptyCallback:
    """A scikit-learn callback that does nothing: the bridge's own cost."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


def fit_with_callbacks(rounds):
    import skae._progress
    from run import digits_data
    from skae import AutoencoderTransformer

    X = digits_data(10_000)
    params = dict(n_components=8, hidden_layer_sizes=(128, 64), batch_size=128, max_epochs=5,
                  early_stopping=False, random_state=0)
    buffer = io.StringIO()

    def plain(n=None):
        AutoencoderTransformer(**params).fit(X[:n])

    def sklearn_callback(n=None):
        AutoencoderTransformer(**params).set_callbacks(_EmptyCallback()).fit(X[:n])

    def live_bar(n=None):
        skae._progress.live_output, saved = (lambda: True), skae._progress.live_output
        stderr, sys.stderr = sys.stderr, buffer
        try:
            AutoencoderTransformer(**params, verbose=1).fit(X[:n])
        finally:
            sys.stderr, skae._progress.live_output = stderr, saved

    contestants = {"no callback": plain, "sklearn callback": sklearn_callback,
                   "verbose=1 bar": live_bar}
    warnings.simplefilter("ignore")  # 5 epochs: every fit warns that it did not converge
    for fn in contestants.values():
        fn(2000)
    times = {name: [] for name in contestants}
    for r in range(rounds):
        for name, fn in contestants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        print(f"  round {r + 1}/{rounds} (load {_load()}): "
              + ", ".join(f"{n} {t[-1]:.3f} s" for n, t in times.items()), flush=True)
    base = statistics.median(times["no callback"])
    for name, t in times.items():
        print(f"fit, {name}: {statistics.median(t):.3f} s, {statistics.median(t) / base:.3f}x")


def inference(rounds, calls):
    import numpy as np

    import skae._base
    from skae import AutoencoderTransformer

    X = np.random.RandomState(0).rand(50_000, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = AutoencoderTransformer(n_components=8, max_epochs=2, random_state=0).fit(X[:5000])
    shipped = skae._base.chunks_with_progress

    def identity(estimator, chunks, n_rows):
        return chunks

    for rows in (50_000, 1_000):
        Xr = X[:rows]
        times = {"shipped (verbose=0)": [], "identity": []}
        for r in range(rounds):
            for name, wrapper in (("shipped (verbose=0)", shipped), ("identity", identity)):
                skae._base.chunks_with_progress = wrapper
                start = time.perf_counter()
                for _ in range(calls if rows < 10_000 else 2):
                    est.transform(Xr)
                times[name].append(time.perf_counter() - start)
        skae._base.chunks_with_progress = shipped
        a, b = (statistics.median(t) for t in times.values())
        print(f"transform {rows} rows (load {_load()}): shipped {a:.4f} s, identity {b:.4f} s, "
              f"ratio {a / b:.3f} ({calls if rows < 10_000 else 2} calls per timing, {rounds} rounds)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a source tree holding the skae package to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the fit A/B")
    parser.add_argument("--only", default="fit,callbacks,inference")
    args = parser.parse_args()
    sys.path[:0] = [ROOT, HERE]  # this checkout's skae, and run.py
    import torch

    torch.set_num_threads(1)
    only = args.only.split(",")
    if "fit" in only and args.base:
        from run import digits_data

        fit_ab(args.base, args.rounds, digits_data(args.rows), RUN_FIT_PARAMS)
    if "callbacks" in only:
        fit_with_callbacks(args.rounds)
    if "inference" in only:
        inference(args.rounds * 3, calls=20)


if __name__ == "__main__":
    main()
