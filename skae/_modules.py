"""Plain ``torch.nn.Module`` building blocks of skae's networks.

No scikit-learn in here: the modules can be used and tested on their own.
Every network is ``normalisation -> encoder -> code -> decoder -> likelihood
parameters``. Encoder and decoder are, by default, :class:`ResidualMLP`: a
linear map plus a nonlinear MLP whose last layer starts at zero, so a network
initialised from (probabilistic) PCA's solution computes exactly that solution
before training. Other bodies (convolutional, recurrent, a user's module) sit
beside the same linear map (:mod:`skae._architectures`).

Plain torch: autograd differentiates every module. The speed layer
(:mod:`skae._fast_path`) recognises :class:`Autoencoder`, :class:`VariationalAutoencoder`
and :class:`ResidualMLP` by type and reproduces their training step by hand;
nothing here knows about it.
"""

import torch
from torch import nn

from ._likelihoods import BernoulliLikelihood, GaussianLikelihood
from ._random import DrawsRandom, dropout

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
}


class Normalization(nn.Module):
    """Affine input normalisation ``(x - loc) / scale`` with fixed statistics.

    As Keras' ``Normalization`` layer: the statistics are computed once, before
    training, and applied per batch, so no scaled copy of the data is made.
    """

    def __init__(self, loc, scale):
        super().__init__()
        self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32).clone())
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())

    def forward(self, x):
        return (x - self.loc) / self.scale

    def inverse(self, x):
        """Map normalised values back to the original units."""
        return x * self.scale + self.loc


class Dropout(DrawsRandom, nn.Dropout):
    """``nn.Dropout`` that draws its mask from ``generator`` when one is set
    (:func:`~skae._random.dropout`). Without a generator it is ``nn.Dropout``.
    """

    def forward(self, x):
        if self.generator is None or not self.training or self.p == 0:
            return super().forward(x)
        return dropout(x, self.p, self.generator)


def make_mlp(in_features, hidden_layer_sizes, out_features, activation="relu", dropout=0.0):
    """A ``Linear -> activation [-> Dropout]`` stack ending in a ``Linear``."""
    layers = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class ResidualMLP(nn.Module):
    """``linear(x) + mlp(x)``: a linear path with a nonlinear residual.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    hidden_layer_sizes : tuple of int
        Widths of the residual MLP's hidden layers; empty for a purely linear map.
    activation : str, default="relu"
        Key of :data:`ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    """

    def __init__(self, in_features, out_features, hidden_layer_sizes=(),
                 activation="relu", dropout=0.0):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.mlp = (
            make_mlp(in_features, hidden_layer_sizes, out_features, activation, dropout)
            if hidden_layer_sizes
            else None
        )

    def forward(self, x):
        out = self.linear(x)
        if self.mlp is not None:
            out = out + self.mlp(x)
        return out

    @torch.no_grad()
    def start_at(self, weight, bias):
        """Make the map exactly ``x @ weight.T + bias``; the residual starts at zero.

        Only the residual's last layer is zeroed: its earlier layers keep their
        random initialisation, so gradients reach them from the first step.
        """
        self.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        if self.mlp is not None:
            self.mlp[-1].weight.zero_()
            self.mlp[-1].bias.zero_()


class _Network(DrawsRandom, nn.Module):
    """What both networks share: normalisation, decoder and likelihood.

    Training noise is drawn from ``generator`` (:class:`~skae._random.DrawsRandom`).
    ``encoder`` and ``decoder`` (in the subclasses) replace the default
    :class:`ResidualMLP` maps: any module with the same flat rows in and out
    and a ``start_at(weight, bias)`` (e.g. ``_architectures.ResidualBody``).
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes, activation,
                 dropout, loc, scale, likelihood, min_variance, decoder=None,
                 conditional_variance=False):
        super().__init__()
        self.normalize = Normalization(loc, scale)
        if likelihood == "bernoulli":
            self.likelihood = BernoulliLikelihood()
        else:
            self.likelihood = GaussianLikelihood(n_features, min_variance, conditional_variance)
        if decoder is None:
            decoder = ResidualMLP(
                n_components, self.likelihood.params_per_feature * n_features,
                tuple(reversed(hidden_layer_sizes)), activation, dropout,
            )
        self.decoder = decoder

    @property
    def is_bernoulli(self):
        return isinstance(self.likelihood, BernoulliLikelihood)

    def target(self, x):
        """What the decoder's output is compared with: normalised ``x`` (Gaussian) or ``x``."""
        return x if self.is_bernoulli else self.normalize(x)

    def log_likelihood(self, x, params):
        """Row-wise ``log p(x | params)`` in the original units of ``x``.

        A Gaussian's density is computed in normalised units; subtracting the
        normalisation's log-Jacobian (:meth:`log_jacobian`, in ``x``'s dtype)
        gives the density of ``x`` itself, comparable across input scalings and
        with PCA's.
        """
        log_lik = self.likelihood.log_prob(self.target(x), params).sum(dim=-1)
        if not self.is_bernoulli:
            log_lik = log_lik - self.log_jacobian(x.shape[-1], x.dtype)
        return log_lik

    def log_jacobian(self, n_features, dtype=None):
        """``sum(log(scale))`` over ``n_features`` features, a 0-d tensor: the
        log-density of a normalised row minus that of the row itself.

        Computed in ``dtype`` (default: the scale's, float32): scoring sums
        the densities in float64, where the rounding error of a float32
        logarithm, times the number of features, would shift every row's score.
        """
        scale = self.normalize.scale if dtype is None else self.normalize.scale.to(dtype)
        return torch.log(scale).expand(n_features).sum()

    def decode(self, z):
        """Decoder output: the Gaussian mean in normalised units, or Bernoulli logits."""
        return self.decoder(z)

    def reconstruct_mean(self, params):
        """The observation model's mean, in the original units of ``x``."""
        mean = self.likelihood.mean(params)
        return mean if self.is_bernoulli else self.normalize.inverse(mean)


class Autoencoder(_Network):
    """Deterministic autoencoder: ``x -> z -> decoder parameters``.

    ``noise`` is the standard deviation of Gaussian corruption added to the
    normalised input in training mode (a denoising autoencoder).
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes=(128, 64),
                 activation="relu", dropout=0.0, loc=0.0, scale=1.0,
                 likelihood="gaussian", noise=0.0, min_variance=1e-4,
                 encoder=None, decoder=None):
        super().__init__(n_features, n_components, hidden_layer_sizes, activation,
                         dropout, loc, scale, likelihood, min_variance, decoder)
        self.noise = noise
        if encoder is None:
            encoder = ResidualMLP(n_features, n_components, hidden_layer_sizes,
                                  activation, dropout)
        self.encoder = encoder

    def encode(self, x):
        return self.encoder(self.normalize(x))

    def _corrupt(self, h):
        """``h`` plus the denoising noise, in training mode only."""
        if self.training and self.noise > 0:
            h = h + self.noise * torch.randn_like(h, generator=self.generator)
        return h

    def forward(self, x):
        return self.decode(self.encoder(self._corrupt(self.normalize(x))))


class VariationalAutoencoder(_Network):
    """Variational autoencoder with a diagonal Gaussian posterior and N(0, I) prior.

    The encoder outputs ``2 * n_components`` values: the posterior mean and
    log-variance. ``forward`` returns ``(decoder_params, mean, log_var)`` with
    one reparameterised draw ``z = mean + exp(log_var / 2) * eps``. With
    ``conditional_variance=True`` (Gaussian likelihood) the decoder outputs
    each feature's mean and log-variance offset
    (:class:`~skae._likelihoods.GaussianLikelihood`).
    """

    #: Posterior log-variances are clamped to this range for numerical safety.
    LOG_VAR_RANGE = (-15.0, 10.0)

    def __init__(self, n_features, n_components, hidden_layer_sizes=(128, 64),
                 activation="relu", dropout=0.0, loc=0.0, scale=1.0,
                 likelihood="gaussian", min_variance=1e-4, encoder=None, decoder=None,
                 conditional_variance=False):
        super().__init__(n_features, n_components, hidden_layer_sizes, activation,
                         dropout, loc, scale, likelihood, min_variance, decoder,
                         conditional_variance)
        self.n_components = n_components
        if encoder is None:
            encoder = ResidualMLP(n_features, 2 * n_components, hidden_layer_sizes,
                                  activation, dropout)
        self.encoder = encoder

    def encode(self, x):
        """Posterior mean and log-variance of ``z`` given ``x``."""
        out = self.encoder(self.normalize(x))
        mean, log_var = out[:, : self.n_components], out[:, self.n_components :]
        return mean, torch.clamp(log_var, *self.LOG_VAR_RANGE)

    def forward(self, x):
        mean, log_var = self.encode(x)
        noise = torch.randn_like(mean, generator=self.generator)
        z = torch.addcmul(mean, torch.exp(0.5 * log_var), noise)  # one operation, not two
        return self.decode(z), mean, log_var
