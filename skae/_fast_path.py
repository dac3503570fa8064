"""The speed layer: hand-written gradients for skae's MLP autoencoder and VAE, and FlatAdam.

Everything here reproduces what plain torch computes, bit for bit, only faster
for small networks on a CPU, where autograd's and ``Adam.step``'s per-tensor
bookkeeping costs as much as the arithmetic (figures in
``benchmarks/RESULTS_performance.md``). The rest of skae is plain torch:

- :func:`manual_step` is the one entry point of the hand-written gradients.
  ``SkaeNet`` calls it for every training batch; it returns ``(loss, output)``
  with every parameter's ``.grad`` accumulated exactly as ``loss.backward()``
  would, or None, and autograd runs. It recognises two structures by type: a
  plain :class:`~skae._modules.Autoencoder` (a :class:`~skae._modules.Normalization`
  and two :class:`~skae._modules.ResidualMLP` of ``Linear`` layers and known
  activations) trained on a plain :class:`~skae._objectives.ReconstructionLoss`,
  and a plain :class:`~skae._modules.VariationalAutoencoder` of the same parts
  with skae's Gaussian likelihood, trained on a plain
  :class:`~skae._objectives.NegativeELBO`. The reconstruction loss's derivative
  is written beside its formula (``gradient=True``); the negative ELBO is an
  autograd function with a closed-form backward, which this module calls
  directly (``loss_and_gradients``) as autograd calls it. This module adds the
  networks' and the reparameterisation's gradients. Anything else -- another
  body or subclass, another likelihood, an active dropout, hooks that autograd
  would call -- is declined.
- :class:`FlatAdam` is ``torch.optim.Adam`` over one flat buffer.

**The off switch**: set ``ENABLED = False`` (``skae._fast_path.ENABLED``) and
every training step goes through autograd and ``FlatAdam`` updates per tensor,
as ``torch.optim.Adam``. Models are the same either way (tested); the switch is
there for when a torch release breaks the bit-for-bit equality, and for tests.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._likelihoods import GaussianLikelihood
from ._modules import Autoencoder, Dropout, Normalization, ResidualMLP, VariationalAutoencoder
from ._objectives import NegativeELBO, ReconstructionLoss, mean_reconstruction_loss

#: The off switch: False sends every step through autograd and makes FlatAdam per-tensor Adam.
ENABLED = True


def manual_step(module, criterion, x, record=None):
    """One training step's loss and gradients without autograd, or None.

    Returns ``(loss, output)``, neither requiring grad, after accumulating every
    parameter's gradient as ``criterion(module(x), x, module, training=True)
    .backward()`` would (same kernels, same order: bit for bit). Returns None,
    having computed nothing, when the layer is off or cannot reproduce autograd
    on ``module`` and ``criterion`` (see the module docstring); the caller then
    runs autograd. Random noise is drawn exactly as ``module.forward`` draws it.
    """
    if not ENABLED:
        return None
    if type(module) is VariationalAutoencoder and type(criterion) is NegativeELBO:
        return _vae_step(module, criterion, x, record)
    if type(criterion) is not ReconstructionLoss or type(module) is not Autoencoder:
        return None
    parts = _plain_parts(module, criterion)
    if parts is None:
        return None
    normalize, encoder, decoder = parts
    with torch.no_grad():
        normalized = normalize.forward(x)
        z, encoder_cache = _residual_forward(encoder, module._corrupt(normalized))
        output, decoder_cache = _residual_forward(decoder, z)
        target = x if module.is_bernoulli else normalized
        loss, grad = mean_reconstruction_loss(output, target, module.likelihood, gradient=True)
        grad_z = _residual_backward(decoder, grad, decoder_cache, input_grad=True)
        _residual_backward(encoder, grad_z, encoder_cache, input_grad=False)
    return loss, output


def _vae_step(module, criterion, x, record):
    """:func:`manual_step` for a :class:`~skae._modules.VariationalAutoencoder`.

    Handles the default network: :class:`~skae._modules.ResidualMLP` encoder and
    decoder and a Gaussian likelihood (either variance), trained on
    :class:`~skae._objectives.NegativeELBO`; declines anything else. The
    objective's forward and backward are those autograd runs
    (:meth:`~skae._objectives.NegativeELBO.loss_and_gradients`); this adds the
    reparameterisation's and the two networks' gradients, each the formula
    autograd applies to that operation (``derivatives.yaml``) with the same
    kernels, so the gradients equal autograd's bit for bit (tested).
    """
    likelihood = module._modules["likelihood"]
    if type(likelihood) is not GaussianLikelihood:
        return None
    parts = _plain_parts(module, criterion, likelihood)
    if parts is None:
        return None
    normalize, encoder, decoder = parts
    k = module.n_components
    with torch.no_grad():
        # VariationalAutoencoder.forward, step by step
        normalized = normalize.forward(x)
        encoded, encoder_cache = _residual_forward(encoder, normalized)
        mean, raw_log_var = encoded[:, :k], encoded[:, k:]
        low, high = module.LOG_VAR_RANGE
        log_var = torch.clamp(raw_log_var, low, high)
        noise = torch.randn_like(mean, generator=module.generator)
        std = torch.mul(log_var, 0.5).exp_()
        z = torch.addcmul(mean, std, noise)
        params, decoder_cache = _residual_forward(decoder, z)
        loss, grad_params, grad_raw_log_var, grad_mean, grad_log_var = (
            criterion.loss_and_gradients((params, mean, log_var), x, module, record=record,
                                         target=normalized)
        )
        _accumulate_grad(likelihood.raw_log_var, grad_raw_log_var)
        grad_z = _residual_backward(decoder, grad_params, decoder_cache, input_grad=True)
        # z = mean + exp(0.5 * log_var) * noise: AddcmulBackward, ExpBackward, MulBackward,
        # each gradient added to the objective's own (in place: addition commutes);
        # then ClampBackward: no gradient where the clamp is active, i.e. where
        # the clamped value differs from the raw one (or the raw one is NaN)
        grad_mean.add_(grad_z)
        grad_log_var.add_(grad_z.mul_(noise).mul_(std).mul_(0.5))
        grad_log_var.masked_fill_(log_var != raw_log_var, 0.0)
        grad_encoded = torch.cat([grad_mean, grad_log_var], dim=1)
        _residual_backward(encoder, grad_encoded, encoder_cache, input_grad=False)
    return loss, (params, mean, log_var)


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


def _plain_parts(module, criterion, *others):
    """``(normalize, encoder layers, decoder layers)`` of ``module``, or ``None``.

    ``None`` where the normalisation or either residual body is not the plain
    form the hand-written gradients cover, or where ``module``, its
    normalisation, ``criterion`` or any of ``others`` carries a hook.
    """
    normalize = module._modules["normalize"]
    encoder = _residual_layers(module._modules["encoder"])
    decoder = _residual_layers(module._modules["decoder"])
    if encoder is None or decoder is None or type(normalize) is not Normalization:
        return None
    if any(_has_hooks(m) for m in (module, normalize, criterion, *others)):
        return None
    return normalize, encoder, decoder


def _has_hooks(module):
    """Whether autograd's path would call hooks that the hand-written one would not.

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


def _residual_layers(block):
    """A :class:`~skae._modules.ResidualMLP`'s parameters, ready for the hand-written pass.

    Returns ``(linear, layers)``: the linear path's ``(weight, bias)`` and the
    residual MLP's ``[[weight, bias, activation or None], ...]``; or None when
    the hand-written pass cannot reproduce ``block.forward``: another type, an
    active dropout, an activation without a known gradient, or hooks.
    Parameters are read from ``_parameters`` (not through ``nn.Module``'s
    attribute fallback): this runs on every training batch.
    """
    if type(block) is not ResidualMLP:
        return None
    linear = block._modules["linear"]
    if type(linear) is not nn.Linear or _has_hooks(block) or _has_hooks(linear):
        return None
    mlp = block._modules.get("mlp")  # None: no hidden layers
    layers = []
    if mlp is not None:
        if type(mlp) is not nn.Sequential or _has_hooks(mlp):
            return None
        for layer in mlp._modules.values():
            if _has_hooks(layer):
                return None
            if type(layer) is nn.Linear:
                layers.append([layer._parameters["weight"], layer._parameters["bias"], None])
            elif type(layer) is Dropout:
                if layer.training and layer.p > 0:
                    return None
            else:
                activation = _activation_gradient(layer)
                if activation is None or not layers:
                    return None
                layers[-1][2] = activation
    return (linear._parameters["weight"], linear._parameters["bias"]), layers


def _residual_forward(plan, x):
    """``ResidualMLP.forward(x)`` from :func:`_residual_layers`, and what the backward needs.

    Run under ``torch.no_grad()``. The kernels are the ones ``forward`` runs, in
    the same order, so the output equals ``forward(x)`` exactly.
    """
    (weight, bias), layers = plan
    out = F.linear(x, weight, bias)
    saved = []
    h = x
    for weight_j, bias_j, activation in layers:
        pre = F.linear(h, weight_j, bias_j)
        out_j = pre if activation is None else activation.forward(pre)
        saved.append((h, pre, out_j))
        h = out_j
    if layers:
        out = out + h
    return out, (x, saved)


def _residual_backward(plan, grad, cache, input_grad=True):
    """Accumulate a residual block's parameter gradients given ``grad`` of its output.

    Returns the gradient with respect to the input (None unless ``input_grad``).
    The derivative formulas and their order are autograd's, so the gradients
    equal those of ``forward(x).backward(grad)`` bit for bit (tested).
    """
    (weight, bias), layers = plan
    x, saved = cache
    _accumulate_grad(weight, grad.t().mm(x))
    _accumulate_grad(bias, grad.sum(0))
    grad_x = grad.mm(weight) if input_grad else None
    g = grad
    for j in reversed(range(len(layers))):
        weight_j, bias_j, activation = layers[j]
        h, pre, out_j = saved[j]
        if activation is not None:
            g = activation.backward(g, pre, out_j)
        _accumulate_grad(weight_j, g.t().mm(h))
        _accumulate_grad(bias_j, g.sum(0))
        if j > 0 or input_grad:
            g = g.mm(weight_j)
    if input_grad and layers:
        grad_x = grad_x + g
    return grad_x


def _member_views(buffer, members):
    """Consecutive views of the flat ``buffer``, shaped as the tensors ``members``."""
    return [
        view.view_as(p) for p, view in zip(members, buffer.split([p.numel() for p in members]))
    ]


def _member_states(state, members):
    """The flat Adam ``state`` split into one copy per member (empty where it is)."""
    states, offset = [], 0
    for p in members:
        n = p.numel()
        states.append({
            key: value.clone() if key == "step" or value.dim() == 0
            else value[offset : offset + n].view_as(p).clone()
            for key, value in state.items()
        })
        offset += n
    return states


def _joinable(states):
    """Whether the members' Adam ``states`` join into one flat state: none has any,
    or all have the same entries and have taken the same number of steps."""
    first = states[0]
    if not first:
        return not any(states)
    return all(
        state.keys() == first.keys()
        and torch.equal(torch.as_tensor(state.get("step", 0.0)),
                        torch.as_tensor(first.get("step", 0.0)))
        and all(state[key].dtype == first[key].dtype for key in first)
        for state in states
    )


class FlatAdam(torch.optim.Adam):
    """``torch.optim.Adam`` that updates its parameters as one flat tensor.

    At the first step, the parameters that have a gradient and a multiple of
    ``_FLAT_MULTIPLE`` elements are moved into one contiguous buffer (each keeps
    its identity, its storage becomes a view of the buffer) and their gradients
    are gathered into it before every step. Adam's update is elementwise, so the
    result equals Adam's on the separate tensors bit for bit (tested, weight
    decay included). The size condition keeps it so: the CPU kernel runs each
    tensor's last ``numel % vector width`` elements through a scalar loop that
    rounds differently, so a ragged tensor (an 8-element bias) stays on its own.
    ``Adam.step``'s cost per tensor, which dominates a small network's update
    on a CPU, is paid once.

    Anything the flat form cannot express exactly (several parameter groups,
    sparse or mixed-device gradients, or a member whose gradient disappears
    after the first step, e.g. frozen mid-training) returns it to per-tensor
    Adam for good (:meth:`unflatten`), with its state carried over. skae
    unpacks it when training ends (``unflatten(for_good=False)``), so fitted
    parameters own their storage; the next training run (``partial_fit``)
    flattens them again at its first step, Adam's state included. With the
    speed layer off (``ENABLED = False``) it is ``torch.optim.Adam``. The
    optimizer's ``state_dict`` describes the form it is in and loads only into
    a ``FlatAdam`` in the same form.
    """

    #: A multiple of every CPU vector width (in float32 elements) torch uses.
    _FLAT_MULTIPLE = 64

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self._flat = None  # (flat parameter, its members, the group's other parameters)
        self._flat_possible = len(self.param_groups) == 1

    @torch.no_grad()
    def _flatten(self):
        group = self.param_groups[0]
        members = [
            p for p in group["params"]
            if p.grad is not None and p.numel() % self._FLAT_MULTIPLE == 0
        ]
        others = [p for p in group["params"] if not any(p is m for m in members)]
        grads = [p.grad for p in members]
        states = [self.state.get(p, {}) for p in members]
        if (
            len(members) < 2
            or not _joinable(states)
            or any(g.is_sparse or g.dtype != p.dtype for g, p in zip(grads, members))
            or len({(p.device, p.dtype) for p in members}) > 1
        ):
            self._flat_possible = False
            return
        flat = torch.cat([p.detach().reshape(-1) for p in members])
        for p, view in zip(members, _member_views(flat, members)):
            p.data = view
        flat = torch.nn.Parameter(flat)  # shares the buffer the members now view
        if states[0]:  # a later training run: the members' Adam state, joined as they are
            self.state[flat] = {
                key: value.clone() if key == "step" or value.dim() == 0
                else torch.cat([state[key].reshape(-1) for state in states])
                for key, value in states[0].items()
            }
            for p in members:
                del self.state[p]
        # unflatten puts them back in this order: state_dict numbers parameters
        # by position, and a fresh optimizer (a loaded model's) lists them so
        self._params_order = list(group["params"])
        group["params"] = [flat, *others]
        self._flat = (flat, members, others)
        self._allocate_flat_grad()

    def _allocate_flat_grad(self):
        """The buffer gradients are copied into, through views shaped as the members."""
        flat, members, _ = self._flat
        self._flat_grad = torch.empty_like(flat)
        self._flat_grad_views = _member_views(self._flat_grad, members)

    def __getstate__(self):
        # torch's Optimizer pickles defaults, state and param_groups only. The
        # members are pickled with the module they belong to (skorch pickles both
        # together), so they come back as that module's parameters.
        state = super().__getstate__()
        state["_flat"], state["_flat_possible"] = self._flat, self._flat_possible
        state["_params_order"] = getattr(self, "_params_order", None)
        return state

    @torch.no_grad()
    def __setstate__(self, state):
        packed = state.pop("_flat", None)
        possible = state.pop("_flat_possible", False)
        order = state.pop("_params_order", None)
        super().__setstate__(state)
        self._params_order = order
        self._flat, self._flat_possible = packed, possible
        self._flat_grad = self._flat_grad_views = None
        if packed is not None:
            # pickle copies each view's storage: make the members views again
            flat, members, _ = packed
            for p, view in zip(members, _member_views(flat, members)):
                p.data = view
            self._allocate_flat_grad()

    @torch.no_grad()
    def unflatten(self, for_good=True):
        """Back to per-tensor Adam; a no-op unless flat.

        Each member gets its own storage again and its slice of Adam's state.
        skae calls it with ``for_good=False`` when training ends (a module whose
        parameters are views of one buffer pickles that whole buffer once per
        parameter): the next step flattens them again. ``for_good=True`` keeps
        per-tensor Adam from now on.
        """
        if for_good:
            self._flat_possible = False
        if self._flat is None:
            return
        flat, members, others = self._flat
        for p, state in zip(members, _member_states(self.state.pop(flat, {}), members)):
            p.data = p.detach().clone()
            if state:
                self.state[p] = state
        order = getattr(self, "_params_order", None)
        self.param_groups[0]["params"] = order if order is not None else [*members, *others]
        self._params_order = None
        self._flat = None
        self._flat_grad = self._flat_grad_views = None

    @torch.no_grad()
    def state_by_parameter(self):
        """A copy of Adam's state, one entry per parameter, in either form.

        What early stopping keeps of its best epoch, to restore with
        :meth:`load_state_by_parameter` when training ends -- by which time the
        flat form has been undone.
        """
        copy = {
            p: {key: value.clone() for key, value in state.items()}
            for p, state in self.state.items()
            if self._flat is None or p is not self._flat[0]
        }
        if self._flat is not None:
            flat, members, _ = self._flat
            for p, state in zip(members, _member_states(self.state.get(flat, {}), members)):
                if state:
                    copy[p] = state
        return copy

    @torch.no_grad()
    def load_state_by_parameter(self, state):
        """Replace Adam's state with ``state`` (:meth:`state_by_parameter`), per tensor.

        ``state`` is taken over, not copied: it is already a copy, and the
        caller drops it. The next step flattens it again, as after any
        training run.
        """
        self.unflatten(for_good=False)
        self.state.clear()
        for p, entries in state.items():
            self.state[p] = dict(entries)

    def _gather_gradients(self):
        if self._flat is None:
            self._flatten()
            if self._flat is None:
                return
        flat, members, others = self._flat
        if any(p.grad is None for p in members):
            self.unflatten()
            return
        torch._foreach_copy_(self._flat_grad_views, [p.grad for p in members])
        flat.grad = self._flat_grad

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self._flat_possible:
            if ENABLED:
                self._gather_gradients()
            else:
                self.unflatten()  # the speed layer is off: per-tensor Adam from now on
        super().step()
        return loss

    def zero_grad(self, set_to_none=True):
        if self._flat is None:
            super().zero_grad(set_to_none=set_to_none)
            return
        flat, members, others = self._flat
        for p in (flat, *members, *others):
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()
