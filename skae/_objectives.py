"""The training objectives, called as ``criterion(output, X, network, training, record)``.

``record(name, value)`` writes a per-batch value to skorch's history (see
``SkaeNet.get_loss``); an objective with several terms reports them through it
and holds no state of its own. Plain torch: autograd differentiates them. The reconstruction loss's formula is
written once, in :func:`mean_reconstruction_loss`, beside the derivative the
speed layer (:mod:`skae._fast_path`) uses instead of autograd's backward pass.
"""

import numpy as np
import torch

from ._likelihoods import BernoulliLikelihood, kl_diag_gaussians


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
    """

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta
        self.kl_weight = 1.0

    def forward(self, output, x, network, training=False, record=None, gradient=False,
                target=None):
        """The loss; with ``gradient=True``, also its derivatives, without autograd.

        ``gradient=True`` (under ``torch.no_grad()``, a network with a
        conditional Gaussian variance) returns ``(loss, d / d params, d / d mean,
        d / d log_var, d / d raw_log_var)``, each computed as autograd's
        backward pass computes it, bit for bit: the speed layer
        (:mod:`skae._fast_path`) uses them, and passes ``target``, the
        network's ``target(x)``, which its forward pass has computed already.
        """
        params, mean, log_var = output
        weight = self.beta * (self.kl_weight if training else 1.0)
        grad_log_lik = grad_kl = None
        if gradient:
            # loss = mean(-log_lik + weight * kl): MeanBackward's 1/n, Neg (exact), Mul
            row = _mean_gradient(mean.shape[0])
            grad_log_lik = mean.new_full(mean.shape[:1], -row)
            grad_kl = mean.new_full(mean.shape[:1], row) * weight
        log_lik = network.log_likelihood(x, params, grad_log_lik, target)
        kl = kl_diag_gaussians(mean, log_var, grad=grad_kl)
        if gradient:
            (log_lik, grad_params, grad_raw_log_var), (kl, grad_mean, grad_log_var) = log_lik, kl
        if record is not None:
            # One host transfer for both sums (skorch syncs on the loss anyway).
            log_lik_sum, kl_sum = torch.stack([log_lik.sum(), kl.sum()]).tolist()
            record("reconstruction_sum", -log_lik_sum)
            record("kl_sum", kl_sum)
        loss = (-log_lik + weight * kl).mean()
        if gradient:
            return loss, grad_params, grad_mean, grad_log_var, grad_raw_log_var
        return loss
