"""What the runtime reads from: a Source delivers one stream's timestamped sample chunks.

`edge run` uses LSL inlets (edge.inputs.lsl_source.LslSource); an offline driver (e.g. `edge evaluate`)
can hand the very same Runtime a file-backed Source. Nothing here imports pylsl.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class StreamLayout:
    """What a source says about itself at open (and again after a restart)."""

    labels: tuple[str, ...]
    units: tuple[str | None, ...]
    sample_rate_hz: float  # nominal rate
    uid: str  # changes when the producer restarts
    source_id: str  # the producer's stable identity (LSL source_id; a file path offline)
    hostname: str = ""

    @property
    def identity(self) -> dict[str, str]:
        """The fields every record of this stream carries, so a reader can tell producers apart."""
        return {"source_id": self.source_id, "hostname": self.hostname}


class Source(Protocol):
    name: str  # the stream name records carry

    def open(self) -> StreamLayout:
        """Connect (raising edge.errors.DataError with one clear line on failure); called once."""

    def pull(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Samples [n, channels] float32 in the layout's units and timestamps [n] available now, or None."""

    def now(self) -> float:
        """The current time on the clock of the timestamps: how far behind a due window is."""

    def silent_for(self) -> float:
        """Seconds since samples last arrived."""

    def find_restarted(self) -> StreamLayout | None:
        """While silent: the layout of a restarted producer once the source has switched to it, else None."""

    def close(self) -> None: ...
