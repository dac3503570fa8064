"""
=====================================
Generating new digits with a VAE
=====================================

A variational autoencoder is a generative model: decoding draws from its
standard normal prior gives new rows that look like the training data.
:meth:`skae.VAETransformer.sample` does exactly that. We fit one on
scikit-learn's handwritten digits, draw a grid of new digits, compare them
with real ones and with :meth:`skae.AutoencoderTransformer.sample` (which
decodes draws from a Gaussian fitted to its training codes), and walk through
the latent space from one digit to another.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import LossCurveDisplay

X, y = load_digits(return_X_y=True)
X = X / 16

# %%
# Fit a VAE with four latent dimensions, and an autoencoder with as many
# codes. ``max_epochs`` is lowered from the defaults to keep the example fast.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    vae = VAETransformer(n_components=4, max_epochs=300, random_state=0).fit(X)
    ae = AutoencoderTransformer(n_components=4, max_epochs=150, random_state=0).fit(X)

# %%
# The VAE's training curves: the loss is the negative ELBO per image, the sum
# of the reconstruction term (the negative expected log-likelihood; negative
# because a density can exceed one) and the KL divergence of the posterior
# from the prior. A KL near zero would mean the latent variables are unused
# (posterior collapse); here it grows as the codes start carrying information.
LossCurveDisplay.from_estimator(vae)


# %%
# Helper to draw rows of 64 pixels as a grid of 8x8 images.
def image_grid(rows, title, n_cols=8):
    n_rows = int(np.ceil(len(rows) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * 0.8, n_rows * 0.8 + 0.4))
    for ax, row in zip(axes.ravel(), rows):
        ax.imshow(row.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


# %%
# Sixty-four new digits decoded from the prior (the decoder's mean image for
# each draw), beside sixty-four real ones.
new_digits = vae.sample(64, random_state=0)
image_grid(new_digits, "VAETransformer.sample(64)")
image_grid(X[np.random.RandomState(0).choice(len(X), 64, replace=False)], "real digits")

# %%
# The autoencoder can sample too, from a Gaussian fitted to its codes, but
# nothing in its training asks the space between training codes to decode to
# plausible digits, so more of its samples are smudged or ambiguous.
image_grid(ae.sample(64, random_state=0), "AutoencoderTransformer.sample(64)")

# %%
# A walk through the VAE's latent space, from the code of a "0" to the code of
# a "6": every intermediate point decodes to a digit-like image.
start, end = vae.transform(X[[np.flatnonzero(y == 0)[0], np.flatnonzero(y == 6)[0]]])
steps = np.linspace(0, 1, 8)[:, None]
image_grid(vae.inverse_transform((1 - steps) * start + steps * end), "from 0 to 6")
plt.show()
