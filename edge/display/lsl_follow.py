"""`edge monitor --lsl NAME`: the display fed from the LSL outlets of an `edge run --lsl-out` elsewhere.

Per stream it subscribes to `<NAME>-records` (every record as its JSONL line) and `<NAME>-trends` (the qEEG
trend vector each hop), so a display process on another machine shows what the runtime's JSONL would, and
with `eeg` to the EEG stream NAME itself for the traces (edge.display.eeg_tap); without that stream the
traces stay empty and the rest goes on. Inlets recover on their own when the runtime restarts with the same
streams and model.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from edge.config import WatchdogConfig
from edge.contract import SAMPLE_RATE_HZ
from edge.display.eeg_tap import EegTap
from edge.display.sink import DisplaySink
from edge.errors import DataError
from edge.inputs.lsl_source import predicate
from edge.sinks.lsl_out import RECORDS_TYPE, records_stream, trends_stream

MAX_PULL = 1024


class LslFollower:
    def __init__(self, streams: Sequence[str], sink: DisplaySink, *, resolve_timeout_s: float = 10.0,
                 poll_s: float = 0.2, eeg: bool = True) -> None:
        self.streams = tuple(streams)
        self.sink = sink
        self.resolve_timeout_s = resolve_timeout_s
        self.poll_s = poll_s
        self.eeg = eeg
        self._records: dict[str, object] = {}
        self._trends: dict[str, object] = {}
        self._taps: list[EegTap] = []
        self.records = 0

    def reset(self) -> None:
        """Drop the inlets (`run` opens them again) and the record count."""
        self.close()
        self.records = 0

    def open(self) -> None:
        """Subscribe to every stream's outlets, or a one-line DataError naming the one not found."""
        import pylsl

        for stream in self.streams:
            found = [info for info in pylsl.resolve_bypred(predicate(records_stream(stream), RECORDS_TYPE, None), 1,
                                                           self.resolve_timeout_s)
                     if info.name() == records_stream(stream)]  # the quoted predicate, then the name itself
            if not found:
                raise DataError(f"no LSL outlet {records_stream(stream)!r} found within {self.resolve_timeout_s:g} s; "
                                f"is `edge run --stream {stream} --lsl-out` running on this network?")
            self._records[stream] = self._inlet(found[0])
            trends = [info for info in pylsl.resolve_bypred(predicate(trends_stream(stream), None, None), 1, 1.0)
                      if info.name() == trends_stream(stream)]  # absent when trends are off
            if trends:
                self._trends[stream] = self._inlet(trends[0])
            if self.eeg:
                self._open_tap(stream)

    def _open_tap(self, stream: str) -> None:
        seconds = self.sink.eeg_samples / SAMPLE_RATE_HZ
        watchdog = WatchdogConfig(resolve_timeout_s=self.resolve_timeout_s)
        tap = EegTap(stream, self.sink, seconds=seconds, watchdog=watchdog)
        try:
            tap.open()
        except DataError as error:
            print(f"monitor: {stream}: no EEG traces ({error})", file=sys.stderr, flush=True)
            return
        self._taps.append(tap)

    @staticmethod
    def _inlet(info):
        import pylsl

        inlet = pylsl.StreamInlet(info, max_buflen=60, recover=True)
        inlet.open_stream(timeout=5.0)
        return inlet

    def poll(self) -> int:
        """Hand on what arrived since the last call; returns the records and EEG samples taken."""
        handed = 0
        for inlet in self._records.values():
            samples, _ = inlet.pull_chunk(timeout=0.0, max_samples=MAX_PULL)
            for (line,) in samples:
                self.sink.feed(line)  # parsed and checked by the display's intake: a bad one is counted there
                handed += 1
        for stream, inlet in self._trends.items():
            values, stamps = inlet.pull_chunk(timeout=0.0, max_samples=MAX_PULL)
            for sample, t in zip(values, stamps, strict=True):
                self.sink.feed({"type": "trends", "stream": stream, "t": t, "values": list(sample)})
                handed += 1
        self.records += handed
        return handed + sum(self._poll_tap(tap) for tap in self._taps)

    @staticmethod
    def _poll_tap(tap: EegTap) -> int:
        try:
            return tap.poll()
        except DataError as error:  # a restarted amplifier the checks refuse: said once, the traces pause
            print(f"monitor: {tap.name}: EEG traces paused ({error})", file=sys.stderr, flush=True)
            return 0

    def run(self, stop: threading.Event) -> None:
        """Subscribe, hand on records until `stop`, then close the inlets."""
        try:
            self.open()
            while not stop.is_set():
                if self.poll() == 0:
                    stop.wait(self.poll_s)
        finally:
            self.close()

    def close(self) -> None:
        for inlet in [*self._records.values(), *self._trends.values()]:
            inlet.close_stream()
        for tap in self._taps:
            tap.close()
        self._records.clear()
        self._trends.clear()
        self._taps.clear()
