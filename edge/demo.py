"""`edge demo`: with nothing downloaded and nothing trained, replay a recording over loopback LSL into the runtime.

By default it runs the shipped model (edge.model.shipped) on the shipped synthetic seizure recording. It
shows rolling predictions for about a minute and leaves the JSONL log and a PNG timeline of the
probabilities in the output dir. Training a model first is scripts/demo.py's job (`make demo TRAIN=1`):
the bedside package never runs `train` or looks for repository paths.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from edge.contract import CLASSES, SignalContract
from edge.errors import DataError, EegEdgeError
from edge.model.shipped import DEMO_RECORDING, resolve_bundle


def plot_timeline(records: list[dict], path: Path, speed: float = 1.0) -> Path:
    """Smoothed probabilities per class against recording time (LSL time undone of the replay speed-up)."""
    import io

    from matplotlib.figure import Figure  # no pyplot: no global backend or GUI state

    from edge.model.bundle import atomic_write

    # flagged windows are not smoothed (smoothed is null): the timeline shows what the alarm saw
    predictions = [r for r in records if r["type"] == "prediction" and r["smoothed"] is not None]
    if not predictions:
        raise EegEdgeError("the demo produced no predictions; is the machine heavily loaded?")
    t0 = predictions[0]["label_start"]
    times = [(r["label_start"] - t0) * speed for r in predictions]
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    for name in CLASSES:
        ax.plot(times, [r["smoothed"][name] for r in predictions], label=name)
    ax.set_xlabel("start of the labelled 10 s span (recording seconds since the first prediction)")
    ax.set_ylabel("smoothed probability")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right", ncol=len(CLASSES))
    ax.set_title(f"eeg-edge demo: model {predictions[0]['model']}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return atomic_write(path, buffer.getvalue())


def run_demo(out: Path, bundle: Path | None = None, recording: Path | None = None, *, seconds: float = 60.0,
             speed: float = 5.0) -> Path:
    """Replay ``recording`` (default: the shipped seizure) into ``bundle`` (default: the shipped model)."""
    from edge.inputs.lsl_config import use_loopback_only

    use_loopback_only()  # before pylsl loads: demo streams never leave the machine
    from edge.config import RunConfig
    from edge.inputs.input_files import read_recording
    from edge.inputs.replay import Player, ReplayConfig
    from edge.runtime import RunOptions, StreamRequest, run_streams
    from edge.sinks.jsonl import read_jsonl

    bundle = resolve_bundle(bundle, "demo")
    recording = recording or DEMO_RECORDING
    if not recording.is_file():
        raise DataError(f"demo recording {recording} is missing; pass one with --recording")
    out.mkdir(parents=True, exist_ok=True)
    source = read_recording(recording)
    name = f"eeg-edge-demo-{uuid.uuid4().hex[:8]}"
    window_s = SignalContract().window_seconds
    print(f"demo: replaying {source.path.name} at {speed:g}x as LSL stream {name!r}; first prediction after "
          f"{window_s / speed:.0f} s (one {window_s:.0f} s window)", flush=True)
    player = Player(source, ReplayConfig(name=name, speed=speed, loop=True))
    stop = threading.Event()
    thread = threading.Thread(target=player.run, args=(stop,), daemon=True)
    thread.start()
    log = out / "predictions.jsonl"
    log.unlink(missing_ok=True)
    try:
        # a deliberate faster-than-real-time replay: the rate check would (rightly) refuse it
        config = RunConfig().replace(watchdog={"check_rate": speed == 1.0})
        run_streams(RunOptions(str(bundle), (StreamRequest(name),), config, out=str(log), seconds=seconds))
    finally:
        stop.set()
        thread.join()
    records = read_jsonl(log)
    png = plot_timeline(records, out / "timeline.png", speed)
    calls = [max(r["smoothed"], key=r["smoothed"].get) for r in records
             if r["type"] == "prediction" and r["smoothed"] is not None]
    if calls:
        top = max(set(calls), key=calls.count)
        print(f"demo: the model called {source.path.name} {top} in {calls.count(top)} of {len(calls)} predictions",
              flush=True)
    print(f"demo: wrote {log} and {png}", flush=True)
    return png
