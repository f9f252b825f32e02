"""Compact trends file next to the JSONL log: one CSV row per stream per hop (labels from edge.monitoring.trends)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from edge.monitoring.trends import trend_channels
from edge.sinks import Sink


def trends_path(jsonl: str | Path) -> Path:
    """run.jsonl -> run.trends.csv"""
    jsonl = Path(jsonl)
    return jsonl.with_name(f"{jsonl.stem}.trends.csv")


class TrendsFileSink(Sink):
    """Writes only "trends" records; appends to an existing file (the header is written once)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        if fresh:
            units = {label: unit for label, unit in trend_channels()}
            self._writer.writerow(["stream", "t", *(f"{label} [{unit}]" for label, unit in units.items())])

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] == "trends":
            self._writer.writerow([record["stream"], f"{record['t']:.3f}", *record["values"]])
            self._file.flush()

    def close(self) -> None:
        self._file.close()
