"""The training objectives: reconstruction loss (and its derivative) and the negative ELBO."""

import numpy as np
import pytest
import torch

from skae._likelihoods import GaussianLikelihood, kl_diag_gaussians
from skae._modules import Autoencoder, VariationalAutoencoder
from skae._objectives import (
    GaussianNegativeELBO,
    NegativeELBO,
    _constant_terms,
    ReconstructionLoss,
    mean_reconstruction_loss,
)


def test_reconstruction_loss_is_mean_squared_error_in_normalised_units(rng):
    X = torch.as_tensor(rng.randn(10, 4) * 3 + 1, dtype=torch.float32)
    net = Autoencoder(4, 2, (), loc=np.ones(4), scale=np.array([3.0]))
    output = torch.randn(10, 4)
    loss = ReconstructionLoss()(output, X, net)
    torch.testing.assert_close(loss, ((output - (X - 1) / 3) ** 2).mean())
    bern = Autoencoder(4, 2, (), likelihood="bernoulli")
    U = torch.rand(10, 4)
    torch.testing.assert_close(
        ReconstructionLoss()(output, U, bern),
        torch.nn.functional.binary_cross_entropy_with_logits(output, U),
    )


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_mean_reconstruction_loss_derivative_equals_autograd_bit_for_bit(rng, likelihood):
    net = Autoencoder(5, 2, (), likelihood=likelihood)
    target = torch.as_tensor(rng.rand(7, 5), dtype=torch.float32)
    output = torch.as_tensor(rng.randn(7, 5), dtype=torch.float32)
    leaf = output.clone().requires_grad_()
    expected = mean_reconstruction_loss(leaf, target, net.likelihood)
    expected.backward()
    with torch.no_grad():
        loss, grad = mean_reconstruction_loss(output.clone(), target, net.likelihood,
                                              gradient=True)
    assert torch.equal(loss, expected.detach())
    assert torch.equal(grad, leaf.grad)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_negative_elbo_reports_its_terms_through_record_and_keeps_no_state(rng, likelihood):
    X = torch.as_tensor(rng.rand(9, 4), dtype=torch.float32)
    net = VariationalAutoencoder(4, 2, (5,), likelihood=likelihood, loc=X.mean(0),
                                 scale=[X.std()], conditional_variance=likelihood == "gaussian")
    torch.manual_seed(0)
    output = net(X)
    criterion = NegativeELBO(beta=2.0)
    recorded = []
    loss = criterion(output, X, net, training=True, record=lambda *item: recorded.append(item))
    assert torch.equal(loss, criterion(output, X, net, training=True))  # record changes nothing
    log_lik = net.log_likelihood(X, output[0])
    kl = kl_diag_gaussians(output[1], output[2])
    assert [name for name, _ in recorded] == ["reconstruction_sum", "kl_sum"]
    np.testing.assert_allclose([value for _, value in recorded],
                               [(-log_lik.sum()).item(), kl.sum().item()], rtol=1e-5)
    torch.testing.assert_close(loss, (-log_lik + 2.0 * kl).mean())
    assert set(vars(criterion)) <= set(vars(NegativeELBO(beta=2.0)))  # nothing accumulated


def _elbo_inputs(rng, conditional, min_variance=1e-4, n_rows=7, n_features=5, k=3,
                 dtype=torch.float64):
    """Inputs of GaussianNegativeELBO whose log-variances lie far below the floor, at
    it and far above it, some past softplus' linear threshold."""
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    params = rng.randn(n_rows, (2 if conditional else 1) * n_features)
    raw_log_var = np.log(min_variance) + np.array([-30.0, -0.3, 0.0, 0.5, 25.0])[:n_features]
    if conditional:
        params[:, n_features:] *= 3.0
    return (t(rng.randn(n_rows, n_features)), t(params), t(raw_log_var),
            t(rng.randn(n_rows, k)), t(rng.randn(n_rows, k)))


@pytest.mark.parametrize("conditional", [True, False])
@pytest.mark.parametrize("weight", [1.0, 0.3, 4.0])
def test_gaussian_negative_elbo_equals_the_likelihood_and_kl_formulas(rng, conditional, weight):
    target, params, raw_log_var, mean, log_var = _elbo_inputs(rng, conditional)
    min_variance = 1e-4
    loss, reconstruction, kl_part = GaussianNegativeELBO.apply(
        target, params, raw_log_var, mean, log_var, min_variance, weight)
    likelihood = GaussianLikelihood(5, min_variance, conditional).double()
    with torch.no_grad():
        likelihood.raw_log_var.copy_(raw_log_var)
    log_lik = likelihood.log_prob(target, params).sum(1)
    kl = kl_diag_gaussians(mean, log_var)
    torch.testing.assert_close(loss, (-log_lik + weight * kl).mean(), rtol=1e-12, atol=1e-9)
    # the sums: twice the terms' data-dependent parts
    constant, kl_constant = _constant_terms(5, 3, min_variance)
    torch.testing.assert_close(0.5 * reconstruction + 7 * constant, -log_lik.sum(), rtol=1e-12,
                               atol=1e-9)
    torch.testing.assert_close(0.5 * kl_part + 7 * kl_constant, kl.sum(), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("conditional", [True, False])
@pytest.mark.parametrize("weight", [1.0, 0.3])
@pytest.mark.parametrize("min_variance", [1e-2, 0.5])
def test_gaussian_negative_elbo_gradient_passes_gradcheck(rng, conditional, weight,
                                                          min_variance):
    inputs = _elbo_inputs(rng, conditional, min_variance)
    inputs = [x.requires_grad_(i > 0) for i, x in enumerate(inputs)]

    def loss(*inputs):
        return GaussianNegativeELBO.apply(*inputs, min_variance, weight)[0]

    assert torch.autograd.gradcheck(loss, inputs)
    # a loss scaled after the function: its gradients scale too
    assert torch.autograd.gradcheck(lambda *x: 3.0 * loss(*x), inputs)
