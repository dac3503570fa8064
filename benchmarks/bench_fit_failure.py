"""What the undo of a failed ``partial_fit`` and the last step's divergence test cost.

Run from the repository root::

    git archive <commit before the change> skae | tar -x -C /tmp/skae-base
    python benchmarks/bench_fit_failure.py --base /tmp/skae-base --rounds 7

1. **partial_fit on small chunks** -- per call, the copy of the weights and
   Adam's state that a call on a fitted model starts from (so that a call that
   raises can be undone, ``skae._fit_failure._Snapshot``) and the test of the
   network the call's last step leaves (``DivergenceCheck.check_last_step``:
   the loss of the last batch, computed again), each timed on its own (median
   of many), against the whole call: the default MLP on 20 and on 784
   features, the VAE's, and the conv network on 28 x 28 images. A chunk of one
   batch is one optimizer step, the case where both weigh most.
2. **fit, A/B** -- ``AutoencoderTransformer(n_components=2)``, all defaults, on
   2,000 x 20 Gaussian rows: this checkout against ``--base``, alternating fit
   by fit in one process (``bench_callbacks.fit_ab``; CPU and wall time).

Everything runs on one torch thread; the load average is printed, since other
work shares the machine.
"""

import argparse
import statistics
import timeit

import numpy as np
import torch

from bench_callbacks import _load, fit_ab


def _median_ms(fn, repeats):
    return 1e3 * statistics.median(timeit.repeat(fn, number=1, repeat=repeats))


def partial_fit_costs(repeats):
    from skae import AutoencoderTransformer, VAETransformer
    from skae._fit_failure import _Snapshot

    rng = np.random.RandomState(0)
    cases = [
        ("default MLP, 20 features, chunks of 100",
         AutoencoderTransformer(n_components=2, random_state=0), rng.randn(100, 20)),
        ("VAE, default MLP, 20 features, chunks of 100",
         VAETransformer(n_components=2, random_state=0), rng.randn(100, 20)),
        ("default MLP, 784 features, chunks of 100",
         AutoencoderTransformer(n_components=8, random_state=0), rng.rand(100, 784)),
        ("conv, 1 x 28 x 28, chunks of 64",
         AutoencoderTransformer(n_components=8, architecture="conv", input_shape=(1, 28, 28),
                                random_state=0), rng.rand(64, 784)),
    ]
    print("| model | parameters | call (ms) | snapshot (ms) | share "
          "| last-step test (ms) | share |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, model, chunk in cases:
        for _ in range(3):  # Adam's state exists, the kernels are warm
            model.partial_fit(chunk)
        call = _median_ms(lambda: model.partial_fit(chunk), repeats)
        snapshot = _median_ms(lambda: _Snapshot(model), 5 * repeats)
        check = dict(model.net_.callbacks_)["divergence"]
        batch = (torch.as_tensor(chunk, dtype=torch.float32), None)

        def last_step():
            check._last_batch = batch  # as the call's last step leaves it
            check.check_last_step(model.net_)

        test = _median_ms(last_step, 5 * repeats)
        n_parameters = sum(p.numel() for p in model.net_.module_.parameters())
        print(f"| {name} | {n_parameters:,} | {call:.2f} | {snapshot:.3f} | "
              f"{100 * snapshot / call:.1f} % | {test:.3f} | {100 * test / call:.1f} % |")
    print(f"(load {_load()})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="a source tree of skae to compare fit with")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=20, help="calls per partial_fit timing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    partial_fit_costs(args.repeats)
    if args.base:
        X = np.random.RandomState(0).randn(2000, 20)
        fit_ab(args.base, args.rounds, X, dict(n_components=2, random_state=0),
               label="fit, default AutoencoderTransformer(n_components=2)")


if __name__ == "__main__":
    main()
