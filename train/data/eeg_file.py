"""One EEG parquet file of the Kaggle layout: 20 numeric columns in spec.CHANNELS order, 200 Hz, uV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edge.contract import CHANNELS, OPTIONAL_CHANNELS
from edge.errors import DataError


def inspect_eeg_file(path: Path) -> tuple[int, list[str]]:
    """(number of samples, problems) from the parquet footer only: cheap enough for 17k files."""
    try:
        meta = pq.ParquetFile(path).metadata
        schema = meta.schema.to_arrow_schema()
    except (OSError, pa.ArrowException) as exc:
        return 0, [f"{path}: not a readable parquet file ({exc})"]
    problems = []
    missing = [c for c in CHANNELS if c not in schema.names and c not in OPTIONAL_CHANNELS]
    if missing:
        problems.append(f"{path}: missing channel column(s) {', '.join(missing)}")
    for name in CHANNELS:
        if name in schema.names:
            kind = schema.field(name).type
            if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
                problems.append(f"{path}: channel {name} has type {kind}, expected float32 microvolts")
    return meta.num_rows, problems


def read_eeg_file(path: Path) -> np.ndarray:
    """[20, samples] float32 in spec.CHANNELS order; an absent optional channel (EKG) reads as zeros."""
    try:
        names = pq.ParquetFile(path).schema_arrow.names
        present = [c for c in CHANNELS if c in names]
        table = pq.read_table(path, columns=present)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    missing = [c for c in CHANNELS if c not in present and c not in OPTIONAL_CHANNELS]
    if missing:
        raise DataError(f"{path}: missing channel column(s) {', '.join(missing)}")
    signals = np.zeros((len(CHANNELS), table.num_rows), dtype=np.float32)
    for row, name in enumerate(CHANNELS):
        if name in present:
            column = table.column(name)
            if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
                raise DataError(f"{path}: channel {name} has type {column.type}, expected float32 microvolts")
            signals[row] = column.to_numpy(zero_copy_only=False)  # nulls come back as NaN
    return signals
