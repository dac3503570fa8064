"""Per-fit generators: the same draws as the seeded global generator, without touching it."""

import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from skae._modules import Autoencoder, Dropout, VariationalAutoencoder
from skae._random import (
    DrawsRandom,
    build_seeded,
    draw_from,
    fit_generators,
    redirected_draws,
)


def _layers():
    # initialisations through kaiming_uniform_, init.uniform_ and a direct torch.randn
    return nn.ModuleList(
        [nn.Linear(4, 3), nn.GRU(3, 2), nn.Conv1d(2, 2, 3), _RandomBuffer(), nn.LayerNorm(3)]
    )


class _RandomBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("noise", torch.randn(5))


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_build_seeded_draws_what_the_seeded_global_generator_drew():
    torch.manual_seed(5)
    expected = _layers()
    state = torch.get_rng_state()
    built = build_seeded(_layers, torch.Generator().manual_seed(5))
    assert _same_state(built, expected)
    assert torch.equal(torch.get_rng_state(), state)  # not read, not advanced


def test_build_seeded_leaves_other_threads_alone():
    # While one thread builds, another draws from the global generator: it gets
    # exactly what it would have got alone, and the build is still seeded.
    torch.manual_seed(0)
    alone = torch.rand(4)
    torch.manual_seed(0)
    building, drawn, result = threading.Event(), threading.Event(), {}

    def other():
        building.wait()
        result["draws"] = torch.rand(4)
        drawn.set()

    def build():
        building.set()
        drawn.wait()
        return _layers()

    thread = threading.Thread(target=other)
    thread.start()
    built = build_seeded(build, torch.Generator().manual_seed(1))
    thread.join()
    assert torch.equal(result["draws"], alone)
    assert _same_state(built, build_seeded(_layers, torch.Generator().manual_seed(1)))


def test_dropout_draws_the_masks_of_f_dropout_from_its_generator():
    x = torch.randn(50, 7)
    torch.manual_seed(3)
    expected = F.dropout(x, 0.3, training=True)
    layer = Dropout(0.3)
    layer.generator = torch.Generator().manual_seed(3)
    state = torch.get_rng_state()
    assert torch.equal(layer(x), expected)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(layer.eval()(x), x)  # evaluation: identity, no draw


def test_dropout_without_a_generator_is_nn_dropout():
    x = torch.randn(20, 3)
    torch.manual_seed(4)
    expected = nn.Dropout(0.5)(x)
    torch.manual_seed(4)
    assert torch.equal(Dropout(0.5)(x), expected)


def test_redirected_draws_send_a_users_dropout_and_draws_to_the_generator():
    # A user's module knows no generator: nn.Dropout (in place or not) and its own
    # draws come from the one given, as from the seeded global generator.
    body = nn.Sequential(nn.Dropout(0.3), nn.Dropout(0.2, inplace=True))

    def forward(x):
        return body(x.clone()) + torch.randn_like(x)

    x = torch.randn(50, 7)
    torch.manual_seed(3)
    expected = forward(x)
    state = torch.get_rng_state()
    with redirected_draws(torch.Generator().manual_seed(3)):
        out = forward(x)
        assert torch.equal(body.eval()(x), x)  # evaluation: identity, no draw
    assert torch.equal(out, expected)
    assert torch.equal(torch.get_rng_state(), state)
    body.train()
    torch.manual_seed(3)
    with redirected_draws(None):  # no generator: the global one, as in plain torch
        assert torch.equal(forward(x), expected)


class _CudaGenerator:
    """Stands for a CUDA generator on a machine without one: only its device is read."""

    device = torch.device("cuda")


def test_redirected_draws_leave_draws_on_another_device_to_the_global_generator():
    # torch refuses a generator of another device: a user's module drawing on the
    # CPU while it trains on CUDA keeps the global generator, as in plain torch.
    body = nn.Dropout(0.3)
    x = torch.randn(20, 3)
    torch.manual_seed(2)
    expected = (torch.rand(4), torch.randn(2, device="cpu"), body(x))
    torch.manual_seed(2)
    with redirected_draws(_CudaGenerator()):
        drawn = (torch.rand(4), torch.randn(2, device="cpu"), body(x))
    assert all(torch.equal(a, b) for a, b in zip(drawn, expected))


@pytest.mark.parametrize(
    "build",
    [
        lambda: Autoencoder(4, 2, (6,), dropout=0.2, noise=0.3),
        lambda: VariationalAutoencoder(4, 2, (6,), dropout=0.2),
    ],
    ids=["autoencoder", "vae"],
)
def test_networks_draw_every_training_draw_from_their_generator(build):
    x = torch.randn(10, 4)
    torch.manual_seed(0)
    module = build().train()
    torch.manual_seed(9)
    expected = module(x)
    state = torch.get_rng_state()
    with draw_from(module, torch.Generator().manual_seed(9)):
        assert all(m.generator is not None for m in module.modules() if isinstance(m, DrawsRandom))
        out = module(x)
    assert torch.equal(torch.get_rng_state(), state)
    out, expected = (t if isinstance(t, tuple) else (t,) for t in (out, expected))
    assert all(torch.equal(a, b) for a, b in zip(out, expected))
    assert all(m.generator is None for m in module.modules() if isinstance(m, DrawsRandom))


def test_draw_from_resets_on_error():
    module = Autoencoder(4, 2, (6,), dropout=0.2)
    with pytest.raises(RuntimeError):
        with draw_from(module, torch.Generator()):
            raise RuntimeError
    assert module.generator is None and module.encoder.mlp[2].generator is None


def test_fit_generators_on_cpu_are_one_stream():
    init, training = fit_generators(11, "cpu")
    assert init is training
    torch.manual_seed(11)
    assert torch.equal(torch.rand(3, generator=init), torch.rand(3))
