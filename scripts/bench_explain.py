"""`edge explain` latency: one window's occlusion map with the default mel2d on onnxruntime -> docs/benchmarks.md.

Builds the default mel2d model untrained (latency does not depend on the weights) with the same helper as
scripts/bench.py, then times edge.offline.explain.explain_file (read the file, 1 + pairs x blocks engine rows,
batched) and the PNG rendering separately. Section "explain" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ (bench_common) when run as a module

from bench_common import REPO, build_bundle, replace_section

from edge.model.engine import Engine
from edge.offline.explain import BLOCK_S, explain_file
from edge.offline.explain_plot import render
from edge.testing import shared_data_dir, synthetic_eeg, write_parquet

SPARCNET = shared_data_dir() / "sparcnet_iiic" / "SZ_sample1.parquet"
TARGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="eeg-edge-bench-explain-"))
    print("bench_explain: building and exporting the default mel2d model", flush=True)
    build_bundle(work / "bundle")
    recording = SPARCNET if SPARCNET.is_file() else write_parquet(work / "rec.parquet", synthetic_eeg(50.0))
    load_before = os.getloadavg()[0]
    explain_s, render_s = [], []
    with Engine(work / "bundle", "onnxruntime") as engine:
        explain_file(recording, engine)  # warm-up: onnxruntime allocates its arenas on the first runs
        for _ in range(args.repeats):
            start = time.perf_counter()
            explanation = explain_file(recording, engine)
            explain_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            render(explanation)
            render_s.append(time.perf_counter() - start)
            print(f"bench_explain: map {explain_s[-1]:.2f} s, picture {render_s[-1]:.2f} s", flush=True)
    load_after = os.getloadavg()[0]
    rows = 1 + explanation.pair_time.size
    p50 = float(np.median(explain_s))
    body = f"""## explain (written by `python scripts/bench_explain.py`)

Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; run
{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 1-minute load average {load_before:.1f} before and
{load_after:.1f} after (a load above the core count means shared cores: the times are upper bounds).
`edge explain` on one 50 s window ({recording.name}) with the default `mel2d`, untrained, exported with
`calibrate.export`, onnxruntime CPU: occlusion over {explanation.pair_time.shape[0]} pairs x
{explanation.pair_time.shape[1]} blocks of {BLOCK_S:g} s = {rows} model rows per window (with the unoccluded one).

| step | median s | min s | per model row ms |
|---|---|---|---|
| occlusion map (read + {rows} rows through the engine) | {p50:.2f} | {min(explain_s):.2f} | {1e3 * p50 / rows:.2f} |
| PNG (matplotlib) | {float(np.median(render_s)):.2f} | {min(render_s):.2f} | |

Occlusion map median {p50:.2f} s per window (target <= {TARGET_S:g} s): **{"met" if p50 <= TARGET_S else "not met"}**.
"""
    replace_section(args.out, "explain", body)
    print(body)


if __name__ == "__main__":
    main()
