"""Read EEG files (Kaggle-layout parquet, EDF, BDF) into one in-memory form with labels, units and rate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.contract import SAMPLE_RATE_HZ, SignalContract, canonical_channel
from edge.errors import DataError


@dataclass(frozen=True)
class Recording:
    """Samples [n, channels] as they would travel over LSL (float32), with per-channel labels and units."""

    data: np.ndarray
    labels: tuple[str, ...]
    units: tuple[str, ...]
    sample_rate_hz: float
    path: Path

    @property
    def seconds(self) -> float:
        return self.data.shape[0] / self.sample_rate_hz


def read_recording(path: str | Path) -> Recording:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"recording {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        recording = _read_parquet(path)
    elif suffix in (".edf", ".bdf"):
        recording = _read_edf(path)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; give a Kaggle-layout .parquet, .edf or .bdf file")
    if len(recording.data) == 0:
        raise DataError(f"{path} holds no samples (0 rows)")
    return recording


def _read_parquet(path: Path) -> Recording:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path} is not a readable parquet file ({exc})") from None
    labels = tuple(table.column_names)
    if not any(canonical_channel(label) for label in labels):
        raise DataError(f"{path} has no EEG channel columns (columns: {', '.join(labels[:8])}...)")
    numeric = [name for name in labels if canonical_channel(name)]
    for name in numeric:
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise DataError(f"{path}: column {name!r} holds {kind}, not numbers; EEG columns must be int or float")
    data = np.column_stack([table.column(name).to_numpy(zero_copy_only=False) for name in numeric])
    # The Kaggle layout is microvolts at the contract rate.
    unit = SignalContract.units
    return Recording(data.astype(np.float32), tuple(numeric), (unit,) * len(numeric), float(SAMPLE_RATE_HZ), path)


def _read_edf(path: Path) -> Recording:
    import edfio

    reader = edfio.read_bdf if path.suffix.lower() == ".bdf" else edfio.read_edf
    try:
        edf = reader(path)
    except Exception as exc:  # edfio raises ValueError/struct errors for malformed headers
        raise DataError(f"{path} is not a readable EDF/BDF file ({exc})") from None
    signals = [s for s in edf.signals if canonical_channel(s.label)]
    if not signals:
        raise DataError(f"{path} has no EEG channels with recognisable labels")
    # Keep the EEG channels at the rate most of them share; other-rate signals are auxiliary.
    rate = Counter(s.sampling_frequency for s in signals).most_common(1)[0][0]
    signals = [s for s in signals if s.sampling_frequency == rate]
    n = min(len(s.data) for s in signals)
    data = np.column_stack([np.asarray(s.data[:n]) for s in signals]).astype(np.float32)
    return Recording(data, tuple(s.label for s in signals), tuple(s.physical_dimension for s in signals),
                     float(rate), path)
