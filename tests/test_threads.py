"""Tests for skae._threads: the thread count of CPU training."""

import threading

import numpy as np
import skorch
import pytest
import torch
from threadpoolctl import threadpool_info

from skae import AutoencoderTransformer
from skae import _threads

FAST = dict(max_epochs=3, early_stopping=False, random_state=0)


@pytest.fixture
def two_torch_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def blas_threads():
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_idle_cpus_is_a_count_of_this_process_cpus():
    idle = _threads.idle_cpus(interval=0.05)
    if idle is None:  # no /proc/stat (not Linux)
        pytest.skip("idle CPUs cannot be measured here")
    assert 0.0 <= idle <= len(__import__("os").sched_getaffinity(0))


@pytest.mark.parametrize(
    "work, idle, expected",
    [
        (_threads.SINGLE_THREAD_MAX_WORK, 2.0, 1),  # small work: one thread, always
        (_threads.SINGLE_THREAD_MAX_WORK + 1, 2.0, 2),  # large work, both CPUs idle
        (_threads.SINGLE_THREAD_MAX_WORK + 1, 1.8, 2),  # a light background task
        (_threads.SINGLE_THREAD_MAX_WORK + 1, 1.0, 1),  # one CPU busy
        (_threads.SINGLE_THREAD_MAX_WORK + 1, 0.0, 1),
        (_threads.SINGLE_THREAD_MAX_WORK + 1, None, 1),  # unknown: the safe choice
        (_threads.SINGLE_THREAD_MAX_WORK + 1, 8.0, 2),  # never more than torch has
    ],
)
def test_training_thread_count(monkeypatch, two_torch_threads, work, idle, expected):
    monkeypatch.setattr(_threads, "idle_cpus", lambda: idle)
    assert _threads.training_thread_count(work) == expected


def test_small_work_does_not_measure_idleness(monkeypatch, two_torch_threads):
    def fail():
        raise AssertionError("idle_cpus called for small work")

    monkeypatch.setattr(_threads, "idle_cpus", fail)
    assert _threads.training_thread_count(1) == 1


@pytest.mark.parametrize("idle, inside", [(2.0, 2), (1.0, 1)])
def test_training_threads_sets_and_restores(monkeypatch, two_torch_threads, idle, inside):
    monkeypatch.setattr(_threads, "idle_cpus", lambda: idle)
    monkeypatch.setattr(_threads, "SINGLE_THREAD_MAX_WORK", 0)
    blas_before = blas_threads()
    module = torch.nn.Linear(4, 4)
    with _threads.training_threads(module, 8, "cpu"):
        assert torch.get_num_threads() == inside
        if inside == 1:
            assert blas_threads() <= {1}
        with _threads.training_threads(module, 8, "cpu"):  # nested: the outer choice holds
            assert torch.get_num_threads() == inside
        assert torch.get_num_threads() == inside
    assert torch.get_num_threads() == 2
    assert blas_threads() == blas_before


def test_fitted_model_does_not_depend_on_thread_count(monkeypatch, two_torch_threads):
    X = np.random.RandomState(0).rand(300, 64)
    one = AutoencoderTransformer(n_components=4, **FAST).fit(X)  # small: one thread
    monkeypatch.setattr(_threads, "idle_cpus", lambda: 2.0)
    monkeypatch.setattr(_threads, "SINGLE_THREAD_MAX_WORK", 0)
    seen = []
    monkeypatch.setattr(
        _threads, "training_thread_count",
        lambda work, f=_threads.training_thread_count: seen.append(f(work)) or seen[-1],
    )
    two = AutoencoderTransformer(n_components=4, **FAST).fit(X)
    assert seen and set(seen) == {2}
    np.testing.assert_array_equal(one.transform(X), two.transform(X))


def snapshot(idle, total, own, cpus=(0, 1)):
    """A ``_threads._cpu_snapshot``: ``(cpus, idle ticks, total ticks, own ticks)``."""
    return (set(cpus), idle, total, own)


@pytest.mark.parametrize(
    "after, expected",
    [
        (snapshot(120, 400, 180), 2.0),  # only this process ran: nobody else took a CPU
        (snapshot(100, 400, 100), 1.0),  # another process held one CPU throughout
        (snapshot(100, 400, 150), 1.5),  # ... half of one
        (snapshot(300, 400, 0), 2.0),  # idle machine
        (snapshot(100, 200, 50), None),  # no clock tick passed
    ],
)
def test_cpus_left_by_others(after, expected):
    # 200 ticks over 2 CPUs between the two snapshots (except the last case).
    assert _threads.cpus_left_by_others(snapshot(100, 200, 0), after) == expected


@pytest.fixture
def recheck_always(monkeypatch):
    """Every batch re-decides the thread count, for any work, from scripted CPU use."""
    monkeypatch.setattr(_threads, "RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(_threads, "SINGLE_THREAD_MAX_WORK", 0)
    monkeypatch.setattr(_threads, "idle_cpus", lambda: 2.0)
    monkeypatch.setattr(_threads, "_cpu_snapshot", lambda: snapshot(0, 0, 0))
    free = []
    monkeypatch.setattr(_threads, "cpus_left_by_others", lambda before, after: free.pop(0))
    return free


def test_adjust_training_threads_follows_other_processes(recheck_always, two_torch_threads):
    blas_before = blas_threads()
    with _threads.training_threads(torch.nn.Linear(4, 4), 8, "cpu"):
        assert torch.get_num_threads() == 2 and blas_threads() == blas_before
        recheck_always[:] = [1.0, 1.5, 1.8, None]
        _threads.adjust_training_threads()  # another process took a CPU
        assert torch.get_num_threads() == 1 and blas_threads() <= {1}
        _threads.adjust_training_threads()  # still half busy
        assert torch.get_num_threads() == 1
        _threads.adjust_training_threads()  # free again (a light task is no reason)
        assert torch.get_num_threads() == 2
        _threads.adjust_training_threads()  # unknown: left as it is
        assert torch.get_num_threads() == 2
        assert not recheck_always
    assert torch.get_num_threads() == 2
    assert blas_threads() == blas_before


def test_adjust_training_threads_is_a_no_op_outside_large_training(monkeypatch,
                                                                   two_torch_threads):
    def fail():
        raise AssertionError("CPU use read")

    monkeypatch.setattr(_threads, "RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(_threads, "_cpu_snapshot", fail)
    _threads.adjust_training_threads()  # no training
    with _threads.training_threads(torch.nn.Linear(4, 4), 8, "cpu"):  # small work
        assert torch.get_num_threads() == 1
        _threads.adjust_training_threads()
        assert torch.get_num_threads() == 1


def test_thread_changes_during_a_fit_do_not_change_the_model(recheck_always,
                                                             two_torch_threads):
    X = np.random.RandomState(0).rand(300, 64)
    recheck_always[:] = [0.5, 2.0] * 100  # busy, free, busy, ... before every batch
    seen = []

    class Threads(skorch.callbacks.Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                seen.append(torch.get_num_threads())

    changing = AutoencoderTransformer(n_components=4, callbacks=[Threads()], **FAST).fit(X)
    assert {1, 2} <= set(seen)
    recheck_always[:] = [0.5] * 100
    one = AutoencoderTransformer(n_components=4, **FAST).fit(X)
    np.testing.assert_array_equal(one.transform(X), changing.transform(X))


def test_batch_work_counts_a_dense_weight_once_per_row():
    X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    module = AutoencoderTransformer(2, **FAST).fit(X).net_.module_
    n_parameters = sum(p.numel() for p in module.parameters())
    assert _threads.batch_work(module, 5) == 5 * n_parameters


def test_batch_work_counts_a_convolution_once_per_position():
    X = np.random.default_rng(0).random((40, 64)).astype(np.float32)
    estimator = AutoencoderTransformer(2, architecture="conv", input_shape=(1, 8, 8), **FAST)
    module = estimator.fit(X).net_.module_
    encoder = [m for m in module.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    decoder = [m for m in module.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    # 8 x 8 maps, stride 2: the encoder's convolutions slide over their 4 x 4 and
    # 2 x 2 outputs, the decoder's transposed ones over their 2 x 2 and 4 x 4 inputs.
    positions = [16, 4, 4, 16]
    assert len(encoder + decoder) == len(positions)
    n_parameters = sum(p.numel() for p in module.parameters())
    expected = n_parameters + sum(
        layer.weight.numel() * (n - 1) for layer, n in zip(encoder + decoder, positions)
    )
    module.train()
    rng_state = torch.get_rng_state()
    assert _threads.batch_work(module, 3) == 3 * expected
    # The probe draws nothing and leaves the module in training mode.
    assert torch.equal(rng_state, torch.get_rng_state())
    assert module.training


def test_concurrent_training_threads_set_and_restore_each_thread(two_torch_threads):
    # torch's thread count is each thread's own (OpenMP's): a fit entering while
    # another trains uses the shared choice, and each thread gets its own back,
    # whichever fit ends last.
    entered, main_left, inside = threading.Event(), threading.Event(), {}

    def other():
        torch.set_num_threads(2)  # this thread's own count
        with _threads.training_threads(torch.nn.Linear(4, 4), 8, "cpu"):
            inside["other"] = torch.get_num_threads()
            entered.set()
            main_left.wait(10)
        inside["other after"] = torch.get_num_threads()

    thread = threading.Thread(target=other)
    with _threads.training_threads(torch.nn.Linear(4, 4), 8, "cpu"):  # small work: 1
        thread.start()
        entered.wait(10)
    inside["main after"] = torch.get_num_threads()
    main_left.set()
    thread.join()
    assert inside == {"other": 1, "main after": 2, "other after": 2}


def test_a_fit_in_a_thread_beside_another_fit_is_the_sequential_fit(two_torch_threads):
    # A convolution rounds differently on two threads: the fit in the second
    # thread must train on the thread count a sequential fit trains on.
    images = np.random.RandomState(0).rand(40, 1, 8, 8)
    params = dict(n_components=2, architecture="conv", hidden_layer_sizes=(4,), **FAST)
    sequential = AutoencoderTransformer(**params).fit(images).transform(images)
    started, done, codes = threading.Event(), threading.Event(), {}

    def other():
        torch.set_num_threads(2)  # this thread's own count (a worker that ran torch)
        assert torch.get_num_threads() == 2
        started.wait(10)
        codes["other"] = AutoencoderTransformer(**params).fit(images).transform(images)
        done.set()

    class WaitForOther(skorch.callbacks.Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            started.set()
            done.wait(10)  # the other fit runs while this one trains

    thread = threading.Thread(target=other)
    thread.start()
    AutoencoderTransformer(**{**params, "callbacks": [WaitForOther()]}).fit(images)
    thread.join()
    np.testing.assert_array_equal(codes["other"], sequential)
