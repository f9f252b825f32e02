"""`edge demo`: with nothing downloaded, replay a recording over loopback LSL into the runtime.

Without a bundle it first builds a small one from synthetic data by running the `train` and
`calibrate` commands as subprocesses (edge never imports them). It shows rolling predictions for
about a minute and leaves the JSONL log and a PNG timeline of the probabilities in the output dir.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np

from edge.bundle import ONNX_FILE
from edge.errors import DataError, EegEdgeError
from edge.spec import CLASSES, VOTE_COLUMNS, SignalContract

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "configs" / "demo.toml"
MIN_RECORDING_S = SignalContract().window_seconds


def _command(package: str, *args: str) -> None:
    """Run `train ...` / `calibrate ...` in a child process with this interpreter."""
    argv = [sys.executable, "-c", f"from {package}.cli import main; main()", *args]
    print(f"demo: {package} {' '.join(args)}", flush=True)
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise EegEdgeError(f"`{package} {' '.join(args)}` failed (exit {result.returncode}); see its output above")


def build_demo_bundle(out: Path) -> Path:
    bundle, data = out / "bundle", out / "synth"
    if (bundle / ONNX_FILE).is_file():
        return bundle
    if not any(data.rglob("*.parquet")):
        _command("train", "synth", "--out", str(data), "--eegs", "60", "--patients", "12", "--seed", "0")
    _command("train", "fit", "--data", str(data), "--out", str(bundle), "--config", str(DEMO_CONFIG))
    _command("calibrate", "export", "--bundle", str(bundle))
    return bundle


def pick_recording(out: Path) -> Path:
    """The synthetic EEG with the largest share of seizure votes (so the demo has something to show),
    else the longest EEG recording found in the demo data or the test fixtures."""
    from edge.recordings import read_recording

    votes = out / "synth" / "train.csv"
    if votes.is_file():
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(votes).to_pydict()
        totals = [sum(table[c][i] for c in VOTE_COLUMNS) for i in range(len(table["eeg_id"]))]
        share = [table[VOTE_COLUMNS[0]][i] / max(totals[i], 1) for i in range(len(totals))]
        best = out / "synth" / "train_eegs" / f"{table['eeg_id'][int(np.argmax(share))]}.parquet"
        if best.is_file():
            return best
    candidates = []
    for folder in (out / "synth", REPO / "tests" / "data"):
        for path in sorted(folder.rglob("*.parquet")) if folder.is_dir() else []:
            try:
                candidates.append((read_recording(path).seconds, path))
            except DataError:
                continue  # labels or spectrogram tables: not an EEG recording
    long_enough = [c for c in candidates if c[0] >= MIN_RECORDING_S]
    if not long_enough:
        raise DataError(f"no EEG recording of at least {MIN_RECORDING_S:.0f} s found under {out / 'synth'}; "
                        "pass one with --recording")
    return max(long_enough)[1]


def plot_timeline(records: list[dict], path: Path, speed: float = 1.0) -> Path:
    """Smoothed probabilities per class against recording time (LSL time undone of the replay speed-up)."""
    import io

    from matplotlib.figure import Figure  # no pyplot: no global backend or GUI state

    from edge.bundle import atomic_write

    predictions = [r for r in records if r["type"] == "prediction"]
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


def run_demo(out: Path, bundle: Path | None = None, recording: Path | None = None, seconds: float = 60.0,
             speed: float = 5.0) -> Path:
    from edge.lsl_config import use_loopback_only

    use_loopback_only()  # before pylsl loads: demo streams never leave the machine
    from edge.config import RunConfig
    from edge.recordings import read_recording
    from edge.replay import Player, ReplayConfig
    from edge.runtime import StreamRequest, run_streams
    from edge.sinks.jsonl import read_jsonl

    out.mkdir(parents=True, exist_ok=True)
    bundle = bundle or build_demo_bundle(out)
    source = read_recording(recording or pick_recording(out))
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
        run_streams(str(bundle), [StreamRequest(name)], RunConfig().validate(), str(log), console=True,
                    seconds=seconds)
    finally:
        stop.set()
        thread.join()
    png = plot_timeline(read_jsonl(log), out / "timeline.png", speed)
    print(f"demo: wrote {log} and {png}", flush=True)
    return png
