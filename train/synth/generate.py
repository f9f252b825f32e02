"""Synthetic HMS datasets: patients, recordings with one IIIC pattern each, votes, Kaggle layout on disk."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.contract import CLASSES, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.errors import DataError
from train.data.columns import eeg_path
from train.data.spectrogram import compute_spectrogram, spectrogram_ids, spectrogram_path, write_spectrogram_parquet
from train.data.writer import train_columns, write_csv, write_eeg_parquet
from train.synth import votes
from train.synth.artifacts import add_artifacts, ecg
from train.synth.background import Patient, background, draw_patient
from train.synth.evaluation_set import check_seed
from train.synth.evaluation_set import mark as mark_evaluation_set
from train.synth.head import N_EEG
from train.synth.patterns import periodic_discharges, rhythmic_delta, seizure
from train.synth.profile import ShapePlan, hms_shape, scaled_counts
from train.synth.real_background import BackgroundSource, background_files, subject_sources

WINDOW_S = WINDOW_SAMPLES // SAMPLE_RATE_HZ
LABEL_CENTRE_S = WINDOW_S / 2  # the labelled 10 s is the centre of each 50 s window
OFFSET_STEP_S = 2  # Kaggle sub-window offsets fall on a 2 s grid
OTHER_ARTIFACT_INTENSITY = 3.0
PATIENT_CLASS_LOYALTY = 0.5  # share of a patient's recordings that show the patient's own pattern
NAN_FILE_P = 0.05
PATTERN_EDGE_P = 0.5  # share of pattern edges inside the recording (pattern_span)
OTHER = CLASSES.index("other")
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)
PROFILES = ("default", "hms")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise DataError(f"--profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    return profile


@dataclass(frozen=True)
class SynthConfig:
    n_eegs: int
    n_patients: int = 0  # 0: one patient per 4 EEGs
    seed: int = 0
    n_test: int = 0  # 0: one test EEG per 50 train EEGs, at least 2
    min_seconds: int = 50
    max_seconds: int = 90
    # "hms": the shape of Kaggle's train set times `scale` (train.synth.profile); n_eegs, n_patients and
    # the recording lengths then come from the profile, not from the fields above.
    profile: str = "default"
    scale: float = 1.0
    background_dir: Path | None = None  # real EEG files to draw backgrounds from (train.synth.real_background)
    background_share: float = 0.5  # share of patients whose recordings get a real background
    spectrograms: bool = True  # also write <split>_spectrograms/ in Kaggle's format (train/data/spectrogram.py)
    evaluation: bool = False  # an evaluation set (train.synth.evaluation_set): marked, evaluation seed, held-out people

    @classmethod
    def hms(cls, scale: float = 1.0, seed: int = 0, **kwargs) -> SynthConfig:
        eegs, _, patients = scaled_counts(scale)
        return cls(n_eegs=eegs, n_patients=patients, seed=seed, profile="hms", scale=scale, **kwargs)

    def validate(self) -> SynthConfig:
        check_profile(self.profile)
        check_seed(self.seed, evaluation=self.evaluation)
        if not 0 <= self.background_share <= 1:
            raise DataError(f"--background-share must be in [0, 1], got {self.background_share}")
        if self.n_eegs < 1:
            raise DataError(f"--eegs must be >= 1, got {self.n_eegs}")
        if self.n_patients < 0 or self.n_patients > self.n_eegs:
            raise DataError(f"--patients must be between 1 and --eegs ({self.n_eegs}), got {self.n_patients}")
        if not WINDOW_S <= self.min_seconds <= self.max_seconds:
            raise DataError(f"recordings must be {WINDOW_S} s or longer, got {self.min_seconds}-{self.max_seconds} s")
        return self

    @property
    def patients(self) -> int:
        return self.n_patients or max(1, self.n_eegs // 4)

    @property
    def tests(self) -> int:
        return self.n_test or max(2, self.n_eegs // 50)


@dataclass(frozen=True)
class SynthSummary:
    out: Path
    n_eegs: int
    n_rows: int
    n_patients: int
    n_test: int
    class_counts: dict[str, int]  # true pattern per EEG
    seconds: float


def _pattern(rng: np.random.Generator, name: str, n: int, onset: float, offset: float,
             strength: float) -> np.ndarray | None:
    """The class's [19, n] pattern field, or None for "other"."""
    if name == "seizure":
        return seizure(rng, n, onset, offset_s=offset, strength=strength)
    if name in ("lpd", "gpd"):
        return periodic_discharges(rng, n, onset, offset_s=offset, strength=strength, generalised=name == "gpd")
    if name in ("lrda", "grda"):
        return rhythmic_delta(rng, n, onset, offset_s=offset, strength=strength, generalised=name == "grda")
    return None


def pattern_span(rng: np.random.Generator, offsets_s: np.ndarray, *, seconds: int) -> tuple[float, float]:
    """(onset, offset) in seconds of a recording's pattern around its labelled centres.

    Each edge independently: with ``PATTERN_EDGE_P`` it lies 7-25 s beyond the outermost labelled centre (the
    windows show the pattern start or end), otherwise 0-30 s beyond the recording's edge. Real IIIC patterns
    often last minutes and fill every window of a 50 s segment; a generator whose patterns always started
    and ended inside the recording taught a causal (L = 0) model to look for the start, and it gave the two
    real 3/3-vote seizures p(seizure) 0.01 (docs/experiments/2026-12-causal-model.md).
    """
    first, last = offsets_s.min() + LABEL_CENTRE_S, offsets_s.max() + LABEL_CENTRE_S
    onset = first - 5 - rng.uniform(2, 20) if rng.random() < PATTERN_EDGE_P else -rng.uniform(0, 30)
    offset = last + 5 + rng.uniform(2, 20) if rng.random() < PATTERN_EDGE_P else seconds + rng.uniform(0, 30)
    return onset, offset


def synth_recording(rng: np.random.Generator, patient: Patient, label: int, *, seconds: int, offsets_s: np.ndarray,
                    strength: float, rival: int = OTHER, rival_weight: float = 0.0,
                    background_source: BackgroundSource | None = None) -> np.ndarray:
    """[20, seconds * 200] float32 uV: background + the class's pattern around every labelled centre + artifacts.

    The background is the patient's model EEG, or excerpts of real EEG from ``background_source`` (its 19
    electrodes; the EKG channel stays synthetic). Patterns and artifacts are added at the same amplitudes
    either way: they were calibrated against real recordings, not against the model background.

    ``rival`` is the class raters chose instead of ``label``, with weight w in [0, 1] (votes.rival):
    a rival pattern is added at min(1, 2w) of full strength and the true one kept at min(1, 2(1 - w)),
    so an even split shows both; a rival "other" fades the true pattern to (1 - w).
    """
    n = seconds * SAMPLE_RATE_HZ
    name, rival_name = CLASSES[label], CLASSES[rival]
    # Periodic discharges mostly ride on an attenuated background (severe encephalopathy, anoxia).
    scale = rng.uniform(0.3, 1.0) if name in ("lpd", "gpd") else 1.0
    eeg = background(rng, patient, n, scale=scale) if background_source is None else \
        scale * background_source.draw(rng, n)[:N_EEG]
    onset, offset = pattern_span(rng, offsets_s, seconds=seconds)
    own = strength * (1 - rival_weight if rival_name == "other" else min(1.0, 2 * (1 - rival_weight)))
    patterns = [_pattern(rng, name, n, onset, offset, own)]
    if rival_weight > 0:
        patterns.append(_pattern(rng, rival_name, n, onset, offset, strength * min(1.0, 2 * rival_weight)))
    for pattern in patterns:
        if pattern is not None:
            eeg += pattern
    ekg, r_peaks = ecg(rng, patient, n)
    add_artifacts(rng, eeg, patient, r_peaks=r_peaks, intensity=OTHER_ARTIFACT_INTENSITY if name == "other" else 1.0)
    return np.vstack([eeg, ekg[None, :]]).astype(np.float32)


def _nan_stretches(rng: np.random.Generator, signals: np.ndarray) -> None:
    """Real HMS files hold NaN runs on all channels (recording gaps): 1-3 runs of 0.5-10 s."""
    n = signals.shape[1]
    for _ in range(rng.integers(1, 4)):
        length = int(rng.uniform(0.5, 10) * SAMPLE_RATE_HZ)
        start = rng.integers(0, max(1, n - length))
        signals[:, start:start + length] = np.nan


def _unique_ids(rng: np.random.Generator, count: int, low: int, high: int) -> np.ndarray:
    ids = np.unique(rng.integers(low, high, size=count * 2))
    return rng.permutation(ids)[:count].astype(np.int64)


def _offsets(rng: np.random.Generator, seconds: int) -> np.ndarray:
    grid = np.arange(0, seconds - WINDOW_S + 1, OFFSET_STEP_S, dtype=np.float64)
    count = rng.integers(1, min(5, len(grid)) + 1)
    return np.sort(rng.choice(grid, size=count, replace=False))


@dataclass(frozen=True)
class _RecordingJob:
    """Everything one worker needs to write one recording; its own seed keeps output worker-independent."""

    path: Path
    patient: Patient
    label: int
    seconds: int
    offsets_s: np.ndarray
    strength: float
    rival: int
    rival_weight: float
    seed: np.random.SeedSequence
    gaps: bool  # write NaN runs (train files only)
    background: BackgroundSource | None = None
    spectrogram: Path | None = None  # also write the Kaggle spectrogram of the recording here


def _write_recording(job: _RecordingJob) -> None:
    rng = np.random.default_rng(job.seed)
    signals = synth_recording(rng, job.patient, job.label, seconds=job.seconds, offsets_s=job.offsets_s,
                              strength=job.strength,
                              rival=job.rival, rival_weight=job.rival_weight, background_source=job.background)
    if job.gaps and rng.random() < NAN_FILE_P:
        _nan_stretches(rng, signals)
    write_eeg_parquet(job.path, signals)
    if job.spectrogram is not None:
        write_spectrogram_parquet(job.spectrogram, *compute_spectrogram(signals))


def _spectrogram_path(config: SynthConfig, out: Path, split: str, eeg_id: int) -> Path | None:
    if not config.spectrograms:
        return None
    return spectrogram_path(out, split, int(spectrogram_ids(np.array([eeg_id]))[0]))


def _recording_plan(rng: np.random.Generator, config: SynthConfig, shape: ShapePlan | None,
                    i: int) -> tuple[int, np.ndarray]:
    """(seconds, labelled offsets) of train recording i: from the HMS shape, or 50-90 s with 1-5 windows."""
    if shape is not None:
        return int(shape.seconds[i]), shape.offsets_s[i]
    seconds = int(rng.integers(config.min_seconds, config.max_seconds + 1))
    return seconds, _offsets(rng, seconds)


def _background_sources(rng: np.random.Generator, config: SynthConfig) -> dict[int, BackgroundSource]:
    """Patient index -> the real subject whose EEG is its background, for ``background_share`` of patients."""
    if config.background_dir is None:
        return {}
    usable, _ = background_files(config.background_dir, evaluation=config.evaluation)
    subjects = subject_sources(usable, evaluation=config.evaluation)
    chosen = np.flatnonzero(rng.random(config.patients + config.tests) < config.background_share)
    return {int(p): subjects[int(rng.integers(len(subjects)))] for p in chosen}


def generate_dataset(out: Path, config: SynthConfig, workers: int = DEFAULT_WORKERS) -> SynthSummary:
    """Write train.csv + train_eegs/ and test.csv + test_eegs/ under ``out`` in the Kaggle layout.

    The labels, votes and recording plans are drawn here; the signals are drawn and written by
    ``workers`` processes, each recording from its own spawned seed (same seed, same bytes).
    """
    config.validate()
    if any((Path(out) / name).exists() for name in ("train.csv", "train_eegs", "test.csv", "test_eegs",
                                                  "train_spectrograms", "test_spectrograms")):
        raise DataError(f"{out} already holds a dataset; write to a new directory (old recordings would linger)")
    started = time.perf_counter()
    # The shape and the backgrounds draw from their own streams: the same seed gives the same patients,
    # classes and votes with or without them (only the signal differs), so runs compare like for like.
    shape = hms_shape(np.random.default_rng([config.seed, 1]), config.scale) if config.profile == "hms" else None
    sources = _background_sources(np.random.default_rng([config.seed, 2]), config)
    if config.evaluation:  # before any recording, so even a partial set is never trained on
        mark_evaluation_set(out)
    rng = np.random.default_rng(config.seed)
    patient_ids = _unique_ids(rng, config.patients + config.tests, 10_000, 99_999)
    patients = [draw_patient(rng, int(pid)) for pid in patient_ids]
    high = votes.draw_population(rng, config.n_eegs)
    own_class = votes.draw_classes(rng, votes.draw_population(rng, len(patients)))
    which = rng.integers(0, config.patients, config.n_eegs)
    if shape is not None:
        which = shape.patient_of_eeg
    loyal = rng.random(config.n_eegs) < PATIENT_CLASS_LOYALTY
    labels = np.where(loyal, own_class[which], votes.draw_classes(rng, high))
    eeg_ids = _unique_ids(rng, config.n_eegs + config.tests, 1_000_000, 4_290_000_000)
    strength = np.where(labels == OTHER, 1.0, rng.beta(4, 2, config.n_eegs))
    shares = votes.draw_shares(rng, labels, high, strength=strength)
    eeg_votes = votes.draw_counts(rng, shares, high)
    rivals, rival_weights = votes.rival(shares, labels)
    seeds = np.random.SeedSequence(config.seed).spawn(config.n_eegs + config.tests)

    jobs: list[_RecordingJob] = []
    rows: dict[str, list] = {"eeg_id": [], "offset": [], "patient": [], "votes": []}
    for i in range(config.n_eegs):
        seconds, offsets = _recording_plan(rng, config, shape, i)
        jobs.append(_RecordingJob(eeg_path(out, "train", eeg_ids[i]), patients[which[i]], int(labels[i]), seconds,
                                  offsets, float(strength[i]), int(rivals[i]), float(rival_weights[i]), seeds[i],
                                  gaps=True, background=sources.get(int(which[i])),
                                  spectrogram=_spectrogram_path(config, out, "train", eeg_ids[i])))
        # Raters mostly gave every sub-window of a recording the same votes; some got a fresh panel,
        # which votes from the same rater distribution (it sees the same EEG).
        redraw = rng.random(len(offsets)) < 0.2
        fresh = votes.draw_counts(rng, np.repeat(shares[i:i + 1], len(offsets), axis=0),
                                  np.full(len(offsets), high[i]))
        rows["votes"].extend(np.where(redraw[:, None], fresh, eeg_votes[i]))
        rows["eeg_id"].extend([eeg_ids[i]] * len(offsets))
        rows["offset"].extend(offsets)
        rows["patient"].extend([patients[which[i]].patient_id] * len(offsets))
    test_ids = eeg_ids[config.n_eegs:]
    test_patients = patients[config.patients:]
    test_labels = votes.draw_classes(rng, votes.draw_population(rng, config.tests))
    for k, (eeg_id, patient, label) in enumerate(zip(test_ids, test_patients, test_labels, strict=True)):
        jobs.append(_RecordingJob(eeg_path(out, "test", eeg_id), patient, int(label), WINDOW_S, np.zeros(1),
                                  float(rng.beta(4, 2)), OTHER, 0.0, seeds[config.n_eegs + k], gaps=False,
                                  background=sources.get(config.patients + k),
                                  spectrogram=_spectrogram_path(config, out, "test", eeg_id)))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_recording, jobs, chunksize=8))
    else:
        for job in jobs:
            _write_recording(job)

    label_ids = _unique_ids(rng, len(rows["eeg_id"]), 10_000_000, 4_290_000_000)
    write_csv(out, "train", train_columns(np.array(rows["eeg_id"]), np.array(rows["offset"]),
                                          np.array(rows["patient"]), votes=np.array(rows["votes"]),
                                          label_ids=label_ids))
    write_csv(out, "test", {"spectrogram_id": spectrogram_ids(test_ids), "eeg_id": test_ids,
                            "patient_id": np.array([p.patient_id for p in test_patients])})
    return SynthSummary(out=Path(out), n_eegs=config.n_eegs, n_rows=len(rows["eeg_id"]),
                        n_patients=config.patients, n_test=config.tests,
                        class_counts={c: int((labels == k).sum()) for k, c in enumerate(CLASSES)},
                        seconds=time.perf_counter() - started)
