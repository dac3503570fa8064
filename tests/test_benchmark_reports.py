"""The committed anomaly report is what its script writes from the committed results.

``bench_anomaly.py --output`` rewrites ``RESULTS_anomaly.md`` whole: a paragraph
added to the markdown alone would be lost at the next run, and the docs'
Benchmarks page shows the markdown.
"""

import importlib.util
import json
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _bench_anomaly():
    spec = importlib.util.spec_from_file_location(
        "bench_anomaly", BENCHMARKS / "bench_anomaly.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_anomaly_report_is_regenerated_from_its_store():
    bench = _bench_anomaly()
    with open(bench.STORE) as f:
        store = json.load(f)
    written = bench.report(store, seeds=10).splitlines()
    committed = (BENCHMARKS / "RESULTS_anomaly.md").read_text().splitlines()
    # The machine line holds the load average and the installed versions.
    machine = [i for i, line in enumerate(committed) if line.startswith("Machine:")]
    assert len(machine) == 1
    del written[machine[0]], committed[machine[0]]
    assert written == committed
