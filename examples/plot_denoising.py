"""
===========================================
Restoring corrupted digits by denoising
===========================================

A *denoising* autoencoder is trained to reconstruct its input from a
corrupted copy, so it learns what digits look like rather than how to copy
pixels. :class:`~skae.AutoencoderTransformer` becomes one with ``noise``, the
standard deviation of the Gaussian corruption added to the (scaled) input
during training only. We corrupt held-out digits with Gaussian noise and
compare how close to the clean images PCA, a plain autoencoder and a
denoising autoencoder bring them -- the classic use of PCA for denoising (see
scikit-learn's kernel PCA denoising example).
"""

# %%
# Data: train on clean digits; corrupt the held-out digits with Gaussian noise
# of standard deviation 0.3 (pixels lie in [0, 1]), clipped to [0, 1].
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer
from skae.plotting import ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=0)
rng = np.random.RandomState(1)
X_test_noisy = np.clip(X_test + rng.normal(scale=0.3, size=X_test.shape), 0, 1)

# %%
# Three reducers with 16 components, fitted on the clean training digits.
# ``noise`` is in the network's scaled units: the default ``input_scaling``
# divides by one global scale (here about 0.27), so ``noise=0.5`` corrupts the
# training inputs by about 0.14 per pixel. A fresh draw of noise is added at
# every epoch; early stopping monitors the clean validation reconstruction.
models = {
    "PCA": PCA(n_components=16, random_state=0),
    "autoencoder": AutoencoderTransformer(n_components=16, max_epochs=300, random_state=0),
    "denoising autoencoder": AutoencoderTransformer(
        n_components=16, noise=0.5, max_epochs=300, random_state=0
    ),
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for model in models.values():
        model.fit(X_train)

# %%
# Mean squared error to the *clean* held-out digits. Projecting onto 16
# components already removes much of the noise. The plain autoencoder, trained
# only to copy clean digits, does slightly worse than PCA here: it reconstructs
# clean digits better (see the first example), but it also reproduces more of
# the noise. The denoising autoencoder brings the corrupted digits closest to
# the originals.
restored = {
    name: model.inverse_transform(model.transform(X_test_noisy)) for name, model in models.items()
}
print(f"{'corrupted input':<24} MSE to clean: {np.mean((X_test_noisy - X_test) ** 2):.4f}")
for name, X_restored in restored.items():
    print(f"{name:<24} MSE to clean: {np.mean((X_restored - X_test) ** 2):.4f}")

# %%
# Ten held-out digits: clean, corrupted, and restored by PCA and by the
# denoising autoencoder. :class:`~skae.plotting.ReconstructionDisplay` draws
# two rows of images; here two displays share one figure.
n_images = 10
fig, axes = plt.subplots(4, n_images, figsize=(n_images, 4.4))
style = {"vmin": 0, "vmax": 1}
ReconstructionDisplay(
    originals=X_test[:n_images],
    reconstructions=X_test_noisy[:n_images],
    image_shape=(8, 8),
    labels=("clean", "corrupted"),
).plot(ax=axes[:2], **style)
ReconstructionDisplay(
    originals=restored["PCA"][:n_images],
    reconstructions=restored["denoising autoencoder"][:n_images],
    image_shape=(8, 8),
    labels=("PCA", "denoising AE"),
).plot(ax=axes[2:], **style)
fig.tight_layout()
plt.show()
