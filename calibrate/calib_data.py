"""Which real windows calibrate the quantizer and which ones check parity, and a reader that feeds them.

Calibration windows are stratified by class (argmax of the soft targets): classes are taken in turn,
so rare patterns (seizure, lpd) shape the activation ranges as much as common ones. Parity windows
come from patients whose windows were not used for calibration, so the int8 graph is judged on data
its ranges were not fitted to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from edge.errors import DataError


class WindowSource(Protocol):
    """What calibrate needs from train.data's WindowSet."""

    targets: np.ndarray
    patient_ids: np.ndarray

    def window(self, index: int) -> np.ndarray: ...


def stratified_indices(targets: np.ndarray, count: int, seed: int = 0,
                       *, candidates: Sequence[int] | np.ndarray | None = None,
                       accept: Callable[[int], bool] | None = None) -> np.ndarray:
    """``count`` window indices, classes (argmax of targets) taken in turn, each class in random order; with
    ``accept``, a window it refuses (the bedside gate: calibrate.bedside_gate) is skipped for the next one."""
    pool = np.arange(len(targets)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    if count <= 0:
        raise DataError(f"number of windows must be > 0, got {count}")
    if len(pool) == 0:
        raise DataError("no windows to choose from; check the data directory")
    rng = np.random.default_rng(seed)
    labels = np.asarray(targets)[pool].argmax(axis=1)
    queues = [list(rng.permutation(pool[labels == c])) for c in np.unique(labels)]
    chosen: list[int] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            while queue and len(chosen) < count:
                index = int(queue.pop())
                if accept is None or accept(index):
                    chosen.append(index)
                    break
    return np.sort(np.asarray(chosen, dtype=np.int64))


def split_by_patient(patient_ids: np.ndarray, holdout_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(calibration pool, held-out pool) of window indices with no patient in both."""
    if not 0 < holdout_fraction < 1:
        raise DataError(f"holdout fraction must be in (0, 1), got {holdout_fraction}")
    patients = np.unique(patient_ids)
    if len(patients) < 2:
        raise DataError(f"need windows from at least 2 patients to hold some out, got {len(patients)}")
    rng = np.random.default_rng(seed)
    n_holdout = min(len(patients) - 1, max(1, round(len(patients) * holdout_fraction)))
    held = rng.permutation(patients)[:n_holdout]
    is_held = np.isin(patient_ids, held)
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def load_windows(source: WindowSource, indices: np.ndarray) -> np.ndarray:
    """[len(indices), channels, samples] float32 array of the chosen windows."""
    return np.stack([np.asarray(source.window(int(i)), dtype=np.float32) for i in indices])


class WindowBatchReader(CalibrationDataReader):
    """Feeds the chosen windows to onnxruntime's calibrator, ``batch`` at a time, loading each batch lazily."""

    def __init__(self, source: WindowSource, indices: np.ndarray, input_name: str, batch: int = 16) -> None:
        if batch <= 0:
            raise DataError(f"calibration batch must be > 0, got {batch}")
        self._source = source
        self._batches = [indices[i:i + batch] for i in range(0, len(indices), batch)]
        self._input_name = input_name
        self._position = 0
        self.window_count = len(indices)

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._position >= len(self._batches):
            return None
        batch = self._batches[self._position]
        self._position += 1
        return {self._input_name: load_windows(self._source, batch)}

    def rewind(self) -> None:
        self._position = 0

    def __len__(self) -> int:
        return len(self._batches)
