"""Anomaly-detection benchmark: skae's ReconstructionOutlierDetector against its peers.

Two tasks, several random splits each; ROC-AUC, average precision (anomalies
are the positive class) and fit time, mean and standard deviation over splits:

* **breast cancer** (``load_breast_cancer``, 30 features in mixed raw units):
  train on 250 random benign rows, test on the other benign rows plus malignant
  rows making ~10 % of the test set; one split per seed.
* **digits novelty** (``load_digits``, raw pixel values 0-16): for each digit
  class in turn, train on 70 % of the rows of the nine other classes; test on
  the remaining 30 % plus every row of the held-out class; one split per
  (class, seed).

Methods and their preprocessing (what a user would do):

* skae: ``ReconstructionOutlierDetector()`` with defaults (autoencoder), and
  with ``VAETransformer(n_components=k)`` (same ``k`` as the default's rule)
  when ``skae.VAETransformer`` is importable; both on raw data (the detector
  scales features itself).
* ``IsolationForest``: raw data (tree splits are scale-free).
* ``LocalOutlierFactor(novelty=True)``, ``OneClassSVM(gamma="scale")``:
  ``StandardScaler`` in front (distances and RBF kernels need one scale); LOF
  also on raw data, its best setting on pixels.
* PCA reconstruction error with the same ``k`` as skae: with a
  ``StandardScaler`` in front, on raw data, and inside
  ``ReconstructionOutlierDetector`` (skae's own feature scaling), which
  isolates what the network adds.
* PyOD ``AutoEncoder`` and ``VAE`` with their defaults (their
  ``preprocessing=True`` standardises the features); needs
  ``pip install -r benchmarks/requirements-anomaly.txt``, skipped otherwise.

Run::

    python benchmarks/bench_anomaly.py                  # full run
    python benchmarks/bench_anomaly.py --quick          # 2 seeds, 3 digit classes
    python benchmarks/bench_anomaly.py --output benchmarks/RESULTS_anomaly.md
"""

import argparse
import os
import platform
import time
import warnings
from collections import defaultdict

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import skae
from skae import ReconstructionOutlierDetector

try:
    from skae import VAETransformer
except ImportError:  # pragma: no cover - the VAE lands separately
    VAETransformer = None

try:
    from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder
    from pyod.models.vae import VAE as PyODVAE
except ImportError:  # pragma: no cover
    PyODAutoEncoder = PyODVAE = None


class PCAReconstruction(BaseEstimator):
    """PCA scored by negative mean squared reconstruction error (higher = more normal)."""

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        self.pca_ = PCA(self.n_components, svd_solver="full").fit(X)
        return self

    def score_samples(self, X):
        X = np.asarray(X, dtype=np.float64)
        return -((self.pca_.inverse_transform(self.pca_.transform(X)) - X) ** 2).mean(axis=1)


# ----------------------------------------------------------------------- tasks
def breast_cancer_splits(seeds):
    X, y = load_breast_cancer(return_X_y=True)  # y: 0 malignant, 1 benign
    for seed in seeds:
        rng = np.random.RandomState(seed)
        benign = rng.permutation(np.flatnonzero(y == 1))
        malignant = rng.permutation(np.flatnonzero(y == 0))
        train, test_benign = benign[:250], benign[250:]
        n_malignant = int(round(len(test_benign) / 9))  # ~10 % of the test set
        test = np.r_[test_benign, malignant[:n_malignant]]
        is_anomaly = np.r_[np.zeros(len(test_benign)), np.ones(n_malignant)]
        yield f"seed={seed}", X[train], X[test], is_anomaly


def digits_novelty_splits(seeds, classes=range(10)):
    X, y = load_digits(return_X_y=True)
    for digit in classes:
        for seed in seeds:
            rng = np.random.RandomState(1000 * seed + digit)
            normal = rng.permutation(np.flatnonzero(y != digit))
            n_train = int(0.7 * len(normal))
            anomalies = np.flatnonzero(y == digit)
            test = np.r_[normal[n_train:], anomalies]
            is_anomaly = np.r_[np.zeros(len(normal) - n_train), np.ones(len(anomalies))]
            yield f"digit={digit},seed={seed}", X[normal[:n_train]], X[test], is_anomaly


# --------------------------------------------------------------------- methods
def methods(seed):
    """``name -> (factory(k), anomaly_score(model, X))``; ``k`` is skae's default's."""

    def neg_score(model, X):
        return -model.score_samples(X)

    def pyod_score(model, X):
        return model.decision_function(X)

    out = {
        "skae autoencoder (defaults)": (
            lambda k: ReconstructionOutlierDetector(random_state=seed),
            neg_score,
        ),
    }
    if VAETransformer is not None:
        out["skae VAE (k as default)"] = (
            lambda k: ReconstructionOutlierDetector(VAETransformer(k, random_state=seed)),
            neg_score,
        )
    out.update(
        {
            "IsolationForest": (lambda k: IsolationForest(random_state=seed), neg_score),
            "LOF (StandardScaler)": (
                lambda k: make_pipeline(StandardScaler(), LocalOutlierFactor(novelty=True)),
                neg_score,
            ),
            "LOF (raw)": (lambda k: LocalOutlierFactor(novelty=True), neg_score),
            "OneClassSVM (StandardScaler)": (
                lambda k: make_pipeline(StandardScaler(), OneClassSVM(gamma="scale")),
                neg_score,
            ),
            "PCA error, same k (StandardScaler)": (
                lambda k: make_pipeline(StandardScaler(), PCAReconstruction(k)),
                neg_score,
            ),
            "PCA error, same k (raw)": (lambda k: PCAReconstruction(k), neg_score),
            "PCA error, same k (skae scaling)": (
                lambda k: ReconstructionOutlierDetector(PCAReconstruction(k)),
                neg_score,
            ),
        }
    )
    if PyODAutoEncoder is not None:
        out["PyOD AutoEncoder (defaults)"] = (
            lambda k: PyODAutoEncoder(random_state=seed, verbose=0),
            pyod_score,
        )
        out["PyOD VAE (defaults)"] = (
            lambda k: PyODVAE(random_state=seed, verbose=0),
            pyod_score,
        )
    return out


def run_task(splits, verbose=True):
    results = defaultdict(lambda: defaultdict(list))
    for split_name, X_train, X_test, is_anomaly in splits:
        seed = int(split_name.rsplit("seed=", 1)[1])
        k = None
        for name, (factory, anomaly_score) in methods(seed).items():
            model = factory(k)
            start = time.perf_counter()
            model.fit(X_train)
            fit_time = time.perf_counter() - start
            if k is None:  # the first method is skae's default: reuse its k
                k = model.estimator_.n_components_
            score = np.asarray(anomaly_score(model, X_test), dtype=np.float64)
            results[name]["roc_auc"].append(roc_auc_score(is_anomaly, score))
            results[name]["ap"].append(average_precision_score(is_anomaly, score))
            results[name]["fit_time"].append(fit_time)
            results[name]["k"].append(k)
            if verbose:
                print(
                    f"  {split_name:<18} {name:<36} ROC-AUC {results[name]['roc_auc'][-1]:.3f}"
                    f"  AP {results[name]['ap'][-1]:.3f}  fit {fit_time:6.2f} s",
                    flush=True,
                )
    return results


def table(results):
    best = max(np.mean(r["roc_auc"]) for r in results.values())
    lines = [
        "| method | ROC-AUC | average precision | fit time (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, r in results.items():
        auc = f"{np.mean(r['roc_auc']):.3f} ± {np.std(r['roc_auc']):.3f}"
        if np.isclose(np.mean(r["roc_auc"]), best):
            auc = f"**{auc}**"
        lines.append(
            f"| {name} | {auc} | {np.mean(r['ap']):.3f} ± {np.std(r['ap']):.3f} "
            f"| {np.mean(r['fit_time']):.2f} ± {np.std(r['fit_time']):.2f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="breast-cancer splits")
    parser.add_argument("--digit-seeds", type=int, default=2, help="splits per digit class")
    parser.add_argument("--quick", action="store_true", help="2 seeds, digits 0-2, 1 split each")
    parser.add_argument("--output", help="also write the markdown tables to this file")
    parser.add_argument("--quiet", action="store_true", help="no per-split lines")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning)

    seeds = range(2 if args.quick else args.seeds)
    digit_seeds = range(1 if args.quick else args.digit_seeds)
    classes = range(3) if args.quick else range(10)
    tasks = {
        "Breast cancer": (breast_cancer_splits(seeds), f"{len(seeds)} random splits"),
        "Digits novelty": (
            digits_novelty_splits(digit_seeds, classes),
            f"{len(classes)} held-out classes x {len(digit_seeds)} random splits",
        ),
    }
    sections = []
    for task, (splits, description) in tasks.items():
        print(f"{task} ({description})", flush=True)
        results = run_task(splits, verbose=not args.quiet)
        k_values = sorted(set(results["skae autoencoder (defaults)"]["k"]))
        sections.append(
            f"### {task}\n\n{description}; mean ± standard deviation over splits; "
            f"k = {', '.join(map(str, k_values))} (skae's default rule).\n\n{table(results)}\n"
        )
        print(sections[-1], flush=True)

    pyod_version = "not installed"
    if PyODAutoEncoder is not None:
        import pyod

        pyod_version = pyod.__version__
    header = (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"device {'cuda' if torch.cuda.is_available() else 'cpu'}; skae {skae.__version__}, "
        f"scikit-learn {sklearn.__version__}, torch {torch.__version__}, PyOD {pyod_version}.\n"
    )
    if args.output:
        with open(args.output, "w") as f:
            f.write(header + "\n" + "\n".join(sections))
    print(header)


if __name__ == "__main__":
    main()
