"""LSL outputs: per input stream, an outlet of the 6 class probabilities, a marker stream of alarm events
(JSON with their evidence), the burden (`<name>-burden`) and the qEEG trends (`<name>-trends`, 1/hop Hz)."""

from __future__ import annotations

from typing import Any

from edge.burden import BURDEN_NAMES
from edge.contract import CLASSES
from edge.records import to_json
from edge.trends import trend_channels

BURDEN_CHANNELS = ("coverage", *BURDEN_NAMES)


class LslSink:
    def __init__(self, model_id: str, streams: list[str], *, hop_s: float = 2.0) -> None:
        self.model_id = model_id
        self.hop_s = hop_s
        self._probs: dict[str, Any] = {}
        self._markers: dict[str, Any] = {}
        self._burden: dict[str, Any] = {}
        self._trends: dict[str, Any] = {}
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
            self._trends[stream] = self._outlet(f"{stream}-trends", "qEEG", trend_channels(), 1.0 / self.hop_s)
        return self._probs[stream], self._markers[stream]

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] == "prediction" and record["smoothed"] is not None:  # flagged windows: not published
            probs, _ = self._outlets(record["stream"])
            # stamped with the end of the window the probabilities describe
            probs.push_sample([record["smoothed"][c] for c in CLASSES], record["window_end"])
            if record.get("burden") is not None:  # stamped with the end of the burden window
                burden = record["burden"]
                self._burden[record["stream"]].push_sample(
                    [float("nan") if burden[c] is None else burden[c] for c in BURDEN_CHANNELS], burden["t"])
        elif record["type"] == "alarm":
            _, markers = self._outlets(record["stream"])
            evidence = {k: v for k, v in record.items() if k not in ("type", "stream")}
            markers.push_sample([to_json(evidence)], record["t"])
        elif record["type"] == "trends":
            self._outlets(record["stream"])
            self._trends[record["stream"]].push_sample(record["values"], record["t"])

    def close(self) -> None:
        for outlets in (self._probs, self._markers, self._burden, self._trends):
            outlets.clear()
