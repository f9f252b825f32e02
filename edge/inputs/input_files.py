"""Read EEG files (Kaggle-layout parquet, EDF, BDF) with their labels, units and rate, in bounded chunks.

`open_recording` reads only the header; its `chunks()` read the samples a bounded piece at a time (parquet by
record batches within row groups, EDF/BDF by data records), so memory does not grow with the recording's
length: hospital recordings run for days. `read_recording` loads a whole (short) file into memory, for the
replay and tests; both give the same samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.contract import SAMPLE_RATE_HZ, SignalContract, canonical_channel
from edge.errors import DataError

CHUNK_ROWS = 65_536  # rows per chunk read from disk: ~5 MB of float32 for 20 channels


@dataclass(frozen=True)
class Recording:
    """Samples [n, channels] as they would travel over LSL (float32), with per-channel labels and units."""

    data: np.ndarray
    labels: tuple[str, ...]
    units: tuple[str, ...]
    sample_rate_hz: float
    path: Path

    @property
    def n_samples(self) -> int:
        return self.data.shape[0]

    @property
    def seconds(self) -> float:
        return self.data.shape[0] / self.sample_rate_hz

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        for start in range(0, self.n_samples, rows):
            yield self.data[start:start + rows]


@dataclass(frozen=True)
class RecordingFile:
    """A recording on disk: header facts now, samples [<= rows, channels] float32 per `chunks()` call."""

    labels: tuple[str, ...]
    units: tuple[str, ...]
    sample_rate_hz: float
    path: Path
    n_samples: int
    read_chunks: Callable[[int], Iterator[np.ndarray]]  # rows -> chunks of at most that many rows

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sample_rate_hz

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        try:
            for chunk in self.read_chunks(rows):
                yield chunk.astype(np.float32, copy=False)
        except DataError:
            raise
        except Exception as exc:  # a body damaged after a good header: pyarrow / edfio raise their own types
            raise DataError(f"{self.path} cannot be read past its header ({exc})") from None


def open_recording(path: str | Path) -> RecordingFile:
    """The recording's header, checked; its samples are read by `chunks()`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"recording {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        recording = _open_parquet(path)
    elif suffix in (".edf", ".bdf"):
        recording = _open_edf(path)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; give a Kaggle-layout .parquet, .edf or .bdf file")
    if recording.n_samples == 0:
        raise DataError(f"{path} holds no samples (0 rows)")
    return recording


def read_recording(path: str | Path) -> Recording:
    """The whole recording in memory (replay, tests; `edge predict` and `edge evaluate` read in chunks)."""
    file = open_recording(path)
    data = np.concatenate(list(file.chunks()))
    return Recording(data, file.labels, file.units, file.sample_rate_hz, file.path)


def _open_parquet(path: Path) -> RecordingFile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # no pre-buffering: pyarrow would otherwise read ahead whole column chunks (memory grew with the file)
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path} is not a readable parquet file ({exc})") from None
    labels = tuple(schema.names)
    if not any(canonical_channel(label) for label in labels):
        raise DataError(f"{path} has no EEG channel columns (columns: {', '.join(labels[:8])}...)")
    numeric = [name for name in labels if canonical_channel(name)]
    for name in numeric:
        kind = schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise DataError(f"{path}: column {name!r} holds {kind}, not numbers; EEG columns must be int or float")

    def read_chunks(rows: int) -> Iterator[np.ndarray]:
        for batch in parquet.iter_batches(batch_size=rows, columns=numeric):
            yield np.column_stack([batch.column(i).to_numpy(zero_copy_only=False) for i in range(len(numeric))])

    # The Kaggle layout is microvolts at the contract rate.
    unit = SignalContract.units
    return RecordingFile(tuple(numeric), (unit,) * len(numeric), float(SAMPLE_RATE_HZ), path,
                         parquet.metadata.num_rows, read_chunks)


def _open_edf(path: Path) -> RecordingFile:
    import edfio

    reader = edfio.read_bdf if path.suffix.lower() == ".bdf" else edfio.read_edf
    try:
        edf = reader(path, lazy_load_data=True)  # the header only: samples are read per slice
    except Exception as exc:  # edfio raises ValueError/struct errors for malformed headers
        raise DataError(f"{path} is not a readable EDF/BDF file ({exc})") from None
    signals = [s for s in edf.signals if canonical_channel(s.label)]
    if not signals:
        raise DataError(f"{path} has no EEG channels with recognisable labels")
    # Keep the EEG channels at the rate most of them share; other-rate signals are auxiliary.
    rate = Counter(s.sampling_frequency for s in signals).most_common(1)[0][0]
    signals = [s for s in signals if s.sampling_frequency == rate]
    per_record = signals[0].samples_per_data_record
    n = edf.num_data_records * per_record
    record_s = per_record / rate

    def read_chunks(rows: int) -> Iterator[np.ndarray]:
        records = max(1, rows // per_record)  # whole data records: slices start on exact samples
        for first in range(0, edf.num_data_records, records):
            start, stop = first * record_s, min(first + records, edf.num_data_records) * record_s
            yield np.column_stack([s.get_data_slice(start, stop) for s in signals])

    return RecordingFile(tuple(s.label for s in signals), tuple(s.physical_dimension for s in signals),
                         float(rate), path, n, read_chunks)
