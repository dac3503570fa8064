"""What a fit prints by verbose level and output: live bar, plain lines, inference bar."""

import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import HOLD_OUT, RaiseAtEpochEnd

import skae._progress
from skae import AutoencoderTransformer, VAETransformer
from skae._progress import EpochProgressBar, chunks_with_progress, print_plain

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=3, random_state=0, **HOLD_OUT)


@pytest.fixture
def live(monkeypatch):
    """Output as in a terminal (stderr is a tty)."""
    monkeypatch.setattr(skae._progress, "live_output", lambda: True)


def _epoch_lines(text):
    return [line for line in text.splitlines() if line.strip()[:1].isdigit()]


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_verbose_one_prints_plain_lines_when_output_is_not_a_terminal(Estimator, low_rank_X, capsys):
    est = Estimator(verbose=1, **SMALL).fit(low_rank_X)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out and "valid_loss" in captured.out
    assert len(_epoch_lines(captured.out)) == est.n_epochs_
    assert "\x1b[" not in captured.out  # skorch's colour codes are stripped
    assert captured.err == ""


def test_verbose_one_shows_a_live_bar_in_a_terminal(low_rank_X, capsys, live):
    est = AutoencoderTransformer(verbose=1, **SMALL).fit(low_rank_X)
    captured = capsys.readouterr()
    assert captured.out == ""  # no epoch table
    assert "AutoencoderTransformer 100%" in captured.err
    final = captured.err.rsplit("\r", 1)[-1]
    assert f"epoch {est.n_epochs_}/3" in final and "train_loss=" in final
    assert "valid_loss=" in final


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_fit_that_raises_closes_the_live_bar(method, low_rank_X, capsys, live):
    # skorch ends a run that raises without on_train_end: the bar was left
    # open, and the traceback went on on its line. The error is kept, as a
    # notebook or debugger keeps it (with its frames, which hold the bar).
    est = AutoencoderTransformer(verbose=1, partial_fit_epochs=3, callbacks=[RaiseAtEpochEnd(2)],
                                 **SMALL)
    with pytest.raises(ValueError, match="end of epoch 2") as error:
        getattr(est, method)(low_rank_X)
    err = capsys.readouterr().err
    assert err.endswith("\n")
    assert "epoch 1/3, train_loss=" in err.rsplit("\r", 1)[-1]
    assert error.traceback  # alive until here


def test_the_live_bar_of_a_partial_fit_call_counts_its_epochs(low_rank_X, capsys, live):
    # It counted towards max_epochs (and the history's epoch numbers): a call
    # of partial_fit_epochs=2 ended at 4 %, "epoch 4/50" on the second call.
    est = AutoencoderTransformer(verbose=1, **{**SMALL, "max_epochs": 50}, partial_fit_epochs=2)
    for _ in range(2):
        est.partial_fit(low_rank_X)
        final = capsys.readouterr().err.rsplit("\r", 1)[-1]
        assert final.startswith("AutoencoderTransformer 100%")
        assert "epoch 2/2, train_loss=" in final


def test_partial_fit_prints_what_verbose_asks_for_now(low_rank_X, capsys, monkeypatch):
    # Each call kept the output its net was built with, whatever verbose said.
    est = AutoencoderTransformer(**SMALL, partial_fit_epochs=2).fit(low_rank_X)
    est.set_params(verbose=2).partial_fit(low_rank_X)
    assert len(_epoch_lines(capsys.readouterr().out)) == 2
    monkeypatch.setattr(skae._progress, "live_output", lambda: True)
    est.set_params(verbose=1).partial_fit(low_rank_X)
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 2/2, train_loss=" in captured.err
    est.set_params(verbose=0).partial_fit(low_rank_X)
    assert capsys.readouterr() == ("", "")


def test_no_live_bar_for_a_fit_of_no_epoch(low_rank_X, capsys, live):
    # Cross-validated early stopping kept PCA's solution: the bar opened and
    # closed at 0 %, "epoch 1/2", for a training that ran no epoch.
    est = AutoencoderTransformer(verbose=1, **{**SMALL, "early_stopping": "auto", "max_epochs": 2})
    est.fit(low_rank_X[:40])
    assert est.n_epochs_ == 0
    assert capsys.readouterr().err == ""


def test_live_bar_without_a_known_number_of_batches(capsys):
    # A training set without a length (a stream): the bar counts without a total.
    bar = EpochProgressBar("stream")
    net = SimpleNamespace(batch_size=10, max_epochs=2, history=[{"epoch": 1, "train_loss": 0.5}])
    bar.on_train_begin(net, X=iter([]))
    assert bar.bar_.total is None
    bar.on_batch_end(net, training=True)
    bar.on_batch_end(net, training=False)  # validation batches do not count
    bar.on_epoch_end(net)
    bar.on_train_end(net)
    final = capsys.readouterr().err.rsplit("\r", 1)[-1]
    assert final.startswith("stream") and "epoch 1/2, train_loss=0.5" in final
    assert bar.bar_.n == 1


def test_verbose_two_prints_lines_even_in_a_terminal(low_rank_X, capsys, live):
    est = AutoencoderTransformer(verbose=2, **SMALL).fit(low_rank_X)
    captured = capsys.readouterr()
    assert len(_epoch_lines(captured.out)) == est.n_epochs_
    assert captured.err == ""


def test_verbose_zero_removes_skorchs_epoch_table(low_rank_X, capsys, live):
    est = AutoencoderTransformer(verbose=0, **SMALL).fit(low_rank_X)
    assert capsys.readouterr() == ("", "")
    assert "print_log" not in dict(est.net_.callbacks_)


def test_print_plain_keeps_colours_only_on_a_terminal(capsys, monkeypatch):
    coloured = "\x1b[36m0.5000\x1b[0m"
    print_plain(coloured)
    assert capsys.readouterr().out == "0.5000\n"
    monkeypatch.setattr(skae._progress, "_is_terminal", lambda stream: True)
    print_plain(coloured)
    assert capsys.readouterr().out == coloured + "\n"


def test_live_output_in_a_notebook(monkeypatch):
    class ZMQInteractiveShell:
        pass

    ipython = types.SimpleNamespace(get_ipython=ZMQInteractiveShell)
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert skae._progress.live_output()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed: tqdm's text bar
    from tqdm import tqdm

    assert skae._progress._tqdm_class() is tqdm


def test_inference_chunks_are_untouched_without_progress(low_rank_X, live):
    chunks = iter([np.zeros((2, 3))])
    assert chunks_with_progress(AutoencoderTransformer(verbose=0), chunks, 2) is chunks
    assert chunks_with_progress(AutoencoderTransformer(verbose=1), chunks, 2) is not chunks


def test_long_inference_shows_a_bar(low_rank_X, capsys, monkeypatch, live):
    est = AutoencoderTransformer(**SMALL).fit(low_rank_X)
    codes = est.transform(low_rank_X)
    monkeypatch.setattr(skae._progress, "_INFERENCE_BAR_DELAY", 0.0)
    monkeypatch.setattr(skae._base, "_INFERENCE_CHUNK_ELEMENTS", 6 * 50)  # 50 rows a chunk
    est.set_params(verbose=1)
    capsys.readouterr()
    np.testing.assert_array_equal(est.transform(low_rank_X), codes)
    err = capsys.readouterr().err
    assert err.startswith("\rAutoencoderTransformer:") and "/120 " in err and "row/s" in err
    assert err.endswith("\r") and err.rsplit("\r", 2)[-2].strip() == ""  # cleared when done
