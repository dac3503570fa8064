"""Users' own ``torch.nn.Module``s as encoder and decoder bodies.

A user's module cannot be asked to zero its last layer, so skae wraps it.
An encoder body's features go through skae's own linear layer, started at
zero, to the code's width (:class:`EncoderHead`); a decoder body's output is
multiplied by a learnable scalar gate started at 0, as ReZero does
(:class:`GatedBody`). Either way the body contributes nothing at the start,
and a network started at (probabilistic) PCA's solution computes exactly that
solution before training. Modules are checked once, on a dummy batch, so a
wrong interface fails at ``fit`` with the shapes named. No scikit-learn here.
"""

import copy
import math

import torch
from torch import nn

from ._random import DrawsRandom, redirected_draws

#: Rows of the dummy batch a body is checked with (2: a batch dimension that
#: cannot be confused with a squeezed one).
_PROBE_ROWS = 2


class EncoderHead(DrawsRandom, nn.Module):
    """``head(body(x).flatten(1))``, with ``head`` a linear layer started at zero.

    The body's random draws (``nn.Dropout``'s masks, ``torch.randn``...) come
    from ``generator`` when one is set (:func:`~skae._random.redirected_draws`).
    """

    def __init__(self, body, in_features, out_features):
        super().__init__()
        self.body = body
        self.head = nn.Linear(in_features, out_features)

    def forward(self, x):
        with redirected_draws(self.generator):
            features = self.body(x)
        return self.head(features.reshape(x.shape[0], -1))

    @torch.no_grad()
    def zero_output_(self):
        self.head.weight.zero_()
        self.head.bias.zero_()


class GatedBody(DrawsRandom, nn.Module):
    """``gate * body(x)`` with a learnable scalar ``gate`` started at 0 (ReZero).

    The body's random draws come from ``generator``, as in :class:`EncoderHead`.
    """

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        with redirected_draws(self.generator):
            out = self.body(x)
        return self.gate * out

    @torch.no_grad()
    def zero_output_(self):
        self.gate.zero_()


def instantiate(spec, kwargs, name):
    """A fresh module from ``spec``: a class called with ``kwargs``, or a deep copy of an instance.

    The caller's instance is never trained or modified: refitting starts from
    the same weights, and clones do not share parameters. A failure of the
    user's code names the parameter: ``TypeError`` for a class that does not
    take ``kwargs``, ``ValueError`` for any other exception of its
    ``__init__`` or of the copy.
    """
    if isinstance(spec, nn.Module):
        if kwargs:
            raise ValueError(
                f"{name}_kwargs={kwargs!r} can only be used when {name} is a class; "
                f"{name} is an instance of {type(spec).__name__}."
            )
        try:
            return copy.deepcopy(spec)
        except Exception as exc:  # the user's module: e.g. it holds a lock or a file
            raise ValueError(
                f"{name}, an instance of {type(spec).__name__}, could not be deep-copied "
                f"(skae trains a copy, never yours); pass its class and {name}_kwargs "
                f"instead. It raised {type(exc).__name__}: {exc}"
            ) from exc
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        try:
            return spec(**(kwargs or {}))
        except Exception as exc:  # the user's class: any failure is reported as its own
            error = TypeError if isinstance(exc, TypeError) else ValueError
            raise error(
                f"{name}={spec.__name__} could not be built with "
                f"{name}_kwargs={kwargs!r}: it raised {type(exc).__name__}: {exc}"
            ) from exc
    raise TypeError(
        f"{name} must be a torch.nn.Module subclass or instance, got {spec!r}."
    )


def _output_shape(body, in_shape, name, expected):
    """The output shape of ``body`` on a dummy ``(2, *in_shape)`` batch, with clear errors."""
    shape = (_PROBE_ROWS, *in_shape)
    probe = torch.zeros(shape)
    was_training = body.training
    body.eval()  # no dropout, and batch normalisation's statistics stay untouched
    try:
        with torch.no_grad():
            out = body(probe)
    except Exception as exc:  # the user's module: any failure means a wrong interface
        raise ValueError(
            f"{name} must map a float32 batch of shape {shape} to {expected}; "
            f"it raised {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        body.train(was_training)
    if probe._version:  # autograd's count of in-place writes to the tensor
        raise ValueError(
            f"{name} must not modify its input in place (as nn.ReLU(inplace=True) or an "
            f"in-place method such as mul_ on it does): the linear path beside it reads the "
            f"same tensor, which autograd needs unchanged. Make that operation out of place."
        )
    if not isinstance(out, torch.Tensor) or out.ndim < 2 or out.shape[0] != _PROBE_ROWS:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{name} must map a batch of shape {shape} to {expected}; got {got}.")
    if out.dtype != torch.float32:
        raise ValueError(
            f"{name} must compute in float32 (skae's dtype); its output is {out.dtype}."
        )
    return tuple(out.shape)


def custom_encoder_body(spec, kwargs, input_shape, out_features):
    """The user's encoder body, checked, followed by a linear head started at zero."""
    body = instantiate(spec, kwargs, "encoder")
    shape = _output_shape(body, input_shape, "encoder", "features of shape (batch, ...)")
    return EncoderHead(body, math.prod(shape[1:]), out_features)


def custom_decoder_body(spec, kwargs, n_components, output_shape):
    """The user's decoder body, checked, behind a gate started at 0."""
    body = instantiate(spec, kwargs, "decoder")
    n_features = math.prod(output_shape)
    expected = f"{(_PROBE_ROWS, *output_shape)} or {(_PROBE_ROWS, n_features)}"
    shape = _output_shape(body, (n_components,), "decoder", expected)
    if shape[1:] not in (tuple(output_shape), (n_features,)):
        raise ValueError(
            f"decoder must map a batch of codes of shape {(_PROBE_ROWS, n_components)} to "
            f"{expected}; got {shape}."
        )
    return GatedBody(body)
