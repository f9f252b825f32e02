"""LSL outputs: per input stream, an outlet of the 6 class probabilities, a marker stream of alarm events
(JSON with their evidence), the burden (`<name>-burden`), the qEEG trends (`<name>-trends`, 1/hop Hz) and
every record as its JSONL line (`<name>-records`: what `edge monitor --lsl NAME` shows on another machine)."""

from __future__ import annotations

from typing import Any

from edge.contract import CLASSES
from edge.monitoring.burden import BURDEN_NAMES
from edge.monitoring.trends import trend_channels
from edge.records import to_json
from edge.sinks import Sink

BURDEN_CHANNELS = ("coverage", *BURDEN_NAMES)
RECORDS_TYPE = "EegEdgeRecords"


def records_stream(stream: str) -> str:
    return f"{stream}-records"


def trends_stream(stream: str) -> str:
    return f"{stream}-trends"


class LslSink(Sink):
    def __init__(self, model_id: str, streams: list[str], *, hop_s: float = 2.0) -> None:
        self.model_id = model_id
        self.hop_s = hop_s
        self._probs: dict[str, Any] = {}
        self._markers: dict[str, Any] = {}
        self._burden: dict[str, Any] = {}
        self._trends: dict[str, Any] = {}
        self._records: dict[str, Any] = {}
        for stream in streams:  # created up front so consumers can subscribe before the first prediction
            self._outlets(stream)

    def _outlet(self, name: str, kind: str, channels: list[tuple[str, str]], rate: float):
        import pylsl

        info = pylsl.StreamInfo(name, kind, len(channels), rate, "float32", f"eeg-edge-{name}-{self.model_id}")
        desc = info.desc().append_child("channels")
        for label, unit in channels:
            ch = desc.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", unit)
        info.desc().append_child_value("model", self.model_id)
        return pylsl.StreamOutlet(info)

    def _outlets(self, stream: str):
        import pylsl

        if stream not in self._probs:
            self._probs[stream] = self._outlet(f"{stream}-probs", "Probabilities",
                                               [(c, "probability") for c in CLASSES], pylsl.IRREGULAR_RATE)
            markers = pylsl.StreamInfo(f"{stream}-alarms", "Markers", 1, pylsl.IRREGULAR_RATE, "string",
                                       f"eeg-edge-alarms-{stream}-{self.model_id}")
            self._markers[stream] = pylsl.StreamOutlet(markers)
            # NaN where nothing in the burden window is known yet
            self._burden[stream] = self._outlet(f"{stream}-burden", "Burden", [(c, "ratio") for c in BURDEN_CHANNELS],
                                                pylsl.IRREGULAR_RATE)
            self._trends[stream] = self._outlet(trends_stream(stream), "qEEG", trend_channels(), 1.0 / self.hop_s)
            self._records[stream] = pylsl.StreamOutlet(pylsl.StreamInfo(
                records_stream(stream), RECORDS_TYPE, 1, pylsl.IRREGULAR_RATE, "string",
                f"eeg-edge-records-{stream}-{self.model_id}"))
        return self._probs[stream], self._markers[stream]

    def write(self, record: dict[str, Any]) -> None:
        stream = record["stream"]
        if stream not in self._probs and record["type"] == "status":
            return  # a run-level status (stream "edge", e.g. a sink failed) belongs to no stream's outlets
        probs, markers = self._outlets(stream)
        if record["type"] == "trends":  # on their own numeric outlet only
            self._trends[stream].push_sample(record["values"], record["t"])
            return
        self._records[stream].push_sample([to_json(record)])
        if record["type"] == "prediction" and record["smoothed"] is not None:  # flagged windows: not published
            # stamped with the end of the window the probabilities describe
            probs.push_sample([record["smoothed"][c] for c in CLASSES], record["window_end"])
            if record.get("burden") is not None:  # stamped with the end of the burden window
                burden = record["burden"]
                self._burden[stream].push_sample(
                    [float("nan") if burden[c] is None else burden[c] for c in BURDEN_CHANNELS], burden["t"])
        elif record["type"] == "alarm":
            evidence = {k: v for k, v in record.items() if k not in ("type", "stream")}
            markers.push_sample([to_json(evidence)], record["t"])

    def close(self) -> None:
        for outlets in (self._probs, self._markers, self._burden, self._trends, self._records):
            outlets.clear()
