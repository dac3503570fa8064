"""The VAE as a density model: held-out log-likelihood against GaussianMixture and plain PyTorch.

The digits task of ``python -m skae``: ``load_digits() / 16`` dequantised with uniform
noise of width 1/16 (``X + RandomState(0).uniform(size) / 16``), so that a density is
finite, 70/30 stratified split (``random_state=0``). Reported: the held-out mean
log-likelihood per row (nats, higher is better) of

* ``ppca`` -- ``PCA(k).score`` (probabilistic PCA);
* ``gmm-cv`` -- the ``GaussianMixture`` chosen by 3-fold cross-validated likelihood on
  the training rows over ``n_components`` 1-40 and every ``covariance_type`` (160
  candidates; ``GridSearchCV`` with no scorer uses ``GaussianMixture.score``), refitted
  on every training row; independent of ``k``;
* ``plain-vae`` -- a tutorial PyTorch VAE (``benchmarks/_reference.py``: 64-256-128-2k
  encoder, mirrored decoder, one learned log-variance per feature, Adam lr=2e-3, batch
  128, 300 epochs, every training row, data centred and divided by one global scale)
  scored by importance sampling with 500 draws;
* ``plain-vae-hetero`` -- the same loop with the decoder giving each feature's
  log-variance beside its mean (the idea behind skae's default), a stronger reference;
* ``skae-vae`` -- ``VAETransformer(k, random_state=0)``, defaults: ``score`` (the
  importance-sampled estimate with its default ``n_importance_samples``), and the same
  model scored with 500 draws.

Every VAE figure is an importance-sampled (IWAE) estimate of ``log p(x)``: a stochastic
lower bound that tightens with more draws, so more draws never flatter a model.

Run from the repository root::

    python benchmarks/bench_density.py                   # everything (~15 min on 2 cores)
    python benchmarks/bench_density.py --models skae-vae --ks 8    # a subset

Results are stored in ``benchmarks/results/density.json`` (keyed by model and k) and
the table is printed from that file, so a subset can be re-run alone.
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from threadpoolctl import threadpool_limits

import _reference
import skae

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = os.path.join(HERE, "results", "density.json")
KS = (2, 4, 8, 16)
MODELS = ("ppca", "gmm-cv", "plain-vae", "plain-vae-hetero", "skae-vae")
PLAIN_EPOCHS = 300
PLAIN_LR = 2e-3


def digits():
    """``(train, test)``: the dequantised digits of ``python -m skae``."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    dequantised = X + np.random.RandomState(0).uniform(size=X.shape) / 16.0
    train, test = train_test_split(dequantised, test_size=0.3, stratify=y, random_state=0)
    return train, test


def gmm_cv(train, test, n_max=40):
    """The best ``GaussianMixture`` by 3-fold CV likelihood on ``train``, scored on ``test``."""
    grid = {
        "n_components": list(range(1, n_max + 1)),
        "covariance_type": ["full", "tied", "diag", "spherical"],
    }
    search = GridSearchCV(GaussianMixture(random_state=0), grid, cv=3, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(train)
    best = search.best_params_
    return search.best_estimator_.score(test), f"{best['n_components']}, {best['covariance_type']}"


def plain_vae(train, test, k, heteroscedastic):
    """The loop on data centred and divided by one global scale (its log-Jacobian added back).

    In raw units (values in [0, 1.06]) the tutorial loop's variances, started at 1,
    were still far from the data's after 300 epochs (12 nats per row at k=2).
    """
    loc, scale = train.mean(0), train.std()
    torch.manual_seed(0)
    model = _reference.GaussianVAE(train.shape[1], (256, 128), k, heteroscedastic)
    model, _ = _reference.train(model, (train - loc) / scale, epochs=PLAIN_EPOCHS,
                                batch_size=128, lr=PLAIN_LR, seed=0,
                                objective=_reference.negative_elbo)
    log_lik = _reference.iwae_log_likelihood(model, (test - loc) / scale)
    return float(log_lik.mean() - train.shape[1] * np.log(scale)), f"{PLAIN_EPOCHS} epochs"


def skae_vae(train, test, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae = skae.VAETransformer(k, random_state=0).fit(train)
    default = vae.score(test)
    many = vae.set_params(n_importance_samples=500).score(test)
    return default, f"{many:.1f} with 500 draws; {vae.n_epochs_} epochs"


def run(model, k, train, test):
    if model == "ppca":
        return PCA(k).fit(train).score(test), ""
    if model == "gmm-cv":
        return gmm_cv(train, test)
    if model.startswith("plain-vae"):
        return plain_vae(train, test, k, heteroscedastic=model.endswith("hetero"))
    return skae_vae(train, test, k)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--ks", default=",".join(map(str, KS)))
    args = parser.parse_args()
    # One thread everywhere: the machine's other work does not slow every contestant
    # unevenly (a multi-threaded OpenBLAS on these small matrices thrashes on busy cores).
    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")
    train, test = digits()
    store = json.load(open(STORE)) if os.path.exists(STORE) else {}
    for model in args.models.split(","):
        for k in [int(k) for k in args.ks.split(",")]:
            if model == "gmm-cv" and str(k) != args.ks.split(",")[0]:
                continue  # independent of k
            start = time.perf_counter()
            score, note = run(model, k, train, test)
            seconds = time.perf_counter() - start
            key = model if model == "gmm-cv" else f"{model}@{k}"
            store[key] = {"score": float(score), "note": note, "seconds": seconds,
                          "load": open("/proc/loadavg").read().split()[0]}
            print(f"{key}: {score:.2f} ({note}; {seconds:.0f} s)", flush=True)
            os.makedirs(os.path.dirname(STORE), exist_ok=True)
            with open(STORE, "w") as f:
                json.dump(store, f, indent=1, sort_keys=True)
    print("\n| model | " + " | ".join(f"k={k}" for k in KS) + " |")
    print("|---|" + "---:|" * len(KS))
    for model in MODELS:
        if model == "gmm-cv":
            cells = [f"{store[model]['score']:.1f}"] * len(KS) if model in store else [""] * len(KS)
        else:
            cells = [f"{store[f'{model}@{k}']['score']:.1f}" if f"{model}@{k}" in store else ""
                     for k in KS]
        print(f"| {model} | " + " | ".join(cells) + " |")
    if "gmm-cv" in store:
        print(f"\ngmm-cv chose GaussianMixture({store['gmm-cv']['note']})")
    for k in KS:
        if f"skae-vae@{k}" in store:
            print(f"skae-vae k={k}: {store[f'skae-vae@{k}']['note']}")


if __name__ == "__main__":
    main()
