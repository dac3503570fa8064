"""The training objectives: reconstruction loss (and its derivative) and the negative ELBO."""

import numpy as np
import pytest
import torch

from skae._modules import Autoencoder
from skae._objectives import ReconstructionLoss, mean_reconstruction_loss


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


def test_negative_elbo_reports_its_terms_through_record_and_keeps_no_state(rng):
    from skae._likelihoods import kl_diag_gaussians
    from skae._modules import VariationalAutoencoder
    from skae._objectives import NegativeELBO

    X = torch.as_tensor(rng.randn(9, 4), dtype=torch.float32)
    net = VariationalAutoencoder(4, 2, (5,))
    torch.manual_seed(0)
    output = net(X)
    criterion = NegativeELBO(beta=2.0)
    recorded = []
    loss = criterion(output, X, net, training=True, record=lambda *item: recorded.append(item))
    assert torch.equal(loss, criterion(output, X, net, training=True))  # record changes nothing
    log_lik = net.log_likelihood(X, output[0])
    kl = kl_diag_gaussians(output[1], output[2])
    assert recorded == [("reconstruction_sum", (-log_lik.sum()).item()),
                        ("kl_sum", kl.sum().item())]
    torch.testing.assert_close(loss, (-log_lik + 2.0 * kl).mean())
    assert set(vars(criterion)) <= set(vars(NegativeELBO(beta=2.0)))  # nothing accumulated
