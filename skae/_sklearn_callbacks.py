"""scikit-learn's callback API on skae's estimators, and how ``clone`` treats callbacks.

scikit-learn 1.9 introduced :mod:`sklearn.callback`: callbacks such as
``ProgressBar`` and ``ScoringMonitor`` are set with ``set_callbacks`` (from
``CallbackSupportMixin``) and see a tree of tasks; meta-estimators
(``Pipeline``, ``GridSearchCV``) hand them to their sub-estimators. An
estimator opens its root task with ``_init_callback_context`` at the start of
``fit``; ``_fit_context`` (the decorator on every ``fit``) tears the callbacks
down afterwards, whether ``fit`` succeeded or not, as ``with_callbacks`` does
for estimators without it. A task ends (``on_fit_task_end``) only when its
work is done, as in scikit-learn's estimators: a fit that raises ends neither
itself nor the epoch that failed, and the next hook its callbacks see is
teardown. A task that ends has ended every sub-task it began: an epoch
interrupted by Ctrl-C (skorch ends training there, and ``fit`` returns) ends
before the fit does, as the last epoch of a fit that stopped there.

skae's root task is the fit and each epoch is a sub-task: :class:`FitTasks`
opens the root, and its :class:`EpochTasks` skorch callback maps skorch's
``on_epoch_begin`` / ``on_epoch_end`` onto the sub-tasks' hooks. A callback
asking to stop (``on_fit_task_end`` returning True) ends training after the
epoch, through ``SkaeNet.request_stop`` -- the way skae's own early stopping
ends it, so the best weights are restored as usual.

With scikit-learn < 1.9, ``CallbackSupportMixin`` here is an empty stand-in:
the estimators have no ``set_callbacks`` and :class:`FitTasks` does nothing.
"""

import contextlib
import copy
import inspect

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin`` (scikit-learn < 1.9)."""


from sklearn.base import clone
from skorch.callbacks import Callback


class FitTasks:
    """The root task of one ``fit`` for scikit-learn's callbacks.

    Created after the input is validated (as scikit-learn's estimators do), it
    calls the root task's ``on_fit_task_begin``; :meth:`end` calls its
    ``on_fit_task_end`` once the estimator is fitted. ``X`` and ``y`` are what
    the callbacks receive (``y`` is ignored by the training but passed on:
    ``ScoringMonitor`` scores a task only when it has a ``y``).
    """

    def __init__(self, estimator, X, y, *, max_subtasks):
        self.estimator = estimator
        self.X = X
        self.y = y
        init = getattr(estimator, "_init_callback_context", None)
        self.context = None if init is None else init(max_subtasks=max_subtasks)
        if self.context is not None:
            self.context.call_on_fit_task_begin(estimator=estimator, X=X, y=y)

    def _has_callbacks(self):
        return self.context is not None and bool(getattr(self.estimator, "_skl_callbacks", None))

    def epoch_callbacks(self):
        """The skorch callbacks that give each epoch its sub-task (none without callbacks)."""
        return [("sklearn_callbacks", EpochTasks(self))] if self._has_callbacks() else []

    @contextlib.contextmanager
    def sub_estimator(self, task_name, sub_estimator):
        """A sub-task fitting ``sub_estimator``, to which callbacks propagate."""
        if self.context is None:
            yield
            return
        context = self.context.subcontext(task_name=task_name)
        with context.propagate_callback_context(sub_estimator):
            context.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)
            yield
            context.call_on_fit_task_end(estimator=self.estimator, X=self.X, y=self.y)

    def end(self):
        """End the root task; the estimator is fitted (``fitted_estimator`` is a copy of it).

        The training data are then let go: the fitted network keeps its
        :class:`EpochTasks` callback, which reaches them through this task,
        and would otherwise hold them, and pickle them with the model.
        """
        if self.context is not None:
            self.context.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, reconstruction_attributes={}
            )
        self.X = self.y = None

    def snapshot(self, net):
        """Attributes making a copy of the estimator usable as the network is now.

        The copy gets its own copy of the network (later epochs do not change
        it) and the attributes ``_after_fit`` computes; the network being
        trained is left as it is.
        """
        fitted = copy.copy(self.estimator)
        frozen = copy.copy(net)  # skorch copies module_, criterion_ and optimizer_
        frozen.module_.eval()
        fitted.net_ = frozen
        fitted._after_fit(fitted._check_X(self.X))
        original = vars(self.estimator)
        return {
            key: value
            for key, value in vars(fitted).items()
            if key not in original or original[key] is not value
        }


class EpochTasks(Callback):
    """skorch callback giving each epoch a scikit-learn sub-task named ``"epoch"``.

    ``fitted_estimator`` (for callbacks that ask for it, e.g. ``ScoringMonitor``)
    is built only when asked: a copy of the estimator with the network as it
    is at the epoch's beginning or end.
    """

    def __init__(self, tasks):
        self.tasks = tasks

    def _call(self, hook, net):
        tasks = self.tasks
        return hook(
            estimator=tasks.estimator,
            X=tasks.X,
            y=tasks.y,
            reconstruction_attributes=lambda: tasks.snapshot(net),
        )

    def on_epoch_begin(self, net, **kwargs):
        self.context_ = self.tasks.context.subcontext(task_name="epoch")
        self._open = True
        self._call(self.context_.call_on_fit_task_begin, net)

    def on_epoch_end(self, net, **kwargs):
        self._open = False
        if self._call(self.context_.call_on_fit_task_end, net):
            net.request_stop()

    def on_train_end(self, net, **kwargs):
        # Training interrupted inside an epoch (Ctrl-C): the fit stopped at the
        # end of this task, so its fitted_estimator is the network training
        # leaves (early stopping's best epoch restored: its on_train_end came
        # first). Asking to stop is moot. A run that raises does not come here.
        if getattr(self, "_open", False):
            self._open = False
            self._call(self.context_.call_on_fit_task_end, net)


def clone_error(estimator):
    """A clearer error for a ``clone`` that failed on a callback, or None.

    ``clone`` (used by ``GridSearchCV``, ``cross_validate``...) rebuilds each
    skorch callback from its parameters, deep-copying them: a callback holding
    a ``SummaryWriter``, a lock or an open file cannot be copied, and one
    keeping state in an attribute that is not a parameter of its ``__init__``
    cannot be rebuilt (skorch's ``get_params`` lists every attribute whose
    name does not end in ``_``).
    """
    for index, entry in enumerate(estimator.callbacks or []):
        callback = entry[1] if isinstance(entry, tuple) else entry
        what = f"callbacks[{index}] ({type(callback).__name__})"
        try:
            copy.deepcopy(callback)
        except Exception as exc:  # noqa: BLE001 - any failure to copy is the culprit
            return TypeError(
                f"{type(estimator).__name__} cannot be cloned: {what} holds an object that "
                f"cannot be copied ({exc}). clone (used by GridSearchCV, cross_validate, ...) "
                "makes each callback anew from its parameters. Pass a callback that opens its "
                "writer or file in initialize() (skorch calls it at the start of every "
                "fit), or use this callback on single fits only."
            )
        if isinstance(callback, type):
            continue
        try:
            clone(callback, safe=False)
        except Exception as exc:  # noqa: BLE001 - the user's class: any failure is its own
            return TypeError(
                f"{type(estimator).__name__} cannot be cloned: {what} cannot be rebuilt from "
                f"its parameters ({type(exc).__name__}: {exc}). clone (used by GridSearchCV, "
                f"cross_validate, ...) makes each skorch callback anew as "
                f"{type(callback).__name__}(**get_params()), and skorch's get_params lists "
                "every attribute whose name does not end in '_'. Name the attributes that "
                f"are not parameters of __init__{_not_parameters(callback)} with a trailing "
                "underscore and set them in initialize(), as skorch's callbacks do."
            )
    return None


def _not_parameters(callback):
    """`` (names)``: ``callback``'s attributes that skorch's ``get_params`` lists
    but its ``__init__`` does not take, or ``""`` if that cannot be told."""
    try:
        parameters = inspect.signature(type(callback).__init__).parameters
        names = callback.get_params(deep=False)
    except Exception:  # noqa: BLE001 - only a hint for the message
        return ""
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return ""
    extra = sorted(set(names) - set(parameters))
    return f" ({', '.join(map(repr, extra))})" if extra else ""
