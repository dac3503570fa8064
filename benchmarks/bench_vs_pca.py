"""Never worse than PCA: held-out reconstruction error of AutoencoderTransformer
(defaults, only ``n_components`` and ``random_state`` set) against PCA at the same
``n_components`` on every bundled scikit-learn dataset, in raw units, after a
StandardScaler and after a MinMaxScaler (data in [0, 1], where ``loss="auto"``
trains on binary cross-entropy), over several random 70/30 splits.

Run: ``python benchmarks/bench_vs_pca.py`` (``--early-stopping auto``, ``true`` or
``false`` sets the autoencoder's ``early_stopping``; without it, its default;
``--units minmax`` and ``--datasets iris,wine`` run a part). "worst" is the
worst split's ratio and "its SE" that ratio's standard error from its held-out
rows' paired differences (the test rows' draw alone moves a ratio by about that).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import _reference
from skae import AutoencoderTransformer

DATASETS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "diabetes": datasets.load_diabetes,
    "linnerud": datasets.load_linnerud,
    "digits": datasets.load_digits,
}
SEEDS = range(3)
#: Units -> the scaler fitted on the training part (None: raw units).
UNITS = {"raw": None, "scaled": StandardScaler, "minmax": MinMaxScaler}


def held_out_errors(model, X_train, X_test):
    """Each held-out row's mean squared reconstruction error."""
    model.fit(X_train)
    return np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2, axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _reference.add_early_stopping_option(parser)
    parser.add_argument("--units", default=",".join(UNITS),
                        help="comma-separated subset of " + ",".join(UNITS))
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated subset of " + ",".join(DATASETS))
    args = parser.parse_args()
    params = _reference.early_stopping_params(args)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"{'dataset':<14}{'units':<9}{'k':>3}{'AE / PCA (mean over splits)':>30}{'worst':>8}"
          f"{'its SE':>8}{'time (s)':>10}")
    for name in args.datasets.split(","):
        X = DATASETS[name](return_X_y=True)[0].astype(np.float64)
        n_features = X.shape[1]
        for units in args.units.split(","):
            for k in sorted({1, max(1, n_features // 4), max(1, n_features // 2)}):
                ratios, errors, start = [], [], time.perf_counter()
                for seed in SEEDS:
                    X_train, X_test = train_test_split(X, test_size=0.3, random_state=seed)
                    if UNITS[units] is not None:
                        scaler = UNITS[units]().fit(X_train)
                        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
                    ae = held_out_errors(AutoencoderTransformer(k, random_state=seed, **params), X_train, X_test)
                    pca = held_out_errors(PCA(k), X_train, X_test)
                    ratios.append(ae.mean() / pca.mean())
                    # The ratio's standard error from the held-out rows' paired
                    # differences: how far from 1 a split's ratio can be by the
                    # draw of its test rows alone.
                    errors.append((ae - pca).std(ddof=1) / np.sqrt(len(ae)) / pca.mean())
                elapsed = (time.perf_counter() - start) / len(SEEDS)
                worst = int(np.argmax(ratios))
                print(f"{name:<14}{units:<9}{k:>3}{np.mean(ratios):>30.3f}{ratios[worst]:>8.3f}"
                      f"{errors[worst]:>8.3f}{elapsed:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
