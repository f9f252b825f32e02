"""`edge` command line: thin wrappers that parse, build a config and call one library function."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from edge.cli_support import run_app

app = typer.Typer(name="edge", help="Bedside runtime: live EEG over LSL -> rolling soft predictions.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

# typer reads these annotations at run time; Optional spells "may be absent" for it on Python 3.10 too.
BundleOpt = Annotated[Path, typer.Option("--bundle", help="model bundle directory")]
BackendOpt = Annotated[Optional[str], typer.Option("--backend", help="auto | onnxruntime | tensorrt | torch")]  # noqa: UP045
MissingOpt = Annotated[bool, typer.Option("--allow-missing", help="fill missing channels, zeroing their montage pairs")]
OptStr = Optional[str]  # noqa: UP045
OptFloat = Optional[float]  # noqa: UP045
OptInt = Optional[int]  # noqa: UP045
OptPath = Optional[Path]  # noqa: UP045


@app.command()
def run(
    stream: Annotated[list[str], typer.Option("--stream", help="LSL stream name (repeat for several streams)")],
    bundle: BundleOpt,
    stream_type: Annotated[str, typer.Option("--type", help="LSL stream type to match ('' for any)")] = "EEG",
    source_id: Annotated[OptStr, typer.Option("--source-id", help="match this LSL source_id too")] = None,
    backend: BackendOpt = None,
    hop: Annotated[OptFloat, typer.Option("--hop", help="seconds between predictions (default 2)")] = None,
    smooth: Annotated[OptInt, typer.Option("--smooth", help="mean over the last K predictions")] = None,
    out: Annotated[OptPath, typer.Option("--out", help="append records to this JSONL file")] = None,
    lsl_out: Annotated[bool, typer.Option("--lsl-out", help="publish probabilities and alarm markers")] = False,
    seconds: Annotated[OptFloat, typer.Option("--for", help="stop after this many seconds")] = None,
    allow_missing: MissingOpt = False,
    threads: Annotated[OptInt, typer.Option("--threads", help="onnxruntime threads (0: automatic)")] = None,
    config: Annotated[OptPath, typer.Option("--config", help="TOML file with a 'run' table")] = None,
    counter: Annotated[OptStr, typer.Option("--counter", help="label of a sample-counter channel to check")] = None,
    timing: Annotated[bool, typer.Option("--timing", help="print per-stage timings at exit")] = False,
) -> None:
    """Run the model on live LSL streams."""
    from edge.config import load_run_config
    from edge.runtime import StreamRequest, run_streams

    run_config = load_run_config(config).replace(
        chain={"hop_s": hop}, smoothing={"kind": "mean", "k": smooth} if smooth else {}, backend=backend,
        threads=threads)
    requests = [StreamRequest(name, stream_type or None, source_id) for name in stream]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # systemd stop: finish the current step, close cleanly
    run_streams(str(bundle), requests, run_config, str(out) if out else None, lsl_out, True, seconds,
                allow_missing, counter, stop, timing)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="Kaggle-layout .parquet, .edf or .bdf")],
    name: Annotated[str, typer.Option("--name", help="LSL stream name")] = "EEG",
    source_id: Annotated[OptStr, typer.Option("--source-id", help="LSL source_id (default: a fresh one)")] = None,
    speed: Annotated[float, typer.Option("--speed", help="playback speed factor")] = 1.0,
    loop: Annotated[bool, typer.Option("--loop", help="start again at the end, forever")] = False,
    chunk: Annotated[int, typer.Option("--chunk", help="samples per push")] = 20,
    counter: Annotated[bool, typer.Option("--counter", help="add a sample-counter channel")] = False,
) -> None:
    """Play a recording as an LSL stream, paced against the LSL clock."""
    from edge.recordings import read_recording
    from edge.replay import Player, ReplayConfig

    config = ReplayConfig(name=name, source_id=source_id, speed=speed, loop=loop, chunk=chunk, counter=counter)
    sent = Player(read_recording(file), config).run()
    print(f"replayed {sent} samples of {file.name} as LSL stream {name!r}", file=sys.stderr)


@app.command()
def predict(
    files: Annotated[list[Path], typer.Argument(help="recordings (.parquet, .edf, .bdf)")],
    bundle: BundleOpt,
    offset: Annotated[float, typer.Option("--offset", help="start of the first window, seconds")] = 0.0,
    hop: Annotated[float, typer.Option("--hop", help="seconds between windows")] = 2.0,
    backend: BackendOpt = "auto",
    allow_missing: MissingOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per window")] = False,
) -> None:
    """Predict offline on files, through the same chain and engine as `edge run`."""
    from edge.engine import Engine
    from edge.predict import predict_files

    with Engine(bundle, backend or "auto") as engine:
        for record in predict_files(files, engine, hop, offset, allow_missing):
            if as_json:
                print(json.dumps(record), flush=True)
            else:
                top = max(record["probs"], key=record["probs"].get)
                probs = " ".join(f"{c}={p:.3f}" for c, p in record["probs"].items())
                print(f"{record['file']} @ {record['offset']:.1f} s: {top} ({probs})")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="output directory (JSONL, PNG, demo bundle)")] = Path("demo-out"),
    bundle: Annotated[OptPath, typer.Option("--bundle", help="use this bundle instead of the demo one")] = None,
    recording: Annotated[OptPath, typer.Option("--recording", help="recording to replay")] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="how long to show live predictions")] = 60.0,
    speed: Annotated[float, typer.Option("--speed", help="replay speed factor")] = 5.0,
) -> None:
    """Replay a recording over loopback LSL into the runtime; leaves JSONL and a PNG timeline."""
    from edge.demo import run_demo

    run_demo(out, bundle, recording, seconds, speed)


@app.command("sys-info")
def sys_info(bundle: Annotated[OptPath, typer.Option("--bundle", help="also report this bundle's hashes")] = None,
             ) -> None:
    """Versions of numpy, onnxruntime, TensorRT, CUDA and liblsl, and a bundle's id and spec hash."""
    from edge.sysinfo import collect

    for key, value in collect(bundle).items():
        print(f"{key}: {value}")


def main() -> None:
    sys.exit(run_app(app))
