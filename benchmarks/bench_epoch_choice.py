"""How ``early_stopping="auto"`` should pick its number of epochs: rules compared.

On breast_cancer and wine (``bench_vs_loop.py``'s standardised splits and k),
AutoencoderTransformer's 5-fold cross-validation is run once with a long
patience (80 epochs), recording every fold's validation loss after every epoch
(captured from :func:`skae._epoch_choice.choose_epochs`), and the final network
is trained on every training row for 200 epochs, scored on the held-out rows
after each. Every rule below is then applied to the folds' curves, cut where
``n_iter_no_change`` = 10, 20 or 30 would have stopped them, and the model it
gives is that many epochs of the final network (the same model ``fit`` returns;
the gain test that may hand PCA back instead is not applied here: ``fit``
applies it at the folds' best epoch). Rules:

* ``argmin`` -- the folds' lowest mean loss (skae before this benchmark);
* ``1SE paired`` -- skae's rule: the largest epoch whose mean is within one
  standard error of the lowest, the error of the folds' paired differences;
* ``1SE folds`` -- the same with the error of the folds' losses at the lowest;
* ``0.5SE paired`` -- half an error;
* ``smooth5`` / ``smooth9`` -- the lowest of a moving average (5 or 9 epochs);
* ``argmin x1.25`` -- the lowest, times the final fit's share of rows (5/4);
* ``last run`` -- the last epoch the folds ran (the lowest + patience).

Prints, per seed (``random_state`` of skae; the split and the loop stay those
of ``bench_vs_loop.py``), the epochs each rule chooses and the held-out error
over the tuned plain loop's (``bench_vs_loop.run_loop``). Run from the
repository root (about 2 minutes per seed, plus 3 for the loops)::

    python benchmarks/bench_epoch_choice.py --seeds 0,1,2
"""

import argparse
import os
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

import bench_vs_loop
import skae._base
from skae import AutoencoderTransformer
from skae._epoch_choice import choose_epochs

PATIENCES = (10, 20, 30)
LONG_PATIENCE = 80
FINAL_EPOCHS = 200


class _States(Callback):
    """Keeps a copy of the module's state after every epoch."""

    def __init__(self):
        self.states = []

    def on_epoch_end(self, net, **kwargs):
        self.states.append({k: v.clone() for k, v in net.module_.state_dict().items()})


def record(X_train, X_test, k, seed):
    """``(fold_losses, weights, test_errors)``: the folds' curves and the final fit's."""
    captured = {}

    def capture(fold_losses, weights):
        captured["losses"], captured["weights"] = np.asarray(fold_losses), np.asarray(weights)
        return choose_epochs(fold_losses, weights)

    skae._base.choose_epochs, original = capture, skae._base.choose_epochs
    try:
        AutoencoderTransformer(
            k, early_stopping="auto", n_iter_no_change=LONG_PATIENCE, random_state=seed
        ).fit(X_train)
    finally:
        skae._base.choose_epochs = original
    states = _States()
    final = AutoencoderTransformer(
        k, early_stopping=False, max_epochs=FINAL_EPOCHS, n_iter_no_change=10 * FINAL_EPOCHS,
        random_state=seed, callbacks=[("states", states)],
    ).fit(X_train)
    errors = []
    for state in states.states:
        final.net_.module_.load_state_dict(state)
        errors.append(float(np.mean((final.inverse_transform(final.transform(X_test))
                                     - X_test) ** 2)))
    return captured["losses"], captured["weights"], np.array(errors)


def cut(losses, weights, patience):
    """The folds' curves up to where ``n_iter_no_change=patience`` (tol 0) stops them."""
    mean = weights @ losses
    best, stalled = mean[0], 0
    for epoch in range(1, losses.shape[1]):
        stalled = 0 if mean[epoch] < best else stalled + 1
        best = min(best, mean[epoch])
        if stalled >= patience:
            return losses[:, :epoch + 1]
    return losses


def rules(losses, weights):
    """Epochs chosen by each rule of the module docstring."""
    mean = weights @ losses
    lowest = int(np.argmin(mean))
    n_folds = len(losses)
    unpaired = losses[:, lowest].std(ddof=1) / np.sqrt(n_folds)
    paired = (losses - losses[:, [lowest]]).std(axis=0, ddof=1) / np.sqrt(n_folds)
    chosen = {
        "argmin": lowest,
        "1SE paired": choose_epochs(losses, weights)[1],
        "1SE folds": int(np.flatnonzero(mean <= mean[lowest] + unpaired)[-1]),
        "0.5SE paired": int(np.flatnonzero(mean - mean[lowest] <= 0.5 * paired)[-1]),
    }
    for width in (5, 9):
        padded = np.pad(mean[1:], width // 2, mode="edge")
        chosen[f"smooth{width}"] = 1 + int(np.argmin(np.convolve(padded, np.ones(width) / width,
                                                                 mode="valid")))
    chosen["argmin x1.25"] = int(round(lowest * 1.25))
    chosen["last run"] = losses.shape[1] - 1
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0", help="comma-separated random_state values")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(1)
    rows = [(name, k) for name in ("breast_cancer", "wine") for k in bench_vs_loop.KS[name]]
    data = {name: bench_vs_loop.load(name) for name, _ in rows}
    loop = {row: bench_vs_loop.run_loop(row[0], *data[row[0]], row[1])[0] for row in rows}
    for seed in map(int, args.seeds.split(",")):
        curves = {row: record(*data[row[0]], row[1], seed) for row in rows}
        for patience in PATIENCES:
            print(f"\n### random_state={seed}, n_iter_no_change={patience} "
                  f"(load {os.getloadavg()[0]:.2f}): epochs, skae / loop\n")
            print("| rule | " + " | ".join(f"{name} k={k}" for name, k in rows) + " | worst |")
            print("|---|" + "---:|" * (len(rows) + 1))
            table = {}
            for row in rows:
                losses, weights, errors = curves[row]
                for rule, epochs in rules(cut(losses, weights, patience), weights).items():
                    # 0 epochs: no epoch beat the start, and fit returns PCA on every row.
                    error = errors[epochs - 1] if epochs else np.nan
                    table.setdefault(rule, []).append((epochs, error / loop[row]))
            for rule, cells in table.items():
                worst = max(ratio for _, ratio in cells)
                print(f"| {rule} | " + " | ".join(f"{e} {r:.3f}" for e, r in cells)
                      + f" | {worst:.3f} |", flush=True)


if __name__ == "__main__":
    main()
