"""Annotated events for `edge evaluate`: plain CSV (file, onset_s, offset_s, label) or TUH .csv_bi.

Every row is checked before anything is scored: a row that is ragged, has a time that is not a finite
number >= 0, or an offset not after its onset is a one-line DataError naming the file and its line, never
a traceback and never an event scored as missed. The file is decoded as UTF-8 (edge.config_io).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from edge.config_io import read_text
from edge.errors import DataError

TUH_SEIZURE_LABELS = frozenset({"seiz", "fnsz", "gnsz", "spsz", "cpsz", "absz", "tnsz", "cnsz", "tcsz", "atsz",
                                "mysz"})
PLAIN_COLUMNS = ("file", "onset_s", "offset_s", "label")
TUH_COLUMNS = ("start_time", "stop_time", "label")


@dataclass(frozen=True)
class Annotation:
    file: str  # recording stem: matches rec.edf and rec.parquet alike
    onset_s: float
    offset_s: float
    label: str


def read_annotations(path: str | Path) -> list[Annotation]:
    """Plain CSV (file, onset_s, offset_s, label) or TUH .csv_bi (channel, start_time, stop_time, label, ...;
    the file is the annotation file's stem; TUH seizure types become "seizure")."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"annotations {path} do not exist")
    text = read_text(path, "annotations")
    if "\0" in text:
        raise DataError(f"annotations {path} hold NUL bytes: a binary file, not CSV; give the events as CSV with "
                        f"the columns {', '.join(PLAIN_COLUMNS)} (or a TUH .csv_bi)")
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    tuh = path.suffix == ".csv_bi"
    needed = TUH_COLUMNS if tuh else PLAIN_COLUMNS
    reader = csv.reader((line for _, line in numbered), strict=True)  # an unclosed quote is an error
    try:
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in needed if name not in header]
        if missing:
            raise DataError(f"{path}: needs the columns {', '.join(PLAIN_COLUMNS)} (or a TUH .csv_bi with "
                            f"{', '.join(TUH_COLUMNS)}); missing {', '.join(missing)}")
        annotations = []
        for row in reader:
            line = numbered[reader.line_num - 1][0]
            annotations.append(_annotation(path, line, dict(zip(header, row, strict=False)), len(row), len(header),
                                           tuh=tuh))
    except csv.Error as exc:
        line = numbered[min(reader.line_num, len(numbered)) - 1][0] if numbered else 1
        raise DataError(f"{path}:{line}: not CSV ({exc})") from None
    return annotations


def _annotation(path: Path, line: int, row: dict[str, str], fields: int, columns: int, *, tuh: bool) -> Annotation:
    where = f"{path}:{line}"
    if fields != columns:
        raise DataError(f"{where}: a ragged row of {fields} field(s) under a header of {columns}; every row needs "
                        "one value per column")
    onset_key, offset_key = ("start_time", "stop_time") if tuh else ("onset_s", "offset_s")
    onset, offset = (_seconds(where, key, row[key]) for key in (onset_key, offset_key))
    if not offset > onset:
        raise DataError(f"{where}: {offset_key} {offset:g} is not after {onset_key} {onset:g} (a negative or zero "
                        "duration); fix the row")
    label = row["label"].strip()
    if not label:
        raise DataError(f"{where}: the label is empty")
    if tuh:
        return Annotation(path.stem, onset, offset, "seizure" if label in TUH_SEIZURE_LABELS else label)
    name = Path(row["file"].strip()).stem
    if not name:
        raise DataError(f"{where}: the file is empty; name the recording the event belongs to")
    return Annotation(name, onset, offset, label)


def _seconds(where: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise DataError(f"{where}: {key} must be a finite number of seconds >= 0, got {text.strip()[:40]!r}")
    return value
