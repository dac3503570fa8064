"""The training objectives, called as ``criterion(output, X, network, training, record)``.

``record(name, value)`` writes a per-batch value to skorch's history (see
``SkaeNet.get_loss``); an objective with several terms reports them through it
and holds no state of its own. Plain torch, differentiated by autograd. The
speed layer (:mod:`skae._fast_path`) takes the derivatives from here: the
reconstruction loss's, written once beside its formula in
:func:`mean_reconstruction_loss` (as autograd computes it, bit for bit), and
the Gaussian negative ELBO's, the closed-form backward of the autograd
function :class:`GaussianNegativeELBO`, which autograd runs too.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ._likelihoods import LOG_2PI, BernoulliLikelihood, GaussianLikelihood, kl_diag_gaussians


def mean_reconstruction_loss(output, target, likelihood, gradient=False):
    """Mean loss per element of ``output`` against ``target``; its derivative on request.

    Squared error (``output`` is the Gaussian mean in normalised units) or,
    with a :class:`~skae._likelihoods.BernoulliLikelihood`, binary cross-entropy
    (``output`` holds logits).

    With ``gradient=True`` (under ``torch.no_grad()`` only) returns ``(loss,
    d loss / d output)``, the derivative computed as autograd's backward pass
    computes it, bit for bit: the ``1 / n`` of the mean rounded to float32 as
    ``MeanBackward`` rounds it, then the loss's own backward formula. The
    intermediates are reused in place, so nothing is computed twice.
    """
    if isinstance(likelihood, BernoulliLikelihood):
        loss = -likelihood.log_prob(target, output).mean()
        if not gradient:
            return loss
        # binary_cross_entropy_with_logits' backward formula, times d mean / d element.
        return loss, torch.sigmoid(output).sub_(target).mul_(_mean_gradient(output.numel()))
    diff = output - target
    loss = diff.pow(2).mean()
    if not gradient:
        return loss
    # PowBackward's (1/n) * (2 * diff); doubling is exact, so one product.
    return loss, diff.mul_(2.0 * _mean_gradient(output.numel()))


def _mean_gradient(count):
    """``d mean / d element`` of a mean over ``count`` elements, rounded to float32
    as autograd's ``MeanBackward`` rounds it."""
    return float(np.float32(1.0) / np.float32(count))


class ReconstructionLoss(torch.nn.Module):
    """Mean reconstruction loss per element: squared error in normalised units, or BCE."""

    def forward(self, output, x, network, training=False, record=None):
        return mean_reconstruction_loss(output, network.target(x), network.likelihood)


class NegativeELBO(torch.nn.Module):
    """Mean negative ELBO per row, ``-E[log p(x|z)] + beta * KL(q(z|x) || p(z))``.

    The reconstruction term is reported in the original units of ``x`` (the
    log-Jacobian of the input normalisation included), so ``-loss`` is an ELBO
    comparable with ``PCA.score``. ``kl_weight`` (KL warm-up) only applies in
    training. ``record(name, value)``, when given, receives the batch's row sums
    of both terms (``"reconstruction_sum"``, ``"kl_sum"``) for the history.

    With skae's Gaussian likelihood the terms are :class:`GaussianNegativeELBO`,
    one autograd function with a closed-form backward: autograd and the speed
    layer (:meth:`loss_and_gradients`) run the same forward and the same
    backward. Any other likelihood goes through its ``log_prob`` and autograd.
    """

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta
        self.kl_weight = 1.0

    def forward(self, output, x, network, training=False, record=None, target=None):
        """The batch's loss. ``target`` is ``network.target(x)`` if the caller has it."""
        params, mean, log_var = output
        weight = self.beta * (self.kl_weight if training else 1.0)
        likelihood = network.likelihood
        if type(likelihood) is GaussianLikelihood:
            if target is None:
                target = network.target(x)
            loss, *sums = GaussianNegativeELBO.apply(
                target, params, likelihood.raw_log_var, mean, log_var, likelihood.min_variance,
                weight,
            )
            return self._in_original_units(loss, sums, x, network, mean.shape[-1], record)
        log_lik = network.log_likelihood(x, params)
        kl = kl_diag_gaussians(mean, log_var)
        if record is not None:
            # One host transfer for both sums (skorch syncs on the loss anyway).
            reconstruction_sum, kl_sum = torch.stack([-log_lik.sum(), kl.sum()]).tolist()
            record("reconstruction_sum", reconstruction_sum)
            record("kl_sum", kl_sum)
        return (-log_lik + weight * kl).mean()

    def loss_and_gradients(self, output, x, network, record=None, target=None):
        """The training loss and its gradients without autograd (for :mod:`skae._fast_path`).

        Returns ``(loss, d / d params, d / d raw_log_var, d / d mean, d / d
        log_var)`` for a network with skae's Gaussian likelihood (under
        ``torch.no_grad()``): :class:`GaussianNegativeELBO`'s own forward and
        backward, so they equal what ``forward(..., training=True).backward()``
        computes, bit for bit. (Autograd's backward multiplies each gradient by
        ``loss.backward()``'s gradient of 1, which changes no bit.)
        """
        params, mean, log_var = output
        likelihood = network.likelihood
        if target is None:
            target = network.target(x)
        loss, *sums, saved = _gaussian_elbo(
            target, params, likelihood.raw_log_var, mean, log_var, likelihood.min_variance,
            self.beta * self.kl_weight,
        )
        loss = self._in_original_units(loss, sums, x, network, mean.shape[-1], record)
        return (loss, *_gaussian_elbo_backward(*saved))

    @staticmethod
    def _in_original_units(loss, sums, x, network, n_components, record):
        """:class:`GaussianNegativeELBO`'s loss in the units of ``x``; its terms to ``record``.

        The normalisation's log-Jacobian is a constant: added after the
        function, it leaves the gradients as they are.
        """
        log_jacobian = network.log_jacobian(x.shape[-1])
        if record is not None:
            # One host transfer for both sums (skorch syncs on the loss anyway).
            reconstruction, kl, log_jacobian_value = torch.stack([*sums, log_jacobian]).tolist()
            constant, kl_constant = _constant_terms(x.shape[-1], n_components,
                                                    network.likelihood.min_variance)
            n_rows = x.shape[0]
            record("reconstruction_sum",
                   0.5 * reconstruction + n_rows * (constant + log_jacobian_value))
            record("kl_sum", 0.5 * kl + n_rows * kl_constant)
        return loss + log_jacobian


def _constant_terms(n_features, n_components, min_variance):
    """Each row's terms of -log p(x | z) and of the KL that do not depend on the data."""
    return 0.5 * n_features * (LOG_2PI + math.log(min_variance)), -0.5 * n_components


def _gaussian_elbo(target, params, raw_log_var, mean, log_var, min_variance, weight):
    """:class:`GaussianNegativeELBO`'s forward: ``(loss, reconstruction, kl, saved)``.

    ``reconstruction`` and ``kl`` are the batch's sums of the data-dependent
    parts of both terms (twice them; :func:`_constant_terms` has the rest),
    ``saved`` what :func:`_gaussian_elbo_backward` needs.
    """
    n_rows, n_features = target.shape
    log_floor = math.log(min_variance)
    # raw - log(min_variance): the floored log-variance logaddexp(raw, log_floor)
    # (floored_log_var's) is log_floor + softplus(shifted), stable for any raw
    if params.shape[-1] == n_features:  # one variance per feature
        decoded_mean, shifted = params, raw_log_var - log_floor
    else:  # a conditional variance: the decoder's offsets of every log-variance
        decoded_mean = params[:, :n_features]
        shifted = torch.add(params[:, n_features:], raw_log_var - log_floor)
    log_var_above_floor = F.softplus(shifted)
    inv_var = torch.rsub(log_var_above_floor, -log_floor).exp_()  # exp(-log var)
    diff = target - decoded_mean
    scaled = diff * inv_var
    square = scaled * diff
    # -log p(x | z) = 0.5 * (log 2 pi + log var + diff^2 / var) per element and
    # KL(N(mean, var_q) || N(0, I)) = 0.5 * (var_q + mean^2 - 1 - log var_q), summed
    # over the batch without their constants and their factor 0.5
    reconstruction = torch.add(square, log_var_above_floor).sum()
    var_q = torch.exp(log_var)
    kl = torch.addcmul(var_q, mean, mean).sub_(log_var).sum()
    constant, kl_constant = _constant_terms(n_features, mean.shape[-1], min_variance)
    loss = torch.add(reconstruction, kl, alpha=weight).mul_(0.5 / n_rows)
    loss = loss.add_(constant + weight * kl_constant)
    saved = (scaled, square, torch.sigmoid(shifted), mean, var_q, n_rows, weight,
             params.shape[-1] != n_features)
    return loss, reconstruction, kl, saved


def _gaussian_elbo_backward(scaled, square, slope, mean, var_q, n_rows, weight, conditional):
    """``(d / d params, d / d raw_log_var, d / d mean, d / d log_var)`` of the loss.

    The derivatives of :func:`_gaussian_elbo`'s per-element terms, each times
    ``1 / n_rows`` (the mean over rows): ``-diff / var`` for the decoded mean,
    ``0.5 * (1 - diff^2 / var) * slope`` for the raw log-variance (``slope =
    sigmoid(shifted)``, the floor's derivative), ``weight * mean`` and ``0.5 *
    weight * (var_q - 1)`` for the posterior's mean and log-variance.
    """
    grad_mean = scaled * (-1.0 / n_rows)
    slope = slope.mul_(0.5 / n_rows)
    grad_raw = torch.addcmul(slope, slope, square, value=-1.0)
    grad_params = torch.cat([grad_mean, grad_raw], dim=-1) if conditional else grad_mean
    kl_scale = 0.5 * weight / n_rows
    grad_posterior_mean = mean * (weight / n_rows)
    grad_posterior_log_var = torch.rsub(var_q, -kl_scale, alpha=-kl_scale)  # scale * (var_q - 1)
    return grad_params, grad_raw.sum(0), grad_posterior_mean, grad_posterior_log_var


class GaussianNegativeELBO(torch.autograd.Function):
    """The mean negative ELBO of a Gaussian decoder with a floored variance, and its gradient.

    ``apply(target, params, raw_log_var, mean, log_var, min_variance, weight)``
    returns ``(loss, reconstruction, kl)``: the batch's mean of ``-log p(x | z)
    + weight * KL(q(z | x) || N(0, I))`` in the normalised units of ``target``,
    and two sums the terms are made of (:func:`_gaussian_elbo`; no gradient).
    ``params`` is the decoder's output (the mean, then the log-variance offsets
    for a conditional variance), ``raw_log_var`` the likelihood's parameter
    (:class:`~skae._likelihoods.GaussianLikelihood`), ``mean`` and ``log_var``
    the posterior's.

    The forward computes the terms with few elementwise operations and the
    backward is their derivatives in closed form (checked against finite
    differences by ``gradcheck`` in the tests): a small network's training step
    on a CPU spends much of its time in such operations. Autograd and the speed
    layer (:meth:`NegativeELBO.loss_and_gradients`) run this one forward and
    this one backward.
    """

    @staticmethod
    def forward(ctx, target, params, raw_log_var, mean, log_var, min_variance, weight):
        loss, reconstruction, kl, saved = _gaussian_elbo(
            target, params, raw_log_var, mean, log_var, min_variance, weight
        )
        ctx.save_for_backward(*saved[:5])
        ctx.constants = saved[5:]
        ctx.mark_non_differentiable(reconstruction, kl)
        ctx.set_materialize_grads(False)
        return loss, reconstruction, kl

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss, grad_reconstruction, grad_kl):
        if grad_loss is None:
            return (None,) * 7
        scaled, square, slope, mean, var_q = ctx.saved_tensors
        gradients = _gaussian_elbo_backward(scaled, square, slope.clone(), mean, var_q,
                                            *ctx.constants)
        # the loss's own gradient: 1 for loss.backward(), where this changes no bit
        grad_params, grad_raw_log_var, grad_mean, grad_log_var = (
            g.mul_(grad_loss) for g in gradients
        )
        return None, grad_params, grad_raw_log_var, grad_mean, grad_log_var, None, None
