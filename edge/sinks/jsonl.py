"""JSON-lines log: one record per line, appended and flushed per record, read back tolerating a torn last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge.errors import DataError


class JsonlSink:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        # a previous run that crashed mid-line leaves a torn tail: start on a fresh line
        if self._file.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
            self._file.write("\n")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record. A torn record (a writer killed mid-line: starts with '{' but is cut short)
    is skipped, at the end or where a restarted writer went on after it; any other bad line is an error."""
    path = Path(path)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if not (line.startswith("{") and not line.rstrip().endswith("}")):
                raise DataError(f"{path}:{number} is not a JSON record") from None
    return records
