"""An LSL inlet that finds its stream by name, reads the channel description, and re-resolves when silent.

pylsl facts (measured): pull_chunk(timeout>0) waits the whole timeout unless max_samples arrive, so
we poll with timeout 0. With recover=True an outlet restarted with the same source_id reconnects
silently, but one restarted with a new source_id leaves the inlet returning empty chunks forever,
so after `silence_s` without samples a background resolver looks for the stream again and the
source switches to any newly created outlet (new uid) matching the name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge.config import WatchdogConfig
from edge.errors import DataError

MAX_PULL = 4096


@dataclass(frozen=True)
class StreamLayout:
    labels: tuple[str, ...]
    units: tuple[str | None, ...]
    sample_rate_hz: float
    uid: str
    source_id: str


def predicate(name: str, stream_type: str | None, source_id: str | None) -> str:
    clauses = [f"name='{name}'"]
    if stream_type:
        clauses.append(f"type='{stream_type}'")
    if source_id:
        clauses.append(f"source_id='{source_id}'")
    return " and ".join(clauses)


def read_layout(info) -> StreamLayout:
    """Channel labels and units from desc/channels/channel; numbered labels when the description is empty."""
    labels, units = [], []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty() and len(labels) < info.channel_count():
        labels.append(channel.child_value("label"))
        units.append(channel.child_value("unit") or None)
        channel = channel.next_sibling("channel")
    if len(labels) != info.channel_count():
        raise DataError(f"LSL stream {info.name()!r} describes {len(labels)} of its {info.channel_count()} channels; "
                        "the outlet must list every channel label in desc/channels/channel")
    return StreamLayout(tuple(labels), tuple(units), float(info.nominal_srate()), info.uid(), info.source_id())


class LslSource:
    def __init__(self, name: str, stream_type: str | None = "EEG", source_id: str | None = None,
                 watchdog: WatchdogConfig | None = None) -> None:
        self.name = name
        self.predicate = predicate(name, stream_type, source_id)
        self.watchdog = watchdog or WatchdogConfig()
        self.inlet = None
        self.layout: StreamLayout | None = None
        self._resolver = None
        self._buffer: np.ndarray | None = None
        self.last_data = time.monotonic()

    def open(self) -> StreamLayout:
        import pylsl

        found = pylsl.resolve_bypred(self.predicate, 1, self.watchdog.resolve_timeout_s)
        if not found:
            raise DataError(f"no LSL stream matching {self.predicate} found within "
                            f"{self.watchdog.resolve_timeout_s:g} s; is the amplifier (or `edge replay`) running?")
        return self._connect(found[0])

    def _connect(self, info) -> StreamLayout:
        import pylsl

        self.inlet = pylsl.StreamInlet(info, max_buflen=360, recover=True, processing_flags=pylsl.proc_clocksync)
        self.layout = read_layout(self.inlet.info(timeout=self.watchdog.resolve_timeout_s))
        if self.layout.sample_rate_hz <= 0:
            raise DataError(f"LSL stream {self.name!r} has an irregular rate; EEG needs a nominal sampling rate")
        self._buffer = np.empty((MAX_PULL, len(self.layout.labels)), dtype=np.float32)
        self.inlet.open_stream(timeout=self.watchdog.resolve_timeout_s)  # subscribe now, not at the first pull
        self.last_data = time.monotonic()
        self._resolver = None
        return self.layout

    def pull(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Samples [n, channels] float32 and LSL timestamps [n] available now, or None."""
        _, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=MAX_PULL, dest_obj=self._buffer)
        if not stamps:
            return None
        self.last_data = time.monotonic()
        self._resolver = None
        return self._buffer[: len(stamps)].copy(), np.asarray(stamps, dtype=np.float64)

    def silent_for(self) -> float:
        return time.monotonic() - self.last_data

    def find_restarted(self) -> StreamLayout | None:
        """While silent: a new outlet matching the stream (new uid) -> connect to it and return its layout."""
        if self.silent_for() < self.watchdog.silence_s:
            return None
        import pylsl

        if self._resolver is None:
            self._resolver = pylsl.ContinuousResolver(pred=self.predicate, forget_after=2.0)
        for info in self._resolver.results():
            if info.uid() != self.layout.uid:
                self.close()
                return self._connect(info)
        return None

    def close(self) -> None:
        if self.inlet is not None:
            self.inlet.close_stream()
            self.inlet = None
