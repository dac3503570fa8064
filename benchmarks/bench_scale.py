"""Training on data larger than memory: in-memory vs numpy memmap vs dask array.

Writes a float32 matrix of ``--rows`` x 64 to ``--dir`` (5.1 GB for 20 million
rows; deleted at the end unless ``--keep``; ``--data`` reuses a file written
before), then fits the same model for one epoch, each fit in a fresh process:

- rounds (``--repeats``) of, in this order: the first ``--compare-rows`` rows
  loaded in memory, the same rows as a memmap, every row as a memmap, the first
  rows in memory again, every row as a dask array. The in-memory fits between
  the streamed ones are the yardstick: each streamed fit's rows/s is divided by
  the median rows/s of the in-memory fits (interleaved, so the machine's load
  touches both alike);
- ``partial_fit`` on 100,000-row chunks of the first ``--compare-rows`` rows
  of the memmap;
- memmaps of 1M, 5M and 10M rows (time per epoch against rows, with the
  rounds' 2M and 20M fits).

The dask array is built from the file block by block (``dask.delayed`` reads
of the memmap, one per block): ``da.from_array`` copies its input whole in
dask 2026.8 (``x.copy()``), a memmap included.

Each fit runs after a warm-up fit on 1,000 rows in its process (the first
fit imports what torch loads lazily), and records its wall and CPU time: rows
per CPU second compares the work done, whatever share of the cores the
machine's load leaves. Each fit's process samples its anonymous memory (RssAnon in
``/proc/self/status``) every 10 ms from before the data is opened: the peak is
the whole process's, and the peak minus the value before ``fit`` is what
training added. The file's pages are dropped from the page cache
(``posix_fadvise(DONTNEED)``, this file only) before each streamed fit, so its
first pass reads from the disk; the share of the file in the page cache when
the fit ends is printed (``cached``). Prints one JSON line per fit and the
tables; ``/proc/loadavg`` is recorded with each fit.

``--detector`` fits the default ``ReconstructionOutlierDetector`` instead (its
two fits of the autoencoder and its statistics' passes), on the first
``--compare-rows`` rows in memory, as a memmap and as a dask array, in that
order, each in a fresh process as above, and prints its table.

    python benchmarks/bench_scale.py     # 20M rows, 2 rounds: about 13 min on a quiet 2-core machine
    python benchmarks/bench_scale.py --rows 2000000 --compare-rows 500000 --repeats 1
    python benchmarks/bench_scale.py --detector --rows 1000000 --compare-rows 1000000 --repeats 1
"""

import argparse
import ctypes
import ctypes.util
import json
import mmap
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

N_FEATURES = 64
MODEL = dict(
    n_components=8,
    hidden_layer_sizes=(64,),
    noise=0.0,  # the figures in RESULTS_performance.md predate the denoising default
    batch_size=4096,
    max_epochs=1,
    early_stopping=False,
    random_state=0,
)
WRITE_ROWS = 1_000_000
CHUNK_ROWS = 100_000


def write_data(path, n_rows, seed=0):
    """A low-rank (rank 8) float32 cloud plus noise, written 1M rows at a time."""
    rng = np.random.RandomState(seed)
    basis = rng.randn(8, N_FEATURES).astype(np.float32)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, WRITE_ROWS):
        stop = min(n_rows, start + WRITE_ROWS)
        block = rng.randn(stop - start, 8).astype(np.float32) @ basis
        block += 0.1 * rng.randn(stop - start, N_FEATURES).astype(np.float32)
        X[start:stop] = block
    X.flush()
    del X


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_fraction(path):
    """The share of the file's pages in the page cache (``mincore``)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), size, prot=mmap.PROT_READ)
    try:
        view = np.frombuffer(mapped, dtype=np.uint8)
        pages = (ctypes.c_ubyte * (-(-size // mmap.PAGESIZE)))()
        if libc.mincore(ctypes.c_void_p(view.ctypes.data), size, pages):
            raise OSError(ctypes.get_errno(), "mincore failed")
        del view
        return float(np.mean(np.frombuffer(pages, dtype=np.uint8) & 1))
    finally:
        mapped.close()


def rss_anon():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


class PeakSampler(threading.Thread):
    def __init__(self, interval=0.01):
        super().__init__(daemon=True)
        self.interval, self.peak, self.running = interval, rss_anon(), True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_anon())
            time.sleep(self.interval)

    def stop(self):
        self.running = False
        self.join()
        self.peak = max(self.peak, rss_anon())
        return self.peak


def read_rows(path, start, stop):
    """Rows ``start:stop`` of the ``.npy`` file: a view of its memmap, read on demand."""
    return np.load(path, mmap_mode="r")[start:stop]


def dask_array(path, n_rows, block_rows):
    """The file's first ``n_rows`` as a dask array, one lazy memmap read per block."""
    import dask
    import dask.array as da

    return da.concatenate([
        da.from_delayed(
            dask.delayed(read_rows)(path, start, min(n_rows, start + block_rows)),
            shape=(min(n_rows, start + block_rows) - start, N_FEATURES),
            dtype=np.float32,
        )
        for start in range(0, n_rows, block_rows)
    ])


def worker(kind, path, n_rows):
    """One fit in this process; prints its measurements as JSON."""
    process_sampler = PeakSampler()
    process_sampler.start()
    import torch

    from skae import AutoencoderTransformer, ReconstructionOutlierDetector
    from skae._streaming import BLOCK_ELEMENTS

    detector = kind.startswith("detector-")
    kind = kind.removeprefix("detector-")

    def make():
        if detector:
            return ReconstructionOutlierDetector(random_state=0)
        return AutoencoderTransformer(**MODEL)

    # One torch thread for every contestant (benchmarks/run.py's --peer-threads 1):
    # on a shared 2-core machine more threads only add contention. The
    # read-ahead thread of the streamed fits uses the other core.
    torch.set_num_threads(1)

    if kind == "dask":
        data = dask_array(path, n_rows, BLOCK_ELEMENTS // N_FEATURES)
    else:
        data = read_rows(path, 0, n_rows)
    if kind == "memory":
        data = np.array(data)  # loaded before the measurement starts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: one epoch
        # A first fit in a process imports what torch loads lazily (its
        # optimizers import torch._dynamo): seconds that are no rows/s.
        make().fit(np.array(read_rows(path, 0, 1000)))
    est = make()
    load_before = open("/proc/loadavg").read().split()[0]
    before = rss_anon()
    sampler = PeakSampler()
    sampler.start()
    cpu = time.process_time()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "partial":
            for chunk_start in range(0, n_rows, CHUNK_ROWS):
                est.partial_fit(data[chunk_start : chunk_start + CHUNK_ROWS])
        else:
            est.fit(data)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu
    peak = sampler.stop()
    # the detector's second fit's epochs
    model = est.estimator_ if detector else est
    epochs = [row["dur"] for row in model.history_]
    print(json.dumps({
        "kind": ("detector-" if detector else "") + kind,
        "rows": n_rows,
        "fit_s": seconds,
        "epoch_s": sum(epochs),
        "rows_per_s": n_rows / seconds,
        "cpu_s": cpu_seconds,
        "rows_per_cpu_s": n_rows / cpu_seconds,
        "train_rows_per_s": n_rows / sum(epochs),
        "rss_anon_before_mib": before / 2**20,
        "rss_anon_peak_mib": peak / 2**20,
        "rss_anon_added_mib": (peak - before) / 2**20,
        "process_rss_anon_peak_mib": max(peak, process_sampler.stop()) / 2**20,
        "cached": None if kind == "memory" else cached_fraction(path),
        "loss": model.loss_curve_[-1],
        "offset": est.offset_ if detector else None,
        "loadavg": [load_before, *open("/proc/loadavg").read().split()[:3]],
    }))


def run(kind, path, n_rows):
    if kind != "memory":
        drop_from_page_cache(path)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--path", path, "--rows", str(n_rows)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    print(out, flush=True)
    return json.loads(out)


def median(runs, key):
    return float(np.median([r[key] for r in runs]))


def each(runs, key):
    return " / ".join(f"{r[key]:.1f}" for r in runs)


def print_detector(runs, path, began):
    """The detector's fits: time and the anonymous memory each added."""
    n_rows = runs[0]["rows"]
    data_mib = n_rows * N_FEATURES * 4 / 2**20
    print(f"\nReconstructionOutlierDetector(random_state=0).fit on {n_rows:,} x {N_FEATURES} "
          f"float32 ({data_mib:.0f} MiB); in memory: loaded before the measurement")
    print("| data | fits | fit (s) | RssAnon added (MiB) | / data size | process peak RssAnon "
          "(MiB) | offset_ |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in ("memory", "memmap", "dask"):
        group = [r for r in runs if r["kind"] == f"detector-{kind}"]
        added = max(r["rss_anon_added_mib"] for r in group)
        offsets = " / ".join(f"{r['offset']:.3f}" for r in group)
        print(f"| {kind} | {len(group)} | {each(group, 'fit_s')} | {added:.0f} | "
              f"{added / data_mib:.2f} | "
              f"{max(r['process_rss_anon_peak_mib'] for r in group):.0f} | "
              f"{offsets} |")
    loads = [float(r["loadavg"][0]) for r in runs]
    print(f"(one-minute load average at the fits' starts: {min(loads):.1f}-{max(loads):.1f})")
    print(f"\nthe whole benchmark: {(time.perf_counter() - began) / 60:.1f} min")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--compare-rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where to write the data (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the data file")
    parser.add_argument("--data", help="an .npy file of float32 x 64 written before (kept)")
    parser.add_argument("--detector", action="store_true",
                        help="fit the default ReconstructionOutlierDetector instead, on the "
                             "first --compare-rows rows: in memory, as a memmap, as a dask array")
    parser.add_argument("--worker", choices=[
        prefix + kind for prefix in ("", "detector-") for kind in ("memory", "memmap", "dask")
    ] + ["partial"])
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.path, args.rows)
        return

    began = time.perf_counter()
    print("load average at the start:", open("/proc/loadavg").read().strip(), flush=True)
    directory = None
    if args.data:
        path = args.data
        args.rows = min(args.rows, np.load(path, mmap_mode="r").shape[0])
    else:
        directory = tempfile.mkdtemp(prefix="skae-scale-", dir=args.dir)
        path = os.path.join(directory, "X.npy")
    compare = min(args.rows, args.compare_rows)
    runs = {"memory": [], "memmap_compare": [], "memmap": [], "dask": []}
    try:
        if not args.data:
            start = time.perf_counter()
            write_data(path, args.rows)
            print(f"wrote {args.rows} x {N_FEATURES} float32 "
                  f"({os.path.getsize(path) / 1e9:.2f} GB) in {time.perf_counter() - start:.0f} s",
                  flush=True)
        if args.detector:
            detector_runs = [
                run(f"detector-{kind}", path, compare)
                for _ in range(args.repeats)
                for kind in ("memory", "memmap", "dask")
            ]
            return print_detector(detector_runs, path, began)
        for _ in range(args.repeats):
            runs["memory"].append(run("memory", path, compare))
            runs["memmap_compare"].append(run("memmap", path, compare))
            runs["memmap"].append(run("memmap", path, args.rows))
            runs["memory"].append(run("memory", path, compare))
            runs["dask"].append(run("dask", path, args.rows))
        partial = run("partial", path, compare)
        sizes = sorted({n for n in (1_000_000, 5_000_000, 10_000_000) if n < args.rows} - {compare})
        series = [run("memmap", path, n) for n in sizes]
    finally:
        if directory is not None and not args.keep:
            shutil.rmtree(directory)

    memory_rate = median(runs["memory"], "rows_per_s")
    print(f"\nin memory: first {compare:,} rows, {len(runs['memory'])} fits between the others; "
          f"streamed: pages dropped from the page cache before each fit")
    cpu_rate = median(runs["memory"], "rows_per_cpu_s")
    print("| data | rows | fits | fit (s) | epoch (s) | rows/s (fit) | / in-memory | "
          "rows per CPU s, / in-memory | RssAnon added (MiB) | process peak RssAnon (MiB) | "
          "cached at the end |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    labels = [
        ("memory", "in memory (NumPy array)"),
        ("memmap_compare", "memmap"),
        ("memmap", "memmap"),
        ("dask", "dask array (a delayed memmap read per block)"),
        ("partial", f"memmap, partial_fit on {CHUNK_ROWS:,}-row chunks"),
    ]
    runs["partial"] = [partial]
    for key, label in labels:
        group = runs[key]
        cached = [r["cached"] for r in group if r["cached"] is not None]
        print(f"| {label} | {group[0]['rows']:,} | {len(group)} | "
              f"{each(group, 'fit_s')} | {each(group, 'epoch_s')} | "
              f"{median(group, 'rows_per_s'):,.0f} | "
              f"{median(group, 'rows_per_s') / memory_rate:.2f} | "
              f"{median(group, 'rows_per_cpu_s') / cpu_rate:.2f} | "
              f"{max(r['rss_anon_added_mib'] for r in group):.0f} | "
              f"{max(r['process_rss_anon_peak_mib'] for r in group):.0f} | "
              f"{'-' if not cached else f'{min(cached):.0%}-{max(cached):.0%}'} |")
    loads = [float(r["loadavg"][0]) for group in runs.values() for r in group]
    print(f"(one-minute load average at the fits' starts: {min(loads):.1f}-{max(loads):.1f})")

    print("\ntime per epoch against rows (memmap, one epoch)")
    print("| rows | fit (s) | epoch (s) | epoch s per million rows | RssAnon added (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    by_rows = {}
    for r in [*series, *runs["memmap_compare"], *runs["memmap"]]:
        by_rows.setdefault(r["rows"], []).append(r)
    for n_rows, group in sorted(by_rows.items()):
        print(f"| {n_rows:,} | {median(group, 'fit_s'):.1f} | {median(group, 'epoch_s'):.1f} | "
              f"{median(group, 'epoch_s') / n_rows * 1e6:.2f} | "
              f"{max(r['rss_anon_added_mib'] for r in group):.0f} |")
    print(f"\nthe whole benchmark: {(time.perf_counter() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
