"""Plain ``torch.nn.Module`` building blocks of skae's networks.

No scikit-learn in here: the modules can be used and tested on their own.
Every network is ``normalisation -> encoder -> code -> decoder -> likelihood
parameters``. Encoder and decoder are :class:`ResidualMLP`: a linear map plus
a nonlinear MLP whose last layer starts at zero, so a network initialised from
(probabilistic) PCA's solution computes exactly that solution before training.

:class:`ResidualMLP` and :class:`Autoencoder` also have a ``forward_cached`` /
``backward_cached`` pair: the same forward and autograd's gradients, bit for
bit, computed without autograd's per-operation bookkeeping (the autoencoder's
fast training step; see ``ReconstructionLoss.loss_and_gradients``).
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._likelihoods import BernoulliLikelihood, GaussianLikelihood

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
}


class Normalization(nn.Module):
    """Affine input normalisation ``(x - loc) / scale`` with fixed statistics.

    As Keras' ``Normalization`` layer: the statistics are computed once, before
    training, and applied per batch, so no scaled copy of the data is made.
    """

    def __init__(self, loc, scale):
        super().__init__()
        self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32).clone())
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())

    def forward(self, x):
        return (x - self.loc) / self.scale

    def inverse(self, x):
        """Map normalised values back to the original units."""
        return x * self.scale + self.loc


class _Activation:
    """An activation's forward and its gradient, by autograd's own kernels.

    ``backward(grad, pre, out)`` gets the activation's input ``pre`` and output
    ``out``; calling the kernels autograd's derivative formulas call makes
    hand-computed gradients equal autograd's bit for bit.
    """

    def __init__(self, forward, backward):
        self.forward = forward
        self.backward = backward


_RELU = _Activation(
    torch.relu_,  # in place: the gradient needs the output only
    lambda g, pre, out: torch.ops.aten.threshold_backward(g, out, 0),
)
_TANH = _Activation(torch.tanh, lambda g, pre, out: torch.ops.aten.tanh_backward(g, out))
_SILU = _Activation(F.silu, lambda g, pre, out: torch.ops.aten.silu_backward(g, pre))


def _activation_gradient(module):
    """The :class:`_Activation` of an activation module, or None if unsupported."""
    aten = torch.ops.aten
    kind = type(module)
    if kind is nn.ReLU:
        return _RELU
    if kind is nn.Tanh:
        return _TANH
    if kind is nn.SiLU:
        return _SILU
    if kind is nn.LeakyReLU:
        slope = module.negative_slope
        return _Activation(
            lambda x: F.leaky_relu(x, slope),
            lambda g, pre, out: aten.leaky_relu_backward(g, pre, slope, False),
        )
    if kind is nn.GELU:
        approximate = module.approximate
        return _Activation(
            lambda x: F.gelu(x, approximate=approximate),
            lambda g, pre, out: aten.gelu_backward(g, pre, approximate=approximate),
        )
    if kind is nn.ELU:
        alpha = module.alpha
        return _Activation(
            lambda x: F.elu(x, alpha),
            lambda g, pre, out: aten.elu_backward(g, alpha, 1, 1, False, pre),
        )
    return None


def _has_hooks(module):
    """Whether autograd's path would call hooks that the cached path would not.

    Forward and backward hooks of ``module`` or global ones (which see every
    module), and gradient hooks on ``module``'s own parameters.
    """
    registry = nn.modules.module
    if (
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
        or registry._global_forward_hooks
        or registry._global_forward_pre_hooks
        or registry._global_backward_hooks
        or registry._global_backward_pre_hooks
    ):
        return True
    return any(
        p._backward_hooks or p._post_accumulate_grad_hooks
        for p in module._parameters.values()
        if p is not None
    )


def _accumulate_grad(param, grad):
    """What autograd's ``AccumulateGrad`` does: set, or add to, ``param.grad``."""
    if not param.requires_grad:
        return
    if param.grad is None:
        param.grad = grad
    else:
        param.grad += grad


def make_mlp(in_features, hidden_layer_sizes, out_features, activation="relu", dropout=0.0):
    """A ``Linear -> activation [-> Dropout]`` stack ending in a ``Linear``."""
    layers = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class ResidualMLP(nn.Module):
    """``linear(x) + mlp(x)``: a linear path with a nonlinear residual.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    hidden_layer_sizes : tuple of int
        Widths of the residual MLP's hidden layers; empty for a purely linear map.
    activation : str, default="relu"
        Key of :data:`ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    """

    def __init__(self, in_features, out_features, hidden_layer_sizes=(),
                 activation="relu", dropout=0.0):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.mlp = (
            make_mlp(in_features, hidden_layer_sizes, out_features, activation, dropout)
            if hidden_layer_sizes
            else None
        )

    def forward(self, x):
        out = self.linear(x)
        if self.mlp is not None:
            out = out + self.mlp(x)
        return out

    def _layers(self):
        """``[(weight, bias, activation or None), ...]`` of the residual MLP, or None.

        None when :meth:`forward_cached` cannot reproduce :meth:`forward`: an
        active dropout, an activation without a known gradient, or forward hooks.
        Parameters are read from ``_parameters`` (not through ``nn.Module``'s
        attribute fallback): this runs on every training batch.
        """
        mlp = self._modules.get("mlp")
        if mlp is None:
            return []
        layers = []
        for module in mlp._modules.values():
            if _has_hooks(module):
                return None
            if isinstance(module, nn.Linear):
                layers.append([module._parameters["weight"], module._parameters["bias"], None])
            elif isinstance(module, nn.Dropout):
                if module.training and module.p > 0:
                    return None
            else:
                activation = _activation_gradient(module)
                if activation is None or not layers:
                    return None
                layers[-1][2] = activation
        return layers

    def forward_cached(self, x):
        """``forward(x)`` without autograd, and what :meth:`backward_cached` needs.

        Returns ``(out, cache)``, or ``(None, None)`` when the module holds
        something only autograd can differentiate (see :meth:`_layers`). Call it
        under ``torch.no_grad()``. The kernels are the ones ``forward`` runs, in
        the same order, so ``out`` equals ``forward(x)`` exactly.
        """
        layers = self._layers()
        linear = self._modules["linear"]
        if layers is None or _has_hooks(self) or _has_hooks(linear):
            return None, None
        linear = linear._parameters
        out = F.linear(x, linear["weight"], linear["bias"])
        saved = []
        h = x
        for weight, bias, activation in layers:
            pre = F.linear(h, weight, bias)
            out_j = pre if activation is None else activation.forward(pre)
            saved.append((h, pre, out_j))
            h = out_j
        if layers:
            out = out + h
        return out, (x, layers, saved)

    def backward_cached(self, grad, cache, input_grad=True):
        """Accumulate the parameters' gradients given ``grad`` of the output.

        Returns the gradient with respect to the input (None unless
        ``input_grad``). The derivative formulas and their order are autograd's,
        so the gradients equal those of ``forward(x).backward(grad)`` bit for bit
        (tested), without autograd's per-operation bookkeeping: for small
        networks that bookkeeping costs more than the arithmetic.
        """
        x, layers, saved = cache
        linear = self._modules["linear"]._parameters
        _accumulate_grad(linear["weight"], grad.t().mm(x))
        _accumulate_grad(linear["bias"], grad.sum(0))
        grad_x = grad.mm(linear["weight"]) if input_grad else None
        g = grad
        for j in reversed(range(len(layers))):
            weight, bias, activation = layers[j]
            h, pre, out_j = saved[j]
            if activation is not None:
                g = activation.backward(g, pre, out_j)
            _accumulate_grad(weight, g.t().mm(h))
            _accumulate_grad(bias, g.sum(0))
            if j > 0 or input_grad:
                g = g.mm(weight)
        if input_grad and layers:
            grad_x = grad_x + g
        return grad_x

    @torch.no_grad()
    def start_at(self, weight, bias):
        """Make the map exactly ``x @ weight.T + bias``; the residual starts at zero.

        Only the residual's last layer is zeroed: its earlier layers keep their
        random initialisation, so gradients reach them from the first step.
        """
        self.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        if self.mlp is not None:
            self.mlp[-1].weight.zero_()
            self.mlp[-1].bias.zero_()


class _Network(nn.Module):
    """What both networks share: normalisation, decoder and likelihood."""

    def __init__(self, n_features, n_components, hidden_layer_sizes, activation,
                 dropout, loc, scale, likelihood, min_variance):
        super().__init__()
        self.normalize = Normalization(loc, scale)
        self.decoder = ResidualMLP(
            n_components, n_features, tuple(reversed(hidden_layer_sizes)), activation, dropout
        )
        if likelihood == "bernoulli":
            self.likelihood = BernoulliLikelihood()
        else:
            self.likelihood = GaussianLikelihood(n_features, min_variance)

    @property
    def is_bernoulli(self):
        return isinstance(self.likelihood, BernoulliLikelihood)

    def target(self, x):
        """What the decoder's output is compared with: normalised ``x`` (Gaussian) or ``x``."""
        return x if self.is_bernoulli else self.normalize(x)

    def log_likelihood(self, x, params):
        """Row-wise ``log p(x | params)`` in the original units of ``x``.

        A Gaussian's density is computed in normalised units; subtracting the
        normalisation's log-Jacobian, ``sum(log(scale))``, gives the density of
        ``x`` itself, comparable across input scalings and with PCA's.
        """
        log_lik = self.likelihood.log_prob(self.target(x), params).sum(dim=-1)
        if self.is_bernoulli:
            return log_lik
        return log_lik - torch.log(self.normalize.scale).expand(x.shape[-1]).sum()

    def decode(self, z):
        """Decoder output: the Gaussian mean in normalised units, or Bernoulli logits."""
        return self.decoder(z)

    def reconstruct_mean(self, params):
        """The observation model's mean, in the original units of ``x``."""
        mean = self.likelihood.mean(params)
        return mean if self.is_bernoulli else self.normalize.inverse(mean)


class Autoencoder(_Network):
    """Deterministic autoencoder: ``x -> z -> decoder parameters``.

    ``noise`` is the standard deviation of Gaussian corruption added to the
    normalised input in training mode (a denoising autoencoder).
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes=(128, 64),
                 activation="relu", dropout=0.0, loc=0.0, scale=1.0,
                 likelihood="gaussian", noise=0.0, min_variance=1e-4):
        super().__init__(n_features, n_components, hidden_layer_sizes, activation,
                         dropout, loc, scale, likelihood, min_variance)
        self.noise = noise
        self.encoder = ResidualMLP(n_features, n_components, hidden_layer_sizes,
                                   activation, dropout)

    def encode(self, x):
        return self.encoder(self.normalize(x))

    def _corrupt(self, h):
        """``h`` plus the denoising noise, in training mode only."""
        if self.training and self.noise > 0:
            h = h + self.noise * torch.randn_like(h)
        return h

    def forward(self, x):
        return self.decode(self.encoder(self._corrupt(self.normalize(x))))

    def forward_cached(self, x):
        """:meth:`forward` without autograd, for :meth:`backward_cached`.

        Returns ``(output, target, cache)``, with ``target`` equal to
        :meth:`target` of ``x`` (computed once for both), or ``(None, None,
        None)`` when only autograd can differentiate the network (see
        :meth:`ResidualMLP.forward_cached`). Random noise is drawn exactly as
        :meth:`forward` draws it.
        """
        normalize = self._modules["normalize"]
        if _has_hooks(self) or _has_hooks(normalize):
            return None, None, None
        normalized = normalize.forward(x)
        z, encoder_cache = self.encoder.forward_cached(self._corrupt(normalized))
        if z is None:
            return None, None, None
        output, decoder_cache = self.decoder.forward_cached(z)
        if output is None:
            return None, None, None
        target = x if self.is_bernoulli else normalized
        return output, target, (encoder_cache, decoder_cache)

    def backward_cached(self, grad, cache):
        """Accumulate every parameter's gradient given ``grad`` of the output."""
        encoder_cache, decoder_cache = cache
        grad_z = self.decoder.backward_cached(grad, decoder_cache, input_grad=True)
        self.encoder.backward_cached(grad_z, encoder_cache, input_grad=False)


class VariationalAutoencoder(_Network):
    """Variational autoencoder with a diagonal Gaussian posterior and N(0, I) prior.

    The encoder outputs ``2 * n_components`` values: the posterior mean and
    log-variance. ``forward`` returns ``(decoder_params, mean, log_var)`` with
    one reparameterised draw ``z = mean + exp(log_var / 2) * eps``.
    """

    #: Posterior log-variances are clamped to this range for numerical safety.
    LOG_VAR_RANGE = (-15.0, 10.0)

    def __init__(self, n_features, n_components, hidden_layer_sizes=(128, 64),
                 activation="relu", dropout=0.0, loc=0.0, scale=1.0,
                 likelihood="gaussian", min_variance=1e-4):
        super().__init__(n_features, n_components, hidden_layer_sizes, activation,
                         dropout, loc, scale, likelihood, min_variance)
        self.n_components = n_components
        self.encoder = ResidualMLP(n_features, 2 * n_components, hidden_layer_sizes,
                                   activation, dropout)

    def encode(self, x):
        """Posterior mean and log-variance of ``z`` given ``x``."""
        out = self.encoder(self.normalize(x))
        mean, log_var = out[:, : self.n_components], out[:, self.n_components :]
        return mean, torch.clamp(log_var, *self.LOG_VAR_RANGE)

    def forward(self, x):
        mean, log_var = self.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return self.decode(z), mean, log_var
