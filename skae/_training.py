"""The skorch side of skae: the net, a fast batch iterator and callbacks.

skorch runs the training loop (callbacks, history, device moves); skae feeds it
a dataset that is a pre-loaded tensor on the training device and an iterator
that slices it, instead of skorch's per-row ``Dataset.__getitem__`` +
``DataLoader`` (about 8x slower for small networks). The autoencoder's training
step computes its gradients by hand (``SkaeNet.train_step_single``,
``ReconstructionLoss.loss_and_gradients``) and :class:`FlatAdam` updates every
parameter in one kernel call; both give autograd's and Adam's results bit for bit.
"""

import contextlib
import copy
import functools
import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from sklearn.exceptions import ConvergenceWarning

from ._likelihoods import kl_diag_gaussians


def resolve_device(device):
    """Resolve ``"auto"`` to ``"cuda"`` when CUDA is available, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    return str(resolved)


@contextlib.contextmanager
def seeded_rng_context(seed, device):
    """Fork torch's global RNG (CPU and the used CUDA device) and seed it.

    The caller's global RNG state is restored on exit.
    """
    devices = []
    if torch.device(device).type == "cuda":
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def to_float32_tensor(X, device):
    """Dense ``X`` as a float32 tensor on ``device``.

    No copy when ``X`` already is a writeable float32 array and ``device`` is the
    CPU. A read-only array (joblib hands memmaps to parallel workers) is copied:
    torch would alias memory it is allowed to write.
    """
    X = np.asarray(X, dtype=np.float32)
    if not X.flags.writeable:
        X = X.copy()
    return torch.as_tensor(X, device=device)


class RowDataset(torch.utils.data.Dataset):
    """The rows ``indices`` of a pre-loaded tensor, or of a CSR matrix densified per batch."""

    def __init__(self, data, indices, device):
        self.data = data
        self.device = device
        self.sparse = sp.issparse(data)
        self.indices = (
            np.asarray(indices)
            if self.sparse
            else torch.as_tensor(indices, dtype=torch.long, device=device)
        )

    def __len__(self):
        return len(self.indices)

    def rows(self, positions):
        """The rows at ``positions`` (into ``indices``) as a float32 tensor on the device."""
        if self.sparse:
            block = self.data[self.indices[positions.cpu().numpy()]].toarray()
            return to_float32_tensor(block, self.device)
        return self.data.index_select(0, self.indices[positions])

    def __getitem__(self, i):
        return self.rows(torch.as_tensor([i]))[0], 0


class BatchIterator:
    """Yields ``(X_batch, None)`` by slicing a :class:`RowDataset`.

    skorch builds the iterator once per ``fit`` and iterates it every epoch, so
    the order is reshuffled in ``__iter__`` from a generator seeded once. Rows
    are gathered a block of batches at a time (about ``BLOCK_ELEMENTS`` values,
    bounded memory) and each batch is a slice of its block: one gather per
    block instead of three small operations per batch.
    """

    #: Values gathered at once (4 MiB of float32).
    BLOCK_ELEMENTS = 2**20

    def __init__(self, dataset, batch_size, shuffle=False, seed=0):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        if not self.dataset.sparse:
            order = order.to(self.dataset.device)
        row_size = max(1, self.dataset.data.shape[1])
        block_rows = self.batch_size * max(1, self.BLOCK_ELEMENTS // (self.batch_size * row_size))
        for block_start in range(0, n, block_rows):
            block = self.dataset.rows(order[block_start : block_start + block_rows])
            for start in range(0, len(block), self.batch_size):
                yield block[start : start + self.batch_size], None


def _member_views(buffer, members):
    """Consecutive views of the flat ``buffer``, shaped as the tensors ``members``."""
    return [
        view.view_as(p) for p, view in zip(members, buffer.split([p.numel() for p in members]))
    ]


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
    The per-tensor cost of ``Adam.step`` (~10 us per tensor on a CPU: 180 us for
    skae's default autoencoder, against 60-70 us flat) is paid once.

    Anything the flat form cannot express exactly (several parameter groups,
    sparse or mixed-device gradients, or a member whose gradient disappears
    after the first step, e.g. frozen mid-training) returns it to per-tensor
    Adam for good (:meth:`unflatten`), with its state carried over. skae
    unflattens when training ends, so fitted parameters own their storage.
    The optimizer's ``state_dict`` describes the flat form and loads only into
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
        if (
            len(members) < 2
            or self.state
            or any(g.is_sparse or g.dtype != p.dtype for g, p in zip(grads, members))
            or len({(p.device, p.dtype) for p in members}) > 1
        ):
            self._flat_possible = False
            return
        flat = torch.cat([p.detach().reshape(-1) for p in members])
        for p, view in zip(members, _member_views(flat, members)):
            p.data = view
        flat = torch.nn.Parameter(flat)  # shares the buffer the members now view
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
        return state

    @torch.no_grad()
    def __setstate__(self, state):
        packed = state.pop("_flat", None)
        possible = state.pop("_flat_possible", False)
        super().__setstate__(state)
        self._flat, self._flat_possible = packed, possible
        self._flat_grad = self._flat_grad_views = None
        if packed is not None:
            # pickle copies each view's storage: make the members views again
            flat, members, _ = packed
            for p, view in zip(members, _member_views(flat, members)):
                p.data = view
            self._allocate_flat_grad()

    @torch.no_grad()
    def unflatten(self):
        """Back to per-tensor Adam for good; a no-op unless flat.

        Each member gets its own storage again and its slice of Adam's state.
        skae calls it when training ends: a module whose parameters are views of
        one buffer pickles that whole buffer once per parameter.
        """
        if self._flat is None:
            return
        flat, members, others = self._flat
        state = self.state.pop(flat, {})
        offset = 0
        for p in members:
            n = p.numel()
            p.data = p.detach().clone()
            if state:
                self.state[p] = {
                    key: value.clone() if key == "step" or value.dim() == 0
                    else value[offset : offset + n].view_as(p).clone()
                    for key, value in state.items()
                }
            offset += n
        self.param_groups[0]["params"] = [*members, *others]
        self._flat, self._flat_possible = None, False
        self._flat_grad = self._flat_grad_views = None

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
            self._gather_gradients()
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


class SkaeNet(NeuralNet):
    """skorch ``NeuralNet`` whose loss is the criterion applied to (output, X, module).

    skorch feeds a dummy target when ``y=None``; skae's objectives compare the
    network's output with its own input, so ``get_loss`` ignores ``y_true``.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.stop_requested = False

    def request_stop(self):
        """End training once every callback has seen the current epoch.

        skorch stops on a ``KeyboardInterrupt`` raised by a callback, but one
        raised in ``on_epoch_end`` hides that epoch from the callbacks after it
        (the VAE's ELBO terms, the user's callbacks, and PrintLog, always last).
        """
        self.stop_requested = True

    def notify(self, method_name, **cb_kwargs):
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_epoch_end" and self.stop_requested:
            raise KeyboardInterrupt  # skorch's documented way to end fit_loop

    def train_step_single(self, batch, **fit_params):
        """skorch's training step, without autograd where the criterion allows it.

        A criterion with ``loss_and_gradients`` (the autoencoder's) computes the
        loss and writes the gradients itself, equal to autograd's; otherwise,
        or with ``fit_params``, skorch's own step runs.
        """
        manual = getattr(self.criterion_, "loss_and_gradients", None)
        if manual is not None and not fit_params:
            self._set_training(True)
            Xi, _ = unpack_data(batch)
            loss, y_pred = manual(self.module_, to_tensor(Xi, device=self.device))
            if loss is not None:
                return {"loss": loss, "y_pred": y_pred}
        return super().train_step_single(batch, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        X = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, X, self.module_, training=training)

    @staticmethod
    @functools.lru_cache
    def fused_adam_supported(device):
        """Whether ``torch.optim.Adam(fused=True)`` runs on ``device`` (CPU from torch 2.4).

        The fused kernel makes a small network's step ~25 % faster on CPU. It
        rounds differently from the per-tensor loop (weights differ by ~1 ulp
        per step), so results differ from the unfused optimizer; they stay
        deterministic for a given ``random_state``.
        """
        try:
            param = torch.zeros(1, device=device, requires_grad=True)
            torch.optim.Adam([param], fused=True)
        except (RuntimeError, ValueError, TypeError):
            return False
        return True

    def _set_training(self, training=True):
        """Set train/eval mode, skipping the work when nothing would change.

        skorch calls this before every batch; ``nn.Module.train()`` recurses
        through every submodule with ``__setattr__`` (about 0.1 ms for skae's
        networks, ~10 % of a small training step). Checking the flags of every
        submodule (listed once per training, ~1 us) still notices a mode changed
        anywhere, by a callback or by the user.
        """
        training = bool(training)
        roots = [getattr(self, name + "_") for name in self._modules + self._criteria]
        key = [id(root) for root in roots]
        if getattr(self, "_mode_modules", (None,))[0] != key:
            submodules = [
                m for root in roots if isinstance(root, torch.nn.Module) for m in root.modules()
            ]
            self._mode_modules = (key, submodules)
        if any(m.training != training for m in self._mode_modules[1]):
            super()._set_training(training)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        unflatten = getattr(self.optimizer_, "unflatten", None)
        if unflatten is not None:
            unflatten()  # the fitted module's parameters own their storage again

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_mode_modules", None)  # a cache holding the modules: never pickled
        return state

    def evaluate_loss(self, dataset):
        """Mean loss over ``dataset`` in evaluation mode (weighted by batch size)."""
        total, count = 0.0, 0
        for batch in self.get_iterator(dataset, training=False):
            step = self.validation_step(batch)
            n = len(batch[0])
            total += step["loss"].item() * n
            count += n
        return total / count


class ReconstructionLoss(torch.nn.Module):
    """Mean reconstruction loss per element: squared error in normalised units, or BCE."""

    def forward(self, output, x, network, training=False):
        target = network.target(x)
        if network.is_bernoulli:
            return -network.likelihood.log_prob(target, output).mean()
        return ((output - target) ** 2).mean()

    @torch.no_grad()
    def loss_and_gradients(self, network, x):
        """``forward`` and its backward pass, with the gradients written by hand.

        Returns ``(loss, output)`` with every parameter's ``.grad`` accumulated
        exactly as ``loss.backward()`` would (bit for bit: same kernels, same
        order), or ``(None, None)`` when the network needs autograd (see
        ``Autoencoder.forward_cached``). A small autoencoder's training step is
        ~25 % faster this way: autograd's bookkeeping per operation (~10 us on
        a CPU) outweighs the arithmetic of 128-row batches.
        """
        if not hasattr(network, "forward_cached"):
            return None, None
        output, target, cache = network.forward_cached(x)
        if output is None:
            return None, None
        # d mean / d element, rounded to float32 as autograd's MeanBackward rounds it.
        inverse_n = float(np.float32(1.0) / np.float32(output.numel()))
        if network.is_bernoulli:
            loss = -network.likelihood.log_prob(target, output).mean()
            # binary_cross_entropy_with_logits' backward formula.
            grad = torch.sigmoid(output).sub_(target).mul_(inverse_n)
        else:
            diff = output - target
            loss = diff.pow(2).mean()
            # PowBackward's (1/n) * (2 * diff); doubling is exact, so one product.
            grad = diff.mul_(2.0 * inverse_n)
        network.backward_cached(grad, cache)
        return loss, output


class NegativeELBO(torch.nn.Module):
    """Mean negative ELBO per row, ``-E[log p(x|z)] + beta * KL(q(z|x) || p(z))``.

    The reconstruction term is reported in the original units of ``x`` (the
    log-Jacobian of the input normalisation included), so ``-loss`` is an ELBO
    comparable with ``PCA.score``. ``kl_weight`` (KL warm-up) only applies in
    training. Row sums of both terms are accumulated, without host syncs, for the
    per-epoch history.
    """

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta
        self.kl_weight = 1.0
        self.reset_terms()

    def reset_terms(self):
        self.terms = {}

    def forward(self, output, x, network, training=False):
        params, mean, log_var = output
        log_lik = network.log_likelihood(x, params)
        kl = kl_diag_gaussians(mean, log_var)
        key = "train" if training else "valid"
        sums = torch.stack([-log_lik.sum(), kl.sum()]).detach()
        self.terms[key] = self.terms.get(key, 0) + sums
        self.terms[key + "_count"] = self.terms.get(key + "_count", 0) + x.shape[0]
        weight = self.beta * (self.kl_weight if training else 1.0)
        return (-log_lik + weight * kl).mean()


class RecordELBOTerms(Callback):
    """Writes ``{train,valid}_reconstruction`` and ``{train,valid}_kl`` to the history."""

    def on_epoch_begin(self, net, **kwargs):
        net.criterion_.reset_terms()

    def on_epoch_end(self, net, **kwargs):
        terms = net.criterion_.terms
        for key in ("train", "valid"):
            if key in terms:
                reconstruction, kl = (terms[key] / terms[key + "_count"]).tolist()
                net.history.record(f"{key}_reconstruction", reconstruction)
                net.history.record(f"{key}_kl", kl)


class KLWarmup(Callback):
    """Linear KL warm-up: the KL weight grows from 0 to 1 over ``epochs`` epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        net.criterion_.kl_weight = min(1.0, epoch / self.epochs)


class DivergenceCheck(Callback):
    """Stops training with an error as soon as an epoch's loss is not finite."""

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for key in ("train_loss", "valid_loss"):
            if key in row and not math.isfinite(row[key]):
                raise FloatingPointError(
                    f"Training diverged at epoch {row['epoch']}: the {key.replace('_', ' ')} "
                    f"is {row[key]}. Lower learning_rate, keep input_scaling on "
                    "('global' or 'feature'), or check the input for extreme values."
                )


class ConvergenceMonitor(Callback):
    """Early stopping and convergence, as ``MLPRegressor`` defines them.

    Training stops when ``monitor`` (``"valid_loss"`` with early stopping, else
    ``"train_loss"``) has not improved by more than ``tol`` for ``patience``
    consecutive epochs. With ``restore_best=True`` the best weights are kept in
    memory (never written to disk) and restored at the end; the network's state
    before the first epoch (e.g. PCA's solution) competes too, scored on
    ``baseline_dataset``.
    """

    def __init__(self, monitor, patience, tol, restore_best=False, baseline_dataset=None):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best
        self.baseline_dataset = baseline_dataset

    def initialize(self):
        self.best_loss_ = math.inf
        self.best_epoch_ = 0
        self.stopped_early_ = False
        self._best_state = None
        self._no_improvement = 0
        return self

    def _snapshot(self, net):
        if self.restore_best:
            self._best_state = copy.deepcopy(net.module_.state_dict())

    def on_train_begin(self, net, **kwargs):
        if self.restore_best and self.baseline_dataset is not None:
            self.best_loss_ = net.evaluate_loss(self.baseline_dataset)
            self._snapshot(net)

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, self.monitor]
        if loss < self.best_loss_ - self.tol:
            self._no_improvement = 0
        else:
            self._no_improvement += 1
        if loss < self.best_loss_:
            self.best_loss_ = loss
            self.best_epoch_ = len(net.history)
            self._snapshot(net)
        if self._no_improvement >= self.patience:
            self.stopped_early_ = True
            net.request_stop()

    def on_train_end(self, net, **kwargs):
        if self.restore_best and self._best_state is not None:
            net.module_.load_state_dict(self._best_state)
        self._best_state = None
        self.baseline_dataset = None
        if not self.stopped_early_:
            warnings.warn(
                f"Stopped after max_epochs={net.max_epochs} epochs without convergence "
                f"({self.monitor} still improving); increase max_epochs.",
                ConvergenceWarning,
            )
