"""A recording as a runtime Source (edge.inputs.source): `edge evaluate` replays files through the same Runtime
as `edge run`, as fast as the runtime pulls, with synthetic timestamps (sample index / rate + t0).

Each pull hands out at most one hop of samples, so each stream has at most one window due per poll
and the runtime never sheds windows of a file for being late. A file is read in bounded chunks as it is
pulled (edge.inputs.input_files.open_recording): memory does not grow with its length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.inputs.input_files import Recording, RecordingFile, open_recording
from edge.inputs.source import StreamLayout


class FileSource:
    def __init__(self, recording: Recording | RecordingFile | str | Path, *, name: str | None = None,
                 chunk_s: float = 2.0, t0: float = 0.0) -> None:
        self.recording = recording if isinstance(recording, (Recording, RecordingFile)) else open_recording(recording)
        self.name = name or self.recording.path.stem
        self.chunk = max(1, round(chunk_s * self.recording.sample_rate_hz))
        self.t0 = t0
        self.position = 0
        self._chunks = self.recording.chunks(self.chunk)

    @property
    def exhausted(self) -> bool:
        return self.position >= self.recording.n_samples

    def open(self) -> StreamLayout:
        path = str(self.recording.path)
        return StreamLayout(self.recording.labels, self.recording.units, self.recording.sample_rate_hz, uid=path,
                            source_id=path)

    def pull(self) -> tuple[np.ndarray, np.ndarray] | None:
        samples = next(self._chunks, None)
        if samples is None or len(samples) == 0:
            self.position = self.recording.n_samples
            return None
        start, stop = self.position, self.position + len(samples)
        self.position = stop
        stamps = self.t0 + np.arange(start, stop) / self.recording.sample_rate_hz
        return np.ascontiguousarray(samples, dtype=np.float32), stamps

    def now(self) -> float:
        """The newest timestamp handed out: a file is never behind its own clock."""
        return self.t0 + (self.position - 1) / self.recording.sample_rate_hz

    def silent_for(self) -> float:
        return 0.0  # a file ends, it does not fall silent

    def find_restarted(self) -> StreamLayout | None:
        return None

    def close(self) -> None:
        """Nothing to release: a chunk is read per pull and the file closed with its reader."""
