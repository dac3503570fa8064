"""Log-likelihoods, KL divergences and the importance-weighted bound.

Pure torch maths, no scikit-learn and no modules' state: every function works
elementwise (or row-wise) on tensors, so it can be unit-tested against closed
forms on its own.
"""

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)
#: How far beyond [0, 1] a value may lie and still count as in it (fitting a
#: Bernoulli/BCE model, choosing ``loss="auto"``, scoring): float32's resolution
#: at 1, in which the network computes. Rescaled data overshoot an end by a
#: rounding error (``MinMaxScaler``'s output exceeds 1 by one float64 ulp on
#: some data); that is no value outside the support.
UNIT_INTERVAL_SLACK = 2.0**-23


def gaussian_log_prob(x, mean, log_var):
    """Elementwise log-density of ``x`` under ``N(mean, exp(log_var))``."""
    diff = x - mean
    return -0.5 * (LOG_2PI + log_var + diff**2 * torch.exp(-log_var))


def bernoulli_log_prob(x, logits):
    """Elementwise log-probability of ``x`` in [0, 1] under ``Bernoulli(sigmoid(logits))``.

    For fractional ``x`` this is the (unnormalised) cross-entropy used by
    Bernoulli VAEs on grey-level images.
    """
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none")


def kl_diag_gaussians(mean_q, log_var_q, mean_p=None, log_var_p=None):
    """Row-wise ``KL(N(mean_q, var_q) || N(mean_p, var_p))`` for diagonal Gaussians.

    ``mean_p`` and ``log_var_p`` default to the standard normal prior. The sum
    runs over the last dimension.
    """
    if mean_p is None and log_var_p is None:
        # The standard normal prior's terms, without its zeros.
        return 0.5 * (torch.exp(log_var_q) + mean_q**2 - 1.0 - log_var_q).sum(dim=-1)
    if mean_p is None:
        mean_p = torch.zeros_like(mean_q)
    if log_var_p is None:
        log_var_p = torch.zeros_like(log_var_q)
    kl = 0.5 * (
        log_var_p
        - log_var_q
        + (torch.exp(log_var_q) + (mean_q - mean_p) ** 2) * torch.exp(-log_var_p)
        - 1.0
    )
    return kl.sum(dim=-1)


def log_mean_exp(values, dim=0):
    """``log(mean(exp(values)))`` along ``dim``, computed stably."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def floored_log_var(raw, min_variance):
    """``log(min_variance + exp(raw))``: a smooth log-variance bounded below.

    The floor keeps a constant (or quantised) feature from driving its variance
    to zero and the likelihood to infinity.
    """
    return torch.logaddexp(raw, raw.new_tensor(math.log(min_variance)))


class GaussianLikelihood(torch.nn.Module):
    """Per-feature Gaussian observation model with learned, floored variance.

    The decoder produces the mean; the variance is one learned parameter per
    feature, bounded below by ``min_variance``. With ``conditional=True`` the
    decoder produces, besides the mean, an offset of every feature's
    log-variance (its output is ``[mean, offset]`` along the last axis): the
    variance then depends on the code (heteroscedastic). A pixel that is dark
    in one kind of image and bright in another gets a small variance where the
    code says which; one variance per feature must cover both.

    Parameters
    ----------
    n_features : int
        Number of observed features.
    min_variance : float, default=1e-4
        Floor of every feature's variance, in the units the decoder works in.
    conditional : bool, default=False
        Whether the decoder also gives each row's log-variance offsets.
    """

    def __init__(self, n_features, min_variance=1e-4, conditional=False):
        super().__init__()
        self.min_variance = min_variance
        self.conditional = conditional
        self.raw_log_var = torch.nn.Parameter(torch.zeros(n_features))

    @property
    def params_per_feature(self):
        """How many decoder outputs each feature takes: 2 (mean, log-variance) or 1."""
        return 2 if self.conditional else 1

    def set_variance(self, variance):
        """Set the variance of every feature (clipped to the floor)."""
        variance = torch.as_tensor(variance, dtype=self.raw_log_var.dtype)
        excess = torch.clamp(variance - self.min_variance, min=1e-12 * self.min_variance)
        with torch.no_grad():
            self.raw_log_var.copy_(torch.log(excess).expand_as(self.raw_log_var))

    def log_var(self, params=None):
        """Log-variance: per feature, shape ``(n_features,)``, or per element of ``params``.

        A conditional model needs the decoder output ``params``; the
        per-feature value is then the variance at a zero offset.
        """
        raw = self.raw_log_var
        if self.conditional and params is not None:
            raw = raw + params[..., raw.shape[0]:]
        return floored_log_var(raw, self.min_variance)

    def log_prob(self, x, params):
        """Elementwise log-density of ``x`` given the decoder output ``params``."""
        return gaussian_log_prob(x, self.mean(params), self.log_var(params))

    def mean(self, params):
        """Mean of the observation model."""
        return params[..., : self.raw_log_var.shape[0]] if self.conditional else params

    def support(self, x):
        """Elementwise: whether ``x`` can be observed -- everywhere, for a Gaussian."""
        return torch.ones_like(x, dtype=torch.bool)

    def sample(self, params, generator=None):
        """Draw one observation per row."""
        mean = self.mean(params)
        std = torch.exp(0.5 * self.log_var(params))
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        return mean + std * noise


class BernoulliLikelihood(torch.nn.Module):
    """Bernoulli observation model for data in [0, 1]; the decoder produces logits."""

    #: One decoder output (a logit) per feature.
    params_per_feature = 1

    def log_prob(self, x, params):
        """Elementwise log-probability of ``x`` given the logits ``params``."""
        return bernoulli_log_prob(x, params)

    def mean(self, params):
        """Probabilities, in [0, 1]."""
        return torch.sigmoid(params)

    def support(self, x):
        """Elementwise: whether ``x`` lies in [0, 1] (within ``UNIT_INTERVAL_SLACK``).

        :meth:`log_prob` assumes it does (the cross-entropy formula gives finite,
        even positive, values outside); scoring sets ``-inf`` where it does not.
        """
        return (x >= -UNIT_INTERVAL_SLACK) & (x <= 1 + UNIT_INTERVAL_SLACK)

    def sample(self, params, generator=None):
        """Draw one binary observation per row."""
        return torch.bernoulli(torch.sigmoid(params), generator=generator)
