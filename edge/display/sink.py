"""The runtime's hand-off to the display: never blocks, never grows without bound.

Records go into a bounded queue (when it is full the record is dropped from the display only and
counted; the JSONL and LSL sinks still get it). EEG windows go into a newest-only slot per stream, so
a display that falls behind skips frames instead of queueing them. The server's pump drains both.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

from edge.contract import SAMPLE_RATE_HZ
from edge.display.intake import Item
from edge.sinks import Sink


class DisplaySink(Sink):
    def __init__(self, *, max_records: int = 10_000, eeg_s: float = 15.0) -> None:
        self.records: queue.Queue[Item] = queue.Queue(maxsize=max_records)
        self.eeg_samples = round(eeg_s * SAMPLE_RATE_HZ)
        self._frames: dict[str, tuple[np.ndarray, float]] = {}
        self._lock = threading.Lock()  # held for a dict assignment or swap only
        self.dropped = 0

    def write(self, record: dict[str, Any]) -> None:
        try:
            self.records.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def feed(self, record: Item) -> None:
        """For a producer that may wait (the followers, with a line of text each): blocks while the queue is
        full, drops nothing; the display's intake checks what it gets."""
        self.records.put(record)

    def observe_frame(self, stream: str, data: np.ndarray, t_end: float) -> None:
        """The newest EEG of `stream` ([channels, samples] ending at `t_end`); only its last `eeg_s` are kept, as
        a view (the chain hands each window a fresh copy): no copy here."""
        frame = (data[:, -self.eeg_samples:], t_end)
        with self._lock:
            self._frames[stream] = frame

    def drain(self, limit: int) -> tuple[list[Item], dict[str, tuple[np.ndarray, float]]]:
        """Up to `limit` queued records, and the newest EEG frame of each stream since the last drain."""
        records = []
        for _ in range(limit):
            try:
                records.append(self.records.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            frames, self._frames = self._frames, {}
        return records, frames

    def close(self) -> None:
        """The server owns the display's lifetime; the runtime closing its sinks changes nothing here."""
