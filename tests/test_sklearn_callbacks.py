"""Callbacks: scikit-learn's callback API on every estimator, and skorch callbacks as given."""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback, TensorBoard

from conftest import HOLD_OUT, InterruptAt, RaiseAtEpochEnd

import skae
from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer

callback_api = pytest.importorskip("sklearn.callback", reason="needs scikit-learn >= 1.9")

TRANSFORMERS = [AutoencoderTransformer, VAETransformer]
SMALL = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=4, random_state=0, **HOLD_OUT)


class Recorder:
    """A scikit-learn FitCallback recording ``(hook, task name, task id)``."""

    def __init__(self):
        self.events = []
        self.contexts = []

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name, context.task_id))

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name, context.task_id))

    def on_fit_task_begin(self, estimator, context):
        self.events.append(("begin", context.task_name, context.task_id))
        self.contexts.append(context)

    def on_fit_task_end(self, estimator, context):
        self.events.append(("end", context.task_name, context.task_id))


class PropagatedRecorder(Recorder):
    """A Recorder that meta-estimators hand down to their sub-estimators."""

    max_propagation_depth = None


class StopAfterEpoch(Recorder):
    """Asks to stop at the end of epoch ``epoch`` (counted from 1)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_fit_task_end(self, estimator, context):
        return context.task_name == "epoch" and context.task_id + 1 >= self.epoch


class KeepFitted(Recorder):
    """Keeps the ``fitted_estimator`` handed to each epoch's end."""

    def __init__(self):
        super().__init__()
        self.fitted = []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        super().on_fit_task_end(estimator, context)
        if context.task_name == "epoch":
            self.fitted.append(fitted_estimator)


@pytest.mark.parametrize("Estimator", [*TRANSFORMERS, ReconstructionOutlierDetector])
def test_every_public_estimator_supports_set_callbacks(Estimator):
    est = Estimator()
    assert isinstance(est, callback_api.CallbackSupportMixin)
    assert est.set_callbacks(Recorder()) is est


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_fit_is_one_task_with_an_epoch_subtask_per_epoch(Estimator, low_rank_X):
    recorder = Recorder()
    est = Estimator(**SMALL).set_callbacks(recorder).fit(low_rank_X)
    epochs = [("begin", "epoch", i) for i in range(est.n_epochs_)]
    expected = [("setup", "fit", 0), ("begin", "fit", 0)]
    for i in range(est.n_epochs_):
        expected += [("begin", "epoch", i), ("end", "epoch", i)]
    expected += [("end", "fit", 0), ("teardown", "fit", 0)]
    assert recorder.events == expected and len(epochs) == SMALL["max_epochs"]
    assert recorder.contexts[0].max_subtasks == SMALL["max_epochs"]
    assert not hasattr(est, "_callback_fit_ctx")  # torn down after fit


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_each_partial_fit_call_is_one_task_with_its_epochs(Estimator, low_rank_X):
    recorder = Recorder()
    est = Estimator(**SMALL, partial_fit_epochs=2).set_callbacks(recorder)
    for chunk in np.array_split(low_rank_X, 2):
        est.partial_fit(chunk)
    one_call = [("setup", "fit", 0), ("begin", "fit", 0)]
    for i in range(2):
        one_call += [("begin", "epoch", i), ("end", "epoch", i)]
    one_call += [("end", "fit", 0), ("teardown", "fit", 0)]
    assert recorder.events == one_call + one_call
    assert est.n_epochs_ == 4
    # A stop request ends the call's training early; the next call trains again.
    stopper = StopAfterEpoch(1)
    est = Estimator(**SMALL, partial_fit_epochs=3).set_callbacks(stopper)
    est.partial_fit(low_rank_X)
    assert est.n_epochs_ == 1
    est.partial_fit(low_rank_X)
    assert est.n_epochs_ == 2 and np.isfinite(est.score(low_rank_X))


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_fit_that_raises_tears_the_callbacks_down_and_ends_no_task(Estimator, method, low_rank_X):
    # scikit-learn's contract: teardown always, from a finally block
    # (callback_management_context, which _fit_context runs); on_fit_task_end
    # only for a task that finished, whose fitted_estimator is ready to use.
    # The second epoch fails, so neither it nor the fit ends.
    recorder = Recorder()
    est = Estimator(**SMALL, partial_fit_epochs=3, callbacks=[RaiseAtEpochEnd(2)])
    with pytest.raises(ValueError, match="end of epoch 2"):
        getattr(est.set_callbacks(recorder), method)(low_rank_X)
    assert recorder.events == [
        ("setup", "fit", 0), ("begin", "fit", 0),
        ("begin", "epoch", 0), ("end", "epoch", 0), ("begin", "epoch", 1),
        ("teardown", "fit", 0),
    ]
    assert not hasattr(est, "_callback_fit_ctx")


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_an_epoch_interrupted_by_ctrl_c_ends_before_the_fit(Estimator, method, low_rank_X):
    # skorch ends training on Ctrl-C within its epochs and the fit returns: the
    # fit's task ends, so the epoch it began ends first, as the last epoch of a
    # fit that stopped there -- its fitted_estimator is the network training
    # left (without a validation split, the model fit returns).
    recorder = KeepFitted()
    est = Estimator(**{**SMALL, "early_stopping": False}, partial_fit_epochs=3, batch_size=16,
                    callbacks=[InterruptAt(2, batch=2)]).set_callbacks(recorder)
    getattr(est, method)(low_rank_X)
    assert recorder.events == [
        ("setup", "fit", 0), ("begin", "fit", 0),
        ("begin", "epoch", 0), ("end", "epoch", 0), ("begin", "epoch", 1), ("end", "epoch", 1),
        ("end", "fit", 0), ("teardown", "fit", 0),
    ]
    assert len(recorder.fitted) == est.n_epochs_ == 2
    np.testing.assert_array_equal(recorder.fitted[-1].transform(low_rank_X),
                                  est.transform(low_rank_X))


def test_no_epoch_callback_without_sklearn_callbacks(low_rank_X):
    est = AutoencoderTransformer(**SMALL).fit(low_rank_X)
    assert "sklearn_callbacks" not in dict(est.net_.callbacks_)
    est.set_callbacks(Recorder()).fit(low_rank_X)
    assert "sklearn_callbacks" in dict(est.net_.callbacks_)


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_fitted_model_does_not_keep_the_training_data(Estimator, method, low_rank_X):
    # The epochs' callback stays on the fitted network; the rows it was handed
    # must not, nor be pickled with the model.
    est = Estimator(**SMALL).set_callbacks(Recorder())
    getattr(est, method)(low_rank_X)
    data = pickle.dumps(est)
    for rows in (low_rank_X, low_rank_X.astype(np.float32)):
        assert rows[:4].tobytes() not in data


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_a_stop_request_ends_training_like_early_stopping(Estimator, low_rank_X):
    params = {**SMALL, "max_epochs": 30, "init": "random"}
    with warnings.catch_warnings():
        # Stopping on request is not "max_epochs reached without convergence".
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = Estimator(**params).set_callbacks(StopAfterEpoch(5)).fit(low_rank_X)
    assert stopped.n_epochs_ == 5
    # The same model as a fit that ends after 5 epochs: best weights restored.
    reference = Estimator(**{**params, "max_epochs": 5}).fit(low_rank_X)
    assert stopped.best_epoch_ == reference.best_epoch_ > 0
    np.testing.assert_array_equal(stopped.transform(low_rank_X), reference.transform(low_rank_X))
    assert np.isfinite(stopped.score(low_rank_X))


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_fitted_estimator_is_a_snapshot_of_each_epoch(Estimator, low_rank_X):
    keep = KeepFitted()
    params = {**SMALL, "max_epochs": 3, "init": "random", "early_stopping": False}
    est = Estimator(**params).set_callbacks(keep).fit(low_rank_X)
    codes = [model.transform(low_rank_X) for model in keep.fitted]
    assert len(codes) == 3 and all(model.net_ is not est.net_ for model in keep.fitted)
    # Without a validation split the last epoch is the fitted model.
    np.testing.assert_array_equal(codes[-1], est.transform(low_rank_X))
    assert not np.array_equal(codes[0], codes[-1])  # later epochs did not change it
    assert keep.fitted[0].sample(2, random_state=0).shape == (2, low_rank_X.shape[1])
    # Asking for snapshots does not change the training.
    plain = Estimator(**params).fit(low_rank_X)
    np.testing.assert_array_equal(plain.transform(low_rank_X), codes[-1])


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_scoring_monitor_scores_every_epoch(Estimator, low_rank_X):
    # ScoringMonitor scores a task only when fit received a y (ignored by training).
    monitor = callback_api.ScoringMonitor(scoring={"score": lambda est, X, y: est.score(X)})
    y = np.zeros(len(low_rank_X))
    est = Estimator(**SMALL).set_callbacks(monitor).fit(low_rank_X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert len(epochs) == est.n_epochs_ and all(np.isfinite(row["score"]) for row in epochs)
    (root,) = [row for row in rows if row["task_name"] == "fit"]
    assert root["score"] == est.score(low_rank_X)


def test_progress_bar_on_a_fit_in_a_pipeline_and_in_a_parallel_grid_search(
    low_rank_X, capsys, monkeypatch
):
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "250")  # rich would shorten long task names
    AutoencoderTransformer(**SMALL).set_callbacks(callback_api.ProgressBar()).fit(low_rank_X)
    assert "AutoencoderTransformer - fit" in capsys.readouterr().out

    pipeline = make_pipeline(StandardScaler(), AutoencoderTransformer(**SMALL))
    pipeline.set_callbacks(callback_api.ProgressBar()).fit(low_rank_X)
    assert "fit-final-estimator | AutoencoderTransformer - fit" in capsys.readouterr().out

    search = GridSearchCV(
        AutoencoderTransformer(**SMALL), {"n_components": [1, 2]}, cv=2, n_jobs=2
    )
    search.set_callbacks(callback_api.ProgressBar(max_propagation_depth=None)).fit(low_rank_X)
    out = capsys.readouterr().out
    # Four fits in the worker processes and the refit, each reported to this process.
    assert out.count("candidate-split-evaluation | AutoencoderTransformer - fit") == 4
    assert "refit-with-best-params | AutoencoderTransformer - fit" in out


def test_callbacks_propagate_through_grid_search_to_the_epochs(low_rank_X):
    recorder = PropagatedRecorder()
    search = GridSearchCV(AutoencoderTransformer(**SMALL), {"n_components": [1, 2]}, cv=2)
    search.set_callbacks(recorder).fit(low_rank_X)
    epochs = [e for e in recorder.events if e[:2] == ("end", "epoch")]
    fits = 2 * 2 + 1  # candidates x folds, and the refit
    assert len(epochs) == fits * SMALL["max_epochs"]


def test_outlier_detector_propagates_callbacks_to_its_estimator(low_rank_X):
    recorder = PropagatedRecorder()
    detector = ReconstructionOutlierDetector(VAETransformer(**SMALL), trim_fraction=0.0)
    detector.set_callbacks(recorder).fit(low_rank_X)
    names = [name for hook, name, _ in recorder.events if hook == "begin"]
    # The wrapped estimator's fit is the detector's "fit-estimator" task (merged).
    assert names == ["fit", "fit", *["epoch"] * detector.estimator_.n_epochs_]
    inner = recorder.contexts[1]
    assert (inner.estimator_name, inner.source_task_name) == ("VAETransformer", "fit-estimator")
    assert recorder.events[-1] == ("teardown", "fit", 0)


def test_robust_training_is_two_estimator_tasks(low_rank_X):
    recorder = PropagatedRecorder()
    detector = ReconstructionOutlierDetector(VAETransformer(**SMALL), trim_fraction=0.1)
    detector.set_callbacks(recorder).fit(low_rank_X)
    names = [name for hook, name, _ in recorder.events if hook == "begin"]
    assert names.count("fit") == 3
    # The second fit, without the worst-scored rows, is the last task.
    last = len(names) - 1 - names[::-1].index("fit")
    assert names[last + 1:] == ["epoch"] * detector.estimator_.n_epochs_
    tasks = [c.source_task_name for c in recorder.contexts if c.estimator_name == "VAETransformer"]
    assert "fit-estimator" in tasks and "refit-estimator" in tasks


def test_without_the_callback_api_estimators_fit_as_before():
    # scikit-learn < 1.9 has no sklearn.callback: simulated by an empty module,
    # put in place once the parts of this scikit-learn that use it are loaded.
    code = """
import sys, types
import skorch, sklearn.neighbors, sklearn.pipeline, sklearn.callback._callback_support
sys.modules["sklearn.callback"] = types.ModuleType("sklearn.callback")
import numpy as np
import skae
X = np.random.RandomState(0).rand(60, 4)
for est in [
    skae.AutoencoderTransformer(n_components=2, max_epochs=2, random_state=0),
    skae.ReconstructionOutlierDetector(skae.VAETransformer(n_components=2, max_epochs=2)),
]:
    assert not hasattr(est, "set_callbacks")
    est.fit(X)
print("fitted")
"""
    root = str(Path(skae.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fitted"


# ------------------------------------------------------ skorch callbacks as given
def test_clone_makes_new_skorch_callbacks_and_shares_sklearn_ones():
    from skorch.callbacks import GradientNormClipping

    clipping, recorder = GradientNormClipping(0.5), Recorder()
    est = AutoencoderTransformer(callbacks=[("clip", clipping)]).set_callbacks(recorder)
    cloned = clone(est)
    name, new = cloned.callbacks[0]
    assert name == "clip" and isinstance(new, GradientNormClipping) and new is not clipping
    assert new.get_params() == clipping.get_params()
    assert cloned._skl_callbacks == [recorder] and cloned._skl_callbacks[0] is recorder


class KeepsACount(Callback):
    """Keeps state in an attribute not named with a trailing underscore, which
    skorch's get_params lists as a parameter."""

    def __init__(self, start=0):
        self.start = start
        self.count = start


def test_a_callback_that_cannot_be_rebuilt_from_its_parameters_is_named():
    # The error was clone's own: "KeepsACount.__init__() got an unexpected
    # keyword argument 'count'", naming neither the estimator nor the rule.
    from skorch.callbacks import GradientNormClipping

    est = AutoencoderTransformer(callbacks=[GradientNormClipping(1.0), ("n", KeepsACount())])
    match = (r"AutoencoderTransformer cannot be cloned: callbacks\[1\] \(KeepsACount\) cannot "
             r"be rebuilt from its parameters .*unexpected keyword argument 'count'.* "
             r"not parameters of __init__ \('count'\) with a trailing underscore")
    for estimator in (est, ReconstructionOutlierDetector(est)):
        with pytest.raises(TypeError, match=match):
            clone(estimator)


def test_tensorboard_writes_event_files_and_an_open_writer_cannot_be_cloned(low_rank_X, tmp_path):
    pytest.importorskip("tensorboard")
    from skorch.callbacks import TensorBoard
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    est = VAETransformer(**SMALL, callbacks=[TensorBoard(writer)])
    with pytest.raises(TypeError, match=r"callbacks\[0\] \(TensorBoard\).*initialize"):
        clone(est)  # an open SummaryWriter holds a lock
    est.fit(low_rank_X)
    assert list(tmp_path.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"Loss/train_loss", "Loss/valid_loss", "Loss/train_kl"} <= set(tags)
    steps = [event.step for event in events.Scalars("Loss/train_loss")]
    assert steps == list(range(1, est.n_epochs_ + 1))


def _tensorboard_steps(log_dir, tag="Loss/train_loss"):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("close_after_train", [True, False])
def test_a_fit_that_raises_closes_tensorboards_writer(method, close_after_train, low_rank_X,
                                                      tmp_path):
    # skorch ends a run that raises without on_train_end: the writer stayed
    # open (a thread and a file per failed fit). It is closed as at the end of
    # a fit that returns, or flushed if the user keeps it open.
    pytest.importorskip("tensorboard")
    from skorch.callbacks import TensorBoard
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    # fit fails in its second epoch; partial_fit in its second call's second.
    last = 5 if method == "partial_fit" else 2
    est = AutoencoderTransformer(**SMALL, partial_fit_epochs=3, callbacks=[
        TensorBoard(writer, close_after_train=close_after_train), RaiseAtEpochEnd(last)
    ])
    if method == "partial_fit":
        est.partial_fit(low_rank_X)
    with pytest.raises(ValueError, match=f"end of epoch {last}"):
        getattr(est, method)(low_rank_X)
    assert (writer.all_writers is None) is close_after_train
    assert _tensorboard_steps(tmp_path) == list(range(1, last + 1))
    writer.close()


class BrokenWriter:
    """A writer that records scalars and fails to close."""

    def add_scalar(self, *args, **kwargs):
        pass

    def close(self):
        raise OSError("disk full")


def test_a_writer_failing_to_close_after_an_error_does_not_replace_the_error(low_rank_X):
    est = AutoencoderTransformer(**SMALL, callbacks=[
        ("board", TensorBoard(BrokenWriter())), RaiseAtEpochEnd(2)
    ])
    with pytest.raises(ValueError, match="end of epoch 2") as error:
        est.fit(low_rank_X)
    if sys.version_info >= (3, 11):
        assert "Closing callback 'board' then failed too: OSError('disk full')" in (
            error.value.__notes__
        )


class TensorBoardPerFit(TensorBoard):
    """The user guide's pattern: skorch's TensorBoard, with a writer of its own per fit."""

    def __init__(self, log_dir, writer=None, **kwargs):
        # skorch takes a callback's attributes as its parameters: clone passes writer.
        super().__init__(writer=writer, **kwargs)
        self.log_dir = log_dir

    def initialize(self):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=self.log_dir)
        return super().initialize()

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)  # closes the writer
        self.writer = None  # a writer cannot be pickled: keep none after fit


def test_a_callback_opening_its_writer_per_fit_works_in_a_grid_search(low_rank_X, tmp_path):
    pytest.importorskip("tensorboard")
    est = AutoencoderTransformer(**SMALL, callbacks=[TensorBoardPerFit(str(tmp_path))])
    search = GridSearchCV(est, {"n_components": [1, 2]}, cv=2).fit(low_rank_X)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2 * 2 + 1
    # The refitted model pickles: its callback holds no writer any more.
    pickle.loads(pickle.dumps(search.best_estimator_))
    assert search.best_estimator_.callbacks[0].writer is None


def test_a_callback_opening_its_writer_per_fit_closes_it_when_the_fit_raises(low_rank_X, tmp_path):
    # In a grid search, a candidate that fails (error_score=nan) left its writer open.
    pytest.importorskip("tensorboard")
    tensorboard = TensorBoardPerFit(str(tmp_path))
    est = AutoencoderTransformer(**SMALL, callbacks=[tensorboard, RaiseAtEpochEnd(2)])
    with pytest.raises(ValueError, match="end of epoch 2"):
        est.fit(low_rank_X)
    assert tensorboard.writer is None
    assert _tensorboard_steps(tmp_path) == [1, 2]


class WatchTraining(Callback):
    """Counts its initializations and the training runs and epochs it sees after the last."""

    def initialize(self):
        self.initializations = getattr(self, "initializations", 0) + 1
        self.events = []
        return self

    def on_train_begin(self, net, **kwargs):
        self.events.append("begin")

    def on_epoch_end(self, net, **kwargs):
        self.events.append(net.history[-1, "train_loss"])

    def on_train_end(self, net, **kwargs):
        self.events.append("end")


def test_a_fall_back_to_pca_keeps_the_callbacks_state(low_rank_X):
    # On [0, 1] data loss="auto" trains binary cross-entropy; falling back to PCA
    # swaps in a squared-error network, which used to come with a new net that
    # initialized the callbacks again, after the training they watched: their
    # state was lost, a writer opened in initialize() was never closed.
    X = low_rank_X[:60]
    X = (X - X.min(0)) / np.ptp(X, 0)
    watch = WatchTraining()
    est = AutoencoderTransformer(**{**SMALL, "max_epochs": 2}, callbacks=[watch]).fit(X)
    assert est.best_epoch_ == 0 and est.loss_ == "mse"  # fell back, to another network
    assert watch.initializations == 1
    assert watch.events == ["begin", *est.loss_curve_, "end"]


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_each_partial_fit_call_runs_the_callbacks_set_now_initialized(Estimator, low_rank_X):
    # partial_fit ran the callbacks its net was built with: one set after fit
    # never ran, one removed ran on; and it initialized them again only after
    # fit (whose monitor it dropped), so that a callback opening its writer in
    # initialize() (TensorBoardPerFit) had none in a second call.
    first, second = WatchTraining(), WatchTraining()
    est = Estimator(**SMALL, partial_fit_epochs=1, callbacks=[first]).fit(low_rank_X)
    est.set_params(callbacks=[second]).partial_fit(low_rank_X)
    assert first.initializations == 1 and first.events[-1] == "end"
    assert second.initializations == 1
    assert second.events == ["begin", est.loss_curve_[-1], "end"]
    est.partial_fit(low_rank_X)
    assert second.initializations == 2
    assert second.events == ["begin", est.loss_curve_[-1], "end"]
    est.set_params(callbacks=None).partial_fit(low_rank_X)
    assert second.initializations == 2 and len(second.events) == 3


@pytest.mark.parametrize("Estimator", TRANSFORMERS)
def test_a_cross_validated_fit_trained_for_no_epoch_ends_the_callbacks_training(
    Estimator, low_rank_X, tmp_path
):
    pytest.importorskip("tensorboard")
    watch, tensorboard = WatchTraining(), TensorBoardPerFit(str(tmp_path))
    est = Estimator(**{**SMALL, "early_stopping": "auto", "max_epochs": 2},
                    callbacks=[watch, tensorboard]).fit(low_rank_X[:40])
    assert est.n_epochs_ == 0  # PCA's solution on every row
    assert watch.initializations == 1 and watch.events == ["begin", "end"]
    # The writer was closed, and the model pickles.
    assert tensorboard.writer is None
    pickle.loads(pickle.dumps(est))
