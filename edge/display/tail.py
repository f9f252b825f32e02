"""`edge monitor --from predictions.jsonl`: follow a JSONL log (like `tail -F`) into a display sink.

The log is read from its start (so the timeline has its history), then followed as it grows. A line
without its newline yet waits for it; a file that shrinks or is replaced is read again from the start.
A complete line that is not a JSON record is an error, as in `read_jsonl`, except a torn record.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from edge.display.sink import DisplaySink
from edge.errors import DataError

NOT_A_LOG = "is this an `edge run --out` log?"
CHUNK_BYTES = 8 << 20  # read per poll: a day-long log is taken in steps, not all into memory at once


def _is_torn(line: str) -> bool:
    """A record cut short by a killed writer (a restarted one went on after it)."""
    return line.startswith("{") and not line.rstrip().endswith("}")


class JsonlFollower:
    def __init__(self, path: str | Path, sink: DisplaySink, *, poll_s: float = 0.2) -> None:
        self.path = Path(path)
        self.sink = sink
        self.poll_s = poll_s
        self.reset()

    def reset(self) -> None:
        self._offset = 0
        self._inode: int | None = None
        self._partial = b""
        self._line = 0
        self.records = 0

    def poll(self) -> int:
        """Read what was appended since the last call (at most CHUNK_BYTES); returns the records handed on."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return 0  # not written yet (the runtime starts later) or being replaced
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self.reset()
            self._inode = stat.st_ino
        if stat.st_size == self._offset:
            return 0
        with self.path.open("rb") as file:
            file.seek(self._offset)
            chunk = file.read(min(stat.st_size - self._offset, CHUNK_BYTES))
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        handed = 0
        for raw in lines:
            self._line += 1
            record = self._parse(raw.decode("utf-8", errors="replace"))
            if record is not None:
                self.sink.feed(record)
                handed += 1
        self.records += handed
        return handed

    def _parse(self, line: str) -> dict[str, Any] | None:
        if not line.strip():
            return None
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if _is_torn(line):
                return None
            raise DataError(f"{self.path}:{self._line} is not a JSON record; {NOT_A_LOG}") from None
        if not isinstance(record, dict):
            raise DataError(f"{self.path}:{self._line} is not a JSON object; {NOT_A_LOG}")
        return record

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.poll() == 0:
                stop.wait(self.poll_s)
