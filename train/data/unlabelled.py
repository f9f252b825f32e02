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
    windows: np.ndarray  # [N, 20, WINDOW_SAMPLES] float32 uV
    files: int
    held_out: int  # files left out (eegmat subjects 18-23)

    def summary(self) -> dict[str, int]:
        return {"windows": len(self.windows), "files": self.files, "held_out_files": self.held_out}


def unlabelled_windows(folder: str | Path, *, stride_s: float) -> UnlabelledWindows:
    """Every 50 s window every ``stride_s`` seconds of each usable recording in ``folder``."""
    usable, held = background_files(Path(folder), option="--unlabelled")
    stride = max(round(stride_s * SAMPLE_RATE_HZ), 1)
    windows = []
    for path in usable:
        signals = load_background(path)
        windows.extend(signals[:, start:start + WINDOW_SAMPLES]
                       for start in range(0, signals.shape[1] - WINDOW_SAMPLES + 1, stride))
    if not windows:
        raise DataError(f"--unlabelled {folder}: no recording is at least "
                        f"{WINDOW_SAMPLES / SAMPLE_RATE_HZ:g} s long; add longer recordings or leave it empty")
    return UnlabelledWindows(np.stack(windows).astype(np.float32), len(usable), len(held))
