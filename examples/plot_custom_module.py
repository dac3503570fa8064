"""
=====================================================
Your own network as encoder or decoder
=====================================================

Any :class:`torch.nn.Module` can be the body of the encoder or the decoder:
pass its class (with ``encoder_kwargs`` / ``decoder_kwargs``) or an instance.
skae keeps the rest: the input normalisation, the linear path started at
PCA's solution, the likelihood, training with early stopping, and the
scikit-learn API -- so the estimator still works with ``clone``,
``GridSearchCV`` and pickling.

The interface:

* the **encoder body** gets the normalised input viewed as ``(batch,
  *input_shape)`` and returns features of any shape ``(batch, ...)``; skae
  flattens them and adds a linear layer to the codes, started at zero;
* the **decoder body** gets codes ``(batch, n_components)`` and returns
  ``(batch, *input_shape)`` (or flat rows); its output is multiplied by a
  learnable gate started at 0.

Either way the network starts exactly at PCA's solution and training only
improves on it.
"""

# %%
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from torch import nn

from skae import AutoencoderTransformer


class ConvPool(nn.Module):
    """A small encoder body: convolution, max-pooling, convolution."""

    def __init__(self, channels=16):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8 x 8 -> 4 x 4
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
        )

    def forward(self, x):  # (batch, 1, 8, 8)
        return self.layers(x)  # (batch, channels, 4, 4): skae flattens it


class Upsampler(nn.Module):
    """A small decoder body: codes -> 4 x 4 maps -> upsampled 8 x 8 image."""

    def __init__(self, n_components, channels=16):
        super().__init__()
        self.channels = channels
        self.expand = nn.Sequential(nn.Linear(n_components, channels * 16), nn.ReLU())
        self.layers = nn.Sequential(
            nn.Upsample(scale_factor=2),
            nn.Conv2d(channels, 1, 3, padding=1),
        )

    def forward(self, z):  # (batch, n_components)
        return self.layers(self.expand(z).view(-1, self.channels, 4, 4))  # (batch, 1, 8, 8)


digits = load_digits()
X_train, X_test = train_test_split(digits.data / 16, test_size=0.3, random_state=0)

# %%
# The rows stay flat; ``input_shape`` says how the encoder body views them.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    ae = AutoencoderTransformer(
        n_components=8,
        input_shape=(1, 8, 8),
        encoder=ConvPool,
        decoder=Upsampler,
        decoder_kwargs={"n_components": 8},
        max_epochs=25,
        random_state=0,
    ).fit(X_train)
print(ae.net_.module_.encoder)

pca = PCA(n_components=8).fit(X_train)


def held_out_error(model):
    return np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)


print(f"held-out MSE  PCA: {held_out_error(pca):.4f}  custom autoencoder: "
      f"{held_out_error(ae):.4f}")
print(f"decoder gate after training: {ae.net_.module_.decoder.body.gate.item():.3f}")

# %%
# A mistake in the interface is caught at ``fit``, with the shapes named.
try:
    AutoencoderTransformer(n_components=8, input_shape=(1, 8, 8), decoder=ConvPool).fit(X_train)
except ValueError as error:
    print(error)

# %%
# The module's keyword arguments are ordinary parameters: grid-search them.
# ``AutoencoderTransformer.score`` is the negative reconstruction error, so no
# ``scoring`` is needed.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search = GridSearchCV(
        AutoencoderTransformer(n_components=8, input_shape=(1, 8, 8), encoder=ConvPool,
                               max_epochs=5, random_state=0),
        {"encoder_kwargs": [{"channels": 4}, {"channels": 16}]},
        cv=2,
    ).fit(X_train)
print(search.best_params_)
