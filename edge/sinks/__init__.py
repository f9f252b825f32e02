"""Where records go: a durable JSONL log, LSL outlets (probabilities + alarm markers), a console view."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Sink(Protocol):
    """What the runtime writes to. Sinks subclass it (explicitly, so they inherit the no-op `observe_frame`)."""

    def write(self, record: dict[str, Any]) -> None: ...

    def observe_frame(self, stream: str, data: np.ndarray, t_end: float) -> None:
        """Each window's EEG ([channels, samples] ending at `t_end`), predicted or refused: for sinks that
        show the signal itself (the live display). A reference the sink must not modify nor hold the
        runtime's loop for; ignored by default."""

    def close(self) -> None: ...


def describe_sink(sink: Sink) -> str:
    """What a failure message names: the file a sink writes to, else the kind of sink."""
    path = getattr(sink, "path", None)
    return str(path) if path is not None else type(sink).__name__
