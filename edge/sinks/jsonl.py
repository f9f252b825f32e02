"""JSON-lines log: one strict-JSON record per line, appended and flushed per record, read back tolerating
records torn by a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge.errors import DataError
from edge.records import RUN_ID, to_json
from edge.sinks import Sink


class JsonlSink(Sink):
    def __init__(self, path: str | Path, *, skip: frozenset[str] = frozenset()) -> None:
        """`skip`: record types not to write (e.g. "trends", which have their own file)."""
        self.path = Path(path)
        self.skip = skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        # a previous run that crashed mid-line leaves a torn tail: start on a fresh line
        if self._file.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
            self._file.write("\n")

    def write(self, record: dict[str, Any]) -> None:
        if record["type"] in self.skip:
            return
        self._file.write(to_json({"run_id": RUN_ID, **record}) + "\n")  # run_id even on a hand-made record
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record. A torn record (a writer killed mid-line: starts with '{' but does not parse
    as a complete JSON object, whatever its last character) is skipped, at the end or where a restarted
    writer went on after it; any other line that is not a JSON object is an error."""
    path = Path(path)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if line.startswith("{") and exc.msg != "Extra data":  # "Extra data": complete, then junk
                continue
            raise DataError(f"{path}:{number} is not a JSON record") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number} is not a JSON record (a {type(record).__name__}, not an object)")
        records.append(record)
    return records
