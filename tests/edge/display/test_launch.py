"""`edge monitor` end to end (a JSONL log followed into a served display) and the CLI's serve settings."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

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
    assert serve_config("0.0.0.0:9001", token_file=token).token == "x" * 32


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


def test_monitor_follows_a_growing_log(tmp_path, make_prediction) -> None:
    import socket

    with socket.socket() as probe:  # a free port for the display
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "p.jsonl"
    log.write_text(json.dumps(make_prediction("bed-1", 60.0)) + "\n")
    stop = threading.Event()
    thread = threading.Thread(target=monitor, args=(log, serve_config(str(port))), kwargs={"stop": stop})
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/api/ward"
        deadline = time.monotonic() + 10
        tiles = []
        while time.monotonic() < deadline and not tiles:
            time.sleep(0.2)
            try:
                tiles = json.loads(urllib.request.urlopen(url, timeout=2).read())["tiles"]
            except OSError:
                continue  # not listening yet
        assert tiles and tiles[0]["window_end"] == 60.0
        with log.open("a") as f:
            f.write(json.dumps(make_prediction("bed-1", 62.0, seizure=0.7)) + "\n")
        while time.monotonic() < deadline and tiles[0]["window_end"] != 62.0:
            time.sleep(0.2)
            tiles = json.loads(urllib.request.urlopen(url, timeout=2).read())["tiles"]
        assert tiles[0]["smoothed"]["seizure"] == 0.7
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.mark.lsl
@pytest.mark.slow
def test_edge_run_serve_shows_each_stream_with_its_eeg(tmp_path, stream_name, test_bundle, recording_70s) -> None:
    """`edge run --serve`: the display's sink is among the runtime's sinks and gets the predicted windows."""
    import socket

    from edge.cli import app
    from edge.input_files import read_recording
    from edge.replay import Player, ReplayConfig

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "fast.toml"
    config.write_text("[run.watchdog]\ncheck_rate = false\n")  # the replay runs at 10x
    player = Player(read_recording(recording_70s), ReplayConfig(name=stream_name, speed=10.0))
    seen: dict = {}

    def watch() -> None:
        deadline = time.monotonic() + 30
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
