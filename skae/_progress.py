"""What a fit prints, by ``verbose`` level and by where the output goes.

``verbose=0`` prints nothing. ``verbose=1`` fits the context: a live progress
bar (epoch, losses, time left; tqdm, which skorch already depends on) when
standard error is a terminal or the code runs in a Jupyter notebook, and one
plain line per epoch on standard output otherwise (a log file, a pipe, a
parallel worker). ``verbose>=2`` always prints the line per epoch. The lines
are skorch's epoch table; skorch colours the best values with ANSI escape
codes, which are kept only when standard output is a terminal.

Long inference (``transform`` and the other chunked methods) shows a bar too
with ``verbose>=1`` in a terminal or notebook, once a call has run for
``_INFERENCE_BAR_DELAY`` seconds; with ``verbose=0`` the chunks are iterated
exactly as without this module.
"""

import math
import re
import sys

from skorch.callbacks import Callback, PrintLog

#: Inference shows its bar only after running this long (seconds): quick calls print nothing.
_INFERENCE_BAR_DELAY = 1.0
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _in_notebook():
    """Whether the code runs in a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def live_output():
    """Whether a live bar can be drawn: a Jupyter notebook, or stderr is a terminal."""
    return _in_notebook() or _is_terminal(sys.stderr)


def _tqdm_class():
    """tqdm's notebook widget in a notebook with ipywidgets, its text bar otherwise."""
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
            from tqdm.notebook import tqdm
        except ImportError:
            pass
        else:
            return tqdm
    from tqdm import tqdm

    return tqdm


def print_plain(text):
    """Print ``text`` on stdout, without ANSI colour codes unless stdout is a terminal."""
    if not _is_terminal(sys.stdout):
        text = _ANSI_ESCAPE.sub("", text)
    print(text, flush=True)


def progress_callbacks(estimator):
    """The named skorch callbacks that print what ``estimator.verbose`` asks for.

    The live bar (``"progress_bar"``), skorch's epoch table (``"print_log"``,
    printed by :func:`print_plain`), or none: skae's net has no ``PrintLog``
    by default (:meth:`~skae._net.SkaeNet.get_default_callbacks`).
    """
    verbose = int(estimator.verbose)
    if verbose == 1 and live_output():
        return [("progress_bar", EpochProgressBar(description=type(estimator).__name__))]
    if verbose >= 1:
        return [("print_log", PrintLog(sink=print_plain))]
    return []


class EpochProgressBar(Callback):
    """A live bar over a training run: epoch, losses and estimated time left.

    It advances once per training batch, so the estimate is current within
    long epochs, and counts towards the epochs the run may train (the net's
    ``planned_epochs_``: ``max_epochs`` for ``fit``, ``partial_fit_epochs``
    for a ``partial_fit`` call; ``max_epochs`` if unset): when early stopping
    ends the fit sooner, the estimate was an upper bound and the bar stops
    short. Epochs are counted from 1 in each run; a run of no epoch shows no
    bar.
    """

    def __init__(self, description="", postfix_keys=("train_loss", "valid_loss")):
        self.description = description
        self.postfix_keys = postfix_keys

    def on_train_begin(self, net, X=None, **kwargs):
        self.epochs_ = getattr(net, "planned_epochs_", net.max_epochs)
        self.epoch_ = 0
        if not self.epochs_:
            self.bar_ = None
            return
        # Without a known length (a stream), the bar counts batches without a total.
        batches = math.ceil(len(X) / net.batch_size) if hasattr(X, "__len__") else None
        self.bar_ = _tqdm_class()(
            total=self.epochs_ * batches if batches else None,
            desc=self.description,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
            leave=True,
            dynamic_ncols=True,
            file=sys.stderr,
        )
        self.bar_.set_postfix_str(f"epoch 1/{self.epochs_}", refresh=False)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.bar_.update()

    def on_epoch_end(self, net, **kwargs):
        self.epoch_ += 1
        row = net.history[-1]
        parts = [f"epoch {self.epoch_}/{self.epochs_}"]
        parts += [f"{key}={row[key]:.4g}" for key in self.postfix_keys if key in row]
        self.bar_.set_postfix_str(", ".join(parts), refresh=False)

    def on_train_end(self, net, **kwargs):
        self.close()

    def close(self):
        """Close the bar, leaving its last state on its own line (again: no effect).

        Also called when a training run raises, which skorch ends without
        ``on_train_end``: the traceback then starts on a line of its own.
        """
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.refresh()
            bar.close()

    def __getstate__(self):
        # A bar holds its output stream: it only lives during a fit.
        state = self.__dict__.copy()
        state.pop("bar_", None)
        return state


def chunks_with_progress(estimator, chunks, n_rows):
    """``chunks`` (row blocks of an inference call), with a bar when ``verbose`` asks.

    With ``verbose=0``, or when no live bar can be drawn, ``chunks`` itself is
    returned: the inference loop runs exactly as without progress reporting.
    """
    if not estimator.verbose or not live_output():
        return chunks
    return _advance(chunks, n_rows, type(estimator).__name__)


def _advance(chunks, n_rows, description):
    with _tqdm_class()(
        total=n_rows,
        desc=description,
        unit="row",
        unit_scale=True,
        delay=_INFERENCE_BAR_DELAY,
        leave=False,
        file=sys.stderr,
    ) as bar:
        for block in chunks:
            yield block
            bar.update(len(block))
