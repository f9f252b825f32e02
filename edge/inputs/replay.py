"""Play a recording as an LSL outlet, paced against the LSL clock without drift.

Each sample's send time is computed from the start time and its index (absolute schedule), so sleep
overshoot never accumulates; samples carry those times as their LSL timestamps. An optional
sample-counter channel (the global sample index) lets tests prove no sample was dropped, duplicated
or reordered on the way.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np

from edge.config import check_option
from edge.inputs.input_files import Recording

COUNTER_LABEL = "COUNTER"


@dataclass(frozen=True)
class ReplayConfig:
    name: str = "EEG"
    stream_type: str = "EEG"
    source_id: str | None = None  # default: a fresh one per player
    speed: float = 1.0
    loop: bool = False
    chunk: int = 20
    counter: bool = False

    def validate(self) -> ReplayConfig:
        check_option("--speed", self.speed)
        check_option("--chunk", self.chunk)
        return self


class Player:
    def __init__(self, recording: Recording, config: ReplayConfig) -> None:
        import pylsl

        self.recording = recording
        self.config = config.validate()
        labels, units = list(recording.labels), list(recording.units)
        if config.counter:
            labels.append(COUNTER_LABEL)
            units.append("samples")
        info = pylsl.StreamInfo(config.name, config.stream_type, len(labels), recording.sample_rate_hz, "float32",
                                config.source_id or f"eeg-edge-replay-{uuid.uuid4().hex[:12]}")
        channels = info.desc().append_child("channels")
        for label, unit in zip(labels, units, strict=True):
            channel = channels.append_child("channel")
            channel.append_child_value("label", label)
            channel.append_child_value("unit", unit)
            channel.append_child_value("type", "MISC" if label == COUNTER_LABEL else "EEG")
        info.desc().append_child_value("source_file", recording.path.name)
        self.outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)
        self.sent = 0

    def run(self, stop: threading.Event | None = None) -> int:
        """Push until the end (or forever with loop) or until `stop` is set; returns samples sent."""
        import pylsl

        stop = stop or threading.Event()
        data = self.recording.data
        n_file = len(data)
        period = 1.0 / (self.recording.sample_rate_hz * self.config.speed)
        # a later call resumes after a pause: its schedule starts now, so the timestamps show the gap
        start, first = pylsl.local_clock(), self.sent
        while not stop.is_set() and (self.config.loop or self.sent < n_file):
            count = self.config.chunk if self.config.loop else min(self.config.chunk, n_file - self.sent)
            index = self.sent + np.arange(count)
            stamps = start + (index - first) * period
            wait = stamps[-1] - pylsl.local_clock()
            if wait > 0:
                time.sleep(wait)
            chunk = data[index % n_file]
            if self.config.counter:
                chunk = np.column_stack([chunk, index.astype(np.float32)])
            self.outlet.push_chunk(np.ascontiguousarray(chunk, dtype=np.float32), stamps.tolist())
            self.sent += count
        return self.sent

    def close(self) -> None:
        self.outlet = None
