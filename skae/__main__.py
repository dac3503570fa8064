"""``python -m skae``: skae beside PCA on scikit-learn's bundled digits.

Fits PCA, :class:`~skae.AutoencoderTransformer` and :class:`~skae.VAETransformer`
at several ``n_components`` on ``load_digits() / 16`` (70/30 stratified split,
``random_state=0``) and prints held-out reconstruction error, the accuracy of
``StandardScaler -> LogisticRegression`` on the codes, the held-out average
log-likelihood (``score``; on the data dequantised with uniform noise, so it is
a density) and the fit time. The log-likelihood is compared with scikit-learn's
own density model: the ``GaussianMixture`` chosen by 3-fold cross-validated
likelihood on the training rows (here over a reduced grid, ``n_components`` in
1, 5, 10, 20, 40 and ``covariance_type`` "full" or "diag", to stay fast;
``benchmarks/bench_density.py`` searches 1-40 and every covariance type).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

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


#: The reduced grid of the GaussianMixture yardstick (see the module docstring).
GMM_GRID = {"n_components": [1, 5, 10, 20, 40], "covariance_type": ["full", "diag"]}


def _best_gaussian_mixture(dq_train, dq_test):
    """The GaussianMixture chosen by 3-fold CV likelihood on the training rows, and its score."""
    start = time.perf_counter()
    search = GridSearchCV(GaussianMixture(random_state=0), GMM_GRID, cv=3)
    # One BLAS thread: on matrices this small, OpenBLAS's threads cost more than they
    # give, and on busy cores they thrash (the search ran many times slower).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(dq_train)
    best = search.best_params_
    name = f"GaussianMixture({best['n_components']}, {best['covariance_type']!r})"
    return name, search.best_estimator_.score(dq_test), time.perf_counter() - start


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
    gmm_name, gmm_log_lik, gmm_time = _best_gaussian_mixture(dq_train, dq_test)
    header = (
        f"{'model':<24}{'k':>4}{'recon MSE':>12}{'vs PCA':>8}{'accuracy':>10}"
        f"{'log-lik':>10}{'vs GMM':>8}{'fit (s)':>9}"
    )
    print(header)
    print("-" * len(header))
    print(f"{gmm_name:<28}{'':>28}{gmm_log_lik:>10.1f}{0.0:>8.1f}{gmm_time:>9.2f}")
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
            versus = "" if log_lik is None else f"{log_lik - gmm_log_lik:.1f}"
            log_lik = "" if log_lik is None else f"{log_lik:.1f}"
            print(
                f"{name:<24}{k:>4}{mse:>12.5f}{mse / pca_mse:>8.2f}{accuracy:>10.3f}"
                f"{log_lik:>10}{versus:>8}{fit_time:>9.2f}",
                flush=True,
            )
    print(
        "recon MSE: held-out squared error in the data's units; accuracy: "
        "StandardScaler + LogisticRegression on the codes;\nlog-lik: held-out mean "
        "log-likelihood (score) in nats per row on the dequantised data (higher is "
        "better); VAE's is the IWAE estimate, PCA's is probabilistic PCA's;\nvs GMM: "
        f"log-lik minus that of {gmm_name}, the GaussianMixture chosen by 3-fold CV "
        "likelihood on the training rows\n(n_components in 1, 5, 10, 20, 40; covariance "
        "'full' or 'diag'); its fit column is the whole search."
    )


if __name__ == "__main__":
    main()
