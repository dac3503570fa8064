"""
==============================================
Feature reduction in a Pipeline, beside PCA
==============================================

:class:`~skae.AutoencoderTransformer` stands exactly where
:class:`~sklearn.decomposition.PCA` would in a
:class:`~sklearn.pipeline.Pipeline`. Here both reduce the 64 pixels of
scikit-learn's handwritten digits to ``n_components`` features that feed a
logistic regression, and we compare, on held-out digits, the classification
accuracy and the reconstruction error at several ``n_components``.
"""

# %%
# Data: 8x8 digits scaled to [0, 1], with a stratified held-out split.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.plotting import LossCurveDisplay

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# The same pipeline with either reducer. The autoencoder starts at PCA's
# solution and keeps the best epoch on a validation split, so the defaults
# need only ``n_components`` (and ``random_state`` for a reproducible fit).
# ``max_epochs=100`` (the default is 200) keeps this example fast; most fits
# use all 100 epochs and would improve slightly with more.


def make_reducer(name, k):
    if name == "PCA":
        return PCA(k, random_state=0)
    return AutoencoderTransformer(k, max_epochs=100, random_state=0)


n_components = [2, 4, 8, 16]
results = {name: {"accuracy": [], "mse": []} for name in ["PCA", "AutoencoderTransformer"]}
fitted = {}
for name in results:
    for k in n_components:
        pipe = make_pipeline(
            make_reducer(name, k), StandardScaler(), LogisticRegression(max_iter=2000)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(X_train, y_train)
        reducer = pipe[0]
        reconstruction = reducer.inverse_transform(reducer.transform(X_test))
        results[name]["accuracy"].append(pipe.score(X_test, y_test))
        results[name]["mse"].append(np.mean((reconstruction - X_test) ** 2))
        fitted[name, k] = reducer

print(f"{'k':>3} {'PCA acc':>8} {'AE acc':>8} {'PCA mse':>9} {'AE mse':>9}")
for i, k in enumerate(n_components):
    pca, ae = results["PCA"], results["AutoencoderTransformer"]
    print(
        f"{k:>3} {pca['accuracy'][i]:>8.3f} {ae['accuracy'][i]:>8.3f} "
        f"{pca['mse'][i]:>9.5f} {ae['mse'][i]:>9.5f}"
    )

# %%
# With few components the nonlinear codes separate the classes much better
# than the principal components (at 16 components both are about equally
# good), and the autoencoder reconstructs held-out digits with a smaller error
# at every ``n_components``.
fig, (ax_acc, ax_mse) = plt.subplots(1, 2, figsize=(10, 4))
for name, marker in [("PCA", "o"), ("AutoencoderTransformer", "s")]:
    ax_acc.plot(n_components, results[name]["accuracy"], marker=marker, label=name)
    ax_mse.plot(n_components, results[name]["mse"], marker=marker, label=name)
ax_acc.set(xlabel="n_components", ylabel="held-out accuracy", xscale="log", xticks=n_components)
ax_mse.set(xlabel="n_components", ylabel="held-out reconstruction MSE", xscale="log",
           xticks=n_components)
for ax in (ax_acc, ax_mse):
    ax.set_xticklabels(n_components)
    ax.minorticks_off()
    ax.legend()
fig.tight_layout()

# %%
# The training history of one of the autoencoders: the loss is the mean
# squared error in the network's (globally scaled) units; the dotted line marks
# the epoch whose weights were kept.
LossCurveDisplay.from_estimator(fitted["AutoencoderTransformer", 8])
plt.show()
