"""
===========================================================
A two-dimensional latent space, beside PCA's projection
===========================================================

With ``n_components=2`` a reducer gives a map of the data. Here PCA,
:class:`~skae.AutoencoderTransformer` and :class:`~skae.VAETransformer` each
map scikit-learn's handwritten digits to two dimensions, fitted without the
labels; colouring the held-out digits by class shows how well each map keeps
the classes apart. :class:`~skae.plotting.LatentSpaceDisplay` draws the maps,
and a nearest-neighbour classifier on the 2-D codes puts a number on what the
eye sees.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import LatentSpaceDisplay

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Fit the three reducers on the training digits (no labels). Both networks
# start at PCA's solution and improve on it; ``max_epochs`` is reduced from
# the defaults to keep the example fast.
reducers = {
    "PCA": PCA(n_components=2, random_state=0),
    "AutoencoderTransformer": AutoencoderTransformer(
        n_components=2, max_epochs=150, random_state=0
    ),
    "VAETransformer": VAETransformer(n_components=2, max_epochs=200, random_state=0),
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for reducer in reducers.values():
        reducer.fit(X_train)

# %%
# Accuracy of a 5-nearest-neighbour classifier trained on the 2-D codes of the
# training digits and evaluated on the held-out ones.
for name, reducer in reducers.items():
    knn = KNeighborsClassifier(5).fit(reducer.transform(X_train), y_train)
    accuracy = knn.score(reducer.transform(X_test), y_test)
    print(f"{name:<24} 5-NN accuracy on 2-D codes: {accuracy:.3f}")

# %%
# The held-out digits in each latent space. PCA's two directions of largest
# variance separate only a few digits (0, 4, 6); the networks spread the ten
# classes into distinct regions. The VAE's codes (posterior means) are pulled
# towards its standard normal prior, hence a rounder map centred on zero.
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (name, reducer) in zip(axes, reducers.items()):
    display = LatentSpaceDisplay.from_estimator(reducer, X_test, y_test, ax=ax)
    if ax is not axes[-1]:
        ax.get_legend().remove()
axes[-1].legend(title="digit", markerscale=2, fontsize="small", loc="center left",
                bbox_to_anchor=(1, 0.5))
fig.tight_layout()
plt.show()
