"""Training on data larger than memory: in-memory vs numpy memmap vs dask array.

Writes a float32 matrix of ``--rows`` x 64 to ``--dir`` (5.1 GB for 20 million
rows; deleted at the end unless ``--keep``), then fits the same model for one
epoch on

- the first ``--compare-rows`` rows loaded in memory, and the same rows as a
  memmap (interleaved, ``--repeats`` rounds: rows/s ratio memmap / in-memory);
- every row as a read-only memmap and as a dask array (``da.from_array`` of the
  memmap, chunks of skae's block size);
- ``partial_fit`` on 100,000-row chunks of the memmap;
- a memmap of 1M to ``--rows`` rows (time per epoch against rows).

Each fit runs in a fresh process, which samples its anonymous memory (RssAnon in
``/proc/self/status``) every 10 ms: the peak minus the value before ``fit`` is
what training added. The memmap's pages are dropped from the page cache
(``posix_fadvise(DONTNEED)``, this file only) before each streamed fit, so they
are read from disk. Prints one JSON line per fit and a table; ``/proc/loadavg``
is recorded with each.

    python benchmarks/bench_scale.py         # 20M rows: about 45 min on a quiet 2-core machine
    python benchmarks/bench_scale.py --rows 2000000 --compare-rows 500000 --repeats 2
"""

import argparse
import json
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


def worker(kind, path, n_rows):
    """One fit in this process; prints its measurements as JSON."""
    import torch

    from skae import AutoencoderTransformer

    # One torch thread for every contestant (benchmarks/run.py's --peer-threads 1):
    # on a shared 2-core machine more threads only add contention. The
    # read-ahead thread of the streamed fits uses the other core.
    torch.set_num_threads(1)

    data = np.load(path, mmap_mode="r")[:n_rows]
    if kind == "memory":
        data = np.array(data)  # loaded before the measurement starts
    elif kind == "dask":
        import dask.array as da

        from skae._streaming import BLOCK_ELEMENTS

        data = da.from_array(data, chunks=(BLOCK_ELEMENTS // N_FEATURES, N_FEATURES))
    est = AutoencoderTransformer(**MODEL)
    before = rss_anon()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: one epoch
        if kind == "partial":
            for chunk_start in range(0, n_rows, CHUNK_ROWS):
                est.partial_fit(data[chunk_start : chunk_start + CHUNK_ROWS])
        else:
            est.fit(data)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    epochs = [row["dur"] for row in est.history_]
    print(json.dumps({
        "kind": kind,
        "rows": n_rows,
        "fit_s": seconds,
        "epoch_s": sum(epochs),
        "rows_per_s": n_rows / seconds,
        "train_rows_per_s": n_rows / sum(epochs),
        "rss_anon_before_mib": before / 2**20,
        "rss_anon_peak_mib": peak / 2**20,
        "rss_anon_added_mib": (peak - before) / 2**20,
        "loss": est.loss_curve_[-1],
        "loadavg": open("/proc/loadavg").read().split()[:3],
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--compare-rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to write the data (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the data file")
    parser.add_argument("--worker", choices=["memory", "memmap", "dask", "partial"])
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.path, args.rows)
        return

    directory = tempfile.mkdtemp(prefix="skae-scale-", dir=args.dir)
    path = os.path.join(directory, "X.npy")
    try:
        start = time.perf_counter()
        write_data(path, args.rows)
        print(f"wrote {args.rows} x {N_FEATURES} float32 ({os.path.getsize(path) / 1e9:.2f} GB) "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        results = {"memory": [], "memmap": []}
        for _ in range(args.repeats):  # interleaved: in-memory, memmap, in-memory, ...
            for kind in ("memory", "memmap"):
                results[kind].append(run(kind, path, args.compare_rows))
        full = {kind: run(kind, path, args.rows) for kind in ("memmap", "dask")}
        partial = run("partial", path, min(args.rows, args.compare_rows))
        sizes = sorted({n for n in (1_000_000, 2_000_000, 5_000_000, 10_000_000) if n < args.rows})
        series = [run("memmap", path, n) for n in sizes] + [full["memmap"]]
    finally:
        if not args.keep:
            shutil.rmtree(directory)

    def median(kind, key):
        return float(np.median([r[key] for r in results[kind]]))

    print(f"\nfirst {args.compare_rows:,} rows, medians of {args.repeats} interleaved rounds")
    print("| data | fit (s) | rows/s (fit) | rows/s (epoch) | RssAnon added (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("memory", "memmap"):
        print(f"| {kind} | {median(kind, 'fit_s'):.1f} | {median(kind, 'rows_per_s'):,.0f} | "
              f"{median(kind, 'train_rows_per_s'):,.0f} | {median(kind, 'rss_anon_added_mib'):.0f} |")
    ratio = median("memmap", "rows_per_s") / median("memory", "rows_per_s")
    print(f"memmap / in-memory rows/s (fit) = {ratio:.2f}")
    memory_rate = median("memory", "rows_per_s")
    print(f"\nall {args.rows:,} rows")
    print("| data | fit (s) | epoch (s) | rows/s (fit) | / in-memory | RssAnon peak (MiB) | added |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in [("memmap", full["memmap"]), ("dask", full["dask"]),
                     (f"partial_fit, {CHUNK_ROWS:,}-row chunks ({partial['rows']:,} rows)", partial)]:
        print(f"| {label} | {r['fit_s']:.1f} | {r['epoch_s']:.1f} | {r['rows_per_s']:,.0f} | "
              f"{r['rows_per_s'] / memory_rate:.2f} | {r['rss_anon_peak_mib']:.0f} | "
              f"{r['rss_anon_added_mib']:.0f} |")
    print("\n| rows | fit (s) | epoch (s) | epoch s per million rows | RssAnon added (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for r in series:
        print(f"| {r['rows']:,} | {r['fit_s']:.1f} | {r['epoch_s']:.1f} | "
              f"{r['epoch_s'] / r['rows'] * 1e6:.2f} | {r['rss_anon_added_mib']:.0f} |")


if __name__ == "__main__":
    main()
