"""
=====================================================
Convolutional autoencoder and VAE on images
=====================================================

Images are more than a row of unrelated pixels: neighbouring pixels go
together. ``architecture="conv"`` gives the encoder and decoder a
convolutional body that sees each sample as an image, channels first
(``(C, H, W)``), beside the linear path started at PCA's solution.

Images can be given with their shape: here the 8 x 8 handwritten digits
bundled with scikit-learn, as an array of shape ``(n_samples, 1, 8, 8)``.
``inverse_transform`` and ``sample`` then return images of that shape, while
``transform`` returns one row of codes per image, ready for any scikit-learn
estimator.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import LatentSpaceDisplay, ReconstructionDisplay

digits = load_digits()
images = digits.images[:, None] / 16  # (1797, 1, 8, 8): one channel, pixels in [0, 1]
images_train, images_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.3, random_state=0
)
print(images_train.shape)

# %%
# A convolutional autoencoder with 8 codes. Its body has two stride-2
# convolutions (32 and 64 channels: ``hidden_layer_sizes="auto"``), 8 x 8 ->
# 4 x 4 -> 2 x 2, mirrored by transposed convolutions in the decoder.
# On images the defaults train 25 epochs (``max_epochs="auto"``), the learning
# rate warmed up to 5e-3 and decayed to zero over them
# (``learning_rate_schedule="auto"``: ``"cosine"``).
conv = AutoencoderTransformer(n_components=8, architecture="conv", random_state=0)
conv.fit(images_train)
print(conv.input_shape_, conv.hidden_layer_sizes_, conv.n_epochs_, conv.learning_rate_schedule_)

# %%
# Held-out reconstruction error against PCA with as many components. PCA sees
# the flattened rows; the autoencoder starts at PCA's solution and improves on
# it.
rows_train = images_train.reshape(len(images_train), -1)
rows_test = images_test.reshape(len(images_test), -1)
pca = PCA(n_components=8).fit(rows_train)
pca_error = np.mean((pca.inverse_transform(pca.transform(rows_test)) - rows_test) ** 2)
conv_error = np.mean((conv.inverse_transform(conv.transform(images_test)) - images_test) ** 2)
print(f"held-out MSE  PCA: {pca_error:.4f}  conv autoencoder: {conv_error:.4f}")

# %%
# Reconstructions of held-out digits (top: originals).
ReconstructionDisplay.from_estimator(conv, images_test, image_shape=(8, 8), n_images=10,
                                     cmap="gray_r")

# %%
# The codes are features: a logistic regression on 8 codes per image.
for name, model, train, test in [
    ("PCA", pca, rows_train, rows_test),
    ("conv autoencoder", conv, images_train, images_test),
]:
    classifier = LogisticRegression(max_iter=2000).fit(model.transform(train), y_train)
    print(f"{name}: accuracy {classifier.score(model.transform(test), y_test):.3f}")

# %%
# A convolutional VAE with a 2-D latent space, to draw it. Its likelihood is
# Bernoulli (pixels in [0, 1]).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    vae = VAETransformer(
        n_components=2, architecture="conv", likelihood="bernoulli", max_epochs=30,
        random_state=0,
    ).fit(images_train)
LatentSpaceDisplay.from_estimator(vae, images_test, y_test, s=8)

# %%
# New digits: ``sample`` decodes draws from the prior and returns images of
# the shape ``fit`` saw.
samples = vae.sample(32, random_state=0)
print(samples.shape)
fig, axes = plt.subplots(4, 8, figsize=(6.4, 3.4))
for ax, image in zip(axes.ravel(), samples):
    ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
fig.suptitle("VAETransformer(architecture='conv').sample(32)")
plt.show()
