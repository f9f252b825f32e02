"""`edge run --serve`: the display server in a child process, so the runtime's process runs no display code
beyond a queue put.

In one process the server's thread competes with the runtime for the GIL: each time the runtime releases it
(inference, LSL pulls) the display may take it, and the runtime then waits for it back. That, not the
display's CPU time (a few ms per second), made predictions later with browsers connected (docs/benchmarks.md
"display-readers"). Here the runtime's sink is a `DisplaySink` (bounded, newest EEG frame per stream) and a
forwarder thread sends what it holds to the child every tick over a socket pair. A stalled child stalls only
the forwarder; the sink then drops display records, never the runtime's.

The runtime binds the listening socket itself, so a port in use is a one-line error at start, and hands it to
the child, so start-up costs the runtime nothing: records wait in the sink while the child imports. The child
is `python -m edge.display.process FD FD` (not a multiprocessing Process, whose spawn re-imports the caller's
main module and breaks scripts without a main guard). It serves at a lower CPU priority, ignores SIGINT and
SIGTERM (the runtime decides when the display ends) and exits when the pipe closes, so it never outlives the
runtime, even one that was killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import edge
from edge.display.server import ServeConfig, bind, display_url
from edge.display.sink import DisplaySink
from edge.errors import DataError

DISPLAY_NICE = 5  # the display yields the CPU to predictions and alarms
START_TIMEOUT_S = 60.0  # a fresh interpreter importing numpy, scipy, starlette and uvicorn on a busy 2-core box
STOP_TIMEOUT_S = 5.0
SEND_LIMIT = 2000  # records per message


def _serve_child(conn: Connection, listening: socket.socket) -> None:
    """The child's main: serve the display on `listening`, feed it what the runtime sends, stop at end of pipe."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(DISPLAY_NICE)
    try:
        config: ServeConfig = conn.recv()
        _feed_server(conn, config, listening)
    except (EOFError, OSError):
        pass  # the runtime closed its end or is gone: nothing left to show


def _feed_server(conn: Connection, config: ServeConfig, listening: socket.socket) -> None:
    from edge.display.server import DisplayServer

    sink = DisplaySink(eeg_s=config.display.eeg_s)
    try:
        server = DisplayServer(sink, config, listening=listening).start()
    except (ImportError, DataError) as error:
        conn.send(("error", str(error)))
        return
    try:
        conn.send(("ready", server.url))
        while (message := conn.recv()) is not None:
            records, frames = message
            for record in records:
                sink.feed(record)  # waits while the server's queue is full: the pipe pushes back, the runtime drops
            for stream, (data, t_end) in frames.items():
                sink.observe_frame(stream, data, t_end)
    finally:
        server.stop()


class DisplayProcess:
    """The child serving the display and the forwarder feeding it; `sink` is what the runtime writes to."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config.validate()
        self.sink = DisplaySink(eeg_s=config.display.eeg_s)
        self.url: str | None = None
        self._stop = threading.Event()
        self._forwarder = threading.Thread(target=self._forward, name="edge-display-forwarder", daemon=True)
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The display child's process id (for supervision), None before start."""
        return None if self._process is None else self._process.pid

    def start(self) -> DisplayProcess:
        """Bind (a DataError if the address is taken), start the child, return at once."""
        listening = bind(self.config)
        ours, theirs = socket.socketpair()
        # the child imports this package from where the runtime did, whatever the caller did to sys.path
        package_root = str(Path(edge.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        fds = [theirs.fileno(), listening.fileno()]
        with theirs, listening:  # the child holds its own copies; ours close here
            try:
                self._process = subprocess.Popen([sys.executable, "-m", "edge.display.process", *map(str, fds)],
                                                 pass_fds=fds, env=env, stdin=subprocess.DEVNULL)
            except OSError as error:
                ours.close()
                raise DataError(f"the live display could not start ({error.strerror or error})") from None
            self.url = display_url(self.config.host, listening.getsockname()[1])
        self._conn = Connection(ours.detach())
        self._forwarder.start()
        return self

    def _started(self) -> bool:
        """Hand the child its config and wait until it serves; False (said in one line) when it cannot."""
        try:
            self._conn.send(self.config)
            waited = 0.0
            while not self._conn.poll(0.1):  # in steps, so stop() need not wait for a slow start
                waited += 0.1
                if self._stop.is_set() or waited >= START_TIMEOUT_S:
                    raise DataError(f"it did not start within {waited:.0f} s")
            kind, detail = self._conn.recv()
            if kind == "error":
                raise DataError(detail)
            return True
        except (EOFError, OSError):
            self._say_stopped("before serving")
        except DataError as error:
            self._say_stopped(f"before serving: {error}")
        return False

    def _say_stopped(self, when: str) -> None:
        if self._stop.is_set():
            return  # stop() was asked for: nothing to report
        code = self._process.poll()
        exit_code = "" if code is None else f", exit code {code}"
        print(f"edge: the live display stopped ({when}{exit_code}); predictions, alarms and the other outputs go on",
              file=sys.stderr, flush=True)

    def _forward(self) -> None:
        if not self._started():
            return
        while not self._stop.wait(self.config.tick_s):
            records, frames = self.sink.drain(limit=SEND_LIMIT)
            if not records and not frames:
                continue
            try:
                self._conn.send((records, frames))
            except OSError:  # the child died
                self._say_stopped("while serving")
                return

    def stop(self) -> None:
        self._stop.set()
        if self._forwarder.is_alive():
            self._forwarder.join(STOP_TIMEOUT_S)
            if self._forwarder.is_alive():  # blocked on a child that stopped reading or never answered
                self._process.kill()
                self._forwarder.join(STOP_TIMEOUT_S)
        if self._conn is not None:
            self._conn.close()  # the child sees EOF, stops its server and exits
        if self._process is not None:
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT_S)

    def __enter__(self) -> DisplayProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


if __name__ == "__main__":
    conn_fd, listen_fd = map(int, sys.argv[1:3])
    _serve_child(Connection(conn_fd), socket.socket(fileno=listen_fd))
