"""Each bundle with and without BatchNorm adaptation to real EEG (`[adapt]`): held-out synthetic KL and the 12 real
segments, as markdown rows (docs/experiments/2026-12-adabn.md).

    .venv/bin/python scripts/compare_adaptation.py DATA=BUNDLE [DATA=BUNDLE ...] [--unlabelled ../shared/data/eegmat] \\
        [--share adapt.bn_share]

DATA is the synthetic layout the bundle was trained on (its held-out rows are the bundle's oof.csv rows). Both
variants re-estimate the BatchNorm statistics the way `train fit` does for its shipped weights (400 clean
training windows): "synthetic" with them alone, "adapted" with the unlabelled real windows as --share of them
(default: the config's adapt.bn_share). Each variant then gets the temperature fitted on its own held-out
predictions (the same rule for both; an in-sample fit, so both held-out figures are slightly optimistic), and the
real segments are scored with it. Measurement only: nothing here trains or selects on the real segments.
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
from pathlib import Path

import numpy as np
import torch

if not __package__:  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.contract import VOTE_COLUMNS
from edge.testing import shared_data_dir
from train.checkpoint import load_bundle_model
from train.data import build_window_set
from train.data.sparcnet import filled_eeg, load_segments, vote_targets
from train.data.unlabelled import unlabelled_windows
from train.fit.config import AdaptConfig, DataConfig, OptimConfig
from train.fit.evaluate import fit_temperature, model_segment_probs, predict_probs, segment_figures
from train.fit.loop import recalibrate_batchnorm
from train.fit.run import set_temperature
from train.metric import score

CPU = torch.device("cpu")


def real_segments() -> tuple[np.ndarray, np.ndarray]:
    segments = load_segments(shared_data_dir() / "sparcnet_iiic", columns=("file", *VOTE_COLUMNS))
    return filled_eeg(segments), vote_targets(segments)


def row(name: str, variant: str, temperature: float, held_out: float, probs: np.ndarray, targets: np.ndarray) -> str:
    got = segment_figures(targets, probs)
    seizures = " / ".join(f"{p:.2f}" for p in got["p_seizure_where_2of3_votes"])
    return (f"| {name} | {variant} | {temperature:.2f} | {held_out:.3f} | {got['kl_model']:.3f} | "
            f"{round(got['argmax_agreement_model'] * len(targets))}/{len(targets)} | {seizures} | "
            f"{got['gpd_top_seizure']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="DATA=BUNDLE")
    parser.add_argument("--unlabelled", type=Path, default=shared_data_dir() / "eegmat")
    parser.add_argument("--share", type=float, default=AdaptConfig().bn_share)
    args = parser.parse_args()
    adapt = AdaptConfig()
    unlabelled = unlabelled_windows(args.unlabelled, stride_s=adapt.stride_s)
    eeg, targets = real_segments()
    print("| bundle | BatchNorm statistics | T | held-out KL | real 12 KL | top-1 | p(seizure), >= 2/3 votes "
          "| GPD -> seizure |\n|---|---|---|---|---|---|---|---|")
    layouts = {}
    for pair in args.pairs:
        data, _, bundle = pair.partition("=")
        model, spec = load_bundle_model(Path(bundle))
        if data not in layouts:
            layouts[data] = build_window_set(Path(data), split="train", margin=DataConfig().margin,
                                              lookahead_s=spec.lookahead_s)
        windows = layouts[data]
        with (Path(bundle) / "oof.csv").open() as fh:
            held = {int(r["label_id"]) for r in csv.DictReader(fh)}
        is_held = np.isin(np.asarray(windows.label_ids), list(held))
        val, train = np.flatnonzero(is_held), np.flatnonzero(~is_held)
        val_targets = np.asarray(windows.targets[val], dtype=np.float64)
        for variant, extra in (("synthetic", None), ("adapted", unlabelled)):
            m = copy.deepcopy(model)
            recalibrate_batchnorm(m, windows, train, count=OptimConfig().bn_recalibration_windows, batch_size=32,
                                  device=CPU, unlabelled=extra, unlabelled_share=args.share)
            set_temperature(m, 1.0)
            temperature = fit_temperature(val_targets, predict_probs(m, windows, val, batch_size=32, device=CPU))
            set_temperature(m, temperature)
            held_out = score(val_targets, predict_probs(m, windows, val, batch_size=32, device=CPU))
            probs = model_segment_probs(m, eeg, lookahead_s=spec.lookahead_s)
            print(row(Path(bundle).name, variant, temperature, held_out, probs, targets), flush=True)


if __name__ == "__main__":
    main()
