"""Measure the synthetic-to-real gap per class on the statistics a neurophysiologist reads off a page.

Real windows: the 12 expert-voted sparcnet_iiic segments (class = expert majority) and the two labelled
Kaggle HMS files in ../shared/data/hms. Synthetic windows: labelled rows of a `train synth` set whose
majority holds >= --min-share of the votes, up to --per-class per class. Every statistic is taken over
the labelled central 10 s. Measurement only: nothing here feeds training or model selection.

    .venv/bin/python scripts/measure_domain_gap.py --synth build/i29/synth400 [--figure F]

Statistics (double banana, Kaggle chain order LL, RL, LP, RP; ACNS 2021 terms in docs/domain-gap.md):
- band power per chain: log10 mean power of the chain's 4 pairs in delta 0.5-4, theta 4-8, alpha 8-13,
  beta 13-30 Hz (uV^2/Hz);
- amplitude: median per-channel std and peak-to-peak (referential, uV), across-channel spread = std/median
  of the 19 channel stds; band_std_uV: median std of the 16 bipolar pairs as the models' signal front end
  hands them on (montage, 0.5-20 Hz FIR, clip: train.models.frontend.SignalFrontEnd), the amplitude the models
  see (raw std also counts mains and muscle, which the front end filters out);
- discharges (periodic patterns): peaks of the 1-20 Hz band on the pair with most power, prominence >= 4x
  its median absolute deviation, at least 0.25 s apart: rate (Hz) and median half-prominence width (ms);
- rhythmicity: highest autocorrelation of the 0.5-4 Hz band of that pair at lags 0.25-2.5 s;
- lateralisation: log10 of left (LL+LP) over right (RL+RP) 0.5-20 Hz power;
- line noise: share of 0.5-80 Hz power within 1 Hz of 50 or 60 Hz; high frequency: share in 30-80 Hz;
- pattern extent (edge_db): 0.5-20 Hz power of the quieter of the window's first and last 10 s over the
  labelled centre's, in dB (the only statistic that looks outside the centre).
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
from pathlib import Path

import numpy as np
from scipy import signal

if not __package__:  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.contract import (
    CLASSES,
    LABEL_START,
    LABEL_STOP,
    MONTAGE_CHAINS,
    SAMPLE_RATE_HZ,
    WINDOW_SAMPLES,
    montage_matrix,
)
from train.data import fill_gaps
from train.data.eeg_file import read_eeg_file
from train.data.sparcnet import read_labels

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
HMS_LABELLED = (("train_eeg_1628180742.parquet", "seizure", 0.0), ("train_eeg_1000913311.parquet", "other", 0.0))
BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}
FS = SAMPLE_RATE_HZ


def _band(x: np.ndarray, low: float, high: float) -> np.ndarray:
    sos = signal.butter(4, (low, high), btype="bandpass", fs=FS, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


@functools.cache
def _signal_front_end():
    from edge.model.model_spec import FrontEndConfig
    from train.models.frontend import SignalFrontEnd

    return SignalFrontEnd(FrontEndConfig(), 1).eval()


def _front_end(window: np.ndarray) -> np.ndarray:
    """[16, 10000] uV: the bipolar pairs of a [20, 10000] window as the models' front end passes them on."""
    import torch

    module = _signal_front_end()
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(window[None], dtype=np.float32))) * module.scale_uv
    return out[0].numpy().astype(np.float64)


def window_stats(window: np.ndarray) -> dict[str, float]:
    """Statistics of one [20, 10000] uV window, measured on its labelled centre (2 s context for filters)."""
    eeg = window[:19].astype(np.float64)
    bipolar = montage_matrix()[:, :19].astype(np.float64) @ eeg
    centre = slice(LABEL_START, LABEL_STOP)
    context = slice(LABEL_START - 2 * FS, LABEL_STOP + 2 * FS)
    freqs, psd = signal.welch(bipolar[:, centre], fs=FS, nperseg=2 * FS, axis=-1)
    out: dict[str, float] = {}
    for c, chain in enumerate(MONTAGE_CHAINS):
        for band, (lo, hi) in BANDS.items():
            keep = (freqs >= lo) & (freqs < hi)
            out[f"{chain}_{band}"] = float(np.log10(psd[4 * c:4 * c + 4][:, keep].mean() + 1e-6))
    ref = eeg[:, centre] - np.median(eeg[:, centre], axis=1, keepdims=True)
    stds = ref.std(axis=1)
    out["std_uV"] = float(np.median(stds))
    out["p2p_uV"] = float(np.median(np.ptp(ref, axis=1)))
    out["band_std_uV"] = float(np.median(_front_end(window)[:, centre].std(axis=1)))
    out["spread"] = float(stds.std() / max(np.median(stds), 1e-6))
    broad = (freqs >= 0.5) & (freqs < 20)
    power = psd[:, broad].sum(axis=1)
    out["lateral_log10_LR"] = float(np.log10((power[0:4].sum() + power[8:12].sum() + 1e-6)
                                             / (power[4:8].sum() + power[12:16].sum() + 1e-6)))
    total = psd[:, (freqs >= 0.5) & (freqs <= 80)].sum()
    line = ((np.abs(freqs - 50) <= 1) | (np.abs(freqs - 60) <= 1))
    out["line_share"] = float(psd[:, line].sum() / max(total, 1e-12))
    out["hf_share"] = float(psd[:, (freqs >= 30) & (freqs <= 80)].sum() / max(total, 1e-12))
    lead = int(np.argmax(power))
    spikes = _band(bipolar[lead, context], 1.0, 20.0)[2 * FS:-2 * FS]
    mad = np.median(np.abs(spikes - np.median(spikes))) + 1e-9
    peaks, props = signal.find_peaks(np.abs(spikes), prominence=4 * mad, distance=FS // 4, width=1)
    out["discharge_hz"] = float(len(peaks) / ((LABEL_STOP - LABEL_START) / FS))
    out["discharge_width_ms"] = float(np.median(props["widths"]) * 1000 / FS) if len(peaks) else float("nan")
    delta = _band(bipolar[lead, context], 0.5, 4.0)[2 * FS:-2 * FS]
    delta = delta - delta.mean()
    acf = np.correlate(delta, delta, mode="full")[len(delta) - 1:]
    acf = acf / max(acf[0], 1e-12)
    out["rhythmicity"] = float(acf[FS // 4:int(2.5 * FS)].max())
    # Pattern extent: power of the quieter outer 10 s of the window against the labelled centre, dB
    # (about 0 when the pattern fills the window, well below 0 when it starts or ends inside it).
    outer = [bipolar[:, s:s + LABEL_STOP - LABEL_START] for s in (0, WINDOW_SAMPLES - (LABEL_STOP - LABEL_START))]
    broadband = [signal.welch(x, fs=FS, nperseg=2 * FS, axis=-1) for x in (*outer, bipolar[:, centre])]
    level = [p[:, (f >= 0.5) & (f < 20)].sum() for f, p in broadband]
    out["edge_db"] = float(10 * np.log10((min(level[0], level[1]) + 1e-12) / (level[2] + 1e-12)))
    return out


def real_windows() -> list[tuple[str, str, np.ndarray]]:
    """(source, class, [20, 10000] window) of every labelled real window in ../shared/data."""
    out = []
    data = SHARED / "sparcnet_iiic"
    for row in read_labels(data, columns=("file", "vote_majority")):
        eeg = read_eeg_file(data / row["file"])
        fill_gaps(eeg)
        out.append((row["file"], row["vote_majority"], eeg[:, :WINDOW_SAMPLES]))
    for name, label, offset in HMS_LABELLED:
        eeg = read_eeg_file(SHARED / "hms" / name)
        fill_gaps(eeg)
        start = int(offset * FS)
        out.append((name, label, eeg[:, start:start + WINDOW_SAMPLES]))
    return out


def synthetic_windows(folder: Path, *, per_class: int, min_share: float) -> list[tuple[str, str, np.ndarray]]:
    counts = dict.fromkeys(CLASSES, 0)
    out = []
    with (folder / "train.csv").open() as f:
        for row in csv.DictReader(f):
            votes = np.array([float(row[f"{c}_vote"]) for c in CLASSES])
            label = CLASSES[int(votes.argmax())]
            if votes.max() / votes.sum() < min_share or counts[label] >= per_class:
                continue
            eeg = read_eeg_file(folder / "train_eegs" / f"{row['eeg_id']}.parquet")
            fill_gaps(eeg)
            start = int(float(row["eeg_label_offset_seconds"]) * FS)
            out.append((row["eeg_id"], label, eeg[:, start:start + WINDOW_SAMPLES]))
            counts[label] += 1
    return out


SUMMARY = ("std_uV", "p2p_uV", "band_std_uV", "spread", "discharge_hz", "discharge_width_ms", "rhythmicity",
           "lateral_log10_LR", "line_share", "hf_share", "edge_db")


def _fmt(values: list[float]) -> str:
    v = np.array([x for x in values if np.isfinite(x)])
    if not len(v):
        return "-"
    if len(v) < 4:
        return " / ".join(f"{x:.3g}" for x in v)
    q = np.percentile(v, [25, 50, 75])
    return f"{q[1]:.3g} ({q[0]:.3g}-{q[2]:.3g})"


def tables(real: list, synth: list) -> tuple[str, list, list]:
    """Markdown tables (median and quartiles per class) and the per-window statistics."""
    rs = [(c, window_stats(w)) for _, c, w in real]
    ss = [(c, window_stats(w)) for _, c, w in synth]
    lines = []
    bands = "Band power, log10 uV^2/Hz, chain median (delta / theta / alpha / beta)"
    for title, keys in (("Amplitude, discharges, rhythmicity, lateralisation, noise", SUMMARY),
                        (bands, tuple(MONTAGE_CHAINS))):
        lines += [f"### {title}", "", "| class | source | n | " + " | ".join(keys) + " |",
                  "|---|---|---|" + "---|" * len(keys)]
        for cls in CLASSES:
            for source, rows in (("real", rs), ("synthetic", ss)):
                stats = [s for c, s in rows if c == cls]
                if not stats:
                    continue
                if keys is SUMMARY:
                    cells = [_fmt([s[k] for s in stats]) for k in keys]
                else:
                    cells = [" / ".join(f"{np.median([s[f'{ch}_{b}'] for s in stats]):.2f}" for b in BANDS)
                             for ch in keys]
                lines.append(f"| {cls} | {source} | {len(stats)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines), rs, ss


def figure(rs: list, ss: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("std_uV", "discharge_hz", "discharge_width_ms", "rhythmicity", "lateral_log10_LR", "hf_share",
            "LL_delta", "LL_alpha")
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, key in zip(axes.flat, keys, strict=True):
        for i, cls in enumerate(CLASSES):
            synth = [s[key] for c, s in ss if c == cls and np.isfinite(s[key])]
            if synth:
                ax.boxplot([synth], positions=[i], widths=0.6, showfliers=False)
            real = [s[key] for c, s in rs if c == cls and np.isfinite(s[key])]
            ax.plot([i] * len(real), real, "o", color="crimson", ms=7, alpha=0.8)
        ax.set_xticks(range(len(CLASSES)), CLASSES, fontsize=8)
        ax.set_title(key)
        if key in ("std_uV",):
            ax.set_yscale("log")
    fig.suptitle("Synthetic (boxes: quartiles, whiskers 1.5 IQR) vs real windows (red dots), labelled 10 s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth", type=Path, required=True, help="a `train synth` output folder")
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--min-share", type=float, default=0.6)
    parser.add_argument("--figure", type=Path, default=REPO / "docs" / "figures" / "domain_gap_stats.png")
    args = parser.parse_args()
    real = real_windows()
    synth = synthetic_windows(args.synth, per_class=args.per_class, min_share=args.min_share)
    text, rs, ss = tables(real, synth)
    figure(rs, ss, args.figure)
    print(text)
    for (name, cls, _), (_, s) in zip(real, rs, strict=True):
        print(f"real {name} {cls}: " + " ".join(f"{k}={s[k]:.3g}" for k in SUMMARY))


if __name__ == "__main__":
    main()
