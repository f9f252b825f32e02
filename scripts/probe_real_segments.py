"""Two measurements on the labelled real segments that say where a model's real-EEG error is not.

- ``--gain``: a bundle's figures on the 12 sparcnet_iiic segments with every input scaled by each gain (does a
  global amplitude mismatch explain the misses? If it did, some gain other than 1 would score better).
- ``--peaks``: the peak frequency (0.4-20 Hz, Welch, mean over the 16 bipolar pairs, 0.5-20 Hz band-pass) and the
  in-band standard deviation of each 10 s of the segments whose expert majority is ``--classes`` (what rhythm the
  raters called seizure, against the generator's ranges in train/synth/patterns.py).

Measurement only: nothing here trains, tunes or selects on the labelled segments.

    .venv/bin/python scripts/probe_real_segments.py --gain 0.25,0.5,1,2,4 [--bundle edge/model/default]
    .venv/bin/python scripts/probe_real_segments.py --peaks [--classes seizure]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import signal

if not __package__:  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.contract import CLASSES, SAMPLE_RATE_HZ, VOTE_COLUMNS, montage_matrix
from edge.model.shipped import DEFAULT_BUNDLE
from edge.testing import shared_data_dir
from train.data.sparcnet import filled_eeg, load_segments, vote_targets
from train.fit.evaluate import segment_figures, segment_probs


def gain_rows(bundle: Path, gains: list[float], eeg: np.ndarray, targets: np.ndarray) -> list[str]:
    rows = ["| gain | KL | top-1 | p(seizure), >= 2/3 seizure votes | top class per segment |", "|---|---|---|---|---|"]
    for gain in gains:  # through the ONNX graph, as eval_sparcnet scores a shipped bundle
        probs, _ = segment_probs(bundle, (eeg * gain).astype(np.float32), backend="onnx")
        got = segment_figures(targets, probs)
        tops = ", ".join(CLASSES[int(k)] for k in probs.argmax(1))
        rows.append(f"| {gain:g} | {got['kl_model']:.3f} | {round(got['argmax_agreement_model'] * len(targets))}/"
                    f"{len(targets)} | {' / '.join(f'{p:.2f}' for p in got['p_seizure_where_2of3_votes'])} | "
                    f"{tops} |")
    return rows


def peak_rows(segments: list, eeg: np.ndarray, targets: np.ndarray, classes: set[str]) -> list[str]:
    sos = signal.butter(4, (0.5, 20.0), btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    block = 10 * SAMPLE_RATE_HZ
    rows = ["| segment | expert majority | each 10 s: peak Hz (in-band std uV); the labelled 10 s is the third |",
            "|---|---|---|"]
    for segment, window, target in zip(segments, eeg, targets, strict=True):
        if CLASSES[int(target.argmax())] not in classes:
            continue
        bipolar = signal.sosfiltfilt(sos, montage_matrix().astype(np.float64) @ window.astype(np.float64), axis=1)
        cells = []
        for start in range(0, bipolar.shape[1] - block + 1, block):
            part = bipolar[:, start:start + block]
            freqs, power = signal.welch(part, fs=SAMPLE_RATE_HZ, nperseg=4 * SAMPLE_RATE_HZ)
            band = (freqs > 0.4) & (freqs < 20.0)
            cells.append(f"{freqs[band][power.mean(0)[band].argmax()]:.2f} ({part.std():.0f})")
        rows.append(f"| {segment.path.stem} | {CLASSES[int(target.argmax())]} | {', '.join(cells)} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "sparcnet_iiic")
    parser.add_argument("--gain", type=str, default=None, help="comma-separated input gains, e.g. 0.25,0.5,1,2,4")
    parser.add_argument("--peaks", action="store_true", help="peak frequency of each 10 s of --classes segments")
    parser.add_argument("--classes", type=str, default="seizure", help="comma-separated expert-majority classes")
    args = parser.parse_args()
    if args.gain is None and not args.peaks:
        parser.error("give --gain G1,G2,... and/or --peaks")
    classes = set(args.classes.split(","))
    if not classes <= set(CLASSES):
        parser.error(f"--classes: {sorted(classes - set(CLASSES))} not among {', '.join(CLASSES)}")
    try:
        gains = [float(g) for g in args.gain.split(",")] if args.gain else []
    except ValueError:
        parser.error(f"--gain: {args.gain!r} is not comma-separated numbers")
    if any(not np.isfinite(g) or g <= 0 for g in gains):
        parser.error(f"--gain: every gain must be a positive number, got {args.gain}")
    segments = load_segments(args.data, columns=("file", *VOTE_COLUMNS))
    eeg, targets = filled_eeg(segments), vote_targets(segments)
    rows = gain_rows(args.bundle, gains, eeg, targets) if gains else []
    if args.peaks:
        rows += ([""] if rows else []) + peak_rows(segments, eeg, targets, classes)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
