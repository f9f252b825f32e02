"""CPU latency of each precision a calibrated bundle ships, through edge's Engine, against fp32 ->
docs/benchmarks.md (section "precision"). The precision edge chooses (calibration.json, from the
`calibrate verify` timing) must be no slower than fp32. Precisions take turns call by call, so load
from other processes hits them alike; windows are real held-out EEG shapes (synthetic values).

    nice -n 10 .venv/bin/python scripts/bench_precision.py --bundle B [--bundle B2 ...] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from bench_common import replace_section

from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.model.backends import open_backend, verified_precisions
from edge.model.bundle import PRECISION_FILES
from edge.model.engine import Engine

REPO = Path(__file__).resolve().parent.parent
BATCHES = (1, 16)


def measure(bundle: Path, repeats: int) -> tuple[str, dict[tuple[str, int], float]]:
    """(chosen precision, p50 ms per call for every shipped precision and batch)."""
    with Engine(bundle, "onnxruntime") as engine:
        chosen, spec = engine.precision, engine.spec
    shipped = [p for p in verified_precisions(bundle) if (bundle / PRECISION_FILES[p]).is_file()]
    runners = {p: open_backend(bundle, spec, "onnxruntime", precision=p) for p in shipped}
    rng = np.random.default_rng(0)
    p50 = {}
    for batch in BATCHES:
        feed = {spec.input_name: rng.normal(0, 40, (batch, len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)}
        times: dict[str, list[float]] = {p: [] for p in runners}
        for step in range(repeats + 1):
            for precision, runner in runners.items():
                start = time.perf_counter()
                runner.infer(feed)
                if step:  # the first call warms the session up
                    times[precision].append(1e3 * (time.perf_counter() - start))
        p50.update({(p, batch): float(np.median(t)) for p, t in times.items()})
    for runner in runners.values():
        runner.close()
    return chosen, p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, action="append", required=True)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for bundle in args.bundle:
        chosen, p50 = measure(bundle, args.repeats)
        cells = [f"{p} {p50[p, b]:.1f}" for b in BATCHES for p in PRECISION_FILES if (p, b) in p50]
        ok = all(p50[chosen, b] <= p50["fp32", b] * 1.05 for b in BATCHES)  # within timer noise
        rows.append(f"| {bundle.name} | {chosen} | {'; '.join(cells)} | {'yes' if ok else 'NO'} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        "## Precision edge runs on the CPU (`scripts/bench_precision.py`)", "",
        "    nice -n 10 .venv/bin/python scripts/bench_precision.py " + " ".join(
            f"--bundle {b}" for b in args.bundle) + f" --repeats {args.repeats}", "",
        f"onnxruntime {platform.machine()}, {os.cpu_count()} CPU cores, load average {load:.1f} at the start; p50 ms "
        f"per call (batch 1, then 16) of every precision the bundle ships; the chosen one is what `edge` runs "
        f"(calibration.json). 'no slower' allows 5 % timer noise.", "",
        "| bundle | edge runs | p50 ms per call (batch 1; batch 16) | chosen no slower than fp32 |",
        "|---|---|---|---|", *rows])
    replace_section(args.doc, "precision", body)


if __name__ == "__main__":
    main()
