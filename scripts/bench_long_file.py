"""Peak memory of `edge predict` on a long recording (issue 28: memory must not grow with its length).

    nice -n 10 .venv/bin/python -m scripts.bench_long_file [--hours 14] [--hop 60] [--bundle DIR] \
        [--out docs/benchmarks.md]

Writes a synthetic parquet of `--hours` at 200 Hz (14 h: 10.08 M rows x 20 channels) in chunks, so the
writer never holds it, then runs the user's command, a fresh `edge predict --json` process, and reports
its peak resident memory (the child's ru_maxrss) against the 1 GB target. `--hop` only sets how many
windows are predicted (CPU time); every sample of the file is still read and goes through the chain.
Without `--bundle` the shipped default model runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.testing import synthetic_eeg
from scripts.bench_common import replace_section

TARGET_MB = 1024
CHUNK_S = 3600  # seconds written per row group batch


def write_long_parquet(path: Path, hours: float) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, pa.float32()) for name in CHANNELS])
    total = round(hours * 3600 * SAMPLE_RATE_HZ)
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        for seed, start in enumerate(range(0, total, CHUNK_S * SAMPLE_RATE_HZ)):
            rows = min(CHUNK_S * SAMPLE_RATE_HZ, total - start)
            data = synthetic_eeg(rows / SAMPLE_RATE_HZ, seed=seed)
            writer.write_table(pa.table({name: data[:, i] for i, name in enumerate(CHANNELS)}, schema=schema),
                               row_group_size=100_000)
            written += rows
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=14.0)
    parser.add_argument("--hop", type=float, default=60.0, help="seconds between predicted windows")
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write section 'long-file' of this markdown")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        path = Path(tmp) / "long.parquet"
        t0 = time.perf_counter()
        rows = write_long_parquet(path, args.hours)
        print(f"wrote {rows} rows ({args.hours:g} h at {SAMPLE_RATE_HZ} Hz), {path.stat().st_size / 1e6:.0f} MB, "
              f"in {time.perf_counter() - t0:.0f} s")
        command = [sys.executable, "-c", "from edge.cli import main; main()", "predict", str(path), "--json",
                   "--hop", f"{args.hop:g}"]
        if args.bundle is not None:
            command += ["--bundle", str(args.bundle)]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"edge predict failed ({done.returncode}): {done.stderr.strip()}")
        records = done.stdout.count("\n")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    verdict = "within" if peak_mb <= TARGET_MB else "OVER"
    line = (f"edge predict --hop {args.hop:g}: {records} records in {seconds:.0f} s; peak RSS {peak_mb:.0f} MB "
            f"({verdict} the {TARGET_MB} MB target)")
    print(line)
    if args.out is not None:
        command = "nice -n 10 .venv/bin/python -m scripts.bench_long_file" + \
            f" --hours {args.hours:g} --hop {args.hop:g} --out {args.out}"
        replace_section(args.out, "long-file", "\n".join([
            "## A long recording through `edge predict` (`scripts/bench_long_file.py`)", "",
            f"Written by `{command}`: a synthetic {args.hours:g} h parquet at {SAMPLE_RATE_HZ} Hz ({rows} rows x "
            f"{len(CHANNELS)} channels), read in bounded chunks; the default model; {platform.machine()}, "
            f"{os.cpu_count()} cores, load average {load:.1f} at the start. Every sample goes through the chain; "
            f"--hop sets only how many windows are predicted. Target: peak RSS <= {TARGET_MB} MB.", "",
            f"- {line}"]))


if __name__ == "__main__":
    main()
