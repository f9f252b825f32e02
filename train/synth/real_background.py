"""Real EEG as synthetic background: EDF or parquet files, channel-mapped and resampled to 200 Hz.

A background is drawn as random excerpts of one subject's recordings, joined with a short crossfade
when one recording is shorter than the synthetic one. Subjects 18-23 of the PhysioNet eegmat set
(files ``SubjectNN_k.edf``) are the project's false-alarm check (shared/data MANIFEST): no training set
may contain them, so ``background_files`` leaves them out and ``load_background`` refuses them, except for an
evaluation set (train.synth.evaluation_set), which draws from them only: it then shares no person with any
training set.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.chain.channels import build_channel_map
from edge.chain.resample import StreamingResampler
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.errors import DataError
from edge.inputs.input_files import read_recording

HELD_OUT_EEGMAT_SUBJECTS: frozenset[int] = frozenset(range(18, 24))
_EEGMAT_NAME = re.compile(r"subject(\d+)_\d+\.edf", re.IGNORECASE)
SUFFIXES = (".edf", ".bdf", ".parquet")
CROSSFADE_S = 1.0
EXCERPT_MIN_S = 20.0  # shorter tails of a recording are not used as excerpts


def eegmat_subject(path: Path) -> int | None:
    """The eegmat subject number of a file named SubjectNN_k.edf, else None."""
    match = _EEGMAT_NAME.fullmatch(Path(path).name)
    return None if match is None else int(match[1])


def is_held_out(path: Path) -> bool:
    return eegmat_subject(path) in HELD_OUT_EEGMAT_SUBJECTS


def subject_key(path: Path) -> str:
    """Files of one person share a key (eegmat: SubjectNN); any other file is its own subject."""
    number = eegmat_subject(path)
    return f"eegmat{number:02d}" if number is not None else Path(path).stem


def background_files(folder: Path, *, option: str = "--background",
                     evaluation: bool = False) -> tuple[list[Path], list[Path]]:
    """(usable files, files left out) of ``folder``, sorted; DataError naming ``option`` if none is usable.

    Training data leaves eegmat subjects 18-23 out; an evaluation set uses only them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{option} {folder}: not a directory of EEG files (.edf, .bdf or .parquet)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    held = [p for p in files if is_held_out(p)]
    if evaluation:
        if not held:
            raise DataError(f"{option} {folder}: no recording of eegmat subjects 18-23 (SubjectNN_k.edf), the only "
                            "real backgrounds an evaluation set draws from")
        return held, [p for p in files if not is_held_out(p)]
    usable = [p for p in files if not is_held_out(p)]
    if not usable:
        raise DataError(f"{option} {folder}: no usable .edf/.bdf/.parquet file"
                        + (f" ({len(held)} held out: eegmat subjects 18-23)" if held else ""))
    return usable, held


@functools.lru_cache(maxsize=64)  # each generator process loads a file once, however many recordings use it
def load_background(path: Path, *, evaluation: bool = False) -> np.ndarray:
    """[20, n] float32 uV at 200 Hz in spec.CHANNELS order (EKG zero when the file has none)."""
    path = Path(path)
    if is_held_out(path) and not evaluation:
        raise DataError(f"{path}: eegmat subjects 18-23 are kept out of every training set (the false-alarm check)")
    recording = read_recording(path)
    channel_map = build_channel_map(recording.labels, recording.units)
    data = channel_map.fill_missing(channel_map.select(recording.data))
    if recording.sample_rate_hz != SAMPLE_RATE_HZ:
        data = StreamingResampler(recording.sample_rate_hz, SAMPLE_RATE_HZ, data.shape[1]).process(data)
    signals = np.ascontiguousarray(data.T, dtype=np.float32)
    if not np.isfinite(signals).all():
        raise DataError(f"{path}: background files must not contain NaN or Inf samples")
    if signals.shape[1] < EXCERPT_MIN_S * SAMPLE_RATE_HZ:
        raise DataError(f"{path}: {signals.shape[1] / SAMPLE_RATE_HZ:.1f} s is too short for a background "
                        f"(at least {EXCERPT_MIN_S:g} s)")
    signals -= np.median(signals, axis=1, keepdims=True)  # DC offsets of the source amplifier are not EEG
    return signals


@dataclass(frozen=True)
class BackgroundSource:
    """One subject's files: what a synthetic patient's recordings draw their background from."""

    files: tuple[Path, ...]
    evaluation: bool = False  # an evaluation set's source: eegmat subjects 18-23 allowed

    def draw(self, rng: np.random.Generator, n_samples: int) -> np.ndarray:
        """[20, n_samples] float32: random excerpts of random files, crossfaded where they join."""
        fade = int(CROSSFADE_S * SAMPLE_RATE_HZ)
        out = np.zeros((len(CHANNELS), n_samples), dtype=np.float32)
        filled = 0
        while filled < n_samples:
            source = load_background(self.files[rng.integers(len(self.files))], evaluation=self.evaluation)
            take = min(source.shape[1], n_samples - filled + (fade if filled else 0))
            start = int(rng.integers(0, source.shape[1] - take + 1))
            piece = source[:, start:start + take]
            if filled:  # overlap the last `fade` samples with a linear crossfade (no step at the joint)
                ramp = np.linspace(0, 1, fade, dtype=np.float32)
                at = filled - fade
                out[:, at:filled] = out[:, at:filled] * (1 - ramp) + piece[:, :fade] * ramp
                piece, at = piece[:, fade:], filled
            else:
                at = 0
            out[:, at:at + piece.shape[1]] = piece
            filled = at + piece.shape[1]
        return out


def subject_sources(files: list[Path], *, evaluation: bool = False) -> list[BackgroundSource]:
    """One source per subject (eegmat's two recordings of a person together), sorted by subject: for training
    data none of eegmat subjects 18-23, for an evaluation set only them."""
    by_subject: dict[str, list[Path]] = {}
    for path in files:
        if is_held_out(path) != evaluation:
            raise DataError(f"{path}: an evaluation set draws only on eegmat subjects 18-23" if evaluation else
                            f"{path}: eegmat subjects 18-23 are kept out of every training set")
        by_subject.setdefault(subject_key(path), []).append(path)
    return [BackgroundSource(tuple(by_subject[key]), evaluation) for key in sorted(by_subject)]
