"""Where records go: a durable JSONL log, LSL outlets (probabilities + alarm markers), a console view."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...
