"""Tests for skae._threads: the thread count of CPU training."""

import numpy as np
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
