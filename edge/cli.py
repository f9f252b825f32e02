"""`edge` command line: thin wrappers that parse, build a config and call one library function."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from edge.cli_support import run_app

app = typer.Typer(name="edge", help="Bedside runtime: live EEG over LSL -> rolling soft predictions.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

# typer reads these annotations at run time: `X | None` (PEP 604) spells "may be absent", on Python 3.10 too.
# Numeric options are checked against edge.config's ranges (OPTION_RANGES, the configs' BOUNDS), not here.
BundleOpt = Annotated[Path, typer.Option("--bundle", help="model bundle directory")]
# run / predict / explain fall back to the model shipped in the package (edge.model.shipped) and say so.
DefaultBundleOpt = Annotated[Path | None, typer.Option(
    "--bundle", help="model bundle directory (default: the shipped synthetic-trained model)")]
BackendOpt = Annotated[str | None, typer.Option(
    "--backend", help="auto | onnxruntime | onnxruntime-cuda | onnxruntime-trt | tensorrt | triton (edge run)")]
MissingOpt = Annotated[bool, typer.Option("--allow-missing", help="fill missing channels, zeroing their montage pairs "
                                          "(at least 14 of 16 pairs must remain: chain.quality.min_pairs)")]
ServeHelp = "[HOST:]PORT of the live display (default host 127.0.0.1)"
TokenFileOpt = Annotated[Path | None, typer.Option("--serve-token-file",
                                               help="file with the display's token (required off 127.0.0.1)")]


@app.command()
def run(
    stream: Annotated[list[str], typer.Option("--stream", help="LSL stream name (repeat for several streams)")],
    bundle: DefaultBundleOpt = None,
    stream_type: Annotated[str, typer.Option("--type", help="LSL stream type to match ('' for any)")] = "EEG",
    *,
    source_id: Annotated[str | None, typer.Option(
        "--source-id", help="match this LSL source_id too (picks one of several outlets with the name)")] = None,
    backend: BackendOpt = None,
    hop: Annotated[float | None, typer.Option("--hop", help="seconds between predictions (default 2)")] = None,
    smooth: Annotated[int | None, typer.Option("--smooth", help="mean over the last K predictions")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="append records to this JSONL file")] = None,
    lsl_out: Annotated[bool, typer.Option("--lsl-out", help="publish probabilities and alarm markers")] = False,
    seconds: Annotated[float | None, typer.Option("--for", help="stop after this many seconds")] = None,
    allow_missing: MissingOpt = False,
    threads: Annotated[int | None, typer.Option("--threads", help="onnxruntime threads (0: automatic)")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with a 'run' table")] = None,
    counter: Annotated[str | None, typer.Option("--counter", help="label of a sample-counter channel to check")] = None,
    timing: Annotated[bool, typer.Option("--timing", help="print per-stage timings at exit")] = False,
    require_signature: Annotated[Path | None, typer.Option(
        "--require-signature", help="ed25519 public key (PEM): refuse a bundle it did not sign")] = None,
    serve: Annotated[str | None, typer.Option("--serve", help=ServeHelp)] = None,
    serve_token_file: TokenFileOpt = None,
    triton_url: Annotated[str | None, typer.Option("--triton-url", help="--backend triton: gRPC host:port")] = None,
    triton_model: Annotated[str | None, typer.Option(
        "--triton-model", help="--backend triton: served model name")] = None,
    triton_token_file: Annotated[Path | None, typer.Option(
        "--triton-token-file", help="--backend triton: file with a bearer token (required off loopback)")] = None,
    triton_tls: Annotated[bool, typer.Option("--triton-tls", help="--backend triton: use TLS")] = False,
    triton_ca: Annotated[Path | None, typer.Option(
        "--triton-ca", help="--backend triton: PEM root certificates")] = None,
) -> None:
    """Run the model on live LSL streams."""
    from edge.config import check_option, load_run_config
    from edge.display.launch import optional_display
    from edge.model.shipped import resolve_bundle
    from edge.runtime import RunOptions, StreamRequest, run_streams

    for flag, value in (("--hop", hop), ("--smooth", smooth), ("--threads", threads), ("--for", seconds)):
        check_option(flag, value)
    run_config = load_run_config(config).replace(
        chain={"hop_s": hop}, smoothing={"kind": "mean", "k": smooth} if smooth else {}, backend=backend,
        threads=threads, signature_key=str(require_signature) if require_signature else None,
        triton={"url": triton_url, "model": triton_model, "token_file": triton_token_file and str(triton_token_file),
                "tls": triton_tls or None, "ca_file": triton_ca and str(triton_ca)})
    sources = tuple(StreamRequest(name, stream_type or None, source_id) for name in stream)
    options = RunOptions(str(resolve_bundle(bundle, "run")), sources, run_config, out=str(out) if out else None,
                         lsl_out=lsl_out, seconds=seconds, allow_missing=allow_missing, counter_label=counter,
                         timing=timing)  # validated once, by run_streams, before anything opens
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # systemd stop: finish the current step, close cleanly
    with optional_display(serve, token_file=serve_token_file, alarm=run_config.alarm) as display:
        run_streams(options, stop=stop, extra_sinks=display)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="Kaggle-layout .parquet, .edf or .bdf")],
    name: Annotated[str, typer.Option("--name", help="LSL stream name")] = "EEG",
    source_id: Annotated[str | None, typer.Option("--source-id", help="LSL source_id (default: a fresh one)")] = None,
    *,
    speed: Annotated[float, typer.Option("--speed", help="playback speed factor")] = 1.0,
    loop: Annotated[bool, typer.Option("--loop", help="start again at the end, forever")] = False,
    chunk: Annotated[int, typer.Option("--chunk", help="samples per push")] = 20,
    counter: Annotated[bool, typer.Option("--counter", help="add a sample-counter channel")] = False,
) -> None:
    """Play a recording as an LSL stream, paced against the LSL clock."""
    from edge.inputs.input_files import read_recording
    from edge.inputs.replay import Player, ReplayConfig

    config = ReplayConfig(name=name, source_id=source_id, speed=speed, loop=loop, chunk=chunk, counter=counter)
    sent = Player(read_recording(file), config).run()
    print(f"replayed {sent} samples of {file.name} as LSL stream {name!r}", file=sys.stderr)


@app.command()
def predict(
    files: Annotated[list[Path], typer.Argument(help="recordings (.parquet, .edf, .bdf)")],
    bundle: DefaultBundleOpt = None,
    offset: Annotated[float, typer.Option("--offset", help="start of the first window, seconds")] = 0.0,
    *,
    hop: Annotated[float, typer.Option("--hop", help="seconds between windows")] = 2.0,
    backend: BackendOpt = "auto",
    allow_missing: MissingOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per window")] = False,
    kaggle: Annotated[bool, typer.Option("--kaggle", help="each window is a Kaggle window labelled on its centre "
                                         "10 s: predict that centre whatever the model's lookahead")] = False,
) -> None:
    """Predict offline on files, through the same chain and engine as `edge run`; each prediction names the
    labelled span it is about (the model's, spec.lookahead_s, or with --kaggle the window's centre)."""
    from edge.config import check_option
    from edge.model.engine import Engine
    from edge.model.shipped import resolve_bundle
    from edge.offline.predict import predict_files
    from edge.records import to_json

    check_option("--hop", hop)
    check_option("--offset", offset)

    with Engine(resolve_bundle(bundle, "predict"), backend or "auto") as engine:
        for record in predict_files(files, engine, hop_s=hop, offset_s=offset, allow_missing=allow_missing,
                                    kaggle=kaggle):
            if as_json:
                print(to_json(record), flush=True)
            elif record["type"] == "status":
                print(f"{record['file']} @ {record['offset']:.1f} s: not predicted ({record['kind']}): "
                      f"{record['message']}")
            else:
                top = max(record["probs"], key=record["probs"].get)
                probs = " ".join(f"{c}={p:.3f}" for c, p in record["probs"].items())
                how = f" [{record['kaggle_centre']}]" if "kaggle_centre" in record else ""
                print(f"{record['file']} label {record['label_start']:.1f}-{record['label_end']:.1f} s: {top} "
                      f"({probs}){how}")


@app.command()
def explain(
    file: Annotated[Path, typer.Argument(help="recording (.parquet, .edf, .bdf)")],
    out: Annotated[Path, typer.Option("--out", help="PNG to write: traces and spectrogram under the map")],
    bundle: DefaultBundleOpt = None,
    *,
    offset: Annotated[float, typer.Option("--offset", help="start of the window, seconds")] = 0.0,
    target: Annotated[str | None, typer.Option("--class", help="class to explain (default: the predicted one)")] = None,
    backend: BackendOpt = "auto",
    allow_missing: MissingOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="also print the map as JSON")] = False,
) -> None:
    """Occlusion map of one window: which bipolar pairs and seconds drive the prediction."""
    import json

    from edge.config import check_option
    from edge.model.engine import Engine
    from edge.model.shipped import resolve_bundle
    from edge.offline.explain import explain_file
    from edge.offline.explain_plot import write_explanation

    check_option("--offset", offset)

    with Engine(resolve_bundle(bundle, "explain"), backend or "auto") as engine:
        explanation = explain_file(file, engine, offset_s=offset, target=target, allow_missing=allow_missing)
    write_explanation(explanation, out)
    if as_json:
        print(json.dumps(explanation.to_json()))
    print(f"{explanation.title()}: wrote {out}", file=sys.stderr)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="output directory (JSONL, PNG)")] = Path("demo-out"),
    bundle: DefaultBundleOpt = None,
    recording: Annotated[Path | None, typer.Option(
        "--recording", help="recording to replay (default: the shipped synthetic seizure)")] = None,
    *,
    seconds: Annotated[float, typer.Option("--seconds", help="how long to show live predictions")] = 60.0,
    speed: Annotated[float, typer.Option("--speed", help="replay speed factor")] = 5.0,
) -> None:
    """Replay a recording over loopback LSL into the runtime; leaves JSONL and a PNG timeline."""
    from edge.config import check_option
    from edge.demo import run_demo

    check_option("--seconds", seconds)
    check_option("--speed", speed)

    run_demo(out, bundle, recording, seconds=seconds, speed=speed)


@app.command()
def evaluate(
    recordings: Annotated[list[Path], typer.Argument(help="long recordings (.edf, .bdf, .parquet), distinct names")],
    bundle: DefaultBundleOpt = None,
    annotations: Annotated[Path | None, typer.Option(
        "--annotations", help="CSV with file, onset_s, offset_s, label (or a TUH .csv_bi)")] = None,
    *,
    out: Annotated[Path | None, typer.Option("--out", help="write scores.csv, summary.json, timeline.png here")] = None,
    level: Annotated[list[str] | None, typer.Option(
        "--level", help="alarm levels scored as detections, comma-separated; repeat to score several sets "
                        "(default: seizure)")] = None,
    streams: Annotated[int, typer.Option("--streams", help="recordings replayed at once (one engine batch)")] = 8,
    backend: BackendOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with a 'run' table")] = None,
) -> None:
    """Replay recordings through the live chain and alarm policy; score alarms against annotated seizures."""
    from edge.config import check_option, load_run_config
    from edge.model.shipped import resolve_bundle
    from edge.offline.evaluate import evaluate as run_evaluation
    from edge.offline.evaluate import table

    check_option("--streams", streams)

    run_config = load_run_config(config).replace(backend=backend)
    level_sets = tuple(tuple(name.strip() for name in text.split(",")) for text in level or ["seizure"])
    scores, summaries = run_evaluation(recordings, annotations, resolve_bundle(bundle, "evaluate"), config=run_config,
                                       out=out, level_sets=level_sets, streams=streams)
    typer.echo(table(scores, summaries[0]))
    for summary in summaries:
        event, sample = summary.szcore_event, summary.szcore_sample
        typer.echo(f"levels {', '.join(summary.levels)}:\n"
                   f"  SzCORE events: sensitivity {_share(event['sensitivity'])} ({event['tp']}/{event['ref']}), "
                   f"precision {_share(event['precision'])}, F1 {_share(event['f1'])}, "
                   f"{_rate(event['fp_per_24h'])} FP per 24 h recorded\n"
                   f"  SzCORE samples: sensitivity {_share(sample['sensitivity'])}, precision "
                   f"{_share(sample['precision'])}, F1 {_share(sample['f1'])}, {_rate(sample['fp_per_24h'], '.0f')} "
                   "false-positive s per 24 h\n"
                   f"  clinical: {summary.detected}/{summary.seizures} seizures ({_share(summary.sensitivity)}), "
                   f"{summary.false_alarms} false alarm episodes = {_rate(summary.false_alarms_per_24h)} per 24 h "
                   f"over {summary.monitored_hours:.1f} h monitored ({summary.hours:.1f} h recorded), "
                   f"{summary.suppressed} re-alarms suppressed, latency median {_seconds(summary.latency_median_s)} "
                   f"P90 {_seconds(summary.latency_p90_s)} from onset, burden MAE "
                   f"{_rate(summary.burden_mae_pp)} pp (95 % intervals in brackets)")


def _share(value: tuple) -> str:
    from edge.offline.intervals import format_interval

    return format_interval(value, ".1f", scale=100, unit=" %")


def _rate(value: tuple, spec: str = ".2f") -> str:
    from edge.offline.intervals import format_interval

    return format_interval(value, spec)


def _seconds(value: tuple) -> str:
    from edge.offline.intervals import format_interval

    return format_interval(value, ".0f", unit=" s")


@app.command("sys-info")
def sys_info(bundle: Annotated[Path | None, typer.Option("--bundle", help="also report this bundle's hashes")] = None,
             ) -> None:
    """Versions of numpy, onnxruntime, TensorRT, CUDA and liblsl, and a bundle's id and spec hash."""
    from edge.sysinfo import collect

    for key, value in collect(bundle).items():
        print(f"{key}: {value}")



@app.command()
def monitor(
    log: Annotated[Path | None, typer.Option("--from", help="JSONL log written by `edge run --out` (followed as it "
                                         "grows)")] = None,
    serve: Annotated[str, typer.Option("--serve", help=ServeHelp)] = "127.0.0.1:8765",
    serve_token_file: TokenFileOpt = None,
    *,
    lsl: Annotated[list[str] | None, typer.Option(
        "--lsl", help="stream name of an `edge run --lsl-out` on this network (repeat for several)")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML: alarm levels (run.alarm), LSL resolve time (run.watchdog)")] = None,
    eeg: Annotated[bool, typer.Option("--eeg/--no-eeg", help="with --lsl: EEG traces from the stream NAME "
                                      "itself")] = True,
    stale: Annotated[float, typer.Option("--stale", help="seconds without records before a bed is stale")] = 10.0,
    seconds: Annotated[float | None, typer.Option("--for", help="stop after this many seconds")] = None,
) -> None:
    """Live ward display of a JSONL log or of a runtime's LSL outlets, in a process separate from the runtime."""
    from edge.config import check_option, load_run_config
    from edge.display.launch import monitor as run_monitor
    from edge.display.launch import serve_config

    check_option("--stale", stale)
    check_option("--for", seconds)

    run_config = load_run_config(config)
    settings = serve_config(serve, token_file=serve_token_file, alarm=run_config.alarm, stale_s=stale)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_monitor(settings, log=log, lsl=lsl or (), resolve_timeout_s=run_config.watchdog.resolve_timeout_s,
                eeg=eeg, seconds=seconds, stop=stop)


@app.command()
def report(
    log: Annotated[Path, typer.Argument(help="JSONL log written by `edge run --out`")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (the PNG goes next to it)")],
    trends: Annotated[Path | None, typer.Option("--trends", help="trends file of the same run")] = None,
    *,
    stream: Annotated[str | None, typer.Option(
        "--stream", help="the stream to review when the log has several")] = None,
) -> None:
    """Static offline review of one recording: timeline, burden, alarms, trends, quality, model, time range."""
    from edge.offline.report import write_report

    page, png = write_report(log, out, trends=trends, stream=stream)
    print(f"report: wrote {page} and {png}", file=sys.stderr)


def main() -> None:
    sys.exit(run_app(app))
