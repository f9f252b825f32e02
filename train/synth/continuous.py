"""Long continuous test recordings with annotated events (`train synth --continuous HOURS`).

Each recording (an hour by default) is one patient's background, synthetic (train.synth.background) or
excerpts of real EEG (train.synth.real_background; these recordings are scored, never trained on, so their real
backgrounds are eegmat subjects 18-23 only, people no model trained on), with events placed apart from each other:
seizures of 10 s to 10 min (log-uniform; evolving frequency, amplitude and extent: patterns.seizure),
IIIC stretches (LPD, GPD, LRDA, GRDA), movement artifacts and electrode-off periods, plus the everyday
artifacts of the training generator (blinks, muscle, chewing, pops) throughout. Written as EDF and
Kaggle-layout parquet, with events.csv (file, onset_s, offset_s, label) for `edge evaluate`.

The harder set (`--hard`, HARD) adds what a bedside monitor finds hard: brief seizures (10-30 s), long
ones (5-10 min), clusters (seizures 20-59 s apart: SzCORE merges them into one event), IIIC stretches
right after a seizure (post-ictal LPD/LRDA: alarms there are false), and one multi-hour stream per patient.
Seeds from EVAL_SEED_START on are reserved for evaluation: `train synth` refuses them for training sets.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config_io import require_field
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.errors import DataError
from train.data.writer import write_eeg_parquet
from train.synth.artifacts import add_artifacts, ecg
from train.synth.background import Patient, background, draw_patient
from train.synth.evaluation_set import EVAL_SEED_START
from train.synth.head import N_EEG
from train.synth.patterns import periodic_discharges, rhythmic_delta, seizure
from train.synth.real_background import BackgroundSource, background_files, subject_sources

EVENTS_FILE = "events.csv"
IIIC = ("lpd", "gpd", "lrda", "grda")
# (shortest, longest) seconds per event kind; seizures are drawn log-uniform, the others uniform
SEIZURE_S, IIIC_S, ARTIFACT_S, ELECTRODE_OFF_S = (10.0, 600.0), (30.0, 300.0), (5.0, 40.0), (10.0, 120.0)
BRIEF_S, LONG_S = (10.0, 30.0), (300.0, 600.0)
CLUSTER_GAP_S = (20.0, 59.0)  # between the seizures of a cluster
POST_ICTAL_GAP_S = (0.0, 20.0)  # from a seizure's end to the IIIC stretch that follows it
MIN_SPACING_S = 60.0  # between events (or clusters), and from the ends of a recording
ARTIFACT_BLOCK_S = 60  # everyday artifacts are drawn per block (their channel faults then stay short)
ARTIFACT_PAD_S = 10  # longer than the longest everyday artifact (8 s chewing)


@dataclass(frozen=True)
class ContinuousConfig:
    hours: float
    seed: int = 0
    recording_s: int = 3600
    seizures_per_hour: float = 1.0  # the count per recording is this times its hours, rounded at random
    iiic_per_hour: float = 1.0
    artifacts_per_hour: float = 2.0
    electrode_off_per_hour: float = 1.0
    background_dir: Path | None = None
    # shares of the seizures (each drawn independently): brief (BRIEF_S) or long (LONG_S) instead of
    # log-uniform 10 s - 10 min, the first of a cluster of 2-3, followed by an IIIC stretch
    brief_share: float = 0.0
    long_share: float = 0.0
    cluster_share: float = 0.0
    post_ictal_iiic_share: float = 0.0

    def validate(self) -> ContinuousConfig:
        require_field(self.hours > 0, "--continuous", "must be > 0 hours", value=self.hours)
        require_field(self.recording_s >= 600, "recording_s", "must be >= 600 s", value=self.recording_s)
        for name in ("brief_share", "long_share", "cluster_share", "post_ictal_iiic_share"):
            require_field(0 <= getattr(self, name) <= 1, name, "must be in [0, 1]", value=getattr(self, name))
        require_field(self.brief_share + self.long_share <= 1, "brief_share + long_share", "must be <= 1",
                      value=self.brief_share + self.long_share)
        return self

    @classmethod
    def hard(cls, hours: float, seed: int, **extra) -> ContinuousConfig:
        """The harder evaluation set: 3 h per patient, 1.25 seizure groups per hour, a third brief, a fifth
        long, a quarter clustered, a quarter followed by IIIC. Only from the evaluation seeds."""
        require_field(seed >= EVAL_SEED_START, "--seed", f"must be >= {EVAL_SEED_START} for --hard (the seeds "
                      "reserved for evaluation sets)", value=seed)
        return cls(hours=hours, seed=seed, recording_s=3 * 3600, seizures_per_hour=1.25, brief_share=0.35,
                   long_share=0.2, cluster_share=0.25, post_ictal_iiic_share=0.25, **extra)


@dataclass(frozen=True)
class Event:
    file: str
    onset_s: float
    offset_s: float
    label: str  # "seizure", an IIIC class, "artifact" or "electrode_off"


def _count(rng: np.random.Generator, per_hour: float, seconds: float) -> int:
    expected = per_hour * seconds / 3600
    return int(expected) + int(rng.random() < expected - int(expected))


def _seizure_length(rng: np.random.Generator, config: ContinuousConfig) -> float:
    draw = rng.random() if config.brief_share or config.long_share else 1.0  # the plain set draws as before
    lo, hi = BRIEF_S if draw < config.brief_share else \
        LONG_S if draw < config.brief_share + config.long_share else SEIZURE_S
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _group(rng: np.random.Generator, config: ContinuousConfig, kind: str) -> list[tuple[str, float, float]]:
    """One placed unit as (label, start, end) relative to its start: an event, or a seizure with the
    cluster members and post-ictal IIIC stretch the config asks for."""
    if kind != "seizure":
        lo, hi = {"artifact": ARTIFACT_S, "electrode_off": ELECTRODE_OFF_S}.get(kind, IIIC_S)
        return [(kind, 0.0, rng.uniform(lo, hi))]
    clustered = bool(config.cluster_share) and rng.random() < config.cluster_share
    parts, t = [], 0.0
    for _ in range(int(rng.integers(2, 4)) if clustered else 1):
        length = _seizure_length(rng, config) if not clustered else float(rng.uniform(*BRIEF_S)) * rng.uniform(1, 3)
        parts.append(("seizure", t, t + length))
        t += length + rng.uniform(*CLUSTER_GAP_S)
    if config.post_ictal_iiic_share and rng.random() < config.post_ictal_iiic_share:
        start = parts[-1][2] + rng.uniform(*POST_ICTAL_GAP_S)
        parts.append((str(rng.choice(("lpd", "lrda"))), start, start + rng.uniform(60.0, 180.0)))
    return parts


def plan_events(rng: np.random.Generator, config: ContinuousConfig, seconds: int, *, file: str) -> list[Event]:
    """Non-overlapping events (or groups: a cluster, a seizure and its post-ictal IIIC), at least
    MIN_SPACING_S apart, in random order and at random places."""
    kinds = ["seizure"] * _count(rng, config.seizures_per_hour, seconds)
    kinds += [str(rng.choice(IIIC)) for _ in range(_count(rng, config.iiic_per_hour, seconds))]
    kinds += ["artifact"] * _count(rng, config.artifacts_per_hour, seconds)
    kinds += ["electrode_off"] * _count(rng, config.electrode_off_per_hour, seconds)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    groups = [_group(rng, config, kind) for kind in kinds]
    free = seconds - sum(g[-1][2] for g in groups) - MIN_SPACING_S * (len(kinds) + 1)
    if free < 0:
        raise DataError(f"{len(kinds)} events do not fit in {seconds} s; lower the rates or lengthen recordings")
    gaps = rng.dirichlet(np.ones(len(kinds) + 1)) * free
    events, t = [], 0.0
    for group, gap in zip(groups, gaps, strict=False):
        t += MIN_SPACING_S + gap
        events += [Event(file, round(t + lo, 2), round(t + hi, 2), label) for label, lo, hi in group]
        t += group[-1][2]
    return events


def _local(n: int, event: Event, margin_s: float = 5.0) -> tuple[int, int, float, float]:
    """Sample range around an event and its onset/offset relative to that range."""
    lo = max(0, int((event.onset_s - margin_s) * SAMPLE_RATE_HZ))
    hi = min(n, int((event.offset_s + margin_s) * SAMPLE_RATE_HZ))
    return lo, hi, event.onset_s - lo / SAMPLE_RATE_HZ, event.offset_s - lo / SAMPLE_RATE_HZ


def _add_event(rng: np.random.Generator, eeg: np.ndarray, event: Event) -> None:
    lo, hi, onset, offset = _local(eeg.shape[1], event)
    n = hi - lo
    strength = rng.uniform(0.6, 1.0)
    if event.label == "seizure":
        eeg[:, lo:hi] += seizure(rng, n, onset, offset_s=offset, strength=strength)
    elif event.label in ("lpd", "gpd"):
        eeg[:, lo:hi] += periodic_discharges(rng, n, onset, offset_s=offset, strength=strength,
                                             generalised=event.label == "gpd")
    elif event.label in ("lrda", "grda"):
        eeg[:, lo:hi] += rhythmic_delta(rng, n, onset, offset_s=offset, strength=strength,
                                        generalised=event.label == "grda")
    else:
        a, b = int(event.onset_s * SAMPLE_RATE_HZ), int(event.offset_s * SAMPLE_RATE_HZ)
        if event.label == "artifact":  # head movement: large slow swings on every electrode, uneven
            swing = np.cumsum(rng.standard_normal(b - a))
            swing = (swing - np.linspace(swing[0], swing[-1], b - a)) / (np.abs(swing).max() + 1e-9)
            eeg[:, a:b] += rng.uniform(150, 400) * rng.uniform(0.3, 1.0, N_EEG)[:, None] * swing[None, :]
        else:  # electrode off: a few electrodes (sometimes all) read amplifier noise only (well below 0.5 uV)
            off = np.arange(N_EEG) if rng.random() < 0.3 else rng.choice(N_EEG, rng.integers(1, 5), replace=False)
            eeg[off, a:b] = rng.normal(0, 0.02, (len(off), b - a))


def synth_continuous(rng: np.random.Generator, seconds: int, events: list[Event], *, patient: Patient,
                     background_source: BackgroundSource | None = None) -> np.ndarray:
    """[20, seconds * 200] float32 uV: background, everyday artifacts, then the planned events."""
    n = seconds * SAMPLE_RATE_HZ
    eeg = background(rng, patient, n) if background_source is None else background_source.draw(rng, n)[:N_EEG]
    eeg = eeg.astype(np.float64)
    ekg, r_peaks = ecg(rng, patient, n)
    block, pad = ARTIFACT_BLOCK_S * SAMPLE_RATE_HZ, ARTIFACT_PAD_S * SAMPLE_RATE_HZ
    for start in range(0, n, block):
        # drawn on zeros one pad longer than the block, and added: a burst cut short by the end of the
        # array (whose noise shaping degenerates) falls in the pad, and a channel fault adds to the
        # background instead of replacing it (electrode-off periods are the annotated events)
        peaks = r_peaks[(r_peaks >= start) & (r_peaks < start + block + pad)] - start
        part = np.zeros((N_EEG, block + pad))
        add_artifacts(rng, part, patient, r_peaks=peaks, intensity=1.0)
        eeg[:, start:start + block] += part[:, :min(block, n - start)]
    for event in events:
        _add_event(rng, eeg, event)
    return np.vstack([eeg, ekg[None, :]]).astype(np.float32)


def write_edf(path: Path, signals: np.ndarray) -> None:
    """[20, n] uV at 200 Hz -> EDF with the contract's channel labels."""
    import edfio

    limit = float(np.ceil(np.abs(signals).max() + 1))
    edf_signals = [edfio.EdfSignal(signals[i].astype(np.float64), SAMPLE_RATE_HZ, label=name, physical_dimension="uV",
                                   physical_range=(-limit, limit)) for i, name in enumerate(CHANNELS)]
    edfio.Edf(edf_signals).write(path)


@dataclass(frozen=True)
class ContinuousSummary:
    out: Path
    recordings: int
    hours: float
    counts: dict[str, int]
    seconds: float


def generate_continuous(out: Path, config: ContinuousConfig) -> ContinuousSummary:
    """Write rec_NNN.edf + rec_NNN.parquet (same signal) and events.csv under `out`."""
    config.validate()
    out = Path(out)
    if (out / EVENTS_FILE).exists():
        raise DataError(f"{out} already holds continuous recordings; write to a new directory")
    sources = subject_sources(background_files(config.background_dir, evaluation=True)[0], evaluation=True) \
        if config.background_dir else []
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    total = round(config.hours * 3600)
    lengths = [config.recording_s] * (total // config.recording_s)
    if total % config.recording_s >= 600:  # a shorter last recording, if it can hold events
        lengths.append(total % config.recording_s)
    if not lengths:
        raise DataError(f"--continuous {config.hours} h is shorter than one recording (at least 600 s)")
    events: list[Event] = []
    seeds = np.random.SeedSequence(config.seed).spawn(len(lengths))
    for i, (seconds, seed) in enumerate(zip(lengths, seeds, strict=True)):
        rng = np.random.default_rng(seed)
        name = f"rec_{i:03d}"
        planned = plan_events(rng, config, seconds, file=name)
        source = sources[int(rng.integers(len(sources)))] if sources else None
        signals = synth_continuous(rng, seconds, planned, patient=draw_patient(rng, 10_000 + i),
                                   background_source=source)
        write_eeg_parquet(out / f"{name}.parquet", signals)
        write_edf(out / f"{name}.edf", signals)
        events += planned
    with (out / EVENTS_FILE).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "onset_s", "offset_s", "label"])
        writer.writerows([e.file, e.onset_s, e.offset_s, e.label] for e in events)
    counts: dict[str, int] = {}
    for event in events:
        counts[event.label] = counts.get(event.label, 0) + 1
    return ContinuousSummary(out, len(lengths), sum(lengths) / 3600, counts, time.perf_counter() - started)
