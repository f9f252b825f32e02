"""Start the display: for `edge run --serve` in a child process (edge.display.process), for `edge monitor`
(already a process of its own) on a thread; the yielded sink feeds it."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from edge.config import AlarmConfig
from edge.display.lsl_follow import LslFollower
from edge.display.process import DisplayProcess
from edge.display.server import DisplayServer, ServeConfig, parse_serve_address, read_token
from edge.display.sink import DisplaySink
from edge.display.state import DisplayConfig
from edge.display.tail import JsonlFollower
from edge.errors import DataError


def display_config(alarm: AlarmConfig, *, stale_s: float = 10.0) -> DisplayConfig:
    """The run's alarm thresholds drawn on the bed page."""
    return DisplayConfig(stale_s=stale_s, burden_levels=tuple((level.name, level.on) for level in alarm.levels),
                         window_thresholds=((f"{alarm.target} on", alarm.on), (f"{alarm.target} off", alarm.off)))


def serve_config(address: str, *, token_file: Path | None = None, alarm: AlarmConfig | None = None,
                 stale_s: float = 10.0) -> ServeConfig:
    """From the CLI's `--serve [HOST:]PORT`, `--serve-token-file` and the run's alarm policy."""
    host, port = parse_serve_address(address)
    display = display_config(alarm or AlarmConfig(), stale_s=stale_s)
    token = read_token(token_file) if token_file is not None else None
    return ServeConfig(host=host, port=port, token=token, display=display).validate()


@contextlib.contextmanager
def serving(config: ServeConfig) -> Iterator[DisplaySink]:
    """The display runs for the duration of the block; records written to the yielded sink appear on it."""
    sink = DisplaySink(eeg_s=config.display.eeg_s)
    with DisplayServer(sink, config) as server:
        announce(server.url, config)
        yield sink


def announce(url: str, config: ServeConfig) -> None:
    hint = " (open it with ?token=<the token file's content>)" if config.token else ""
    print(f"display: {url}{hint}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def optional_display(address: str | None, *, token_file: Path | None = None,
                     alarm: AlarmConfig | None = None) -> Iterator[list[DisplaySink]]:
    """`edge run [--serve ...]`: the display's sink in a list for the runtime's sinks, or no sink at all."""
    if address is None:
        if token_file is not None:
            raise DataError("--serve-token-file is for the display: give --serve [HOST:]PORT as well")
        yield []
        return
    with DisplayProcess(serve_config(address, token_file=token_file, alarm=alarm)) as display:
        announce(display.url, display.config)
        yield [display.sink]


def monitor(config: ServeConfig, *, log: str | Path | None = None, lsl: Sequence[str] = (),
            resolve_timeout_s: float = 10.0, eeg: bool = True, seconds: float | None = None,
            stop: threading.Event | None = None) -> int:
    """`edge monitor --from LOG` (a JSONL log followed as it grows) or `--lsl NAME...` (the LSL outlets of an
    `edge run --lsl-out`, and with `eeg` the EEG streams themselves) on the display; returns the records read."""
    if (log is None) == (not lsl):
        raise DataError("edge monitor shows one source: give either --from LOG or --lsl NAME (repeatable)")
    stop = stop or threading.Event()
    with serving(config) as sink:
        if log is not None:
            follower: JsonlFollower | LslFollower = JsonlFollower(log, sink)
            source = str(log)
            if not Path(log).exists():  # the runtime may start later; say so rather than show an empty ward
                print(f"monitor: {log} does not exist yet; waiting for it", file=sys.stderr, flush=True)
        else:
            follower = LslFollower(lsl, sink, resolve_timeout_s=resolve_timeout_s, eeg=eeg)
            source = "LSL " + ", ".join(lsl)
        if seconds is not None:
            timer = threading.Timer(seconds, stop.set)
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        follower.run(stop)
        print(f"monitor: {follower.records} records from {source} in {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)
        return follower.records
