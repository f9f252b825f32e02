"""`edge run --serve` runs the display in a child process: what the runtime writes shows there, a taken port is
one line at start, and a child that dies, stalls or is orphaned never holds up or outlives the runtime."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import numpy as np
import pytest

from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.display.process import DisplayProcess
from edge.display.server import ServeConfig
from edge.display.state import PAIRS, decode_traces
from edge.errors import DataError

WAIT_S = 60.0  # generous: the tests run on a loaded 2-core machine; they wait on the event, not this long


def get_json(url: str, until, *, timeout: float = WAIT_S) -> dict:
    deadline = time.monotonic() + timeout
    answer: dict = {}
    while time.monotonic() < deadline:
        try:
            answer = json.loads(urllib.request.urlopen(url, timeout=2).read())
        except OSError:
            answer = {}  # the child is still starting (the connection waits in the backlog or times out)
        if answer and until(answer):
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{url} did not show what was written within {timeout} s: {answer}")


def exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_what_the_runtime_writes_shows_in_the_child(make_prediction) -> None:
    data = np.random.default_rng(0).normal(0, 20, (len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)
    with DisplayProcess(ServeConfig(port=0)) as display:
        assert display.pid != os.getpid()
        display.sink.write(make_prediction("bed-1", 100.0, seizure=0.6))
        display.sink.observe_frame("bed-1", data, 100.0)
        bed = get_json(display.url + "api/bed?stream=bed-1", lambda a: a["eeg"] is not None)
        assert bed["tile"]["window_end"] == 100.0 and bed["tile"]["smoothed"]["seizure"] == 0.6
        traces = decode_traces(bed["eeg"])
        assert traces.shape[0] == len(PAIRS) and np.abs(traces).max() > 1.0
        pid = display.pid
    assert exited(pid, WAIT_S), "the display's child outlived stop()"


def test_bad_records_from_the_runtime_are_counted_in_the_child(make_prediction) -> None:
    """The runtime's records reach the child's ward through the same intake as a log's lines: a bad one is
    counted there and the other beds go on."""
    with DisplayProcess(ServeConfig(port=0)) as display:
        display.sink.write(make_prediction("bed-1", 100.0))
        display.sink.write({**make_prediction("bed-1", 102.0), "window_end": "102"})
        display.sink.write({**make_prediction("bed-1", 102.0), "smoothed": [0.5] * 6})
        display.sink.write(make_prediction("bed-2", 104.0))
        display.sink.write(make_prediction("bed-1", 106.0))
        ward = get_json(display.url + "api/ward", lambda a: len(a["tiles"]) == 2 and a["rejected"]["count"] == 2
                        and {t["window_end"] for t in a["tiles"]} == {104.0, 106.0})
        assert {t["stream"]: t["rejected"]["count"] for t in ward["tiles"]} == {"bed-1": 2, "bed-2": 0}


def test_a_taken_port_is_one_line_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(DataError, match=rf"cannot listen on 127\.0\.0\.1:{port} .*another --serve port"):
            DisplayProcess(ServeConfig(port=port)).start()


def test_a_dead_display_never_stops_the_runtime(make_prediction, capsys) -> None:
    display = DisplayProcess(ServeConfig(port=0, tick_s=0.05)).start()
    get_json(display.url + "api/ward", lambda a: "tiles" in a)  # serving
    os.kill(display.pid, signal.SIGKILL)
    started = time.monotonic()
    for t in range(20_000):  # the runtime goes on writing: nothing raises, nothing waits
        display.sink.write(make_prediction("bed-1", float(t)))
    assert time.monotonic() - started < 5.0
    display._forwarder.join(WAIT_S)  # its next send finds the child gone: it says so and ends
    display.stop()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "live display stopped" in err[0] and "go on" in err[0], err


def test_a_stalled_display_drops_its_records_not_the_runtime(make_prediction) -> None:
    display = DisplayProcess(ServeConfig(port=0, tick_s=0.05)).start()
    get_json(display.url + "api/ward", lambda a: "tiles" in a)
    os.kill(display.pid, signal.SIGSTOP)  # a child that stops reading: the pipe fills, the forwarder blocks
    try:
        big = np.zeros((len(CHANNELS), WINDOW_SAMPLES), dtype=np.float32)
        started = time.monotonic()
        for t in range(50_000):
            display.sink.write(make_prediction("bed-1", float(t)))
            if t % 500 == 0:
                display.sink.observe_frame("bed-1", big, float(t))
                time.sleep(0.01)  # let the forwarder run into the full pipe
        assert time.monotonic() - started < 15.0
        assert display.sink.dropped > 0
    finally:
        stopping = time.monotonic()
        display.stop()  # kills the stalled child rather than waiting for it
        assert time.monotonic() - stopping < 15.0
    assert exited(display.pid, WAIT_S)


def test_the_child_exits_when_the_runtime_is_killed(tmp_path) -> None:
    """A runtime killed with SIGKILL runs no cleanup; the child sees its pipe close and exits on its own."""
    script = tmp_path / "runtime.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from edge.display.process import DisplayProcess
        from edge.display.server import ServeConfig
        display = DisplayProcess(ServeConfig(port=0)).start()
        print(display.pid, display.url, flush=True)
        time.sleep(60)
    """))
    runtime = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pid, url = runtime.stdout.readline().split()
        child = int(pid)
        get_json(url + "api/ward", lambda a: "tiles" in a)  # the child serves and waits on its pipe
        runtime.kill()
        runtime.wait(5)
        assert exited(child, WAIT_S), "the display's child outlived a killed runtime"
    finally:
        runtime.kill()
        runtime.stdout.close()
