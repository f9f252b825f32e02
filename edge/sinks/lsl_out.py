"""LSL outputs: per input stream, an outlet of the 6 class probabilities and a marker stream of alarm changes."""

from __future__ import annotations

import json
from typing import Any

from edge.spec import CLASSES


class LslSink:
    def __init__(self, model_id: str, streams: list[str]) -> None:
        self.model_id = model_id
        self._probs: dict[str, Any] = {}
        self._markers: dict[str, Any] = {}
        for stream in streams:  # created up front so consumers can subscribe before the first prediction
            self._outlets(stream)

    def _outlets(self, stream: str):
        import pylsl

        if stream not in self._probs:
            info = pylsl.StreamInfo(f"{stream}-probs", "Probabilities", len(CLASSES), pylsl.IRREGULAR_RATE,
                                    "float32", f"eeg-edge-probs-{stream}-{self.model_id}")
            channels = info.desc().append_child("channels")
            for name in CLASSES:
                ch = channels.append_child("channel")
                ch.append_child_value("label", name)
                ch.append_child_value("unit", "probability")
            info.desc().append_child_value("model", self.model_id)
            self._probs[stream] = pylsl.StreamOutlet(info)
            markers = pylsl.StreamInfo(f"{stream}-alarms", "Markers", 1, pylsl.IRREGULAR_RATE, "string",
                                       f"eeg-edge-alarms-{stream}-{self.model_id}")
            self._markers[stream] = pylsl.StreamOutlet(markers)
        return self._probs[stream], self._markers[stream]

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] == "prediction":
            probs, _ = self._outlets(record["stream"])
            # stamped with the end of the window the probabilities describe
            probs.push_sample([record["smoothed"][c] for c in CLASSES], record["window_end"])
        elif record["type"] == "alarm":
            _, markers = self._outlets(record["stream"])
            markers.push_sample([json.dumps({k: record[k] for k in ("state", "class", "p")})], record["t"])

    def close(self) -> None:
        self._probs.clear()
        self._markers.clear()
