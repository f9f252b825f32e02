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
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

from edge.inputs.lsl_config import use_loopback_only  # noqa: E402

use_loopback_only()  # before pylsl loads anywhere in this process

from benchdoc import replace_section  # noqa: E402  (scripts/ is sys.path[0] when run as a script)

from edge.chain.channels import build_channel_map  # noqa: E402
from edge.chain.signal_chain import SignalChain, Window  # noqa: E402
from edge.config import ChainConfig, SmoothingConfig  # noqa: E402
from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES  # noqa: E402
from edge.inputs.replay import COUNTER_LABEL, Player, ReplayConfig  # noqa: E402
from edge.model.engine import Engine  # noqa: E402
from edge.model.model_spec import ModelSpec  # noqa: E402
from edge.monitoring.smoothing import Smoother  # noqa: E402
from edge.records import prediction_record  # noqa: E402
from edge.testing import synthetic_eeg, write_parquet  # noqa: E402
from edge.timing import StageTimer  # noqa: E402

BATCHES = (1, 8, 32)
HOP = 400
MODEL = "mel2d"


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def build_bundle(directory: Path):
    """Default mel2d, untrained (latency does not depend on the weights), exported with the calibrate API."""
    import torch

    from calibrate.export import export_onnx
    from edge.model.bundle import ONNX_FILE, save_spec, write_checksums
    from train.models import ProbabilityModel, create_model

    torch.manual_seed(0)
    spec = ModelSpec(model=MODEL)
    model = ProbabilityModel(create_model(MODEL, spec.frontend)).eval()
    directory.mkdir(parents=True, exist_ok=True)
    export_onnx(model, spec, directory / ONNX_FILE)
    save_spec(directory, spec)
    write_checksums(directory)
    return model


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


def live_run(bundle: Path, recording: Path, streams: int, *, speed: float, seconds: float, workdir: Path,
             extra_args: tuple[str, ...] = ()) -> dict:
    """`edge run` in a child process on `streams` replays at `speed`x; its records, peak RSS and samples sent.
    `extra_args` go to `edge run` too (scripts/bench_display.py: `--serve PORT`)."""
    names = [f"bench-{os.getpid()}-{i}-{time.monotonic_ns() % 10**8}" for i in range(streams)]
    out = workdir / f"live-{streams}-{speed:g}.jsonl"
    out.unlink(missing_ok=True)
    players = [Player(read(recording), ReplayConfig(name=n, speed=speed, loop=True, counter=True)) for n in names]
    config = workdir / "faster-than-real-time.toml"  # N streams emulated by fewer outlets at N/outlets x
    config.write_text("[run.watchdog]\ncheck_rate = false\n")
    command = [sys.executable, "-c", "from edge.cli import main; main()", "run", "--bundle", str(bundle),
               "--backend", "onnxruntime", "--for", str(seconds), "--out", str(out), "--counter", COUNTER_LABEL,
               "--config", str(config)]
    for name in names:
        command += ["--stream", name]
    command += extra_args
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "LSLAPICFG": os.environ["LSLAPICFG"]})
    stop = threading.Event()
    time.sleep(3.0)  # the child resolves and subscribes before the replays start
    threads = [threading.Thread(target=p.run, args=(stop,), daemon=True) for p in players]
    for thread in threads:
        thread.start()
    peak_rss = 0
    while child.poll() is None:
        peak_rss = max(peak_rss, _rss_bytes(child.pid))
        time.sleep(0.25)
    stop.set()
    for thread in threads:
        thread.join()
    if child.returncode != 0:
        raise RuntimeError(f"edge run failed: {child.stderr.read()[-2000:]}")
    from edge.sinks.jsonl import read_jsonl

    return {"records": read_jsonl(out), "peak_rss": peak_rss, "names": names}


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


_RECORDINGS: dict[Path, object] = {}


def read(path: Path):
    from edge.inputs.input_files import read_recording

    if path not in _RECORDINGS:
        _RECORDINGS[path] = read_recording(path)
    return _RECORDINGS[path]


def stream_health(run: dict) -> dict:
    """Dropped samples (gaps in the counter) and lag (emission minus the window's last sample, LSL clock)."""
    preds = [r for r in run["records"] if r["type"] == "prediction"]
    dropped = 0
    per_stream = 0
    for name in run["names"]:
        mine = [r for r in preds if r["stream"] == name]
        per_stream = min(per_stream or len(mine), len(mine))
        dropped += sum(not r["counter_contiguous"] for r in mine)
        dropped += sum(b["counter"][0] - a["counter"][0] != HOP for a, b in itertools.pairwise(mine))
    lag = [1e3 * (r["emitted_at"] - r["window_end"]) for r in preds]
    return {"predictions": len(preds), "min_per_stream": per_stream, "dropped": dropped,
            "lag_p50": percentiles(lag)[0] if lag else float("nan"),
            "lag_p99": percentiles(lag)[1] if lag else float("nan")}


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
