"""Loss maths on its own, against closed forms and reference implementations."""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from skae._likelihoods import (
    BernoulliLikelihood,
    GaussianLikelihood,
    bernoulli_log_prob,
    floored_log_var,
    gaussian_log_prob,
    kl_diag_gaussians,
    log_mean_exp,
)


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def test_gaussian_log_prob_matches_scipy(rng):
    x, mean = rng.randn(50, 4) * 3, rng.randn(50, 4)
    log_var = rng.uniform(-6, 4, size=(50, 4))
    expected = stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * log_var))
    got = gaussian_log_prob(_t(x), _t(mean), _t(log_var)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_gaussian_log_prob_broadcasts_per_feature_log_var(rng):
    x, mean, log_var = rng.randn(10, 3), rng.randn(10, 3), np.array([-1.0, 0.0, 2.0])
    expected = stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * log_var))
    got = gaussian_log_prob(_t(x), _t(mean), _t(log_var)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("fractional", [False, True])
def test_bernoulli_log_prob_matches_closed_form(rng, fractional):
    logits = rng.randn(40, 5) * 4
    logits[0, :2] = [60.0, -60.0]  # saturated sigmoid stays finite
    x = rng.uniform(size=logits.shape) if fractional else (rng.uniform(size=logits.shape) > 0.5)
    x = x.astype(np.float64)
    p = special.expit(logits)
    # x log p + (1 - x) log(1 - p), with log p = -log(1 + e^-l), log(1 - p) = -log(1 + e^l)
    expected = -x * np.logaddexp(0, -logits) - (1 - x) * np.logaddexp(0, logits)
    got = bernoulli_log_prob(_t(x), _t(logits)).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    moderate = np.abs(logits) < 20
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = x * np.log(p) + (1 - x) * np.log1p(-p)
    np.testing.assert_allclose(got[moderate], naive[moderate], rtol=1e-8)


def _kl_closed_form(mq, lvq, mp, lvp):
    vq, vp = np.exp(lvq), np.exp(lvp)
    return 0.5 * np.sum(np.log(vp / vq) + (vq + (mq - mp) ** 2) / vp - 1.0, axis=-1)


def test_kl_against_standard_normal_matches_closed_form(rng):
    mq, lvq = rng.randn(30, 4), rng.uniform(-3, 2, size=(30, 4))
    got = kl_diag_gaussians(_t(mq), _t(lvq)).numpy()
    assert got.shape == (30,)
    np.testing.assert_allclose(
        got, _kl_closed_form(mq, lvq, np.zeros_like(mq), np.zeros_like(lvq)), rtol=1e-12
    )
    # Textbook form for the N(0, I) prior: -1/2 sum(1 + log var - mean^2 - var).
    textbook = -0.5 * np.sum(1 + lvq - mq**2 - np.exp(lvq), axis=1)
    np.testing.assert_allclose(got, textbook, rtol=1e-12)


def test_kl_against_non_standard_prior_matches_closed_form_and_torch(rng):
    mq, lvq = rng.randn(30, 4), rng.uniform(-3, 2, size=(30, 4))
    mp, lvp = rng.randn(30, 4) + 2.0, rng.uniform(-1, 3, size=(30, 4))
    got = kl_diag_gaussians(_t(mq), _t(lvq), _t(mp), _t(lvp)).numpy()
    np.testing.assert_allclose(got, _kl_closed_form(mq, lvq, mp, lvp), rtol=1e-12)
    q = torch.distributions.Normal(_t(mq), torch.exp(0.5 * _t(lvq)))
    p = torch.distributions.Normal(_t(mp), torch.exp(0.5 * _t(lvp)))
    reference = torch.distributions.kl_divergence(q, p).sum(-1).numpy()
    np.testing.assert_allclose(got, reference, rtol=1e-10)
    assert np.all(got > 0)


def test_kl_of_identical_distributions_is_zero(rng):
    m, lv = rng.randn(10, 3) * 5 + 3, rng.uniform(-4, 4, size=(10, 3))
    got = kl_diag_gaussians(_t(m), _t(lv), _t(m), _t(lv)).numpy()
    np.testing.assert_allclose(got, 0.0, atol=1e-12)
    # and the standard prior against itself
    zeros = torch.zeros(5, 2, dtype=torch.float64)
    np.testing.assert_allclose(kl_diag_gaussians(zeros, zeros).numpy(), 0.0, atol=1e-15)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_mean_exp_matches_numpy(rng, dim):
    values = rng.randn(7, 9) * 3
    expected = np.log(np.mean(np.exp(values), axis=dim))
    np.testing.assert_allclose(log_mean_exp(_t(values), dim=dim).numpy(), expected, rtol=1e-12)


def test_log_mean_exp_is_stable_for_large_values():
    values = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]])
    expected = special.logsumexp(values, axis=1) - math.log(3)
    got = log_mean_exp(_t(values), dim=1).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("min_variance", [1e-4, 1e-2, 1.0])
def test_floored_log_var_never_below_the_floor(min_variance):
    raw = torch.tensor([-1e6, -100.0, -20.0, -1.0, 0.0, 3.0, 50.0], dtype=torch.float64)
    got = floored_log_var(raw, min_variance)
    assert torch.all(got >= math.log(min_variance))
    np.testing.assert_allclose(
        got.numpy(), np.log(min_variance + np.exp(raw.numpy())), rtol=1e-12, atol=1e-12
    )
    # float32 too, where exp(raw) underflows
    got32 = floored_log_var(raw.float(), min_variance)
    assert got32.dtype == torch.float32
    assert torch.all(got32 >= torch.tensor(math.log(min_variance), dtype=torch.float32))


def test_floored_log_var_has_gradient():
    raw = torch.zeros(3, requires_grad=True)
    floored_log_var(raw, 1e-4).sum().backward()
    assert torch.all(raw.grad > 0)


@pytest.mark.parametrize("variance", [0.5, 1.0, 3.0, [1e-3, 0.2, 7.0]])
def test_gaussian_likelihood_set_variance_round_trip(variance):
    lik = GaussianLikelihood(3, min_variance=1e-4)
    lik.set_variance(variance)
    np.testing.assert_allclose(
        torch.exp(lik.log_var()).detach().numpy(),
        np.broadcast_to(variance, (3,)),
        rtol=1e-5,
    )


def test_gaussian_likelihood_set_variance_below_floor_is_clipped():
    lik = GaussianLikelihood(2, min_variance=1e-2)
    lik.set_variance([0.0, 1e-5])
    np.testing.assert_allclose(torch.exp(lik.log_var()).detach().numpy(), 1e-2, rtol=1e-5)
    assert torch.all(torch.isfinite(lik.raw_log_var))


def test_gaussian_likelihood_log_prob_mean_and_sample(rng):
    lik = GaussianLikelihood(4, min_variance=1e-4)
    lik.set_variance([0.1, 0.5, 1.0, 2.0])
    x = torch.as_tensor(rng.randn(6, 4), dtype=torch.float32)
    params = torch.as_tensor(rng.randn(6, 4), dtype=torch.float32)
    expected = stats.norm.logpdf(
        x.numpy(), params.numpy(), np.sqrt([0.1, 0.5, 1.0, 2.0])
    )
    np.testing.assert_allclose(lik.log_prob(x, params).detach().numpy(), expected, rtol=1e-4)
    assert torch.equal(lik.mean(params), params)
    big = params.repeat(5000, 1)
    draws = lik.sample(big, generator=torch.Generator().manual_seed(0)).detach()
    assert draws.shape == big.shape
    np.testing.assert_allclose(
        (draws - big).var(dim=0).numpy(), [0.1, 0.5, 1.0, 2.0], rtol=0.1
    )
    again = lik.sample(big, generator=torch.Generator().manual_seed(0)).detach()
    assert torch.equal(draws, again)


def test_conditional_gaussian_likelihood_reads_mean_and_log_variance_offsets(rng):
    # The decoder's output is [mean, offset]: variance = floor + exp(raw + offset).
    lik = GaussianLikelihood(3, min_variance=1e-3, conditional=True)
    lik.set_variance([0.1, 0.5, 2.0])
    assert lik.params_per_feature == 2 and GaussianLikelihood(3).params_per_feature == 1
    mean = torch.as_tensor(rng.randn(5, 3), dtype=torch.float64)
    offset = torch.as_tensor(rng.randn(5, 3), dtype=torch.float64)
    x = torch.as_tensor(rng.randn(5, 3), dtype=torch.float64)
    params = torch.cat([mean, offset], dim=1)
    assert torch.equal(lik.mean(params), mean)
    variance = 1e-3 + (np.array([0.1, 0.5, 2.0]) - 1e-3) * np.exp(offset.numpy())
    expected = stats.norm.logpdf(x.numpy(), mean.numpy(), np.sqrt(variance))
    np.testing.assert_allclose(lik.log_prob(x, params).detach().numpy(), expected, rtol=1e-5)
    # A zero offset is the per-feature variance; no offset can go below the floor.
    at_zero = torch.cat([mean, torch.zeros_like(offset)], dim=1)
    torch.testing.assert_close(lik.log_var(at_zero), lik.log_var().double().expand(5, 3))
    very_low = torch.cat([mean, torch.full_like(offset, -1e3)], dim=1)
    assert torch.all(lik.log_var(very_low) >= math.log(1e-3) - 1e-6)
    draws = lik.sample(params.repeat(4000, 1), generator=torch.Generator().manual_seed(0))
    spread = (draws - mean.repeat(4000, 1)).view(4000, 5, 3).var(dim=0).detach().numpy()
    np.testing.assert_allclose(spread, variance, rtol=0.15)


def test_bernoulli_likelihood_mean_in_unit_interval_and_samples_binary():
    lik = BernoulliLikelihood()
    logits = torch.tensor([[-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4]])
    mean = lik.mean(logits)
    assert torch.all((mean >= 0) & (mean <= 1))
    assert mean[0, 3] == 0.5
    draws = lik.sample(logits.repeat(100, 1), generator=torch.Generator().manual_seed(0))
    assert set(torch.unique(draws).tolist()) <= {0.0, 1.0}
    assert torch.all(draws[:, 0] == 0) and torch.all(draws[:, -1] == 1)
    x = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    np.testing.assert_allclose(
        lik.log_prob(x, logits).numpy(), bernoulli_log_prob(x, logits).numpy()
    )
