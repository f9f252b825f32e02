"""train.csv / test.csv -> HmsTable, and validate_layout: every problem of a layout, one line each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from edge.contract import SAMPLE_RATE_HZ, VOTE_COLUMNS, WINDOW_SAMPLES
from edge.errors import DataError
from train.data.columns import (
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    csv_path,
    eeg_dir,
    eeg_path,
    group_rows,
    required_columns,
    start_sample,
)
from train.data.eeg_file import inspect_eeg_file

MAX_LINES_PER_PROBLEM = 20  # a whole bad column would otherwise print 100k lines


@dataclass(frozen=True, eq=False)
class HmsTable:
    """One split's rows as numpy columns. For the test split votes is None and label_ids are -1."""

    data_dir: Path
    split: str
    eeg_ids: np.ndarray  # [N] int64
    eeg_sub_ids: np.ndarray  # [N] int64 (0 for test)
    offsets_s: np.ndarray  # [N] float64, eeg_label_offset_seconds (0 for test)
    spectrogram_ids: np.ndarray  # [N] int64
    label_ids: np.ndarray  # [N] int64
    patient_ids: np.ndarray  # [N] int64
    votes: np.ndarray | None  # [N, 6] int32 in spec.CLASSES order
    eeg_samples: np.ndarray  # [N] int64, length of the row's parquet file

    def __len__(self) -> int:
        return len(self.eeg_ids)

    @property
    def total_votes(self) -> np.ndarray | None:
        return None if self.votes is None else self.votes.sum(axis=1).astype(np.int32)

    @property
    def targets(self) -> np.ndarray | None:
        """Soft targets: votes / total votes, float32 [N, 6]."""
        if self.votes is None:
            return None
        return (self.votes / self.votes.sum(axis=1, keepdims=True)).astype(np.float32)

    def eeg_path(self, eeg_id: int) -> Path:
        return eeg_path(self.data_dir, self.split, eeg_id)


class _Problems:
    """Collects problem lines, at most MAX_LINES_PER_PROBLEM per kind plus one line counting the rest."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._counts: dict[str, int] = {}

    def add(self, kind: str, line: str) -> None:
        count = self._counts[kind] = self._counts.get(kind, 0) + 1
        if count <= MAX_LINES_PER_PROBLEM:
            self.lines.append(line)

    def finish(self) -> list[str]:
        extra = [f"... and {n - MAX_LINES_PER_PROBLEM} more: {kind}"
                 for kind, n in self._counts.items() if n > MAX_LINES_PER_PROBLEM]
        return self.lines + extra


def _parse_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, list[int]]:
    """float64 values of a text column and the indices of cells that are not numbers."""
    try:
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False), [
            i for i, v in enumerate(column.is_null().to_pylist()) if v]
    except pa.ArrowInvalid:
        pass
    values, bad = np.full(len(column), np.nan), []
    for i, raw in enumerate(column.to_pylist()):
        try:
            values[i] = float(raw)
        except (TypeError, ValueError):
            bad.append(i)
    return values, bad


def _numbers(csv: Path, name: str, column: pa.ChunkedArray, problems: _Problems) -> np.ndarray:
    """float64 cells of one column; cells that are not numbers are reported and read as NaN."""
    values, bad = _parse_numbers(column)
    raw = column.to_pylist() if bad else []
    for i in bad:
        problems.add(f"{name} not a number", f"{csv} line {i + 2}: {name} is not a number ({raw[i]!r})")
    return values


def _integers(csv: Path, name: str, values: np.ndarray, problems: _Problems) -> np.ndarray:
    """int64 cells; fractional ones are reported, and they and NaN read as -1."""
    finite = np.isfinite(values)
    whole = finite & (values == np.round(values))
    for i in np.flatnonzero(finite & ~whole):
        problems.add(f"{name} not an integer", f"{csv} line {i + 2}: {name} must be an integer, got {values[i]:g}")
    return np.where(whole, values, -1).astype(np.int64)


def _read_csv(csv: Path, problems: _Problems) -> dict[str, pa.ChunkedArray] | None:
    try:
        # Every column as text: numbers are parsed here so a bad cell becomes a line number, not a crash.
        types = dict.fromkeys((*TRAIN_COLUMNS, *TEST_COLUMNS), pa.string())
        table = pcsv.read_csv(csv, convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    except (OSError, pa.ArrowException) as exc:
        problems.add("csv", f"{csv}: not a readable CSV file ({exc})")
        return None
    return {name: table.column(name) for name in table.column_names}


def _check_rows(csv: Path, split: str, columns: dict[str, pa.ChunkedArray], problems: _Problems) -> dict:
    """Parse and check the columns that are present; missing ones were reported by the caller."""
    n = len(columns["eeg_id"])
    if n == 0:
        problems.add("empty", f"{csv}: has no rows")
    numbers = {name: _numbers(csv, name, col, problems) for name, col in columns.items() if name != "expert_consensus"}
    out: dict = {"n": n}
    for name in ("eeg_id", "eeg_sub_id", "spectrogram_id", "label_id", "patient_id"):
        if name in numbers:
            out[name] = _integers(csv, name, numbers[name], problems)
    if split == "test":
        return out
    if "eeg_label_offset_seconds" in numbers:
        offsets = numbers["eeg_label_offset_seconds"]
        for i in np.flatnonzero(offsets < 0):
            problems.add("negative offset",
                         f"{csv} line {i + 2}: eeg_label_offset_seconds is negative ({offsets[i]:g})")
        out["offsets_s"] = np.where(np.isfinite(offsets), offsets, 0.0).clip(0)
    if all(name in numbers for name in VOTE_COLUMNS):
        raw = np.stack([numbers[name] for name in VOTE_COLUMNS], axis=1)
        votes = np.stack([_integers(csv, name, numbers[name], problems) for name in VOTE_COLUMNS], axis=1)
        for i, j in zip(*np.nonzero(raw < 0), strict=True):
            problems.add("negative votes", f"{csv} line {i + 2}: {VOTE_COLUMNS[j]} is negative ({raw[i, j]:g})")
        for i in np.flatnonzero(votes.clip(0).sum(axis=1) == 0):
            problems.add("zero votes", f"{csv} line {i + 2}: the row has zero total votes (soft target undefined)")
        out["votes"] = votes.clip(0).astype(np.int32)
    if "label_id" in out:
        ids, counts = np.unique(out["label_id"], return_counts=True)
        for label_id in ids[(counts > 1) & (ids >= 0)]:
            problems.add("duplicate label_id", f"{csv}: label_id {label_id} appears on more than one row")
    return out


def _check_files(data_dir: Path, split: str, rows: dict, problems: _Problems) -> np.ndarray:
    folder = eeg_dir(data_dir, split)
    samples = np.zeros(rows["n"], dtype=np.int64)
    if not folder.is_dir():
        problems.add("eeg dir", f"{folder}: EEG folder is missing (expected one <eeg_id>.parquet per eeg_id)")
        return samples
    offsets = rows.get("offsets_s", np.zeros(rows["n"]))
    csv = csv_path(data_dir, split)
    for where in group_rows(rows["eeg_id"]):
        eeg_id = rows["eeg_id"][where[0]]
        if eeg_id < 0:
            continue  # already reported as a bad cell
        path = eeg_path(data_dir, split, eeg_id)
        if not path.is_file():
            problems.add("missing parquet", f"{path}: missing (eeg_id {eeg_id}, {len(where)} row(s) of {csv.name})")
            continue
        length, file_problems = inspect_eeg_file(path)
        for line in file_problems:
            problems.add("parquet", line)
        samples[where] = length
        for i in where:
            need = start_sample(offsets[i]) + WINDOW_SAMPLES
            if not file_problems and need > length:
                problems.add("offset past end",
                             f"{csv} line {i + 2}: eeg_id {eeg_id} offset {offsets[i]:g} s needs {need} samples "
                             f"but {path.name} has {length} ({length / SAMPLE_RATE_HZ:g} s)")
    return samples


def _inspect(data_dir: Path, split: str) -> tuple[list[str], HmsTable | None]:
    data_dir = Path(data_dir)
    problems = _Problems()
    csv = csv_path(data_dir, split)
    if not data_dir.is_dir():
        return [f"{data_dir}: data directory does not exist"], None
    if not csv.is_file():
        return [f"{csv}: missing (a Kaggle HMS layout has {csv.name} next to {eeg_dir(data_dir, split).name}/)"], None
    columns = _read_csv(csv, problems)
    if columns is None:
        return problems.finish(), None
    columns = {name: columns[name] for name in required_columns(split) if name in columns}
    missing = [c for c in required_columns(split) if c not in columns]
    for name in missing:
        problems.add("missing column", f"{csv}: missing column {name}")
    if "eeg_id" not in columns:
        return problems.finish(), None
    # Keep checking what is there, so a user sees every problem in one run.
    rows = _check_rows(csv, split, columns, problems)
    samples = _check_files(data_dir, split, rows, problems)
    lines = problems.finish()
    if lines:
        return lines, None
    n = rows["n"]
    table = HmsTable(
        data_dir=data_dir, split=split, eeg_ids=rows["eeg_id"],
        eeg_sub_ids=rows.get("eeg_sub_id", np.zeros(n, dtype=np.int64)),
        offsets_s=rows.get("offsets_s", np.zeros(n)).astype(np.float64),
        spectrogram_ids=rows["spectrogram_id"],
        label_ids=rows.get("label_id", np.full(n, -1, dtype=np.int64)),
        patient_ids=rows["patient_id"], votes=rows.get("votes"), eeg_samples=samples,
    )
    return [], table


def validate_layout(data_dir: Path, split: str = "train") -> list[str]:
    """Every problem of a Kaggle-layout directory, one clear line each; an empty list means valid."""
    return _inspect(data_dir, split)[0]


def load_table(data_dir: Path, split: str = "train") -> HmsTable:
    """The split's table, or DataError whose message is every problem line joined by newlines."""
    problems, table = _inspect(data_dir, split)
    if problems:
        raise DataError("\n".join(problems))
    assert table is not None
    return table
