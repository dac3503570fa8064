"""How many threads CPU training uses.

torch's intra-op threads split each operation and wait for each other at its
end. That pays off only when operations are large, and only while every thread
has a core of its own: when another process holds one of the cores, each
operation waits for the thread that shares it, and a training step becomes many
times slower than on one thread (``benchmarks/RESULTS_performance.md``,
"Threads"). So training uses one thread unless a batch's work is large *and* the
CPUs are idle when training starts. A long fit outlives that first look: other
processes start and end meanwhile. So, while such a fit trains, the choice is
made again every ``RECHECK_SECONDS`` from how busy *other* processes kept the
CPUs since the last choice (:func:`adjust_training_threads`, called by the net
before each training batch): the extra threads are dropped once another process
takes a core, and taken again once the cores are free. The thread count does
not change a dense network's fitted model: skae's tests and
``benchmarks/bench_threads.py`` check that training on one thread and on
several gives bit-identical parameters. The PCA start's linear algebra and
convolution kernels may round differently on different thread counts.
"""

import contextlib
import functools
import math
import os
import threading
import time

import torch
from threadpoolctl import ThreadpoolController
from torch import nn

#: A batch's work (:func:`batch_work`) above which several threads may pay off;
#: at most this, training always runs on one thread (intra-op threads cost more
#: than they save on such small operations).
SINGLE_THREAD_MAX_WORK = 2**24
#: How long :func:`idle_cpus` watches the CPUs (the kernel counts in 10 ms ticks).
IDLE_SAMPLE_SECONDS = 0.1
#: A CPU counts as free when idle for at least this fraction of the sample, so a
#: light background task does not cost the second thread, a busy process does.
_IDLE_MARGIN = 0.25
#: While a fit whose work may use several threads trains, the thread count is
#: chosen again after at least this many seconds (at the next training batch).
RECHECK_SECONDS = 1.0

_lock = threading.Lock()
_state = {"depth": 0}


@functools.cache
def _threadpool_controller():
    """One ``ThreadpoolController`` per process.

    Building one scans the loaded libraries (a few ms, twice per fit otherwise).
    numpy's and scipy's BLAS, the ones limited, are loaded when skae is imported.
    """
    return ThreadpoolController()


def _cpu_times(cpus):
    """``(idle, total)`` clock ticks, summed over ``cpus``, from ``/proc/stat``."""
    idle = total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            ticks = [int(v) for v in fields[:8]]  # user .. steal; guest is inside user
            idle += ticks[3] + ticks[4]  # idle, iowait
            total += sum(ticks)
    return idle, total


def _own_cpu_ticks():
    """This process's CPU time (all its threads, user and system) in clock ticks."""
    times = os.times()
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


def _cpu_snapshot():
    """``(cpus, idle, total, own)``: :func:`_cpu_times` of this process's CPUs and
    :func:`_own_cpu_ticks`, or None where they cannot be read (not Linux)."""
    try:
        cpus = os.sched_getaffinity(0)
        return (cpus, *_cpu_times(cpus), _own_cpu_ticks())
    except (AttributeError, OSError, ValueError):
        return None


def cpus_left_by_others(before, after):
    """CPUs that processes other than this one left free between two :func:`_cpu_snapshot`.

    The CPUs' busy time minus this process's own CPU time, in CPUs: unlike
    :func:`idle_cpus`, it can be measured while this process trains on every
    CPU (its own threads' time, spin-waiting included, is not counted as
    someone else's). None when no clock tick passed in between.
    """
    cpus, idle0, total0, own0 = before
    _, idle1, total1, own1 = after
    if total1 <= total0:
        return None
    others = max(0.0, (total1 - total0) - (idle1 - idle0) - (own1 - own0))
    return len(cpus) * (1.0 - others / (total1 - total0))


def batch_work(module, batch_size):
    """A training batch's work: ``batch_size`` times the multiply-adds per row.

    A weight counts once per row, as in a dense layer, except a convolution's,
    which slides over every position of a feature map: a 2-D convolutional
    body has few parameters but does as much work as a far larger dense one.
    A recurrent layer counts once, as one step: its steps are small operations
    that several threads do not speed up. The maps' sizes come from encoding
    and decoding one row of zeros in evaluation mode (no random draws) when
    ``module`` (one of skae's networks) has convolutions; it is left as it was.
    """
    convolutions = [m for m in module.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    positions = {}

    def record(layer, inputs, output):
        # A transposed convolution's weight is applied at each *input* position.
        sliding = inputs[0] if layer.transposed else output
        positions[layer] = math.prod(sliding.shape[2:])

    if convolutions and hasattr(module, "normalize"):
        hooks = [layer.register_forward_hook(record) for layer in convolutions]
        was_training = module.training
        try:
            module.eval()
            row = torch.zeros_like(module.normalize.loc).reshape(1, -1)
            with torch.no_grad():
                code = module.encode(row)
                module.decode(code[0] if isinstance(code, tuple) else code)
        finally:
            module.train(was_training)
            for hook in hooks:
                hook.remove()
    per_row = sum(p.numel() for p in module.parameters())
    per_row += sum(layer.weight.numel() * (positions.get(layer, 1) - 1) for layer in convolutions)
    return batch_size * per_row


def idle_cpus(interval=IDLE_SAMPLE_SECONDS):
    """How many of this process's CPUs were idle over the next ``interval`` seconds.

    This process sleeps meanwhile, so its own CPU counts as idle. Returns None
    where ``/proc/stat`` or CPU affinity is not available (not Linux).
    """
    try:
        cpus = os.sched_getaffinity(0)
        idle0, total0 = _cpu_times(cpus)
        time.sleep(interval)
        idle1, total1 = _cpu_times(cpus)
    except (AttributeError, OSError, ValueError):
        return None
    if total1 <= total0:
        return None
    return len(cpus) * (idle1 - idle0) / (total1 - total0)


def training_thread_count(work):
    """torch threads for CPU training whose batches cost ``work`` (batch x parameters).

    One thread for small work; for large work torch's own count, capped by the
    number of idle CPUs (one thread where that cannot be measured).
    """
    available = torch.get_num_threads()
    if work <= SINGLE_THREAD_MAX_WORK or available == 1:
        return 1
    return _threads_for(idle_cpus(), available)


def _threads_for(free, available):
    """Threads for ``free`` CPUs (None: unknown), at most ``available``."""
    if free is None:
        return 1
    return max(1, min(available, int(free + _IDLE_MARGIN)))


def adjust_training_threads():
    """Choose the training thread count again if ``RECHECK_SECONDS`` have passed.

    A no-op outside :func:`training_threads`, for work that always runs on one
    thread, and while several fits share the setting (threads of one process).
    Otherwise, from :func:`cpus_left_by_others` since the last choice, the count
    goes down to one thread when another process took a CPU and back up to
    torch's own when the CPUs are free again. Cheap enough to call before every
    batch: it reads ``/proc/stat`` only once per ``RECHECK_SECONDS``.
    """
    watch = _state.get("watch")
    if watch is None or time.monotonic() - watch["time"] < RECHECK_SECONDS:
        return
    with _lock:
        if _state["depth"] != 1 or _state.get("watch") is not watch:
            return
        now = _cpu_snapshot()
        watch["time"] = time.monotonic()
        if now is None:
            return
        free = cpus_left_by_others(watch["snapshot"], now)
        watch["snapshot"] = now
        if free is None:
            return
        threads = _threads_for(free, _state["previous"])
        if threads == torch.get_num_threads():
            return
        if threads < _state["previous"] and _state["blas"] is None:
            _state["blas"] = _threadpool_controller().limit(limits=1, user_api="blas")
        _state["threads"] = threads
        torch.set_num_threads(threads)


@contextlib.contextmanager
def training_threads(module, batch_size, device):
    """Run the block on :func:`training_thread_count` torch threads; restore after.

    When fewer threads than torch's own are used, numpy's BLAS is limited to one
    thread too: right after torch work, a multi-threaded OpenBLAS call competes
    with torch's OpenMP threads (the PCA start's covariance ran ten times
    slower). Reference-counted: concurrent fits in threads share the first one's
    choice, and the BLAS limit ends with the last one. torch's count is each
    thread's own (OpenMP's), so every fit sets it in its thread and gives that
    thread its own count back: a fit beside another trains on the count a
    sequential fit trains on. For work that may use several threads,
    :func:`adjust_training_threads` may change the count while the block runs;
    it is restored all the same.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            work = batch_work(module, batch_size)
            threads = training_thread_count(work)
            _state["previous"] = torch.get_num_threads()
            _state["threads"] = threads
            _state["blas"] = None
            if threads < _state["previous"]:
                _state["blas"] = _threadpool_controller().limit(limits=1, user_api="blas")
            may_use_more = work > SINGLE_THREAD_MAX_WORK and _state["previous"] > 1
            snapshot = _cpu_snapshot() if may_use_more else None
            _state["watch"] = None if snapshot is None else {
                "time": time.monotonic(), "snapshot": snapshot
            }
        _state["depth"] += 1
        own = torch.get_num_threads()
        if own != _state["threads"]:
            torch.set_num_threads(_state["threads"])
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if torch.get_num_threads() != own:
                torch.set_num_threads(own)
            if _state["depth"] == 0:
                _state["watch"] = None
                if _state["blas"] is not None:
                    _state.pop("blas").restore_original_limits()
