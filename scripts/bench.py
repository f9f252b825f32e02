"""`make bench`: latency, throughput and memory of the edge runtime -> docs/benchmarks.md (section "edge").

Builds the default 2D model (train.models.create_model("mel2d"), front end inside) with untrained
weights, exports it with the calibrate API, and measures in one run:
  * the whole per-window chain (ring buffer -> window -> quality -> engine -> smoothing -> record)
    for each backend available here, at batch 1/8/32 (B streams' windows due in one engine call),
    against eager PyTorch on the same model and the same batches;
  * per-stage timings at batch 1 (StageTimer, timing=True);
  * end-to-end latency over loopback LSL and resident memory of an `edge run` process with one stream;
  * how many simultaneous 200 Hz streams one `edge run` process keeps up with at hop 2 s.
This is a repo script: it imports torch/train/calibrate (edge itself never does).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

# First: it sets the loopback LSL config before pylsl loads (scripts/ is sys.path[0] when run as a script).
from bench_common import HOP, MODEL, REPO, build_bundle, live_run, percentiles, replace_section, stream_health

from edge.chain.channels import build_channel_map
from edge.chain.signal_chain import SignalChain, Window
from edge.config import ChainConfig, SmoothingConfig
from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.model.engine import Engine
from edge.monitoring.smoothing import Smoother
from edge.records import prediction_record
from edge.testing import synthetic_eeg, write_parquet
from edge.timing import StageTimer

BATCHES = (1, 8, 32)


def full_chains(count: int, steps: int, timer: StageTimer) -> tuple[list[SignalChain], np.ndarray]:
    """`count` chains one sample short of a full window, and enough data for `steps` more hops."""
    data = synthetic_eeg((WINDOW_SAMPLES + (steps + 1) * HOP) / SAMPLE_RATE_HZ)
    channel_map = build_channel_map(list(CHANNELS), ["uV"] * len(CHANNELS))
    chains = [SignalChain(channel_map, SAMPLE_RATE_HZ, ChainConfig(), timer=timer) for _ in range(count)]
    for chain in chains:
        chain.push(data[: WINDOW_SAMPLES - 1])
    return chains, data


def chain_latency(engine: Engine, batch: int, steps: int, *, timer: StageTimer) -> list[float]:
    """Seconds from pushing the hop that completes B windows to B finished prediction records."""
    chains, data = full_chains(batch, steps, timer)
    smoothers = [Smoother(SmoothingConfig()) for _ in chains]
    position = WINDOW_SAMPLES - 1
    durations = []
    for step in range(steps + 1):
        hop = data[position: position + (1 if step == 0 else HOP)]
        position += len(hop)
        start = time.perf_counter()
        windows = [e for chain in chains for e in chain.push(hop, arrival=start) if isinstance(e, Window)]
        with timer.stage("engine"):
            probs = engine.predict(np.stack([w.data for w in windows]))
        with timer.stage("smooth+record"):
            for window, p, smoother in zip(windows, probs, smoothers, strict=True):
                prediction_record("bench", window, p, smoothed=smoother.update(p), model_id=engine.model_id,
                                  lookahead_s=engine.spec.lookahead_s, emitted=time.perf_counter(), emitted_clock=0.0)
        if step:  # the first step warms the session up
            durations.append(time.perf_counter() - start)
    return durations


def eager_latency(model, batch: int, steps: int) -> list[float]:
    import torch

    x = torch.from_numpy(np.random.default_rng(0).normal(0, 30, (batch, len(CHANNELS), WINDOW_SAMPLES))
                         .astype(np.float32))
    durations = []
    with torch.inference_mode():
        model(x)
        for _ in range(steps):
            start = time.perf_counter()
            model(x)
            durations.append(time.perf_counter() - start)
    return durations


def steps_for(batch: int, quick: bool) -> int:
    return max(3, (60 if batch == 1 else 12 if batch == 8 else 5) // (3 if quick else 1))


def search_capacity(keeps_up) -> int:
    """Upwards from the 32-stream target while it keeps up; if 32 fails, downwards for the real figure."""
    if keeps_up(32):
        capacity = 32
        for streams in (64, 128):
            if not keeps_up(streams):
                break
            capacity = streams
        return capacity
    return next((streams for streams in (16, 8) if keeps_up(streams)), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not for the doc)")
    args = parser.parse_args()
    import torch

    threads = torch.get_num_threads()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="eeg-edge-bench-"))
    bundle = work / "bundle"
    print("bench: building and exporting the default mel2d model", flush=True)
    model = build_bundle(bundle)
    recording = write_parquet(work / "bench.parquet", synthetic_eeg(120.0))

    rows, stages = [], {}
    backends = ["onnxruntime"]  # the bedside runners; eager torch is timed below
    from edge.model.backends import _tensorrt_engine

    if _tensorrt_engine(bundle) is not None:
        backends.insert(0, "tensorrt")
    results: dict[tuple[str, int], tuple[float, float]] = {}
    for backend in backends:
        with Engine(bundle, backend) as engine:
            for batch in BATCHES:
                timer = StageTimer(enabled=batch == 1)
                durations = chain_latency(engine, batch, steps_for(batch, args.quick), timer=timer)
                results[backend, batch] = percentiles([1e3 * d for d in durations])
                if batch == 1:
                    stages[backend] = timer.summary()
                print(f"bench: chain {backend} batch {batch}: p50 {results[backend, batch][0]:.1f} ms", flush=True)
    for batch in BATCHES:
        results["eager torch", batch] = percentiles([1e3 * d for d in eager_latency(model, batch,
                                                                                   steps_for(batch, args.quick))])
        print(f"bench: eager torch batch {batch}: p50 {results['eager torch', batch][0]:.1f} ms", flush=True)
    for (name, batch), (p50, p99) in results.items():
        rows.append(f"| {name} | {batch} | {p50:.1f} | {p99:.1f} | {p50 / batch:.2f} |")

    print("bench: one stream over loopback LSL (edge run in a child process)", flush=True)
    single = live_run(bundle, recording, 1, speed=5.0, seconds=20.0 if args.quick else 40.0, workdir=work)
    health = stream_health(single)
    latency = [r["latency_ms"] for r in single["records"] if r["type"] == "prediction"]
    arrival_p50, arrival_p99 = percentiles(latency)

    capacity_rows: list[str] = []

    def keeps_up(streams: int) -> bool:
        outlets = min(8, streams)
        speed = streams / outlets
        run = live_run(bundle, recording, outlets, speed=speed,
                       seconds=WINDOW_SAMPLES / SAMPLE_RATE_HZ / speed + 15.0, workdir=work)
        result = stream_health(run)
        ok = result["dropped"] == 0 and result["min_per_stream"] >= 5 and result["lag_p99"] < 1000.0
        capacity_rows.append(f"| {streams} | {outlets} x {speed:g}x | {result['predictions']} | {result['dropped']} | "
                             f"{result['lag_p50']:.0f} | {result['lag_p99']:.0f} | {'yes' if ok else 'no'} |")
        print(f"bench: {capacity_rows[-1]}", flush=True)
        return ok

    capacity = search_capacity(keeps_up)

    load_after = os.getloadavg()[0]
    ort1, eager1 = results["onnxruntime", 1][0], results["eager torch", 1][0]
    stage_lines = [f"| {backend} | {name} | {s['mean_ms']:.2f} |" for backend, summary in stages.items()
                   for name, s in sorted(summary.items(), key=lambda kv: -kv[1]["mean_ms"])]
    body = f"""## edge (written by `make bench`, scripts/bench.py)

Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch threads {threads}, Python {platform.python_version()};
run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 1-minute load average {load_before:.1f} at the start and
{load_after:.1f} at the end: the cores were shared with other work while this ran (a load of L on C cores leaves
this run roughly C/L of the CPU), so the figures are upper bounds; rerun on an idle machine for clean numbers.
Model: default `{MODEL}` (mixnet_s backbone, Mel-dB front end inside the graph), untrained
weights (latency does not depend on them), exported with `calibrate.export`.
TensorRT {"was used" if "tensorrt" in backends else "is not installed here, so it is absent"}.

### Whole chain per engine call (ms): B windows due -> B prediction records

Ring buffer -> window copy -> quality flags -> engine -> smoothing -> record. p50/p99 over repeated hops;
per window = p50 / B. Eager torch runs the same model (front end included) on the same batch.

| backend | batch | p50 ms | p99 ms | per window ms |
|---|---|---|---|---|
{chr(10).join(rows)}

Batch 1: onnxruntime chain p50 {ort1:.1f} ms (target <= 8 ms) vs eager torch {eager1:.1f} ms:
**{eager1 / ort1:.1f}x faster** (target >= 3x).

### Per-stage mean at batch 1 (ms, StageTimer timing=True)

| backend | stage | mean ms |
|---|---|---|
{chr(10).join(stage_lines)}

### One stream over loopback LSL (`edge run` child process, replay at 5x)

- predictions: {health['predictions']}, dropped samples: {health['dropped']}
- end to end (window's last sample pushed by the outlet -> record emitted, LSL clock):
  p50 {health['lag_p50']:.1f} ms, p99 {health['lag_p99']:.1f} ms (target p99 <= 100 ms)
- arrival of the last sample -> emission: p50 {arrival_p50:.1f} ms, p99 {arrival_p99:.1f} ms
- peak resident memory of the `edge run` process: **{single['peak_rss'] / 2**20:.0f} MB** (target <= 400 MB)

### Simultaneous 200 Hz streams at hop 2 s (one `edge run` process)

N streams are emulated by 8 outlets replayed at N/8 x real time: the same samples and windows per second
as N real-time streams, but fewer LSL inlets (per-inlet overhead is underestimated). "Keeps up": no
dropped, duplicated or reordered sample (counter channel), >= 5 predictions per stream, lag p99 < 1 s.

| streams | outlets x speed | predictions | dropped | lag p50 ms | lag p99 ms | keeps up |
|---|---|---|---|---|---|---|
{chr(10).join(capacity_rows)}

Largest tested count that keeps up: **{capacity or 'below 8'}** (target >= 32).
"""
    replace_section(args.out, "edge", body)
    print(f"bench: wrote section 'edge' of {args.out}", flush=True)


if __name__ == "__main__":
    main()
