"""Time of `edge report` on a 1 h recording -> docs/benchmarks.md (section "report"). Target: <= 30 s.

    nice -n 10 .venv/bin/python scripts/bench_report.py [--hours 1]

The log is real: synthetic EEG replayed from a file through the same Runtime as `edge run` (tiny test
model; the report's cost depends on the number of records, not on the model), with the JSONL log and
the trends CSV written by the runtime's own sinks. The timed command is the user's: a fresh
`edge report LOG --trends CSV --out report.html` process, imports included.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import replace_section

from edge.config import RunConfig
from edge.inputs.file_source import FileSource
from edge.model.engine import Engine
from edge.runtime import Runtime
from edge.sinks.jsonl import JsonlSink
from edge.sinks.trends_file import TrendsFileSink, trends_path
from edge.testing import build_test_bundle, synthetic_eeg, write_parquet

REPO = Path(__file__).resolve().parent.parent


def write_log(workdir: Path, hours: float) -> Path:
    recording = write_parquet(workdir / "recording.parquet", synthetic_eeg(3600 * hours, seed=3))
    bundle = build_test_bundle(workdir / "bundle")
    log = workdir / "predictions.jsonl"
    source = FileSource(recording, name="bed-1")
    sinks = [JsonlSink(log, skip=frozenset({"trends"})), TrendsFileSink(trends_path(log))]
    with Engine(bundle, "onnxruntime", threads=1) as engine:
        runtime = Runtime(engine, [source], sinks, RunConfig().validate())
        try:
            while not source.exhausted:
                runtime.step()
        finally:
            runtime.close()
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        log = write_log(workdir, args.hours)
        trends = trends_path(log)
        command = [sys.executable, "-c", "from edge.cli import main; main()", "report", str(log),
                   "--trends", str(trends), "--out", str(workdir / "report.html")]
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - start)
        records = sum(1 for _ in log.open())
        sizes = {name: (workdir / name).stat().st_size / 1e6 for name in ("report.html", "report.png")}
    cpu = platform.processor() or platform.machine()
    body = f"""## `edge report` on a {args.hours:g} h recording

`nice -n 10 .venv/bin/python scripts/bench_report.py --hours {args.hours:g}` ({cpu}, shared 2-core machine).
A {args.hours:g} h synthetic recording replayed through the runtime from a file: {records} JSONL records
and the trends CSV. Wall time of a fresh `edge report LOG --trends CSV --out report.html` process
(imports, reading, the PNG and the HTML), {args.repeats} runs: median {sorted(seconds)[len(seconds) // 2]:.1f} s,
max {max(seconds):.1f} s (target <= 30 s). Output: HTML {sizes['report.html']:.2f} MB (PNG embedded),
PNG {sizes['report.png']:.2f} MB.
"""
    replace_section(args.out, "report", body)
    print(body)


if __name__ == "__main__":
    main()
