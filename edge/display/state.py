"""What the pages show, built from records: one `BedState` per stream, a `WardState` over all of them.

Pure bookkeeping with no threads or I/O: the server's pump applies records and EEG windows to it and
sends the snapshots and per-tick deltas it returns. Every record passes edge.display.intake first: a bad
one is counted (per bed when it names one, and for the ward) with its reason, shown, and never applied,
so it cannot stop the other beds or later records.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.config_io import require_field
from edge.contract import CLASSES, SAMPLE_RATE_HZ, montage_matrix, montage_names
from edge.display.intake import BadRecord, Item, accept
from edge.monitoring.burden import BURDEN_NAMES
from edge.monitoring.trends import CDSA_CENTRES_HZ, CHAIN_NAMES, trend_channels

MONTAGE = montage_matrix("double_banana")
PAIRS = montage_names("double_banana")
SCREEN_RATE_HZ = 100  # EEG traces are averaged over sample pairs: plenty for a 15 s screen
EEG_STEP_UV = 0.1
CLEARING_STATES = frozenset({"off", "clear", "cleared", "ended"})
RESTARTING = frozenset({"warming", "gap", "reconnected", "rate_ok"})  # predictions resume after a full window
NOTICES = frozenset({"shed"})  # predictions go on: the bed's state does not change
MAX_ACTIVE_ALARMS = 64  # per bed; the runtime raises a handful (levels, signal, the per-window one)
# tile order on the ward overview: the bed that needs someone first
STATE_RANK = {"alarm": 0, "stale": 1, "quality": 2, "warming": 3, "ok": 4}


@dataclass(frozen=True)
class DisplayConfig:
    stale_s: float = 10.0  # no record for this long (wall clock): the bed is marked stale
    history_s: float = 24 * 3600.0  # probability timeline kept per bed (stream clock)
    trends_s: float = 3600.0  # qEEG trend records kept per bed (stream clock): they are far larger than points
    eeg_s: float = 15.0  # seconds of EEG on the bed page
    alarm_log: int = 200  # alarm events kept per bed
    max_beds: int = 256  # records for more streams are rejected (and counted): a ward, not an unbounded table
    # hard caps beside the spans, for a clock that runs backwards (the spans then drop nothing): 24 h of
    # points at a 1 s hop, 1 h of trends at a 0.5 s hop
    max_points: int = 86_400
    max_trends: int = 7_200
    # dashed lines: burden alarm levels (name, on) on the burden panel; the per-window alarm's on/off on the
    # smoothed-probability panel shown while records carry no burden
    burden_levels: tuple[tuple[str, float], ...] = ()
    window_thresholds: tuple[tuple[str, float], ...] = ()

    def validate(self) -> DisplayConfig:
        for name in ("stale_s", "history_s", "trends_s", "eeg_s"):
            require_field(getattr(self, name) > 0, f"display.{name}", "must be > 0", value=getattr(self, name))
        require_field(self.eeg_s <= 50, "display.eeg_s", "must be <= 50 (one window)", value=self.eeg_s)
        require_field(self.alarm_log >= 1, "display.alarm_log", "must be >= 1", value=self.alarm_log)
        for name in ("max_beds", "max_points", "max_trends"):
            require_field(getattr(self, name) >= 1, f"display.{name}", "must be >= 1", value=getattr(self, name))
        return self


def eeg_frame(data: np.ndarray, t_end: float, seconds: float) -> dict[str, Any]:
    """Newest `seconds` of a [20, T] referential window as double-banana traces at SCREEN_RATE_HZ: int16 in
    units of `step_uv` (clipped at +-3.3 mV, far off any screen), little-endian, base64, row by row. Encoded
    in numpy, not as a JSON list of floats: the display's thread must hold the GIL as briefly as it can."""
    factor = SAMPLE_RATE_HZ // SCREEN_RATE_HZ
    n = min(data.shape[1], round(seconds * SAMPLE_RATE_HZ)) // factor * factor
    bipolar = MONTAGE @ np.asarray(data[:, data.shape[1] - n:], dtype=np.float32)
    traces = bipolar.reshape(len(PAIRS), n // factor, factor).mean(axis=2)
    steps = np.clip(np.round(traces / EEG_STEP_UV), -32767, 32767).astype("<i2")
    return {"t_end": t_end, "rate_hz": SCREEN_RATE_HZ, "labels": list(PAIRS), "samples": n // factor,
            "step_uv": EEG_STEP_UV, "traces_b64": base64.b64encode(steps.tobytes()).decode()}


def decode_traces(frame: dict[str, Any]) -> np.ndarray:
    """[pairs, samples] uV from an eeg_frame (what the page's script does)."""
    steps = np.frombuffer(base64.b64decode(frame["traces_b64"]), dtype="<i2")
    return steps.reshape(len(frame["labels"]), frame["samples"]) * frame["step_uv"]


def _value_index() -> dict[str, list[list[int]]]:
    """Where each chain's CDSA bins and aEEG margins sit in a trends record's flat `values`."""
    at = {label: i for i, (label, _) in enumerate(trend_channels())}
    return {"cdsa": [[at[f"{chain}_cdsa_{f}Hz"] for f in CDSA_CENTRES_HZ] for chain in CHAIN_NAMES],
            "aeeg": [[at[f"{chain}_aeeg_lower"], at[f"{chain}_aeeg_upper"]] for chain in CHAIN_NAMES]}


_VALUE_INDEX = _value_index()


def trend_point(record: dict[str, Any]) -> dict[str, Any] | None:
    """A trends record (the runtime's flat `values` in `trend_channels()` order, or the trends file's
    `cdsa_db` / `aeeg_uv` per chain) as {t, cdsa: {chain: dB per 1 Hz bin}, aeeg: {chain: [lower, upper]}}."""
    if "cdsa_db" in record and "aeeg_uv" in record:
        cdsa, aeeg = record["cdsa_db"], record["aeeg_uv"]
    elif "values" in record:
        values = record["values"]
        cdsa = [[values[i] for i in rows] for rows in _VALUE_INDEX["cdsa"]]
        aeeg = [[values[i] for i in rows] for rows in _VALUE_INDEX["aeeg"]]
    else:
        return None
    return {"t": record.get("t"), "cdsa": dict(zip(CHAIN_NAMES, cdsa, strict=True)),
            "aeeg": dict(zip(CHAIN_NAMES, aeeg, strict=True))}


def _point(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a prediction record the timeline needs; `smoothed` is None for a flagged window."""
    smoothed = record.get("smoothed")
    point = {"t": record["window_end"], "smoothed": None if smoothed is None else [smoothed[c] for c in CLASSES],
             "flagged": record["flagged"]}
    if isinstance(record.get("burden"), dict):
        point["burden"] = _burden(record["burden"])
    return point


def _burden(burden: dict[str, Any]) -> dict[str, Any]:
    """The shares per name, coverage and the window length of a prediction record's burden."""
    return {k: burden[k] for k in (*BURDEN_NAMES, "coverage", "window_s") if k in burden}


def alarm_key(record: dict[str, Any]) -> str:
    """What the bedside calls an alarm: a burden level ("prolonged"), "signal", or the per-window one."""
    level = record.get("level")
    if level in (None, "window"):
        return f"{record.get('class') or 'alarm'} (window)"
    return str(level)


def _append_within(items: deque[dict[str, Any]], item: dict[str, Any], t: float | None, span_s: float) -> None:
    """Append, then drop items more than `span_s` older than `t` on the stream clock."""
    items.append(item)
    while t is not None and items and items[0].get("t", t) < t - span_s:
        items.popleft()


@dataclass
class Rejected:
    """Records not shown (edge.display.intake said why): how many, and the newest reason."""

    count: int = 0
    last: str | None = None

    def add(self, reason: str) -> None:
        self.count += 1
        self.last = reason

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "last": self.last}


class BedState:
    def __init__(self, stream: str, config: DisplayConfig) -> None:
        self.stream = stream
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.last_seen: float | None = None  # monotonic clock at the newest record that shows data
        self.silent = False  # the runtime reported no samples
        self.prediction: dict[str, Any] | None = None
        self.status: dict[str, Any] | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=self.config.max_points)
        self.alarm_log: deque[dict[str, Any]] = deque(maxlen=self.config.alarm_log)
        self.active: dict[str, dict[str, Any]] = {}
        self.trends: deque[dict[str, Any]] = deque(maxlen=self.config.max_trends)
        self.eeg: dict[str, Any] | None = None
        self._pending: dict[str, list[Any]] = {"points": [], "alarms": [], "trends": []}
        self._eeg_new = False
        self.rejected = Rejected()

    def apply(self, record: dict[str, Any], now: float, wall: float) -> None:
        kind = record.get("type")
        if kind == "status":
            self.silent = record.get("kind") == "no_data"
        # the runtime repeats "no data" every hop, and a stream without data can still raise alarms (signal):
        # the age counts from the last record that shows samples
        if kind in ("prediction", "trends") or (kind == "status" and not self.silent):
            self.last_seen = now
            self.silent = False
        if kind == "prediction":
            self.prediction = record
            point = _point(record)
            _append_within(self.history, point, point["t"], self.config.history_s)
            self._pending["points"].append(point)
        elif kind == "alarm":
            entry = {**record, "received": wall}
            key = alarm_key(record)
            state = str(record.get("state", "on")).lower()
            if state in CLEARING_STATES:
                self.active.pop(key, None)
            elif state == "suppressed":
                pass  # a throttled re-alarm: logged, never announced, no "off" follows
            elif key in self.active or len(self.active) < MAX_ACTIVE_ALARMS:
                self.active[key] = entry
            else:
                raise BadRecord(f"{MAX_ACTIVE_ALARMS} alarms are active already; {key[:40]!r} not shown")
            self.alarm_log.append(entry)
            self._pending["alarms"].append(entry)
        elif kind == "trends":
            point = trend_point(record)
            if point is not None:
                _append_within(self.trends, point, point["t"], self.config.trends_s)
                self._pending["trends"].append(point)
        elif record.get("kind") not in NOTICES:
            self.status = record

    def apply_window(self, data: np.ndarray, t_end: float) -> None:
        """Only the newest window matters; turned into traces once per tick, not per window."""
        self.eeg = {"data": data, "t_end": t_end}
        self._eeg_new = True

    def _eeg_frame(self) -> dict[str, Any] | None:
        if self.eeg is not None and "data" in self.eeg:
            self.eeg = eeg_frame(self.eeg["data"], self.eeg["t_end"], self.config.eeg_s)
        return self.eeg

    def state(self, now: float) -> str:
        if self.active:
            return "alarm"
        if self.last_seen is None or self.silent or now - self.last_seen > self.config.stale_s:
            return "stale"
        if self._status_is_newest():
            return "warming" if self.status.get("kind") in RESTARTING else "quality"
        if self.prediction is None:
            return "warming"
        return "quality" if self.prediction["flagged"] else "ok"

    def _status_is_newest(self) -> bool:
        """A status record (warming, artifact, rate...) came after the newest prediction: it says why not."""
        if self.status is None:
            return False
        t = self.status.get("t")
        return self.prediction is None or t is None or t > self.prediction["window_end"]

    def tile(self, now: float) -> dict[str, Any]:
        p = self.prediction or {}
        age = None if self.last_seen is None else round(now - self.last_seen, 1)
        newest_status = self._status_is_newest()
        # a refused window ("artifact", "missing") says which channels in its own quality detail
        quality = (self.status.get("quality") if newest_status else None) or p.get("quality") or {}
        return {
            "stream": self.stream, "state": self.state(now), "age_s": age,
            "stale": self.last_seen is None or self.silent or age > self.config.stale_s,
            "alarms": sorted(self.active), "smoothed": p.get("smoothed"), "probs": p.get("probs"),
            "burden": _burden(p["burden"]) if isinstance(p.get("burden"), dict) else None,
            "window_end": p.get("window_end"), "label_start": p.get("label_start"), "label_end": p.get("label_end"),
            "model": p.get("model"), "latency_ms": p.get("latency_ms"),
            "quality": {k: v for k, v in quality.items() if v},
            "status": {k: self.status.get(k) for k in ("kind", "message", "t")} if newest_status else None,
            "rejected": self.rejected.as_dict(),
        }

    def snapshot(self, now: float) -> dict[str, Any]:
        return {"tile": self.tile(now), "classes": list(CLASSES), "burden_levels": self.config.burden_levels,
                "window_thresholds": self.config.window_thresholds,
                "points": list(self.history),
                "alarms": list(self.alarm_log), "trends": list(self.trends), "eeg": self._eeg_frame()}

    @property
    def has_news(self) -> bool:
        return self._eeg_new or any(self._pending.values())

    def take_delta(self, now: float, *, eeg: bool = True) -> dict[str, Any]:
        """What changed since the last call (the tile always), for the bed's subscribers; `eeg=False` skips
        building the traces (nobody is watching this bed)."""
        delta: dict[str, Any] = {"tile": self.tile(now), **self._pending}
        if self._eeg_new and eeg:
            delta["eeg"] = self._eeg_frame()
        self._pending = {"points": [], "alarms": [], "trends": []}
        self._eeg_new = False
        return delta


class WardState:
    def __init__(self, config: DisplayConfig | None = None) -> None:
        self.config = (config or DisplayConfig()).validate()
        self.beds: dict[str, BedState] = {}
        self.rejected = Rejected()

    def bed(self, stream: str) -> BedState:
        if stream not in self.beds:
            self.beds[stream] = BedState(stream, self.config)
        return self.beds[stream]

    def apply(self, item: Item, now: float, wall: float) -> None:
        """A record (or a line of text holding one) from any source; a bad one is counted, never applied. A
        bad record naming a valid stream counts on its bed (which appears, so staff see that its records
        are unreadable)."""
        try:
            record = accept(item)
            if record is None:
                return  # about the runtime's outputs, not a bed
            bed = self._bed_within_bound(record["stream"])
            try:
                bed.apply(record, now, wall)
            except BadRecord as bad:
                raise BadRecord(f"{record['type']}: {bad.reason}", record["stream"]) from None
            except Exception as exc:  # intake should make this impossible; a display that freezes is worse
                raise BadRecord(f"{record['type']}: could not be shown ({type(exc).__name__}: {exc})",
                                record["stream"]) from exc
        except BadRecord as bad:
            self.rejected.add(bad.reason if bad.stream is None else f"{bad.stream}: {bad.reason}")
            if bad.stream is not None and (bed := self._known_or_new(bad.stream)) is not None:
                bed.rejected.add(bad.reason)

    def _known_or_new(self, stream: str) -> BedState | None:
        """The bed, created while the ward has room; None when it is full."""
        if stream in self.beds or len(self.beds) < self.config.max_beds:
            return self.bed(stream)
        return None

    def _bed_within_bound(self, stream: str) -> BedState:
        bed = self._known_or_new(stream)
        if bed is None:
            raise BadRecord(f"{stream[:40]!r} would be bed {len(self.beds) + 1}; at most {self.config.max_beds} "
                            "beds are shown")
        return bed

    def summary(self, now: float) -> dict[str, Any]:
        """The ward overview: tiles in order, and the records rejected over all beds."""
        return {"tiles": self.tiles(now), "rejected": self.rejected.as_dict()}

    def tiles(self, now: float) -> list[dict[str, Any]]:
        tiles = [bed.tile(now) for bed in self.beds.values()]
        return sorted(tiles, key=lambda t: (STATE_RANK[t["state"]], t["stream"]))
