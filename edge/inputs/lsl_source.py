"""An LSL inlet that finds its stream by name, checks it, reads the channel description, and re-resolves
when silent.

Checks at connect (docs/reliability.md): one outlet only per name (or the one `--source-id` picks);
a numeric channel format, pulled into a buffer of the stream's own dtype and converted to float32
(integer formats are raw counts: they need a <scaling> per EEG channel, unit per count, unless their
unit says microvolts); a regular nominal rate (the measured rate is checked by the runtime).

pylsl facts (measured): pull_chunk(timeout>0) waits the whole timeout unless max_samples arrive, so
we poll with timeout 0. resolve_bypred(minimum=1) returns at the first match, so duplicates are looked
for in a second, short resolve. With recover=True an outlet restarted with the same source_id
reconnects silently, but one restarted with a new source_id leaves the inlet returning empty chunks
forever, so after `silence_s` without samples a background resolver looks for the stream again and
the source switches to a newly created outlet (new uid) matching the request, if exactly one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge.config import WatchdogConfig
from edge.contract import unit_scale
from edge.errors import DataError, SpecError
from edge.inputs.source import StreamLayout

MAX_PULL = 4096
# pylsl channel_format codes -> the numpy dtype liblsl writes; int8 (and string) cannot carry EEG
FORMATS = {1: ("float32", np.float32), 2: ("double64", np.float64), 4: ("int32", np.int32),
           5: ("int16", np.int16), 7: ("int64", np.int64)}
REFUSED_FORMATS = {3: "string", 6: "int8", 0: "undefined"}


@dataclass(frozen=True)
class StreamRequest:
    name: str
    stream_type: str | None = "EEG"
    source_id: str | None = None


def xpath_literal(text: str) -> str:
    """``text`` as an XPath 1.0 string literal (liblsl's predicates are XPath). XPath has no escapes: a
    text with one kind of quote is put in the other kind, one with both is a concat() of its pieces."""
    if "\0" in text:
        raise SpecError(f"LSL names, types and source_ids cannot hold a NUL character, got {text!r}")
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{piece}'" for piece in text.split("'")) + ")"


def predicate(name: str, stream_type: str | None, source_id: str | None) -> str:
    """The LSL query for exactly this name (and type, source_id): each value a quoted literal, so a name
    such as `x' or name='BED-2` matches only a stream of that very name."""
    clauses = [f"name={xpath_literal(name)}"]
    if stream_type:
        clauses.append(f"type={xpath_literal(stream_type)}")
    if source_id:
        clauses.append(f"source_id={xpath_literal(source_id)}")
    return " and ".join(clauses)


@dataclass(frozen=True)
class ChannelDesc:
    label: str
    unit: str | None
    kind: str | None  # desc type: EEG, MISC, ...
    scaling: float | None  # unit per raw count, for integer formats


def read_channels(info) -> list[ChannelDesc]:
    """desc/channels/channel entries; every channel must be described."""
    channels = []
    node = info.desc().child("channels").child("channel")
    while not node.empty() and len(channels) < info.channel_count():
        scaling = node.child_value("scaling") or None
        try:
            factor = None if scaling is None else float(scaling)
        except ValueError:
            factor = float("nan")
        label = node.child_value("label")
        if factor is not None and not (np.isfinite(factor) and factor > 0):
            raise DataError(f"LSL stream {info.name()!r} channel {label!r} has scaling {scaling!r}; it must be a "
                            "positive number (unit per raw count)")
        channels.append(ChannelDesc(label, node.child_value("unit") or None, node.child_value("type") or None, factor))
        node = node.next_sibling("channel")
    if len(channels) != info.channel_count():
        raise DataError(f"LSL stream {info.name()!r} describes {len(channels)} of its {info.channel_count()} "
                        "channels; the outlet must list every channel label in desc/channels/channel")
    return channels


def count_scale(name: str, format_name: str, channels: list[ChannelDesc]) -> np.ndarray:
    """Per channel factor from raw integer counts to the channel's unit. An EEG channel needs a <scaling>,
    or a unit that says microvolts (counts of 1 uV); other channels (counters, triggers) stay counts."""
    unscaled = []
    for ch in channels:
        is_uv = bool(ch.unit and ch.unit.strip()) and _is_microvolts(ch.unit)
        if ch.scaling is None and not is_uv and (ch.kind or "EEG").upper() == "EEG":
            unscaled.append(ch.label)
    if unscaled:
        raise DataError(f"LSL stream {name!r} sends {format_name} raw counts, but channel(s) {', '.join(unscaled)} "
                        "give no <scaling> (unit per count) and no microvolt unit; add <scaling> to each channel "
                        "in the outlet's desc/channels/channel")
    return np.array([ch.scaling or 1.0 for ch in channels], dtype=np.float32)


def _is_microvolts(unit: str) -> bool:
    try:
        return unit_scale(unit) == 1.0
    except DataError:
        return False


class LslSource:
    def __init__(self, name: str, *, stream_type: str | None = "EEG", source_id: str | None = None,
                 watchdog: WatchdogConfig | None = None) -> None:
        self.name = name
        self.pinned = source_id is not None
        self._wanted = (name, stream_type or None, source_id)
        self.predicate = predicate(name, stream_type, source_id)
        self.watchdog = watchdog or WatchdogConfig()
        self.inlet = None
        self.layout: StreamLayout | None = None
        self._resolver = None
        self._resolving_since = 0.0
        self._refused: set[str] = set()  # uids of restarted outlets that failed the checks
        self._buffer: np.ndarray | None = None
        self._scale: np.ndarray | None = None  # integer formats: counts -> the channels' units
        self.last_data = time.monotonic()

    @classmethod
    def from_request(cls, request: StreamRequest, watchdog: WatchdogConfig) -> LslSource:
        return cls(request.name, stream_type=request.stream_type, source_id=request.source_id, watchdog=watchdog)

    def _matches(self, info) -> bool:
        """Defence in depth behind the quoted predicate: the outlet's own name (type, source_id) compared in
        Python, so no query text can attach us to another stream."""
        name, stream_type, source_id = self._wanted
        return (info.name() == name and (stream_type is None or info.type() == stream_type)
                and (source_id is None or info.source_id() == source_id))

    def open(self) -> StreamLayout:
        import pylsl

        found = pylsl.resolve_bypred(self.predicate, 1, self.watchdog.resolve_timeout_s)
        found = [info for info in found if self._matches(info)]
        if not found:
            raise DataError(f"no LSL stream matching {self.predicate} found within "
                            f"{self.watchdog.resolve_timeout_s:g} s; is the amplifier (or `edge replay`) running?")
        # minimum 0: wait the whole (short) time to hear every outlet with this name
        more = pylsl.resolve_bypred(self.predicate, 0, self.watchdog.duplicate_wait_s)
        outlets = {info.uid(): info for info in [*found, *more] if self._matches(info)}
        if len(outlets) > 1:
            who = ", ".join(sorted(f"source_id {i.source_id()!r} on {i.hostname()!r}" for i in outlets.values()))
            what = "pin a unique producer" if self.pinned else "choose one with --source-id"
            raise DataError(f"{len(outlets)} LSL streams match {self.predicate} ({who}); refusing to guess: {what}")
        return self._connect(found[0])

    def _connect(self, info) -> StreamLayout:
        """Subscribe to the outlet `info` once it passes the checks; on a refusal the current inlet stays."""
        import pylsl

        code = info.channel_format()
        if code not in FORMATS:
            raise DataError(f"LSL stream {self.name!r} has channel format {REFUSED_FORMATS.get(code, code)}; "
                            "EEG needs float32, double64, int16 or int32 samples")
        if info.nominal_srate() <= 0:
            raise DataError(f"LSL stream {self.name!r} has an irregular rate; EEG needs a nominal sampling rate")
        format_name, dtype = FORMATS[code]
        inlet = pylsl.StreamInlet(info, max_buflen=self.watchdog.inlet_buffer_s, recover=True,
                                  processing_flags=pylsl.proc_clocksync)
        try:
            full = inlet.info(timeout=self.watchdog.resolve_timeout_s)
            channels = read_channels(full)
            scale = None if np.issubdtype(dtype, np.floating) else count_scale(self.name, format_name, channels)
            inlet.open_stream(timeout=self.watchdog.resolve_timeout_s)  # subscribe now, not at the first pull
        except BaseException:
            inlet.close_stream()
            raise
        self.close()
        self.inlet, self._scale = inlet, scale
        self.layout = StreamLayout(tuple(c.label for c in channels), tuple(c.unit for c in channels),
                                   float(full.nominal_srate()), full.uid(), full.source_id(), full.hostname())
        self._buffer = np.empty((MAX_PULL, len(channels)), dtype=dtype)  # liblsl writes the stream's own type
        self.last_data = time.monotonic()
        self._resolver = None
        return self.layout

    def pull(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Samples [n, channels] float32 in the channels' units and LSL timestamps [n] available now, or None."""
        _, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=MAX_PULL, dest_obj=self._buffer)
        if not stamps:
            return None
        self.last_data = time.monotonic()
        self._resolver = None
        samples = self._buffer[: len(stamps)].astype(np.float32)  # always a copy: the buffer is reused
        if self._scale is not None:
            samples *= self._scale
        return samples, np.asarray(stamps, dtype=np.float64)

    def now(self) -> float:
        import pylsl

        return pylsl.local_clock()

    def silent_for(self) -> float:
        return time.monotonic() - self.last_data

    def find_restarted(self) -> StreamLayout | None:
        """While silent: exactly one new outlet matching the request (new uid) -> connect to it and return its
        layout. Several at once (an impostor beside the restarted producer) -> wait, never guess. One that
        fails the checks at connect raises DataError once and is passed over from then on."""
        if self.silent_for() < self.watchdog.silence_s:
            return None
        import pylsl

        if self._resolver is None:
            self._resolver = pylsl.ContinuousResolver(pred=self.predicate, forget_after=2.0)
            self._resolving_since = time.monotonic()
        if time.monotonic() - self._resolving_since < self.watchdog.duplicate_wait_s:
            return None  # as at open: hear every outlet with the name before choosing
        fresh = {info.uid(): info for info in self._resolver.results()
                 if info.uid() != self.layout.uid and info.uid() not in self._refused and self._matches(info)}
        if len(fresh) != 1:
            return None
        uid, info = next(iter(fresh.items()))
        try:
            return self._connect(info)
        except DataError:
            self._refused.add(uid)  # said once; the source stays silent and keeps looking
            raise

    def close(self) -> None:
        if self.inlet is not None:
            self.inlet.close_stream()
            self.inlet = None
