"""The torch modules on their own: normalisation, MLP builder, residual maps, networks."""

import copy

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from skae._likelihoods import BernoulliLikelihood, GaussianLikelihood
from skae._modules import (
    ACTIVATIONS,
    Autoencoder,
    Normalization,
    ResidualMLP,
    VariationalAutoencoder,
    make_mlp,
)


@pytest.mark.parametrize("scale", [np.array([2.5]), np.array([0.5, 1.0, 4.0])])
def test_normalization_forward_and_inverse_round_trip(rng, scale):
    loc = np.array([1.0, -2.0, 3.0])
    norm = Normalization(loc, scale)
    x = torch.as_tensor(rng.randn(8, 3) * 5, dtype=torch.float32)
    h = norm(x)
    np.testing.assert_allclose(h.numpy(), (x.numpy() - loc) / scale, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(norm.inverse(h).numpy(), x.numpy(), rtol=1e-5, atol=1e-5)
    # statistics are buffers (saved, moved with the module), not trained parameters
    assert set(dict(norm.named_buffers())) == {"loc", "scale"}
    assert list(norm.parameters()) == []


def test_normalization_copies_its_statistics():
    loc = torch.zeros(2)
    norm = Normalization(loc, 1.0)
    loc += 1.0
    assert torch.equal(norm.loc, torch.zeros(2))


@pytest.mark.parametrize("hidden", [(), (7,), (7, 5, 3)])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_make_mlp_shapes_and_dropout(hidden, dropout):
    mlp = make_mlp(4, hidden, 2, activation="tanh", dropout=dropout)
    assert mlp(torch.zeros(6, 4)).shape == (6, 2)
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(
        zip((4, *hidden), (*hidden, 2))
    )
    assert sum(isinstance(m, nn.Tanh) for m in mlp) == len(hidden)
    dropouts = [m for m in mlp if isinstance(m, nn.Dropout)]
    assert len(dropouts) == (len(hidden) if dropout > 0 else 0)
    assert all(m.p == dropout for m in dropouts)
    assert isinstance(mlp[-1], nn.Linear)  # no activation or dropout on the output


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_make_mlp_activations(activation):
    mlp = make_mlp(3, (4,), 2, activation=activation)
    assert isinstance(mlp[1], ACTIVATIONS[activation])


def test_make_mlp_dropout_only_in_training():
    torch.manual_seed(0)
    mlp = make_mlp(5, (64,), 3, dropout=0.5)
    x = torch.randn(10, 5)
    mlp.eval()
    assert torch.equal(mlp(x), mlp(x))
    mlp.train()
    assert not torch.equal(mlp(x), mlp(x))


def test_residual_mlp_without_hidden_layers_is_linear():
    block = ResidualMLP(4, 2, ())
    assert block.mlp is None
    x = torch.randn(3, 4)
    torch.testing.assert_close(block(x), block.linear(x))


def test_residual_mlp_start_at_is_exactly_linear(rng):
    torch.manual_seed(0)
    block = ResidualMLP(5, 3, (16, 8), activation="gelu")
    weight, bias = rng.randn(3, 5), rng.randn(3)
    block.start_at(weight, bias)
    x = torch.as_tensor(rng.randn(20, 5) * 10, dtype=torch.float32)
    expected = x.numpy().astype(np.float64) @ weight.T + bias
    np.testing.assert_allclose(block(x).detach().numpy(), expected, rtol=1e-5, atol=1e-4)
    assert torch.count_nonzero(block.mlp(x)) == 0


def test_residual_mlp_start_at_still_trains_the_residual(rng):
    torch.manual_seed(0)
    block = ResidualMLP(5, 3, (16, 8))
    block.start_at(rng.randn(3, 5), rng.randn(3))
    first_hidden = block.mlp[0].weight
    # The earlier layers kept their random initialisation.
    assert torch.count_nonzero(first_hidden) == first_hidden.numel()
    x = torch.randn(32, 5)
    target = torch.randn(32, 3)
    optimizer = torch.optim.SGD(block.parameters(), lr=0.1)

    loss = ((block(x) - target) ** 2).mean()
    loss.backward()
    # Step 1: the zeroed last layer gets a gradient; layers before it get none yet.
    assert block.mlp[-1].weight.grad.abs().sum() > 0
    assert block.mlp[-1].bias.grad.abs().sum() > 0
    assert first_hidden.grad.abs().sum() == 0
    optimizer.step()
    optimizer.zero_grad()
    assert block.mlp[-1].weight.abs().sum() > 0

    # Step 2: the last layer has moved, so gradients reach the earlier layers.
    ((block(x) - target) ** 2).mean().backward()
    assert first_hidden.grad.abs().sum() > 0
    assert block.mlp[2].weight.grad.abs().sum() > 0


@pytest.fixture
def network_data(rng):
    X = rng.randn(16, 6) * 3 + 2
    return torch.as_tensor(X, dtype=torch.float32), X.mean(axis=0), np.array([X.std()])


def test_autoencoder_noise_only_in_train_mode(network_data):
    x, loc, scale = network_data
    torch.manual_seed(0)
    net = Autoencoder(6, 2, (8,), loc=loc, scale=scale, noise=1.0)
    net.eval()
    out = net(x)
    assert out.shape == (16, 6)
    torch.testing.assert_close(net(x), out)
    torch.testing.assert_close(out, net.decode(net.encode(x)))
    net.train()
    noisy_a, noisy_b = net(x), net(x)
    assert not torch.allclose(noisy_a, noisy_b)
    assert not torch.allclose(noisy_a, out)


def test_autoencoder_without_noise_is_deterministic_in_train_mode(network_data):
    x, loc, scale = network_data
    net = Autoencoder(6, 2, (8,), loc=loc, scale=scale, noise=0.0).train()
    torch.testing.assert_close(net(x), net(x))
    torch.testing.assert_close(net(x), net.decode(net.encode(x)))


def test_autoencoder_shapes_and_likelihoods(network_data):
    x, loc, scale = network_data
    net = Autoencoder(6, 3, (8, 4), loc=loc, scale=scale)
    assert net.encode(x).shape == (16, 3)
    assert net.decode(net.encode(x)).shape == (16, 6)
    assert isinstance(net.likelihood, GaussianLikelihood) and not net.is_bernoulli
    # The decoder mirrors the encoder's hidden widths.
    assert [m.out_features for m in net.decoder.mlp if isinstance(m, nn.Linear)] == [4, 8, 6]
    # Gaussian: the target is the normalised input, the mean comes back in original units.
    torch.testing.assert_close(net.target(x), net.normalize(x))
    torch.testing.assert_close(net.reconstruct_mean(net.normalize(x)), x, rtol=1e-5, atol=1e-5)

    bern = Autoencoder(6, 3, (8,), likelihood="bernoulli")
    assert isinstance(bern.likelihood, BernoulliLikelihood) and bern.is_bernoulli
    u = torch.rand(5, 6)
    assert torch.equal(bern.target(u), u)
    mean = bern.reconstruct_mean(torch.randn(5, 6) * 100)
    assert torch.all((mean >= 0) & (mean <= 1))


def test_log_likelihood_is_in_original_units(network_data):
    # log p(x) of x itself: N(loc + scale * mu, scale^2 * var), the log-Jacobian included.
    x, loc, scale = network_data
    net = Autoencoder(6, 2, (), loc=loc, scale=scale * 2.0)
    net.likelihood.set_variance(0.3)
    params = net.decode(net.encode(x)).detach()
    got = net.log_likelihood(x, params).detach().numpy()
    mean = net.reconstruct_mean(params).detach().numpy()
    sd = scale * 2.0 * np.sqrt(0.3)
    expected = stats.norm.logpdf(x.numpy(), mean, sd).sum(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_log_likelihood_in_float64_shifts_exactly_with_the_scale(rng):
    # Scaling x and the normalisation by a power of 2 changes no normalised
    # value: log p(x) in float64 (scoring's) must shift by exactly
    # -n_features * log(c). A float32 log-Jacobian was off by 2e-3 nats here.
    n_features, c = 784, 2.0**20
    x = torch.as_tensor(rng.randn(4, n_features), dtype=torch.float64)
    net = Autoencoder(n_features, 2, (), loc=np.zeros(n_features), scale=np.array([3.7]))
    scaled = copy.deepcopy(net)
    scaled.normalize.scale.mul_(c)
    params = net.target(x).detach() + 0.1
    torch.testing.assert_close(scaled.normalize(c * x), net.normalize(x), rtol=0, atol=0)
    got = scaled.log_likelihood(c * x, params) + n_features * np.log(c)
    torch.testing.assert_close(got, net.log_likelihood(x, params), rtol=0, atol=1e-9)


def test_variational_autoencoder_forward_shapes(network_data):
    x, loc, scale = network_data
    torch.manual_seed(0)
    vae = VariationalAutoencoder(6, 3, (8,), loc=loc, scale=scale)
    params, mean, log_var = vae(x)
    assert params.shape == (16, 6)
    assert mean.shape == log_var.shape == (16, 3)
    enc_mean, enc_log_var = vae.encode(x)
    torch.testing.assert_close(mean, enc_mean)
    torch.testing.assert_close(log_var, enc_log_var)
    # One reparameterised draw per call: different decoder inputs each time.
    assert not torch.allclose(vae(x)[0], vae(x)[0])


@pytest.mark.parametrize("bias, bound", [(1e3, 1), (-1e3, 0)])
def test_variational_autoencoder_clamps_log_var(network_data, bias, bound):
    x, loc, scale = network_data
    vae = VariationalAutoencoder(6, 2, (), loc=loc, scale=scale)
    with torch.no_grad():
        vae.encoder.linear.bias[2:] = bias
    mean, log_var = vae.encode(x)
    assert torch.all(log_var == VariationalAutoencoder.LOG_VAR_RANGE[bound])
    assert torch.all(torch.isfinite(vae(x)[0]))
    assert torch.all(torch.isfinite(mean))
    low, high = VariationalAutoencoder.LOG_VAR_RANGE
    assert low < 0 < high
