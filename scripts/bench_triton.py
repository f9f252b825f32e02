"""Triton on loopback vs the in-process backend, same run, same model (the shipped default bundle), 32 streams.

Two ways 32 streams reach the model: `edge run` batches the windows due across its streams into one engine call
(batch 32), and a ward of 32 thin bedside boxes each sends its own window (32 clients, batch 1; Triton's dynamic
batching merges them). Both run in-process (onnxruntime) and through Triton (PyTriton's tritonserver from
.venv-triton, scripts/triton_serve.py), each for a bounded time. Windows are random 30 uV noise: latency does
not depend on the values. Writes the "triton" section of docs/benchmarks.md:

    scripts/in-loopback-netns .venv/bin/python -m scripts.bench_triton --seconds 20 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from calibrate.triton_repo import write_triton_repo
from edge.config import TritonConfig
from edge.model.engine import Engine
from edge.model.shipped import DEFAULT_BUNDLE
from scripts.bench_common import replace_section
from scripts.triton_serve import TritonServer

STREAMS = 32
MODEL = "eeg_edge"


def measure(callers: list[Callable[[], None]], batch: int, seconds: float) -> dict:
    """Each caller in its own thread, back to back until `seconds` pass: per-call latency and windows/s."""
    latencies: list[list[float]] = [[] for _ in callers]
    start = time.perf_counter()
    deadline = start + seconds

    def loop(call: Callable[[], None], out: list[float]) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            call()
            out.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(c, out)) for c, out in zip(callers, latencies, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ms = 1e3 * np.concatenate([np.asarray(x) for x in latencies])
    return {"calls": len(ms), "windows_per_s": len(ms) * batch / elapsed, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    parser.add_argument("--out", type=Path, default=None, help="docs/benchmarks.md to update")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work, Engine(DEFAULT_BUNDLE, "onnxruntime") as local:
        shape = (len(local.spec.contract.channels), local.spec.contract.window_samples)
        one = rng.normal(0, 30, (1, *shape)).astype(np.float32)
        many = rng.normal(0, 30, (STREAMS, *shape)).astype(np.float32)
        write_triton_repo(DEFAULT_BUNDLE, Path(work) / "repo", name=MODEL, precision="fp32", max_batch=STREAMS)
        load = [os.getloadavg()[0]]
        with TritonServer(Path(work) / "repo", MODEL, workdir=Path(work)) as server:
            config = TritonConfig(url=server.url, model=MODEL, timeout_s=60.0)
            clients = [Engine(DEFAULT_BUNDLE, "triton", triton=config) for _ in range(STREAMS)]
            rows = {
                ("in-process", "edge run batches 32 streams (batch 32)"): measure(
                    [lambda: local.predict(many)], STREAMS, args.seconds),
                ("triton", "edge run batches 32 streams (batch 32)"): measure(
                    [lambda: clients[0].predict(many)], STREAMS, args.seconds),
                ("in-process", "32 callers, batch 1 each"): measure(
                    [lambda: local.predict(one)] * STREAMS, 1, args.seconds),
                ("triton", "32 bedside clients, batch 1 each (dynamic batching)"): measure(
                    [lambda c=c: c.predict(one) for c in clients], 1, args.seconds),
            }
            for client in clients:
                client.close()
        load.append(os.getloadavg()[0])
    shared = (f" (above {os.cpu_count()}: the cores were shared with other work, so the figures are bounds, not "
              "clean measures; rerun on an idle machine)") if max(load) > (os.cpu_count() or 1) else ""
    lines = [
        "## Triton on loopback vs in-process, 32 streams (scripts/bench_triton.py)", "",
        "Written by `scripts/in-loopback-netns .venv/bin/python -m scripts.bench_triton "
        f"--seconds {args.seconds:g} --out docs/benchmarks.md`: {platform.machine()}, {os.cpu_count()} CPU cores "
        f"shared by client and server, Python {platform.python_version()}; the shipped default model (fp32, "
        f"onnxruntime on the CPU in both); {args.seconds:g} s per row; 1-minute load average {load[0]:.1f} before, "
        f"{load[1]:.1f} after{shared}. Triton: PyTriton 0.7.0's tritonserver 2.51 (Python backend calling "
        "onnxruntime), gRPC on 127.0.0.1. A window is 20 x 10,000 float32 (800 kB per request and window).", "",
        "| backend | how 32 streams reach the model | calls | windows/s | latency p50 ms | latency p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {backend} | {how} | {r['calls']} | {r['windows_per_s']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} |"
              for (backend, how), r in rows.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        replace_section(args.out, "triton", text)


if __name__ == "__main__":
    main()
