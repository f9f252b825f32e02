"""Annotated events for `edge evaluate`: plain CSV (file, onset_s, offset_s, label) or TUH .csv_bi."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from edge.errors import DataError

TUH_SEIZURE_LABELS = frozenset({"seiz", "fnsz", "gnsz", "spsz", "cpsz", "absz", "tnsz", "cnsz", "tcsz", "atsz",
                                "mysz"})


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
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    try:
        if path.suffix == ".csv_bi":
            return [Annotation(path.stem, float(r["start_time"]), float(r["stop_time"]),
                               "seizure" if r["label"].strip() in TUH_SEIZURE_LABELS else r["label"].strip())
                    for r in rows]
        return [Annotation(Path(r["file"].strip()).stem, float(r["onset_s"]), float(r["offset_s"]),
                           r["label"].strip()) for r in rows]
    except (KeyError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: needs the columns file, onset_s, offset_s, label (or a TUH .csv_bi); {exc}") from None
