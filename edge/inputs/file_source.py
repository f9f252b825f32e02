"""A recording as a runtime Source (edge.inputs.source): `edge evaluate` replays files through the same Runtime
as `edge run`, as fast as the runtime pulls, with synthetic timestamps (sample index / rate + t0).

Each pull hands out at most one hop of samples, so each stream has at most one window due per poll
and the runtime never sheds windows of a file for being late.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.inputs.input_files import Recording, read_recording
from edge.inputs.source import StreamLayout


class FileSource:
    def __init__(self, recording: Recording | str | Path, *, name: str | None = None, chunk_s: float = 2.0,
                 t0: float = 0.0) -> None:
        self.recording = recording if isinstance(recording, Recording) else read_recording(recording)
        self.name = name or self.recording.path.stem
        self.chunk = max(1, round(chunk_s * self.recording.sample_rate_hz))
        self.t0 = t0
        self.position = 0

    @property
    def exhausted(self) -> bool:
        return self.position >= self.recording.data.shape[0]

    def open(self) -> StreamLayout:
        path = str(self.recording.path)
        return StreamLayout(self.recording.labels, self.recording.units, self.recording.sample_rate_hz, uid=path,
                            source_id=path)

    def pull(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.exhausted:
            return None
        start, stop = self.position, min(self.position + self.chunk, self.recording.data.shape[0])
        self.position = stop
        stamps = self.t0 + np.arange(start, stop) / self.recording.sample_rate_hz
        return np.ascontiguousarray(self.recording.data[start:stop], dtype=np.float32), stamps

    def now(self) -> float:
        """The newest timestamp handed out: a file is never behind its own clock."""
        return self.t0 + (self.position - 1) / self.recording.sample_rate_hz

    def silent_for(self) -> float:
        return 0.0  # a file ends, it does not fall silent

    def find_restarted(self) -> StreamLayout | None:
        return None

    def close(self) -> None:
        """Nothing to release: the samples are in memory."""
