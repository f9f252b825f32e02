"""Render EEG like a clinical review page: longitudinal bipolar montage, fixed uV/mm, 30 mm/s.

Used to judge the synthetic generator against real segments by eye, at the same scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import butter, iirnotch, sosfiltfilt, tf2sos

from edge.contract import CHANNELS, CLASSES, LABEL_START, LABEL_STOP, SAMPLE_RATE_HZ, montage_matrix, montage_names
from train.data.eeg_file import read_eeg_file
from train.data.windows import fill_gaps
from train.synth.background import draw_patient
from train.synth.generate import WINDOW_S, synth_recording

UV_PER_MM = 7.0  # the usual clinical sensitivity
MM_PER_S = 30.0  # paper speed
TRACE_SPACING_MM = 10.0
PAGE_SECONDS = 15.0
DPI = 100
# Clinical display filters: low-frequency filter 1 Hz, high-frequency filter 70 Hz, 60 Hz notch.
_BANDPASS = butter(2, [1.0, 70.0], btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
_NOTCH = tf2sos(*iirnotch(60.0, 30.0, fs=SAMPLE_RATE_HZ))


def render_eeg(signals: np.ndarray, path: Path, title: str, *, window_start_s: float = 0.0) -> Path:
    """Plot the 15 s around the labelled centre of the 50 s window starting at ``window_start_s``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    signals = np.array(signals, dtype=np.float64)
    fill_gaps(signals)
    bipolar = montage_matrix().astype(np.float64) @ signals
    traces = np.vstack([bipolar, signals[CHANNELS.index("EKG")][None, :] / 10])
    names = [*montage_names(), "EKG/10"]
    traces = sosfiltfilt(_NOTCH, sosfiltfilt(_BANDPASS, traces, axis=1), axis=1)
    centre = window_start_s + (LABEL_START + LABEL_STOP) / 2 / SAMPLE_RATE_HZ
    start = int((centre - PAGE_SECONDS / 2) * SAMPLE_RATE_HZ)
    page = traces[:, start:start + int(PAGE_SECONDS * SAMPLE_RATE_HZ)]
    t = np.arange(page.shape[1]) / SAMPLE_RATE_HZ + start / SAMPLE_RATE_HZ - window_start_s

    height_mm = TRACE_SPACING_MM * (len(names) + 1)
    width_mm = PAGE_SECONDS * MM_PER_S
    fig = plt.figure(figsize=((width_mm + 40) / 25.4, (height_mm + 20) / 25.4), dpi=DPI)
    ax = fig.add_axes((30 / (width_mm + 40), 10 / (height_mm + 20), width_mm / (width_mm + 40),
                       height_mm / (height_mm + 20)))
    spacing_uv = TRACE_SPACING_MM * UV_PER_MM
    for row, trace in enumerate(page):
        # clinical convention: negative up
        ax.plot(t, -trace + spacing_uv * (len(names) - row), color="black", linewidth=0.5)
    ax.axvspan(LABEL_START / SAMPLE_RATE_HZ, LABEL_STOP / SAMPLE_RATE_HZ, color="tab:orange", alpha=0.08)
    ax.set_yticks(spacing_uv * (len(names) - np.arange(len(names))), names, fontsize=7)
    ax.set_ylim(0, spacing_uv * (len(names) + 1))
    ax.set_xlim(t[0], t[-1])
    ax.set_xlabel("seconds into the 50 s window (labelled 10 s shaded)")
    ax.plot([t[0] + 0.2] * 2, [spacing_uv * 0.2, spacing_uv * 0.2 + 100], color="tab:red", linewidth=2)
    ax.set_title(f"{title}   [{UV_PER_MM:g} uV/mm, {MM_PER_S:g} mm/s, 1-70 Hz, notch 60; red bar 100 uV]",
                 fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_synthetic_examples(out_dir: Path, per_class: int = 2, seed: int = 0) -> list[Path]:
    """A few fresh 50 s synthetic recordings per class (pattern at full strength), one PNG each."""
    rng = np.random.default_rng(seed)
    paths = []
    for label, name in enumerate(CLASSES):
        for k in range(per_class):
            patient = draw_patient(rng, k)
            signals = synth_recording(rng, patient, label, seconds=WINDOW_S, offsets_s=np.zeros(1),
                                      strength=float(rng.uniform(0.6, 1)))
            paths.append(render_eeg(signals, Path(out_dir) / f"synth_{name}_{k}.png", f"synthetic {name} #{k}"))
    return paths


def plot_real_segments(source_dir: Path, out_dir: Path) -> list[Path]:
    """Every 50 s parquet in ``source_dir`` (e.g. the IIIC-SPaRCNet samples), titled with its votes if known."""
    votes = _votes_by_file(Path(source_dir))
    paths = []
    for source in sorted(Path(source_dir).glob("*.parquet")):
        title = f"real {source.stem}" + (f"  votes {votes[source.name]}" if source.name in votes else "")
        paths.append(render_eeg(read_eeg_file(source), Path(out_dir) / f"real_{source.stem}.png", title))
    return paths


def _votes_by_file(source_dir: Path) -> dict[str, str]:
    if not (Path(source_dir) / "labels.csv").is_file():
        return {}  # plain recordings: titled without votes
    from train.data.sparcnet import read_labels

    return {row["file"]: " ".join(f"{c}={row[f'{c}_vote']}" for c in CLASSES if row.get(f"{c}_vote"))
            for row in read_labels(source_dir, columns=("file",))}
