"""The torch modules on their own: normalisation, MLP builder, residual maps, networks."""

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


def _perturbed_copy_pair(module, seed=0):
    """``module`` with every parameter moved off its start, and a deep copy of it."""
    import copy

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return module, copy.deepcopy(module)


def _assert_same_grads(reference, module):
    for (name, p), q in zip(reference.named_parameters(), module.parameters()):
        if p.grad is None:
            assert q.grad is None, name
        else:
            assert torch.equal(p.grad, q.grad), name


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("hidden", [(), (7,), (9, 5)])
@pytest.mark.parametrize("input_grad", [True, False])
def test_residual_mlp_backward_cached_equals_autograd_bit_for_bit(rng, activation, hidden,
                                                                  input_grad):
    reference, block = _perturbed_copy_pair(ResidualMLP(6, 3, hidden, activation))
    x = torch.as_tensor(rng.randn(11, 6), dtype=torch.float32)
    grad = torch.as_tensor(rng.randn(11, 3), dtype=torch.float32)

    x_ref = x.clone().requires_grad_(input_grad)
    out_ref = reference(x_ref)
    out_ref.backward(grad)
    with torch.no_grad():
        out, cache = block.forward_cached(x)
        grad_x = block.backward_cached(grad, cache, input_grad=input_grad)
    assert torch.equal(out, out_ref)
    _assert_same_grads(reference, block)
    if input_grad:
        assert torch.equal(grad_x, x_ref.grad)
    else:
        assert grad_x is None


def test_residual_mlp_backward_cached_accumulates_and_respects_frozen_parameters(rng):
    reference, block = _perturbed_copy_pair(ResidualMLP(4, 2, (5,)))
    for module in (reference, block):
        module.linear.weight.requires_grad_(False)
    x = torch.as_tensor(rng.randn(6, 4), dtype=torch.float32)
    grad = torch.as_tensor(rng.randn(6, 2), dtype=torch.float32)
    for _ in range(2):  # two passes without zeroing: gradients add up
        reference(x).backward(grad)
        with torch.no_grad():
            _, cache = block.forward_cached(x)
            block.backward_cached(grad, cache, input_grad=False)
    assert block.linear.weight.grad is None  # frozen, as autograd leaves it
    _assert_same_grads(reference, block)


def test_forward_cached_declines_what_only_autograd_can_differentiate(rng):
    x = torch.as_tensor(rng.randn(5, 4), dtype=torch.float32)
    with torch.no_grad():
        dropped = ResidualMLP(4, 2, (6,), dropout=0.5).train()
        assert dropped.forward_cached(x) == (None, None)
        # Dropout is inactive in evaluation mode: nothing to decline.
        assert dropped.eval().forward_cached(x)[0] is not None
        hooked = ResidualMLP(4, 2, (6,))
        hooked.mlp[0].register_forward_hook(lambda *args: None)
        assert hooked.forward_cached(x) == (None, None)
        net = Autoencoder(4, 2, (6,))
        net.register_forward_pre_hook(lambda *args: None)
        assert net.forward_cached(x) == (None, None, None)
        net = Autoencoder(4, 2, (6,), dropout=0.2).train()
        assert net.forward_cached(x) == (None, None, None)
        net = Autoencoder(4, 2, (6,))
        net.normalize.register_forward_hook(lambda *args: None)
        assert net.forward_cached(x) == (None, None, None)
        handle = nn.modules.module.register_module_forward_hook(lambda *args: None)
        try:  # a global hook sees every module's call: autograd's path must run
            assert Autoencoder(4, 2, (6,)).forward_cached(x) == (None, None, None)
        finally:
            handle.remove()
        assert Autoencoder(4, 2, (6,)).forward_cached(x)[0] is not None
        # gradient hooks: on a parameter of the linear path, of the MLP, or a module's
        net = Autoencoder(4, 2, (6,))
        net.encoder.linear.weight.register_hook(lambda g: g)
        assert net.forward_cached(x) == (None, None, None)
        net = Autoencoder(4, 2, (6,))
        net.decoder.mlp[0].bias.register_post_accumulate_grad_hook(lambda p: None)
        assert net.forward_cached(x) == (None, None, None)
        net = Autoencoder(4, 2, (6,))
        net.decoder.register_full_backward_hook(lambda *args: None)
        assert net.forward_cached(x) == (None, None, None)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_autoencoder_backward_cached_equals_autograd_bit_for_bit(rng, likelihood, noise):
    X = rng.rand(13, 6)
    reference, net = _perturbed_copy_pair(
        Autoencoder(6, 2, (8, 4), loc=X.mean(0), scale=[X.std()], likelihood=likelihood,
                    noise=noise)
    )
    x = torch.as_tensor(X, dtype=torch.float32)
    grad = torch.as_tensor(rng.randn(13, 6), dtype=torch.float32)
    torch.manual_seed(3)
    out_ref = reference.train()(x)
    out_ref.backward(grad)
    torch.manual_seed(3)  # the same noise is drawn
    with torch.no_grad():
        out, target, cache = net.train().forward_cached(x)
        net.backward_cached(grad, cache)
    assert torch.equal(out, out_ref)
    assert torch.equal(target, reference.target(x))
    _assert_same_grads(reference, net)
