"""Serving latency: skae's ``transform`` against the same model exported to ONNX (onnxruntime).

Run from the repository root (needs the ``onnx`` extra)::

    python benchmarks/bench_serving.py              # about a minute
    python benchmarks/bench_serving.py --rounds 5   # quicker, noisier

Models: ``AutoencoderTransformer(8)`` and ``VAETransformer(8)`` with the default
network (64-128-64-8, mirrored), fitted for a few epochs on scikit-learn's
digits / 16 (the weights do not change the cost). Inputs: float32 rows of that
data, one row per call ("single row", what an online service sees) and 10,000
rows per call (a batch). skae's ``transform`` includes its input validation;
onnxruntime's ``InferenceSession.run`` includes its own input checks.

The two contestants alternate within each round (skae, onnxruntime, skae, ...)
so both see the same machine load; each figure is the median over rounds of a
round's median per-call time. The load average is printed before and after.
Threads: torch and onnxruntime each use their defaults, or ``--threads N`` both
(printed).
"""

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer, VAETransformer
from skae.onnx import to_onnx


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def per_call_seconds(fn, calls):
    """Median seconds of ``calls`` consecutive calls of ``fn``."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--single-calls", type=int, default=200,
                        help="single-row calls per contestant per round")
    parser.add_argument("--batch-calls", type=int, default=5,
                        help="10,000-row calls per contestant per round")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads of both torch and onnxruntime "
                             "(default: each library's own default)")
    args = parser.parse_args()

    import onnxruntime

    options = onnxruntime.SessionOptions()
    if args.threads:
        torch.set_num_threads(args.threads)
        options.intra_op_num_threads = args.threads

    digits = (load_digits().data / 16).astype(np.float32)
    batch = np.tile(digits, (6, 1))[:10_000]
    row = digits[:1]
    print(f"python {platform.python_version()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__} "
          f"({args.threads or 'default'} threads), "
          f"{os.cpu_count()} CPUs")
    print(f"load average before: {load_average()}")

    results = []
    for Estimator in (AutoencoderTransformer, VAETransformer):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = Estimator(8, max_epochs=5, random_state=0, device="cpu").fit(digits)
        session = onnxruntime.InferenceSession(
            to_onnx(est, "transform").SerializeToString(), options,
            providers=["CPUExecutionProvider"],
        )
        np.testing.assert_allclose(session.run(None, {"X": batch})[0], est.transform(batch),
                                   rtol=1e-5, atol=1e-5)
        for name, X, calls in [("1 row", row, args.single_calls),
                               ("10,000 rows", batch, args.batch_calls)]:
            contestants = {
                "skae": lambda X=X: est.transform(X),
                "onnxruntime": lambda X=X: session.run(None, {"X": X}),
            }
            for fn in contestants.values():  # warm-up
                fn()
            rounds = {key: [] for key in contestants}
            for _ in range(args.rounds):
                for key, fn in contestants.items():
                    rounds[key].append(per_call_seconds(fn, calls))
            medians = {key: statistics.median(values) for key, values in rounds.items()}
            results.append((Estimator.__name__, name, medians))
            print(f"{Estimator.__name__:24s} {name:12s} skae {medians['skae'] * 1e6:9.1f} us  "
                  f"onnxruntime {medians['onnxruntime'] * 1e6:9.1f} us  "
                  f"skae/onnxruntime {medians['skae'] / medians['onnxruntime']:5.1f}x")
    print(f"load average after: {load_average()}")

    print("\n| model | rows per call | skae `transform` | onnxruntime | skae / onnxruntime |")
    print("|---|---|---:|---:|---:|")
    for model, name, medians in results:
        print(f"| {model} | {name} | {medians['skae'] * 1e6:,.0f} us | "
              f"{medians['onnxruntime'] * 1e6:,.0f} us | "
              f"{medians['skae'] / medians['onnxruntime']:.1f}x |")


if __name__ == "__main__":
    main()
