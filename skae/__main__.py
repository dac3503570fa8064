"""``python -m skae``: skae beside PCA on scikit-learn's bundled digits.

Fits PCA, :class:`~skae.AutoencoderTransformer` and :class:`~skae.VAETransformer`
at several ``n_components`` on ``load_digits() / 16`` (70/30 stratified split,
``random_state=0``) and prints held-out reconstruction error, the accuracy of
``StandardScaler -> LogisticRegression`` on the codes, the held-out average
log-likelihood (``score``; on the data dequantised with uniform noise, so it is
a density) and the fit time.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import AutoencoderTransformer, VAETransformer


def _evaluate(make, X_train, X_test, y_train, y_test, likelihood_data):
    start = time.perf_counter()
    model = make().fit(X_train)
    fit_time = time.perf_counter() - start
    reconstruction = model.inverse_transform(model.transform(X_test))
    mse = float(np.mean((reconstruction - X_test) ** 2))
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(model.transform(X_train), y_train)
    accuracy = classifier.score(model.transform(X_test), y_test)
    log_likelihood = None
    if likelihood_data is not None:
        dq_train, dq_test = likelihood_data
        log_likelihood = make().fit(dq_train).score(dq_test)
    return mse, accuracy, log_likelihood, fit_time


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skae", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--n-components", type=int, nargs="+", default=[2, 4, 8, 16], help="latent sizes"
    )
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    dequantised = X + np.random.RandomState(0).uniform(size=X.shape) / 16.0
    X_train, X_test, dq_train, dq_test, y_train, y_test = train_test_split(
        X, dequantised, y, test_size=0.3, stratify=y, random_state=0
    )
    print(f"digits / 16: {len(X_train)} training rows, {len(X_test)} held-out rows, 64 features")
    header = (
        f"{'model':<24}{'k':>4}{'recon MSE':>12}{'vs PCA':>8}{'accuracy':>10}"
        f"{'log-lik':>10}{'fit (s)':>9}"
    )
    print(header)
    print("-" * len(header))
    for k in args.n_components:
        models = {
            "PCA": lambda: PCA(k, random_state=0),
            "AutoencoderTransformer": lambda: AutoencoderTransformer(k, random_state=0),
            "VAETransformer": lambda: VAETransformer(k, random_state=0),
        }
        pca_mse = None
        for name, make in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                mse, accuracy, log_lik, fit_time = _evaluate(
                    make, X_train, X_test, y_train, y_test,
                    None if name == "AutoencoderTransformer" else (dq_train, dq_test),
                )
            pca_mse = mse if pca_mse is None else pca_mse
            log_lik = "" if log_lik is None else f"{log_lik:.1f}"
            print(
                f"{name:<24}{k:>4}{mse:>12.5f}{mse / pca_mse:>8.2f}{accuracy:>10.3f}"
                f"{log_lik:>10}{fit_time:>9.2f}",
                flush=True,
            )
    print(
        "recon MSE: held-out squared error in the data's units; accuracy: "
        "StandardScaler + LogisticRegression on the codes;\nlog-lik: held-out mean "
        "log-likelihood (score) in nats per row on the dequantised data (higher is "
        "better); VAE's is the IWAE estimate, PCA's is probabilistic PCA's."
    )


if __name__ == "__main__":
    main()
