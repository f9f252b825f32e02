"""`edge monitor --from predictions.jsonl`: follow a JSONL log (like `tail -F`) into a display sink.

The log is read from its start (so the timeline has its history), then followed as it grows, line by line:
each complete line goes to the sink as it is, and the display's intake (edge.display.intake) parses and
checks it there, so a line that is not a record (junk, a record torn by a killed writer) is counted and
shown, never an exit. A line without its newline yet waits for it, up to MAX_RECORD_BYTES: a longer one is
skipped up to its newline (its start goes on, so the intake counts it), so memory stays bounded whatever
the file holds. A file that shrinks or is replaced is read again from the start.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from edge.display.intake import MAX_RECORD_BYTES
from edge.display.sink import DisplaySink

CHUNK_BYTES = 1 << 20  # read per poll: a day-long log is taken in steps, not all into memory at once


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
        self._skipping = False  # inside a line longer than MAX_RECORD_BYTES: dropped up to its newline
        self.records = 0  # lines handed on (the intake may still reject them)

    @property
    def buffered(self) -> int:
        """Bytes held for a line not complete yet (at most MAX_RECORD_BYTES)."""
        return len(self._partial)

    def poll(self) -> int:
        """Read what was appended since the last call (at most CHUNK_BYTES); returns the lines handed on."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return 0  # not written yet (the runtime starts later) or being replaced
        if info.st_ino != self._inode or info.st_size < self._offset:
            self.reset()
            self._inode = info.st_ino
        if info.st_size == self._offset:
            return 0
        with self.path.open("rb") as file:
            file.seek(self._offset)
            chunk = file.read(min(info.st_size - self._offset, CHUNK_BYTES))
        self._offset += len(chunk)
        *complete, rest = chunk.split(b"\n")
        handed = 0
        for piece in complete:
            line, self._partial = self._partial + piece, b""
            if self._skipping:
                self._skipping = False  # the newline ends the over-long line: already handed on
            elif line.strip():
                self.sink.feed(line[:MAX_RECORD_BYTES + 1])  # an over-long line: the intake says so
                handed += 1
        if not self._skipping:
            self._partial += rest
            if len(self._partial) > MAX_RECORD_BYTES:
                self.sink.feed(self._partial[:MAX_RECORD_BYTES + 1])
                self._partial, self._skipping = b"", True
                handed += 1
        self.records += handed
        return handed

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.poll() == 0:
                stop.wait(self.poll_s)
