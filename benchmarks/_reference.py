"""Plain PyTorch autoencoders and their hand-written training loop: the references.

No skae code here: the networks a PyTorch user would write from a tutorial, and
one honest training loop (data pre-loaded as one tensor, a shuffled copy sliced
per epoch, fused Adam where supported, ``zero_grad(set_to_none=True)``). The
quality benchmark (``bench_architectures.py``) and the speed benchmark
(``run.py``) both use them.

* :class:`ConvAE` -- the issue's convolutional autoencoder for 28 x 28 images: two
  stride-2 3 x 3 convolutions (32 and 64 channels) and a linear map to the code;
  the decoder mirrors it with transposed convolutions. Trained with BCE on pixels
  in [0, 1].
* :class:`MLPAE` -- a mirrored MLP (784-256-128-16 for the issue's MLP loop).
* :class:`GaussianVAE` -- a tutorial VAE with a Gaussian decoder: mirrored MLPs, the
  encoder giving the posterior's mean and log-variance, the decoder the mean and (by
  default) one learned log-variance per feature; :func:`negative_elbo` is its
  one-sample objective and :func:`iwae_log_likelihood` its held-out ``log p(x)``.
* :class:`RecurrentAE` (``cell="gru"`` or ``"lstm"``) -- a recurrent autoencoder: the
  encoder's last hidden state is mapped to the code; the decoder starts its hidden state from
  the code and is fed the code at every step, and a linear read-out gives each
  step's channels.

:func:`add_early_stopping_option` and :func:`early_stopping_params` give the
quality benchmarks (``bench_vs_loop.py``, ``bench_vs_pca.py``) one
``--early-stopping`` option for skae's estimator.
"""

import contextlib
import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class ConvAE(nn.Module):
    """Conv autoencoder for ``(C, H, W)`` images (stride-2 3 x 3 convs, mirrored)."""

    def __init__(self, shape=(1, 28, 28), n_components=16, channels=(32, 64)):
        super().__init__()
        c, h, w = shape
        enc, sizes = [], [(h, w)]
        for c_in, c_out in zip((c, *channels[:-1]), channels):
            enc += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
            h, w = (h + 1) // 2, (w + 1) // 2
            sizes.append((h, w))
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(channels[-1] * h * w,
                                                                    n_components))
        dec = [nn.Linear(n_components, channels[-1] * h * w), nn.ReLU(),
               nn.Unflatten(1, (channels[-1], h, w))]
        outs = (*reversed(channels[:-1]), c)
        for i, (c_in, c_out) in enumerate(zip(reversed(channels), outs)):
            # output_padding restores odd sizes (7 -> 14 -> 28, 4 -> 7, ...).
            target = sizes[-2 - i]
            pad = (target[0] - (2 * sizes[-1 - i][0] - 1), target[1] - (2 * sizes[-1 - i][1] - 1))
            dec.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1,
                                          output_padding=pad))
            if i < len(channels) - 1:
                dec.append(nn.ReLU())
        self.decoder = nn.Sequential(*dec)
        self.shape = shape

    def encode(self, x):
        return self.encoder(x.view(-1, *self.shape))

    def decode(self, z):
        return self.decoder(z).flatten(1)  # logits

    def forward(self, x):
        return self.decode(self.encode(x))


class MLPAE(nn.Module):
    """Mirrored MLP ``n_features -> hidden -> k -> reversed(hidden) -> n_features``."""

    def __init__(self, n_features, hidden=(256, 128), n_components=16):
        super().__init__()
        widths = [n_features, *hidden, n_components]
        self.encoder = _mlp(widths)
        self.decoder = _mlp(widths[::-1])

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


def _mlp(widths):
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class GaussianVAE(nn.Module):
    """``n_features -> hidden -> 2k`` encoder, ``k -> reversed(hidden) -> n_features`` decoder.

    ``heteroscedastic=False`` (the tutorial's): one learned log-variance per
    feature. ``True``: the decoder outputs each feature's log-variance beside its
    mean (twice the output width), so the variance depends on the code.
    """

    def __init__(self, n_features, hidden=(256, 128), n_components=8, heteroscedastic=False):
        super().__init__()
        self.k, self.d, self.heteroscedastic = n_components, n_features, heteroscedastic
        self.encoder = _mlp([n_features, *hidden, 2 * n_components])
        out = 2 * n_features if heteroscedastic else n_features
        self.decoder = _mlp([n_components, *reversed(hidden), out])
        self.log_var = nn.Parameter(torch.zeros(n_features))

    def encode(self, x):
        out = self.encoder(x)
        return out[:, :self.k], out[:, self.k:]

    def decode(self, z):
        """Mean and log-variance of ``p(x | z)``."""
        out = self.decoder(z)
        if self.heteroscedastic:
            return out[..., :self.d], out[..., self.d:] + self.log_var
        return out, self.log_var.expand_as(out)

    def forward(self, x):
        return self.decode(self.encode(x)[0])[0]


def _gaussian_log_prob(x, mean, log_var):
    return -0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 * torch.exp(-log_var))


def negative_elbo(model, x):
    """The mean negative ELBO of the batch ``x``: one reparameterised draw, closed-form KL."""
    mean, log_var = model.encode(x)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    x_mean, x_log_var = model.decode(z)
    reconstruction = _gaussian_log_prob(x, x_mean, x_log_var).sum(1)
    kl = 0.5 * (torch.exp(log_var) + mean**2 - 1 - log_var).sum(1)
    return (kl - reconstruction).mean()


@torch.inference_mode()
def iwae_log_likelihood(model, X, n_samples=500, seed=0, chunk=200):
    """Each row's ``log p(x)`` estimated by importance sampling from the posterior (IWAE)."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for s in range(0, len(X), chunk):
        x = torch.from_numpy(np.ascontiguousarray(X[s:s + chunk], dtype=np.float32))
        mean, log_var = model.encode(x)
        eps = torch.randn((n_samples, *mean.shape), generator=generator)
        z = mean + torch.exp(0.5 * log_var) * eps
        x_mean, x_log_var = model.decode(z)
        log_w = (_gaussian_log_prob(x, x_mean, x_log_var).sum(-1)
                 + _gaussian_log_prob(z, 0.0, torch.zeros_like(z)).sum(-1)
                 - _gaussian_log_prob(z, mean, log_var).sum(-1))
        out.append((torch.logsumexp(log_w.double(), 0) - math.log(n_samples)).numpy())
    return np.concatenate(out)


class RecurrentAE(nn.Module):
    """GRU or LSTM autoencoder for ``(C, T)`` series (rows flattened channel-major)."""

    def __init__(self, shape, n_components=8, hidden_size=64, cell="gru"):
        super().__init__()
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.shape = shape
        c, _ = shape
        self.encoder_rnn = rnn(c, hidden_size, batch_first=True)
        self.to_code = nn.Linear(hidden_size, n_components)
        self.from_code = nn.Linear(n_components, hidden_size)
        self.decoder_rnn = rnn(n_components, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, c)
        self.cell = cell

    def encode(self, x):
        seq = x.view(-1, *self.shape).transpose(1, 2)  # (n, T, C)
        _, h = self.encoder_rnn(seq)
        h = h[0] if self.cell == "lstm" else h
        return self.to_code(h[-1])

    def decode(self, z):
        t = self.shape[1]
        h0 = torch.tanh(self.from_code(z)).unsqueeze(0)
        state = (h0, torch.zeros_like(h0)) if self.cell == "lstm" else h0
        out, _ = self.decoder_rnn(z.unsqueeze(1).expand(-1, t, -1), state)
        return self.readout(out).transpose(1, 2).flatten(1)  # back to (n, C*T)

    def forward(self, x):
        return self.decode(self.encode(x))


@contextlib.contextmanager
def torch_threads(n):
    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(model, X, *, loss="mse", epochs=100, batch_size=128, lr=1e-3, seed=0, threads=None,
          objective=None):
    """Train ``model`` on float32 ``X`` (n, d) with Adam; returns ``(model, seconds)``.

    ``loss="bce"``: the model outputs logits, targets are ``X`` in [0, 1].
    ``objective(model, xb)``, when given, is the batch's loss instead (e.g. skae's).
    """
    with torch_threads(threads):
        torch.manual_seed(seed)
        start = time.perf_counter()
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        n = len(Xt)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        criterion = F.binary_cross_entropy_with_logits if loss == "bce" else F.mse_loss
        if objective is None:
            def objective(model, xb):
                return criterion(model(xb), xb)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            Xs = Xt[torch.randperm(n, generator=gen)]
            for s in range(0, n, batch_size):
                xb = Xs[s:s + batch_size]
                opt.zero_grad(set_to_none=True)
                objective(model, xb).backward()
                opt.step()
        seconds = time.perf_counter() - start
    return model.eval(), seconds


@torch.inference_mode()
def codes_and_reconstructions(model, X, loss="mse", chunk=1000):
    """``(Z, X_hat)`` in float64; ``X_hat`` is the mean (sigmoid of logits for BCE)."""
    Zs, Rs = [], []
    for s in range(0, len(X), chunk):
        xb = torch.from_numpy(np.ascontiguousarray(X[s:s + chunk], dtype=np.float32))
        z = model.encode(xb)
        r = model.decode(z)
        Zs.append(z.double().numpy())
        Rs.append((torch.sigmoid(r) if loss == "bce" else r).double().numpy())
    return np.vstack(Zs), np.vstack(Rs)


#: ``--early-stopping`` values and the ``early_stopping`` parameter each sets.
EARLY_STOPPING = {"auto": "auto", "true": True, "false": False}


def add_early_stopping_option(parser):
    """Add ``--early-stopping {auto,true,false}`` (skae's ``early_stopping``) to ``parser``."""
    parser.add_argument("--early-stopping", choices=list(EARLY_STOPPING),
                        help="skae's early_stopping (default: the estimator's own default)")


def early_stopping_params(args):
    """``{"early_stopping": value}`` for the option given, else ``{}`` (skae's default)."""
    if args.early_stopping is None:
        return {}
    return {"early_stopping": EARLY_STOPPING[args.early_stopping]}
