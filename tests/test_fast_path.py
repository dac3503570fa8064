"""The speed layer: hand-written gradients equal autograd's, FlatAdam equals Adam, the switch."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from conftest import HOLD_OUT

import skae._fast_path
from skae import AutoencoderTransformer, VAETransformer
from skae._data import to_float32_tensor
from skae._fast_path import FlatAdam, manual_step
from skae._modules import ACTIVATIONS, Autoencoder, ResidualMLP, VariationalAutoencoder
from skae._objectives import NegativeELBO, ReconstructionLoss


def _perturbed_copy_pair(module, seed=0):
    """``module`` with every parameter moved off its start, and a deep copy of it."""
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
def test_residual_mlp_gradients_equal_autograd_bit_for_bit(rng, activation, hidden, input_grad):
    reference, block = _perturbed_copy_pair(ResidualMLP(6, 3, hidden, activation))
    x = torch.as_tensor(rng.randn(11, 6), dtype=torch.float32)
    grad = torch.as_tensor(rng.randn(11, 3), dtype=torch.float32)

    x_ref = x.clone().requires_grad_(input_grad)
    out_ref = reference(x_ref)
    out_ref.backward(grad)
    with torch.no_grad():
        plan = skae._fast_path._residual_layers(block)
        out, cache = skae._fast_path._residual_forward(plan, x)
        grad_x = skae._fast_path._residual_backward(plan, grad, cache, input_grad=input_grad)
    assert torch.equal(out, out_ref)
    _assert_same_grads(reference, block)
    if input_grad:
        assert torch.equal(grad_x, x_ref.grad)
    else:
        assert grad_x is None


def test_residual_mlp_gradients_accumulate_and_respect_frozen_parameters(rng):
    reference, block = _perturbed_copy_pair(ResidualMLP(4, 2, (5,)))
    for module in (reference, block):
        module.linear.weight.requires_grad_(False)
    x = torch.as_tensor(rng.randn(6, 4), dtype=torch.float32)
    grad = torch.as_tensor(rng.randn(6, 2), dtype=torch.float32)
    plan = skae._fast_path._residual_layers(block)
    for _ in range(2):  # two passes without zeroing: gradients add up
        reference(x).backward(grad)
        with torch.no_grad():
            _, cache = skae._fast_path._residual_forward(plan, x)
            skae._fast_path._residual_backward(plan, grad, cache, input_grad=False)
    assert block.linear.weight.grad is None  # frozen, as autograd leaves it
    _assert_same_grads(reference, block)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("noise", [0.0, 0.3])
@pytest.mark.parametrize("hidden", [(), (6,), (8, 4)])
def test_manual_step_equals_autograd_bit_for_bit(rng, likelihood, noise, hidden):
    X = torch.as_tensor(rng.rand(20, 5), dtype=torch.float32)
    reference, net = _perturbed_copy_pair(
        Autoencoder(5, 2, hidden, likelihood=likelihood, loc=X.mean(0), scale=[X.std()],
                    noise=noise).train()
    )
    criterion = ReconstructionLoss()
    torch.manual_seed(3)
    output_ref = reference(X)
    expected = criterion(output_ref, X, reference, training=True)
    expected.backward()
    torch.manual_seed(3)  # the same noise is drawn
    loss, output = manual_step(net, criterion, X)
    assert torch.equal(loss, expected.detach())
    assert torch.equal(output, output_ref.detach())
    assert not loss.requires_grad and not output.requires_grad
    _assert_same_grads(reference, net)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("hidden", [(), (6,), (8, 4)])
@pytest.mark.parametrize("beta, kl_weight", [(1.0, 1.0), (0.5, 1.0), (3.0, 0.25)])
# 5 features: the kernels' scalar loops only; 70: their vector loops and a remainder
@pytest.mark.parametrize("n_samples, n_features", [(23, 5), (64, 70)])
@pytest.mark.parametrize("conditional", [True, False])
def test_vae_manual_step_equals_autograd_bit_for_bit(rng, activation, hidden, beta, kl_weight,
                                                     n_samples, n_features, conditional):
    X = torch.as_tensor(rng.rand(n_samples, n_features) * 3, dtype=torch.float32)
    net = VariationalAutoencoder(n_features, 2, hidden, activation, loc=X.mean(0),
                                 scale=[X.std()], conditional_variance=conditional).train()
    reference, net = _perturbed_copy_pair(net)
    with torch.no_grad():  # one log-variance clamped at each end: no gradient there
        for module in (reference, net):
            module.encoder.linear.bias[2:] += torch.tensor([30.0, -30.0])
    criterion = NegativeELBO(beta)
    criterion.kl_weight = kl_weight
    recorded, recorded_ref = [], []
    reference.generator = torch.Generator().manual_seed(3)
    net.generator = torch.Generator().manual_seed(3)  # the same noise is drawn
    output_ref = reference(X)
    expected = criterion(output_ref, X, reference, training=True,
                         record=lambda *item: recorded_ref.append(item))
    expected.backward()
    loss, output = manual_step(net, criterion, X, record=lambda *item: recorded.append(item))
    assert torch.equal(loss, expected.detach()) and recorded == recorded_ref
    assert all(torch.equal(o, r.detach()) for o, r in zip(output, output_ref))
    assert not loss.requires_grad
    _assert_same_grads(reference, net)
    assert net.encoder.linear.bias.grad[2:].eq(0).all()


class _MyAutoencoder(Autoencoder):
    """A subclass: its forward could be anything, so the speed layer declines it."""


class _MyLoss(ReconstructionLoss):
    pass


def _declined_cases():
    """(description, build) pairs: networks and objectives only autograd may train."""

    def hooked(path, register):
        def build():
            net = Autoencoder(4, 2, (6,))
            target = net.get_submodule(path) if path else net
            register(target)
            return net, ReconstructionLoss()
        return build

    def swapped(build_net, criterion=ReconstructionLoss):
        return lambda: (build_net(), criterion())

    def other_body():
        net = Autoencoder(4, 2, (6,))
        net.decoder = nn.Sequential(nn.Linear(2, 4))
        return net

    def other_activation():
        net = Autoencoder(4, 2, (6,))
        net.encoder.mlp[1] = nn.Softplus()
        return net

    def other_layer():
        net = Autoencoder(4, 2, (6,))
        net.encoder.mlp[0] = nn.Bilinear(4, 4, 6)
        return net

    forward_hook = lambda m: m.register_forward_hook(lambda *args: None)  # noqa: E731
    return [
        ("dropout in training", swapped(lambda: Autoencoder(4, 2, (6,), dropout=0.2))),
        ("a subclass", swapped(lambda: _MyAutoencoder(4, 2, (6,)))),
        ("the VAE's network", lambda: (VariationalAutoencoder(4, 2, (6,)),
                                       ReconstructionLoss())),
        ("the VAE with a Bernoulli likelihood",
         lambda: (VariationalAutoencoder(4, 2, (6,), likelihood="bernoulli"), NegativeELBO())),
        ("the VAE with dropout in training",
         lambda: (VariationalAutoencoder(4, 2, (6,), dropout=0.2, conditional_variance=True),
                  NegativeELBO())),
        ("another objective", swapped(lambda: Autoencoder(4, 2, (6,)), _MyLoss)),
        ("another body", swapped(other_body)),
        ("an activation without a known gradient", swapped(other_activation)),
        ("another layer type", swapped(other_layer)),
        ("forward pre-hook on the network",
         hooked("", lambda m: m.register_forward_pre_hook(lambda *args: None))),
        ("forward hook on the normalisation", hooked("normalize", forward_hook)),
        ("forward hook on an MLP layer", hooked("encoder.mlp.0", forward_hook)),
        ("forward hook on the MLP container", hooked("decoder.mlp", forward_hook)),
        ("forward hook on the criterion", lambda: (Autoencoder(4, 2, (6,)),
                                                    _hooked_loss())),
        ("gradient hook on the linear path",
         hooked("encoder.linear", lambda m: m.weight.register_hook(lambda g: g))),
        ("post-accumulate hook in the MLP",
         hooked("decoder.mlp.0",
                lambda m: m.bias.register_post_accumulate_grad_hook(lambda p: None))),
        ("backward hook on the decoder",
         hooked("decoder", lambda m: m.register_full_backward_hook(lambda *args: None))),
    ]


def _hooked_loss():
    loss = ReconstructionLoss()
    loss.register_forward_hook(lambda *args: None)
    return loss


@pytest.mark.parametrize("case", _declined_cases(), ids=lambda case: case[0])
def test_manual_step_declines_what_only_autograd_reproduces(rng, case):
    net, criterion = case[1]()
    x = torch.as_tensor(rng.randn(5, 4), dtype=torch.float32)
    state = torch.get_rng_state()
    assert manual_step(net.train(), criterion, x) is None
    # Declined before computing anything: no gradient written, no noise drawn.
    assert all(p.grad is None for p in net.parameters())
    assert torch.equal(torch.get_rng_state(), state)


def test_manual_step_declines_a_global_hook_and_handles_dropout_in_evaluation(rng):
    x = torch.as_tensor(rng.randn(5, 4), dtype=torch.float32)
    handle = nn.modules.module.register_module_forward_hook(lambda *args: None)
    try:  # a global hook sees every module's call: autograd's path must run
        assert manual_step(Autoencoder(4, 2, (6,)), ReconstructionLoss(), x) is None
    finally:
        handle.remove()
    assert manual_step(Autoencoder(4, 2, (6,)), ReconstructionLoss(), x) is not None
    # Dropout is inactive in evaluation mode: nothing to decline.
    dropped = Autoencoder(4, 2, (6,), dropout=0.5).eval()
    assert manual_step(dropped, ReconstructionLoss(), x) is not None


def test_the_switch_turns_the_speed_layer_off(rng, monkeypatch):
    x = torch.as_tensor(rng.randn(5, 4), dtype=torch.float32)
    monkeypatch.setattr(skae._fast_path, "ENABLED", False)
    assert manual_step(Autoencoder(4, 2, (6,)), ReconstructionLoss(), x) is None
    ps, adam, qs, flat = _adam_pair(True)
    _set_grads(ps, qs, torch.Generator().manual_seed(0))
    adam.step()
    flat.step()
    assert flat._flat is None and len(flat.param_groups[0]["params"]) == len(qs)
    assert all(torch.equal(p, q) for p, q in zip(ps, qs))


def _fit_skae_net(fit_net, X, monkeypatch, enabled=True, **params):
    monkeypatch.setattr(skae._fast_path, "ENABLED", enabled)
    torch.manual_seed(0)
    net = fit_net(Autoencoder(4, 2, (8,), loc=X.mean(0), scale=[X.std()]), X, lr=1e-2,
                  max_epochs=4, batch_size=16, iterator_train__shuffle=True, **params)
    monkeypatch.undo()
    return net


@pytest.mark.parametrize("clip", [False, True])
def test_skae_net_manual_gradients_train_the_same_model_as_autograd(fit_net, rng, monkeypatch,
                                                                    clip):
    from skorch.callbacks import GradientNormClipping

    # A callback acting on the gradients (on_grad_computed) sees the hand-written ones.
    params = {"callbacks": [("clip", GradientNormClipping(0.05))]} if clip else {}
    X = to_float32_tensor(rng.randn(50, 4), "cpu")
    manual = _fit_skae_net(fit_net, X, monkeypatch, **params)
    autograd = _fit_skae_net(fit_net, X, monkeypatch, enabled=False, **params)
    assert manual.history[:, "train_loss"] == autograd.history[:, "train_loss"]
    for p, q in zip(manual.module_.parameters(), autograd.module_.parameters()):
        assert torch.equal(p, q)
    if clip:  # clipping changed the training: the comparison above can fail
        unclipped = _fit_skae_net(fit_net, X, monkeypatch)
        assert unclipped.history[:, "train_loss"] != manual.history[:, "train_loss"]


def _count_backward_calls(monkeypatch):
    calls = []
    backward = torch.Tensor.backward

    def counting_backward(self, *args, **kwargs):
        calls.append(1)
        return backward(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", counting_backward)
    return calls


_FAST = dict(n_components=2, max_epochs=10, hidden_layer_sizes=(16,), random_state=0,
             **HOLD_OUT)


@pytest.mark.parametrize(
    "estimator, autograd_expected",
    [
        (AutoencoderTransformer(**_FAST), False),
        (AutoencoderTransformer(activation="gelu", noise=0.1, loss="bce", **_FAST), False),
        (AutoencoderTransformer(dropout=0.2, **_FAST), True),  # dropout: autograd's path
        (VAETransformer(**_FAST), False),
        (VAETransformer(decoder_variance="feature", **_FAST), False),
        (VAETransformer(dropout=0.2, **_FAST), True),
    ],
)
def test_fit_uses_hand_written_gradients_unless_autograd_is_needed(
    unit_interval_X, monkeypatch, estimator, autograd_expected
):
    # The speed layer is what makes fit as fast as a hand-written loop: a change
    # that silently sent every batch through autograd again would fail here.
    calls = _count_backward_calls(monkeypatch)
    estimator.fit(unit_interval_X)
    assert bool(calls) == autograd_expected


@pytest.mark.parametrize(
    "Estimator, params",
    [(AutoencoderTransformer, {}),
     (AutoencoderTransformer, {"activation": "tanh", "input_scaling": "feature",
                               "weight_decay": 1e-3, "noise": 0.1}),
     (VAETransformer, {}),
     (VAETransformer, {"activation": "tanh", "beta": 2.0, "kl_warmup_epochs": 3})],
)
def test_the_switch_sends_fit_through_autograd_and_gives_the_same_model(
    unit_interval_X, monkeypatch, Estimator, params
):
    fast = Estimator(**_FAST, **params).fit(unit_interval_X)
    monkeypatch.setattr(skae._fast_path, "ENABLED", False)
    calls = _count_backward_calls(monkeypatch)
    slow = Estimator(**_FAST, **params).fit(unit_interval_X)
    train_batches = [b for epoch in slow.history_ for b in epoch["batches"] if "train_loss" in b]
    assert len(calls) == len(train_batches)  # every training batch through autograd
    assert fast.loss_curve_ == slow.loss_curve_
    np.testing.assert_array_equal(fast.transform(unit_interval_X), slow.transform(unit_interval_X))
    for p, q in zip(fast.net_.module_.parameters(), slow.net_.module_.parameters()):
        assert torch.equal(p, q)


def test_skae_net_parameters_own_their_storage_after_training(fit_net, rng):
    import pickle

    X = to_float32_tensor(rng.randn(40, 4), "cpu")
    net = fit_net(Autoencoder(4, 2, (64,)), X, optimizer=FlatAdam, max_epochs=2, batch_size=10)
    params = list(net.module_.parameters())
    # unpacked, but flattened again by the next training run (partial_fit)
    assert net.optimizer_._flat is None and net.optimizer_._flat_possible
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)
    # so a pickle holds each weight once (a view would carry the whole flat buffer)
    weights = sum(p.numel() * 4 for p in params)
    assert len(pickle.dumps(net.module_)) < 3 * weights + 20_000


# Shapes of the default autoencoder's kind plus ragged ones (8 and 21 elements),
# which must stay outside the flat buffer for the updates to match bit for bit.
_SHAPES = [(8, 64), (8,), (128, 64), (128,), (64, 128), (64,), (7, 3), (64, 8)]


def _adam_pair(fused, **kwargs):
    gen = torch.Generator().manual_seed(0)
    ps = [torch.randn(s, generator=gen).requires_grad_() for s in _SHAPES]
    qs = [p.detach().clone().requires_grad_() for p in ps]
    return (ps, torch.optim.Adam(ps, lr=1e-2, fused=fused, **kwargs),
            qs, FlatAdam(qs, lr=1e-2, fused=fused, **kwargs))


def _set_grads(ps, qs, gen, skip=()):
    for i, (p, q) in enumerate(zip(ps, qs)):
        if i in skip:
            continue
        g = torch.randn(p.shape, generator=gen) * 10.0 ** -torch.randint(0, 7, (), generator=gen)
        p.grad, q.grad = g.clone(), g.clone()


def _step_both(adam, flat, ps, qs, gen, skip=()):
    """One step of both optimizers on the same random gradients."""
    adam.zero_grad()
    flat.zero_grad()
    _set_grads(ps, qs, gen, skip)
    adam.step()
    flat.step()


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 1e-2}, {"amsgrad": True}])
def test_flat_adam_equals_adam_bit_for_bit(fused, kwargs):
    ps, adam, qs, flat = _adam_pair(fused, **kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(30):
        _step_both(adam, flat, ps, qs, gen)
        for p, q in zip(ps, qs):
            assert torch.equal(p, q)
    flat_param, members, others = flat._flat
    assert len(flat.param_groups[0]["params"]) == 1 + len(others) < len(qs)
    assert {q.numel() for q in others} == {8, 21}  # the ragged tensors stay apart
    # The members keep their identity; their storage is the flat parameter's.
    assert all(any(q is m for m in members) for q in qs if q.numel() % 64 == 0)
    assert all(m.untyped_storage().data_ptr() == flat_param.untyped_storage().data_ptr()
               for m in members)


def test_flat_adam_zero_grad_clears_the_members_gradients():
    ps, _, qs, flat = _adam_pair(True)
    _set_grads(ps, qs, torch.Generator().manual_seed(0))
    flat.step()
    flat.zero_grad()
    assert all(q.grad is None for q in qs)
    _set_grads(ps, qs, torch.Generator().manual_seed(0))
    flat.zero_grad(set_to_none=False)
    assert all(q.grad is not None and not q.grad.any() for q in qs)


def test_flat_adam_follows_learning_rate_changes_and_closures():
    ps, adam, qs, flat = _adam_pair(True)
    gen = torch.Generator().manual_seed(2)
    for step in range(6):
        if step == 3:  # as skorch's LRScheduler does, on the (now flat) group
            adam.param_groups[0]["lr"] = flat.param_groups[0]["lr"] = 1e-3
        _set_grads(ps, qs, gen)
        adam.step()
        assert flat.step(lambda: torch.tensor(1.5)).item() == 1.5
    assert all(torch.equal(p, q) for p, q in zip(ps, qs))


def test_flat_adam_returns_to_per_tensor_adam_when_a_gradient_disappears():
    ps, adam, qs, flat = _adam_pair(True, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(3)
    for step in range(12):
        # From step 6 the 128 x 64 weight is frozen: no gradient, no update.
        _step_both(adam, flat, ps, qs, gen, skip=(2,) if step >= 6 else ())
        assert (flat._flat is not None) == (step < 6)
        assert all(torch.equal(p, q) for p, q in zip(ps, qs))


def test_flat_adam_unflatten_gives_members_their_own_storage_and_state():
    ps, adam, qs, flat = _adam_pair(True, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(4)
    for step in range(8):
        if step == 4:
            flat.unflatten()
            flat.unflatten()  # a no-op once per-tensor
            assert flat._flat is None
            pointers = {q.untyped_storage().data_ptr() for q in qs}
            assert len(pointers) == len(qs)
            assert set(flat.state) == {q for q in qs}  # every tensor has its Adam state
        _step_both(adam, flat, ps, qs, gen)
        assert all(torch.equal(p, q) for p, q in zip(ps, qs))


@pytest.mark.parametrize("kwargs", [{"weight_decay": 1e-3}, {"amsgrad": True}])
def test_flat_adam_unpacked_between_runs_flattens_again_with_its_state(kwargs):
    # skae unpacks FlatAdam when training ends; partial_fit's next run goes on flat
    ps, adam, qs, flat = _adam_pair(True, **kwargs)
    gen = torch.Generator().manual_seed(6)
    for step in range(10):
        if step in (3, 7):
            flat.unflatten(for_good=False)
            assert flat._flat is None and set(flat.state) == set(qs)
        _step_both(adam, flat, ps, qs, gen)
        assert flat._flat is not None  # flat again, Adam's state joined
        assert all(torch.equal(p, q) for p, q in zip(ps, qs))
    flat_param, members, others = flat._flat
    assert set(flat.state) == {flat_param, *others}


@pytest.mark.parametrize("kwargs", [{"weight_decay": 1e-3}, {"amsgrad": True}])
def test_flat_adam_state_kept_flat_and_restored_per_tensor(kwargs):
    # Early stopping keeps the state of its best epoch (flat, mid-training) and
    # restores it with the weights when training ends (per tensor by then).
    ps, adam, qs, flat = _adam_pair(True, **kwargs)
    gen = torch.Generator().manual_seed(7)
    for step in range(9):
        if step == 5:
            assert flat._flat is not None
            kept = flat.state_by_parameter(), [q.detach().clone() for q in qs]
            kept_adam = copy.deepcopy(adam.state_dict()), [p.detach().clone() for p in ps]
        _step_both(adam, flat, ps, qs, gen)
    flat.unflatten(for_good=False)  # as when training ends
    assert set(kept[0]) == set(qs)  # one entry per tensor, none for the flat buffer
    with torch.no_grad():
        for p, q, (p0, q0) in zip(ps, qs, zip(kept_adam[1], kept[1])):
            p.copy_(p0)
            q.copy_(q0)
    adam.load_state_dict(kept_adam[0])
    flat.load_state_by_parameter(kept[0])
    for _ in range(4):  # continued (partial_fit): flat again, as Adam from that step
        _step_both(adam, flat, ps, qs, gen)
        assert all(torch.equal(p, q) for p, q in zip(ps, qs))
    assert flat._flat is not None


def test_flat_adam_stays_per_tensor_when_the_states_cannot_be_joined():
    ps, adam, qs, flat = _adam_pair(True)
    gen = torch.Generator().manual_seed(7)
    flat.zero_grad()
    _set_grads(ps, qs, gen)
    flat.step()
    flat.unflatten(for_good=False)
    flat.state[qs[0]]["step"] += 1  # one member took a step the others did not
    _set_grads(ps, qs, gen)
    flat.step()
    assert flat._flat is None and not flat._flat_possible


def test_flat_adam_unflatten_restores_the_parameter_order():
    # state_dict numbers the parameters by position: after unflatten it must load
    # into a fresh optimizer over the same parameters (a loaded model's; fused
    # Adam crashed on the mismatched shapes).
    ps, adam, qs, flat = _adam_pair(False)
    gen = torch.Generator().manual_seed(5)
    for _ in range(3):
        flat.zero_grad()
        _set_grads(ps, qs, gen)
        flat.step()
    flat.unflatten()
    assert [id(q) for q in flat.param_groups[0]["params"]] == [id(q) for q in qs]
    copies = [q.detach().clone().requires_grad_() for q in qs]
    fresh = FlatAdam(copies, lr=1e-2)
    fresh.load_state_dict(flat.state_dict())
    for q, c in zip(qs, copies):
        assert all(torch.equal(flat.state[q][key], fresh.state[c][key]) for key in flat.state[q])


def test_flat_adam_pickled_with_its_parameters_keeps_training(rng):
    import pickle

    ps, adam, qs, flat = _adam_pair(True)
    gen = torch.Generator().manual_seed(5)
    _set_grads(ps, qs, gen)
    adam.step()
    flat.step()
    qs, flat = pickle.loads(pickle.dumps((qs, flat)))  # as skorch pickles module and optimizer
    assert flat._flat is not None
    _set_grads(ps, qs, gen)
    adam.step()
    flat.step()
    assert all(torch.equal(p, q) for p, q in zip(ps, qs))
