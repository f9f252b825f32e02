"""Live view: a rich table redrawn in place on a terminal, plain lines when output is piped."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from edge.contract import CLASSES
from edge.sinks import Sink


def _shown(record: dict[str, Any]) -> dict[str, float]:
    """Smoothed probabilities; a flagged window is not smoothed, so its own (shown with FLAGGED)."""
    return record["probs"] if record["smoothed"] is None else record["smoothed"]


def _line(record: dict[str, Any]) -> str:
    if record["type"] == "prediction":
        probs = " ".join(f"{c}={_shown(record)[c]:.2f}" for c in CLASSES)
        flag = " FLAGGED" if record["flagged"] else ""
        return (f"{record['stream']} label [{record['label_start']:.1f}, {record['label_end']:.1f}] {probs} "
                f"({record['latency_ms']:.1f} ms){flag}")
    if record["type"] == "alarm":
        evidence = record.get("message") or f"p={record['p']:.2f}"
        return f"{record['stream']} ALARM {record.get('level', record['class'])} {record['state'].upper()} ({evidence})"
    return f"{record['stream']} status {record['kind']}: {record['message']}"


class ConsoleSink(Sink):
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.live = None
        self.rows: dict[str, dict[str, Any]] = {}
        if self.out.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self._table(), console=Console(file=self.out), auto_refresh=False)
            self.live.start()

    def _table(self):
        from rich.table import Table

        table = Table(title="eeg-edge", expand=False)
        for column in ("stream", "label span", *CLASSES, "latency ms", "state"):
            table.add_column(column)
        for stream, row in sorted(self.rows.items()):
            table.add_row(stream, *row["cells"])
        return table

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] == "trends":  # numbers for displays and files, not for a terminal
            return
        if self.live is None:
            print(_line(record), file=self.out, flush=True)
            return
        row = self.rows.setdefault(record["stream"], {"cells": [""] * (len(CLASSES) + 3)})
        if record["type"] == "prediction":
            row["cells"] = [f"{record['label_start']:.1f}..{record['label_end']:.1f}",
                            *(f"{_shown(record)[c]:.2f}" for c in CLASSES), f"{record['latency_ms']:.1f}",
                            "flagged" if record["flagged"] else "ok"]
        else:
            row["cells"][-1] = _line(record).split(" ", 1)[1]
        self.live.update(self._table(), refresh=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
