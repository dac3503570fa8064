"""What a ``fit`` or ``partial_fit`` that raises leaves behind.

A fit can raise after it has changed the estimator: training diverges
(``FloatingPointError``), a block of streamed data holds NaN, a user's callback
fails, the user interrupts it outside skorch's epoch loop (skorch ends training
gracefully on a ``KeyboardInterrupt`` inside it). Left as it stands, the
estimator would look fitted and compute with a network trained into NaN, with
no error, or mix a new fit's attributes with an earlier one's.

- ``fit`` starts over, as scikit-learn's does: one that raises leaves the
  estimator unfitted, whatever it was before (:func:`unfitted_on_error`).
- ``partial_fit`` continues a model that may hold hours of streamed data: a
  call that raises leaves it as it was before the call, its network, its
  optimizer and its history included (:func:`kept_on_error`); a first call
  that raises leaves it unfitted.

A note on the error says which (from Python 3.11, which has notes).
"""

import functools

from ._net import copy_training_state, load_training_state


def fitted_attributes(estimator):
    """The names of ``estimator``'s fitted state, in ``vars(estimator)``.

    The public attributes ending in ``_`` (those ``check_is_fitted`` looks
    for) and the private ones its class names in ``_private_fitted_attributes``;
    not the parameters, nor what scikit-learn's ``set_output`` or
    ``set_callbacks`` configure.
    """
    private = getattr(estimator, "_private_fitted_attributes", ())
    return [
        name for name in vars(estimator)
        if (name.endswith("_") and not name.startswith("__")) or name in private
    ]


def _say(exc, estimator, method, outcome):
    """Note on ``exc`` what ``method`` left ``estimator`` as (``outcome``).

    A meta-estimator's note replaces the one its inner estimator's fit added:
    the user holds the outer one.
    """
    if not hasattr(exc, "add_note"):  # Python < 3.11
        return
    inner = getattr(exc, "_skae_state_note", None)
    if inner in getattr(exc, "__notes__", ()):
        exc.__notes__.remove(inner)
    exc._skae_state_note = (
        f"{type(estimator).__name__}.{method} raised: the estimator is {outcome}."
    )
    exc.add_note(exc._skae_state_note)


def _forget_fit(estimator):
    for name in fitted_attributes(estimator):
        delattr(estimator, name)


def unfitted_on_error(fit):
    """Decorate ``fit``: if it raises, for any reason, the estimator is left unfitted.

    Every fitted attribute (:func:`fitted_attributes`) is removed, an earlier
    fit's included, so that ``check_is_fitted`` raises ``NotFittedError``.
    """

    @functools.wraps(fit)
    def wrapper(estimator, *args, **kwargs):
        try:
            return fit(estimator, *args, **kwargs)
        except BaseException as exc:
            _forget_fit(estimator)
            _say(exc, estimator, fit.__name__, "left unfitted")
            raise

    return wrapper


def kept_on_error(partial_fit):
    """Decorate a transformer's ``partial_fit``: a call that raises changes nothing.

    On an estimator with a network (``net_``), the call starts from a
    :class:`_Snapshot`, restored if it raises; on one without, it is a first
    call, and :func:`unfitted_on_error` applies.
    """
    first_call = unfitted_on_error(partial_fit)

    @functools.wraps(partial_fit)
    def wrapper(estimator, *args, **kwargs):
        if not hasattr(estimator, "net_"):
            return first_call(estimator, *args, **kwargs)
        snapshot = _Snapshot(estimator)
        try:
            return partial_fit(estimator, *args, **kwargs)
        except BaseException as exc:
            snapshot.restore()
            _say(exc, estimator, partial_fit.__name__, "left as it was before the call")
            raise

    return wrapper


class _Snapshot:
    """What a ``partial_fit`` call may change in a fitted transformer, to undo it.

    A call replaces fitted attributes, never changes them in place, but for
    the network (``net_``): its weights and Adam's state are copied (the copy
    grows with the network, not with the data or the epochs run); its history
    (``history_``), which a call only extends, is cut back to its length; the
    learning rate and the callbacks a call resets are kept by reference.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.attributes = {name: getattr(estimator, name) for name in fitted_attributes(estimator)}
        net = estimator.net_
        self.training_state = copy_training_state(net)
        self.learning_rates = [group["lr"] for group in net.optimizer_.param_groups]
        self.n_epochs = len(net.history)
        self.net_settings = {
            name: getattr(net, name)
            for name in ("callbacks", "callbacks_", "iterator_train__seed")
        }

    def restore(self):
        estimator = self.estimator
        _forget_fit(estimator)
        for name, value in self.attributes.items():
            setattr(estimator, name, value)
        net = estimator.net_
        load_training_state(net, *self.training_state)
        for group, rate in zip(net.optimizer_.param_groups, self.learning_rates):
            group["lr"] = rate
        net.module_.eval()
        del net.history[self.n_epochs:]
        for name, value in self.net_settings.items():
            setattr(net, name, value)
