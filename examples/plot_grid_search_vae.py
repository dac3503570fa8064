"""
=====================================================================
Choosing ``n_components`` and ``beta`` by cross-validated likelihood
=====================================================================

:meth:`skae.VAETransformer.score` is the average log-likelihood of the rows
it is given (an importance-weighted estimate, in the units of ``X``), the same
contract as :meth:`sklearn.decomposition.PCA.score` (probabilistic PCA). So
:class:`~sklearn.model_selection.GridSearchCV` needs **no scorer**: it keeps the
model under which held-out rows are most likely, and the VAE's scores can be
read on the same scale as PCA's.
"""

# %%
# Data
# ----
# Digits' pixels take only 17 values. A continuous density fitted to quantised
# data can grow without bound on the quantisation levels, so, as is usual when
# comparing density models on images, we *dequantise*: add uniform noise of
# one quantisation step. The log-likelihoods below are then densities in nats
# per image (per row of 64 pixels in [0, 17/16]).
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skae import VAETransformer

X, y = load_digits(return_X_y=True)
X = X / 16 + np.random.RandomState(0).uniform(size=X.shape) / 16
X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=0)

# %%
# Grid search
# -----------
# Two latent sizes times three KL weights, with 3-fold cross-validation: 18
# fits plus the refit. ``max_epochs=80`` keeps the example under a minute on
# two CPU cores (the default, 500, lets early stopping decide and scores
# higher); the ``ConvergenceWarning`` that says so is silenced here.
param_grid = {"n_components": [4, 16], "beta": [0.5, 1.0, 4.0]}
search = GridSearchCV(VAETransformer(max_epochs=80, random_state=0), param_grid, cv=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train)
print("best parameters:", search.best_params_)
print(f"best cross-validated log-likelihood: {search.best_score_:.1f} nats per image")

# %%
# The same search for PCA, whose ``score`` is probabilistic PCA's likelihood.
pca_search = GridSearchCV(PCA(random_state=0), {"n_components": [2, 4, 8, 16, 32]}, cv=3)
pca_search.fit(X_train)
print("PCA best parameters:", pca_search.best_params_)
print(f"PCA best cross-validated log-likelihood: {pca_search.best_score_:.1f}")

# %%
# Cross-validated log-likelihood of every candidate. ``beta=1`` trains the
# evidence lower bound itself and scores best at both sizes; a larger ``beta``
# buys a smoother, more prior-like latent space with likelihood, a smaller one
# weakens the prior. At the same ``n_components`` the VAE is far more likely
# than probabilistic PCA, and with 16 latent dimensions it beats PCA's best
# candidate, which needs 32.
scores = search.cv_results_["mean_test_score"].reshape(
    len(param_grid["beta"]), len(param_grid["n_components"])
)
fig, ax = plt.subplots(figsize=(7, 4.5))
for beta, row in zip(param_grid["beta"], scores):
    ax.plot(param_grid["n_components"], row, marker="o", label=f"VAE, beta={beta}")
pca_scores = pca_search.cv_results_["mean_test_score"]
ax.plot(pca_search.param_grid["n_components"], pca_scores, marker="s", color="k",
        label="probabilistic PCA")
ax.set(xscale="log", xlabel="n_components",
       ylabel="cross-validated log-likelihood\n(nats per image, higher is better)")
ax.set_xticks([2, 4, 8, 16, 32], labels=[2, 4, 8, 16, 32])
ax.minorticks_off()
ax.legend()
fig.tight_layout()

# %%
# Held-out check
# --------------
# The refitted best model, scored on digits it has never seen.
print(f"VAE  {search.best_params_}: {search.score(X_test):.1f} nats per image")
print(f"PCA  {pca_search.best_params_}: {pca_search.score(X_test):.1f} nats per image")
plt.show()
