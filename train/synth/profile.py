"""The shape of the real Kaggle HMS train set, for `train synth --profile hms`: how many EEGs, rows and
patients, how long the recordings are and where their labelled windows lie.

Kaggle publishes the totals (17,089 EEGs, 106,800 rows, 1,950 patients; offsets up to about 3,400 s,
recordings from 50 s to about an hour). The per-recording distributions are not in the shared data, so
they are modelled heavy-tailed to match those totals: most recordings carry a few rows, a few carry
hundreds; rows come in runs of overlapping windows a few seconds apart (Kaggle's sub-windows), runs are
separated by long gaps. docs/synthetic-data.md "HMS-shaped profile" lists the resulting statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.contract import SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.errors import DataError

HMS_EEGS, HMS_ROWS, HMS_PATIENTS = 17_089, 106_800, 1_950
WINDOW_S = WINDOW_SAMPLES // SAMPLE_RATE_HZ
MAX_OFFSET_S = 3_372  # the largest eeg_label_offset_seconds in Kaggle's train.csv
MAX_RECORDING_S = 3_600
MAX_ROWS_PER_EEG = 1_000
ROWS_SIGMA = 1.3  # log-normal spread of rows per recording (mean fixed by the totals)
PATIENT_SIGMA = 1.0  # log-normal spread of recordings per patient
RUN_BREAK_P = 0.15  # chance that the next row starts a new run after a long gap
STEP_MEAN_S = 6.0  # mean step between consecutive rows of a run (2 s grid)
GAP_MEDIAN_S = 120.0


@dataclass(frozen=True)
class ShapePlan:
    seconds: np.ndarray  # [E] int64 recording length
    offsets_s: list[np.ndarray]  # per recording: labelled window offsets (sorted, 2 s grid)
    patient_of_eeg: np.ndarray  # [E] int64 index into the patients

    @property
    def rows(self) -> int:
        return sum(len(o) for o in self.offsets_s)


def scaled_counts(scale: float) -> tuple[int, int, int]:
    """(EEGs, rows, patients) of the HMS train set times ``scale`` (rows per EEG and EEGs per patient kept)."""
    if not 0 < scale <= 1:
        raise DataError(f"--scale must be in (0, 1], got {scale}")
    eegs = max(1, round(HMS_EEGS * scale))
    return eegs, max(eegs, round(HMS_ROWS * scale)), max(1, min(eegs, round(HMS_PATIENTS * scale)))


def _rows_per_eeg(rng: np.random.Generator, eegs: int, rows: int) -> np.ndarray:
    """Heavy-tailed counts >= 1 summing exactly to ``rows``."""
    mean_extra = (rows - eegs) / eegs  # rows beyond the first, per recording
    mu = np.log(max(mean_extra, 1e-6)) - ROWS_SIGMA**2 / 2
    counts = 1 + np.minimum(np.floor(rng.lognormal(mu, ROWS_SIGMA, eegs)), MAX_ROWS_PER_EEG - 1).astype(np.int64)
    while (diff := rows - int(counts.sum())) != 0:  # add or remove single rows at random recordings
        pick = rng.integers(0, eegs, abs(diff))
        np.add.at(counts, pick, np.sign(diff))
        counts = np.clip(counts, 1, MAX_ROWS_PER_EEG)
    return counts


def _offsets(rng: np.random.Generator, count: int) -> np.ndarray:
    """Runs of rows a few seconds apart, separated by long gaps, within MAX_OFFSET_S."""
    steps = np.where(rng.random(count - 1) < RUN_BREAK_P, rng.lognormal(np.log(GAP_MEDIAN_S), 1.0, count - 1),
                     2 * rng.geometric(2 / STEP_MEAN_S, count - 1))
    first = 0.0 if rng.random() < 0.5 else rng.lognormal(np.log(30), 1.0)
    span = first + steps.sum()
    if span > MAX_OFFSET_S:  # squeeze the gaps, keep the 2 s grid
        first, steps = first * MAX_OFFSET_S / span, steps * MAX_OFFSET_S / span
    offsets = np.concatenate([[first], first + np.cumsum(np.maximum(2.0, 2 * np.floor(steps / 2)))])
    return np.minimum(2 * np.floor(offsets / 2), MAX_OFFSET_S)


def hms_shape(rng: np.random.Generator, scale: float = 1.0) -> ShapePlan:
    eegs, rows, patients = scaled_counts(scale)
    counts = _rows_per_eeg(rng, eegs, rows)
    offsets = [np.unique(_offsets(rng, int(k))) for k in counts]
    # np.unique can merge offsets squeezed onto one grid point: put the lost rows back as distinct offsets.
    for i, k in enumerate(counts):
        missing = int(k) - len(offsets[i])
        if missing:
            free = np.setdiff1d(np.arange(0, MAX_OFFSET_S + 1, 2, dtype=np.float64), offsets[i])
            offsets[i] = np.sort(np.concatenate([offsets[i], free[:missing]]))
    tail = np.where(rng.random(eegs) < 0.5, 0.0, rng.lognormal(np.log(20), 1.0, eegs))  # unlabelled end
    seconds = np.array([min(MAX_RECORDING_S, int(o[-1] + WINDOW_S + t)) for o, t in zip(offsets, tail, strict=True)])
    seconds = np.maximum(seconds, [int(o[-1]) + WINDOW_S for o in offsets])
    weights = rng.lognormal(0, PATIENT_SIGMA, patients)
    extra = rng.choice(patients, size=eegs - patients, p=weights / weights.sum())
    patient_of_eeg = rng.permutation(np.concatenate([np.arange(patients), extra])).astype(np.int64)
    return ShapePlan(seconds=seconds.astype(np.int64), offsets_s=offsets, patient_of_eeg=patient_of_eeg)


def shape_statistics(plan: ShapePlan) -> dict[str, float]:
    """The figures docs/synthetic-data.md reports for a plan."""
    rows = np.array([len(o) for o in plan.offsets_s])
    per_patient = np.bincount(plan.patient_of_eeg)
    span = np.array([o[-1] for o in plan.offsets_s])
    overlapping = sum(int((np.diff(o) < WINDOW_S).sum()) for o in plan.offsets_s)
    return {
        "eegs": len(rows), "rows": int(rows.sum()), "patients": int((per_patient > 0).sum()),
        "rows_per_eeg_median": float(np.median(rows)), "rows_per_eeg_p90": float(np.percentile(rows, 90)),
        "rows_per_eeg_max": int(rows.max()), "eegs_with_one_row": float((rows == 1).mean()),
        "seconds_median": float(np.median(plan.seconds)), "seconds_p90": float(np.percentile(plan.seconds, 90)),
        "seconds_max": int(plan.seconds.max()), "max_offset_s": float(span.max()),
        "rows_overlapping_previous": overlapping / max(1, int(rows.sum()) - len(rows)),
        "eegs_per_patient_median": float(np.median(per_patient)), "eegs_per_patient_max": int(per_patient.max()),
        "hours_of_signal": float(plan.seconds.sum() / 3600),
    }
