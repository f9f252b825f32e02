"""Where records go: a durable JSONL log, LSL outlets (probabilities + alarm markers), a console view."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def describe_sink(sink: Sink) -> str:
    """What a failure message names: the file a sink writes to, else the kind of sink."""
    path = getattr(sink, "path", None)
    return str(path) if path is not None else type(sink).__name__
