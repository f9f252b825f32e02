"""Unlabelled real EEG cut into model windows, for BatchNorm adaptation to real recordings (`[adapt]`).

The models learn from synthetic EEG; their BatchNorm statistics are those of synthetic windows. Re-estimating
them over a mix of synthetic windows and windows of real recordings nobody labelled (AdaBN, Li et al. 2016)
moves the normalisation toward real amplitudes and spectra without a single real label. Files are read like
synthetic backgrounds (train.synth.real_background: channel map, 200 Hz, median removed), so the eegmat
false-alarm subjects 18-23 are left out here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.contract import SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.errors import DataError
from train.synth.real_background import background_files, load_background


@dataclass(frozen=True, eq=False)
class UnlabelledWindows:
    """Every 50 s window every ``stride`` samples of each recording, as views: overlapping windows share the
    recording's memory (eegmat 00-17 at a 10 s stride: 70 MB of recordings, not 230 MB of copies)."""

    recordings: tuple[np.ndarray, ...]  # [20, samples] float32 uV each
    starts: np.ndarray  # [N, 2]: (recording, first sample) of each window
    files: int
    held_out: int  # files left out (eegmat subjects 18-23)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> np.ndarray:
        """Window ``k``, [20, WINDOW_SAMPLES] float32 uV (a view: copy before writing to it)."""
        recording, start = self.starts[k]
        return self.recordings[recording][:, start:start + WINDOW_SAMPLES]

    def summary(self) -> dict[str, int]:
        return {"windows": len(self), "files": self.files, "held_out_files": self.held_out}


def unlabelled_windows(folder: str | Path, *, stride_s: float) -> UnlabelledWindows:
    """Every 50 s window every ``stride_s`` seconds of each usable recording in ``folder``."""
    usable, held = background_files(Path(folder), option="--unlabelled")
    stride = max(round(stride_s * SAMPLE_RATE_HZ), 1)
    recordings = tuple(load_background(path) for path in usable)
    starts = np.array([(i, start) for i, signals in enumerate(recordings)
                       for start in range(0, signals.shape[1] - WINDOW_SAMPLES + 1, stride)], dtype=np.int64)
    if not len(starts):
        raise DataError(f"--unlabelled {folder}: no recording is at least "
                        f"{WINDOW_SAMPLES / SAMPLE_RATE_HZ:g} s long; add longer recordings or leave it empty")
    return UnlabelledWindows(recordings, starts.reshape(-1, 2), len(usable), len(held))
