"""`edge monitor` end to end (a JSONL log followed into a served display) and the CLI's serve settings."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.cli_support import run_app
from edge.config import AlarmConfig
from edge.display.launch import monitor, serve_config
from edge.display.state import PAIRS, decode_traces
from edge.errors import DataError


def test_serve_settings_from_the_cli(tmp_path) -> None:
    config = serve_config("9001", alarm=AlarmConfig(on=0.7, off=0.5))
    assert (config.host, config.port, config.token) == ("127.0.0.1", 9001, None)
    assert config.display.window_thresholds == (("seizure on", 0.7), ("seizure off", 0.5))
    assert [name for name, _ in config.display.burden_levels] == [level.name for level in AlarmConfig().levels]
    with pytest.raises(DataError, match="--serve-token-file"):
        serve_config("0.0.0.0:9001")
    token = tmp_path / "token"
    token.write_text("x" * 32)
    token.chmod(0o600)
    assert serve_config("0.0.0.0:9001", token_file=token).token == "x" * 32


def test_cli_refuses_a_token_file_readable_by_others_in_one_line(tmp_path, capsys) -> None:
    """Was: a token file readable by everyone (0644) was accepted without a word."""
    from edge.cli import app

    log = tmp_path / "p.jsonl"
    log.write_text("")
    token = tmp_path / "token"
    token.write_text("x" * 32)
    token.chmod(0o644)
    argv = ["monitor", "--from", str(log), "--serve", f"0.0.0.0:{_free_port()}", "--serve-token-file", str(token),
            "--for", "1"]
    assert run_app(app, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"chmod 600 {token}" in err[0], err


def test_optional_display_is_nothing_without_serve(tmp_path) -> None:
    from edge.display.launch import optional_display

    with optional_display(None) as sinks:
        assert sinks == []
    with pytest.raises(DataError, match="give --serve"), optional_display(None, token_file=tmp_path / "t"):
        pass


def test_cli_refuses_an_open_address_without_a_token_in_one_line(tmp_path, capsys) -> None:
    from edge.cli import app

    log = tmp_path / "p.jsonl"
    log.write_text("")
    assert run_app(app, ["monitor", "--from", str(log), "--serve", "0.0.0.0:9002", "--for", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--serve-token-file" in err[0]


WAIT_S = 60.0  # generous: the tests run on a loaded 2-core machine; they wait on the event, not this long


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, deadline: float, until) -> dict:
    """GET `url` (JSON) until `until(answer)` holds or `deadline` passes; the last answer."""
    answer: dict = {}
    while time.monotonic() < deadline:
        try:
            answer = json.loads(urllib.request.urlopen(url, timeout=2).read())
        except OSError:
            answer = {}  # not listening yet
        if answer and until(answer):
            break
        time.sleep(0.2)
    return answer


def test_monitor_needs_exactly_one_source(tmp_path, capsys) -> None:
    from edge.cli import app

    for args in ([], ["--from", str(tmp_path / "p.jsonl"), "--lsl", "bed-1"]):
        assert run_app(app, ["monitor", "--serve", str(_free_port()), "--for", "1", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "either --from LOG or --lsl NAME" in err[-1], err


@contextlib.contextmanager
def monitored(log: Path) -> Iterator[tuple[str, threading.Thread]]:
    """`edge monitor --from LOG` on a thread, serving on a free port: /api/ward's URL and the thread."""
    stop = threading.Event()
    port = _free_port()
    thread = threading.Thread(target=monitor, args=(serve_config(str(port)),), kwargs={"log": log, "stop": stop})
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/api/ward", thread
    finally:
        stop.set()
        thread.join(timeout=WAIT_S)


def test_monitor_follows_a_growing_log(tmp_path, make_prediction) -> None:
    log = tmp_path / "p.jsonl"
    log.write_text(json.dumps(make_prediction("bed-1", 60.0)) + "\n")
    with monitored(log) as (url, _):
        deadline = time.monotonic() + WAIT_S
        tiles = _get(url, deadline, lambda a: a["tiles"])["tiles"]
        assert tiles and tiles[0]["window_end"] == 60.0
        with log.open("a") as f:
            f.write(json.dumps(make_prediction("bed-1", 62.0, seizure=0.7)) + "\n")
        tiles = _get(url, deadline, lambda a: a["tiles"][0]["window_end"] == 62.0)["tiles"]
        assert tiles[0]["smoothed"]["seizure"] == 0.7


def test_monitor_goes_on_past_bad_records_and_shows_their_count(tmp_path, make_prediction) -> None:
    """Was: one bad record (string, missing or NaN window_end, string smoothed, non-numeric trend values) froze
    every bed, a non-JSON line made `edge monitor` exit, and an endless line grew memory without bound."""
    log = tmp_path / "p.jsonl"
    good = make_prediction("bed-1", 60.0)
    bad_lines = [json.dumps({**good, "window_end": "62"}), json.dumps({k: v for k, v in good.items()
                                                                       if k != "window_end"}),
                 json.dumps({**good, "window_end": float("nan")}), json.dumps({**good, "smoothed": "high"}),
                 json.dumps({"type": "trends", "stream": "bed-1", "t": 61.0, "values": ["a", "b"]}),
                 "this is not json", "x" * 200_000]
    log.write_text(json.dumps(good) + "\n" + "\n".join(bad_lines) + "\n")
    with monitored(log) as (url, thread):
        deadline = time.monotonic() + WAIT_S
        ward = _get(url, deadline, lambda a: a["rejected"]["count"] == len(bad_lines))
        assert ward["rejected"]["count"] == len(bad_lines), ward
        with log.open("a") as f:
            f.write(json.dumps(make_prediction("bed-1", 64.0, seizure=0.7)) + "\n")
            f.write(json.dumps(make_prediction("bed-2", 64.0)) + "\n")
        ward = _get(url, deadline, lambda a: {t["stream"]: t["window_end"] for t in a["tiles"]}
                    == {"bed-1": 64.0, "bed-2": 64.0})
        tiles = {t["stream"]: t for t in ward["tiles"]}
        assert tiles.get("bed-2", {}).get("window_end") == 64.0, ward  # a new bed after the bad records
        # on bed-1: the four that parse as records naming it (NaN is no JSON, the junk and long lines name none)
        assert tiles["bed-1"]["smoothed"]["seizure"] == 0.7 and tiles["bed-1"]["rejected"]["count"] == 4
        assert thread.is_alive()  # never an exit


@pytest.mark.lsl
def test_monitor_shows_a_runtime_from_its_lsl_outlets(stream_name, make_prediction, recording_70s) -> None:
    """`edge monitor --lsl NAME` in one process, the runtime's LSL sink in another role: the ward shows the
    newest prediction, the bed its alarm log and trends, exactly as published, and the EEG stream's traces."""
    from edge.display.launch import serve_config
    from edge.inputs.input_files import read_recording
    from edge.inputs.replay import Player, ReplayConfig
    from edge.monitoring.trends import trend_channels
    from edge.sinks.lsl_out import LslSink

    sink = LslSink("test-model", [stream_name])
    player = Player(read_recording(recording_70s), ReplayConfig(name=stream_name, loop=True))  # the amplifier
    port = _free_port()
    stop = threading.Event()
    threads = [threading.Thread(target=monitor, args=(serve_config(str(port)),),
                                kwargs={"lsl": [stream_name], "stop": stop}),
               threading.Thread(target=player.run, args=(stop,))]
    for thread in threads:
        thread.start()
    try:
        base = f"http://127.0.0.1:{port}/api/"
        deadline = time.monotonic() + WAIT_S
        alarm = {"type": "alarm", "stream": stream_name, "level": "seizure", "state": "on", "class": "seizure",
                 "t": 61.0, "span": [-239.0, 61.0], "burden": {"seizure": 0.4}, "model": "test-model"}
        trends = {"type": "trends", "stream": stream_name, "t": 60.0,
                  "values": [float(i) for i in range(len(trend_channels()))]}
        sent = False
        while time.monotonic() < deadline and not sent:  # publish once the monitor's inlets are connected
            sent = sink._records[stream_name].have_consumers() and sink._trends[stream_name].have_consumers()
            time.sleep(0.1)
        for record in (make_prediction(stream_name, 60.0, seizure=0.8), trends, alarm):
            sink.write(record)
        ward = _get(base + "ward", deadline, lambda a: a["tiles"] and a["tiles"][0]["window_end"] == 60.0)
        assert ward["tiles"][0]["stream"] == stream_name and ward["tiles"][0]["smoothed"]["seizure"] == 0.8
        bed = _get(f"{base}bed?stream={stream_name}", deadline, lambda a: a["alarms"] and a["trends"] and a["eeg"])
        assert bed["alarms"][0]["level"] == "seizure" and bed["alarms"][0]["burden"]["seizure"] == 0.4
        assert bed["trends"][0]["t"] == 60.0
        traces = decode_traces(bed["eeg"])
        assert bed["eeg"]["labels"] == list(PAIRS) and traces.shape[1] >= 2 * bed["eeg"]["rate_hz"]
        assert np.all(np.isfinite(traces)) and np.abs(traces).max() > 1.0
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        sink.close()
        player.close()


@pytest.mark.lsl
def test_monitor_without_the_eeg_stream_says_so_and_shows_the_records(stream_name, make_prediction,
                                                                       capsys) -> None:
    """No EEG outlet with the name (the amplifier is on a network the display cannot reach): one line, and
    the records still show."""
    from edge.display.lsl_follow import LslFollower
    from edge.display.sink import DisplaySink
    from edge.sinks.lsl_out import LslSink

    outlets = LslSink("test-model", [stream_name])
    follower = LslFollower([stream_name], DisplaySink(), resolve_timeout_s=0.5)
    try:
        follower.open()
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"monitor: {stream_name}: no EEG traces (no LSL stream" in err[0], err
        deadline = time.monotonic() + WAIT_S
        while not outlets._records[stream_name].have_consumers() and time.monotonic() < deadline:
            time.sleep(0.05)
        outlets.write(make_prediction(stream_name, 60.0))
        while follower.records == 0 and time.monotonic() < deadline:
            follower.poll()
            time.sleep(0.05)
        assert follower.records == 1
    finally:
        follower.close()
        outlets.close()


@pytest.mark.lsl
def test_a_bad_lsl_record_is_counted_and_the_follower_goes_on(stream_name, make_prediction) -> None:
    """Was: a records sample that is not JSON made `edge monitor --lsl` exit."""
    from edge.display.lsl_follow import LslFollower
    from edge.display.sink import DisplaySink
    from edge.display.state import WardState
    from edge.sinks.lsl_out import LslSink

    outlets = LslSink("test-model", [stream_name])
    sink = DisplaySink()
    follower = LslFollower([stream_name], sink, resolve_timeout_s=WAIT_S, eeg=False)
    try:
        follower.open()
        deadline = time.monotonic() + WAIT_S
        while not outlets._records[stream_name].have_consumers() and time.monotonic() < deadline:
            time.sleep(0.05)
        outlet = outlets._records[stream_name]
        for line in ("not json", json.dumps({**make_prediction(stream_name, 60.0), "window_end": "x"}), "[]" * 40_000):
            outlet.push_sample([line])
        outlets.write(make_prediction(stream_name, 62.0))
        while follower.records < 4 and time.monotonic() < deadline:
            follower.poll()  # nothing raises
            time.sleep(0.05)
        ward = WardState()
        for item in sink.drain(limit=100)[0]:
            ward.apply(item, now=0.0, wall=0.0)
        assert ward.rejected.count == 3 and ward.bed(stream_name).prediction["window_end"] == 62.0
    finally:
        follower.close()
        outlets.close()


def test_monitor_without_the_runtime_is_a_one_line_error(stream_name, tmp_path, capsys) -> None:
    from edge.cli import app

    config = tmp_path / "edge.toml"
    config.write_text("[run.watchdog]\nresolve_timeout_s = 0.5\n")
    assert run_app(app, ["monitor", "--lsl", stream_name, "--serve", str(_free_port()), "--config", str(config),
                         "--for", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert f"no LSL outlet '{stream_name}-records'" in err[-1] and "--lsl-out" in err[-1]


@pytest.mark.lsl
@pytest.mark.slow
def test_edge_run_serve_shows_each_stream_with_its_eeg(tmp_path, stream_name, test_bundle, recording_70s) -> None:
    """`edge run --serve`: the display's sink is among the runtime's sinks and gets the predicted windows."""
    import socket

    from edge.cli import app
    from edge.inputs.input_files import read_recording
    from edge.inputs.replay import Player, ReplayConfig

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "fast.toml"
    config.write_text("[run.watchdog]\ncheck_rate = false\n")  # the replay runs at 10x
    player = Player(read_recording(recording_70s), ReplayConfig(name=stream_name, speed=10.0))
    seen: dict = {}

    def watch() -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and not seen:
            time.sleep(0.3)
            try:
                bed = json.loads(urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/bed?stream={stream_name}", timeout=2).read())
            except OSError:
                continue  # not serving yet, or no record for the stream yet
            if bed["eeg"] is not None and bed["tile"]["window_end"] is not None:
                seen.update(bed)

    threads = [threading.Thread(target=player.run, daemon=True), threading.Thread(target=watch, daemon=True)]
    for thread in threads:
        thread.start()
    argv = ["run", "--stream", stream_name, "--bundle", str(test_bundle), "--backend", "onnxruntime",
            "--config", str(config), "--serve", str(port), "--for", "12"]
    assert run_app(app, argv) == 0  # in this thread: `edge run` installs a SIGTERM handler
    for thread in threads:
        thread.join(timeout=30)
    assert seen, "the display never showed the stream's prediction and EEG"
    assert seen["eeg"]["labels"] == list(PAIRS) and decode_traces(seen["eeg"]).shape[0] == len(PAIRS)
    assert seen["tile"]["model"]
