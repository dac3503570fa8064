"""Per-fit random generators: a fit draws from its own, never from torch's global one.

``torch.random.fork_rng`` + ``torch.manual_seed`` seed and restore the global
generator of the whole process: two fits in two threads then draw from one
stream (neither equals its sequential self) and the caller's thread sees its
state change. Here every random draw of a fit comes from a ``torch.Generator``
of its own, seeded from ``random_state``:

- initial weights: :func:`build_seeded` runs the module's construction with
  every draw made without a generator (``nn.Linear``'s ``kaiming_uniform_``,
  ``nn.init.*``, ``torch.randn``, ...) sent to the fit's CPU generator, through
  a torch function mode, which is thread-local;
- training draws (denoising noise, dropout masks, the VAE's reparameterisation
  noise): modules that are :class:`DrawsRandom` read them from ``generator``,
  set for the duration of the fit by :func:`draw_from`; a user's module, which
  knows nothing of it, runs under :func:`redirected_draws` (its draws, and
  ``nn.Dropout``'s masks, sent to that generator).

A generator seeded with ``seed`` produces the stream the global generator
produces after ``torch.manual_seed(seed)``, in the same order of draws: models
are the ones the global generator gave (on CUDA, except dropout masks).
"""

import contextlib
import functools
import inspect

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

#: torch's random functions and tensor methods that take ``generator=``: draws
#: from these, made with no generator, are redirected during construction.
_DRAWS = frozenset(
    {
        "bernoulli", "bernoulli_", "cauchy_", "exponential_", "geometric_", "log_normal_",
        "multinomial", "normal", "normal_", "poisson", "rand", "rand_like", "randint",
        "randint_like", "randn", "randn_like", "random_", "randperm", "uniform_",
    }
)


@functools.lru_cache(maxsize=1024)
def _python_function_takes_generator(func):
    return "generator" in inspect.signature(func).parameters


def _takes_generator(func):
    if getattr(func, "__name__", None) in _DRAWS:
        return True
    # Python functions (torch.nn.init's, a user's) say so in their signature.
    return inspect.isfunction(func) and _python_function_takes_generator(func)


def dropout(x, p, generator, inplace=False):
    """``F.dropout(x, p, training=True)`` with its mask drawn from ``generator``.

    ``F.dropout`` takes no generator. On a CPU it draws ``bernoulli_(1 - p)``
    and scales by ``1 / (1 - p)``; so does this, from ``generator``: the same
    masks for the same stream. (CUDA's ``F.dropout`` is a fused kernel with
    its own draws.) ``p`` must be below 1.
    """
    keep = 1.0 - p
    mask = torch.empty_like(x).bernoulli_(keep, generator=generator).div_(keep)
    return x.mul_(mask) if inplace else x * mask


def _dropout_from(generator, input, p=0.5, training=True, inplace=False):
    """``F.dropout``'s signature; its mask, if it draws one, from ``generator``."""
    if not training or p == 0 or p == 1 or input.device.type != generator.device.type:
        return F.dropout(input, p, training, inplace)
    return dropout(input, p, generator, inplace)


def _draw_device(args, kwargs):
    """The device a draw fills: its ``device`` argument, else its first tensor's,
    else torch's default device."""
    if kwargs.get("device") is not None:
        return torch.device(kwargs["device"])
    for arg in args:
        if isinstance(arg, torch.Tensor):
            return arg.device
    default = getattr(torch, "get_default_device", None)  # torch >= 2.3
    return default() if default is not None else torch.device("cpu")


class _DrawFrom(TorchFunctionMode):
    """Hand ``generator`` to every torch draw made without one, in this thread.

    ``F.dropout`` (``nn.Dropout``), which takes no generator, draws its mask
    from it too (:func:`dropout`). A draw on another type of device than the
    generator's (a user's module drawing on the CPU while training on CUDA),
    which torch would refuse, keeps torch's global generator.
    """

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is F.dropout:
            return _dropout_from(self.generator, *args, **kwargs)
        if (kwargs.get("generator") is None and _takes_generator(func)
                and _draw_device(args, kwargs).type == self.generator.device.type):
            kwargs["generator"] = self.generator
        return func(*args, **kwargs)


def build_seeded(build, generator):
    """``build()``, its random initial weights drawn from ``generator`` (a CPU one).

    Only the calling thread is affected; torch's global generator is neither
    read nor advanced by the draws that take a generator.
    """
    with _DrawFrom(generator):
        return build()


def redirected_draws(generator):
    """A context in which this thread's torch draws made without a generator,
    and ``nn.Dropout``'s masks, come from ``generator`` (no change if None).

    For a user's module inside a :class:`DrawsRandom` wrapper: the user's code
    cannot be asked to take a generator.
    """
    return contextlib.nullcontext() if generator is None else _DrawFrom(generator)


class DrawsRandom:
    """Mixin of modules that draw random numbers while training.

    They draw from ``generator``; ``None`` (the default) is torch's global
    generator, as in plain torch.
    """

    generator = None


@contextlib.contextmanager
def draw_from(module, generator):
    """Make every :class:`DrawsRandom` inside ``module`` draw from ``generator``; reset after."""
    drawing = [m for m in module.modules() if isinstance(m, DrawsRandom)]
    for m in drawing:
        m.generator = generator
    try:
        yield
    finally:
        for m in drawing:
            m.generator = None


def fit_generators(seed, device):
    """``(init, training)``: the generators of one fit, seeded with ``seed``.

    Initial weights are drawn on the CPU (modules are built there), training
    draws on ``device``; on a CPU both are one generator, one stream, as the
    global generator was.
    """
    init = torch.Generator().manual_seed(seed)
    if torch.device(device).type == "cpu":
        return init, init
    return init, torch.Generator(device=device).manual_seed(seed)
