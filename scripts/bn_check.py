"""Held-out KL of trained bundles with their stored BatchNorm statistics and with recomputed ones.

    python -m scripts.bn_check --data DIR --bundle B [--bundle B2 ...] [--windows 400] [--doc docs/benchmarks.md]

For each bundle: the rows of its oof.csv (its held-out patients) are scored as shipped, then after
`train.fit.loop.recalibrate_batchnorm` over `--windows` clean windows of the other (training)
rows. This is how the BN mismatch that precise BN now removes during training was measured. With
--doc, the table replaces the section "train-bn" of that document.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from scripts.bench_common import replace_section
from train.checkpoint import load_bundle_model
from train.data import build_window_set
from train.fit.evaluate import predict_probs
from train.fit.loop import recalibrate_batchnorm
from train.metric import score

BATCH = 32


def held_out_kl(bundle: Path, windows, windows_count: int) -> tuple[float, float, int]:
    model, _ = load_bundle_model(bundle)
    with (bundle / "oof.csv").open() as fh:
        held_out_labels = {int(row["label_id"]) for row in csv.DictReader(fh)}
    is_held_out = np.isin(windows.label_ids, list(held_out_labels))
    held_out, training = np.flatnonzero(is_held_out), np.flatnonzero(~is_held_out)
    targets = np.asarray(windows.targets[held_out], dtype=np.float64)
    device = torch.device("cpu")
    with torch.no_grad():
        stored = score(targets, predict_probs(model, windows, held_out, batch_size=BATCH, device=device))
        used = recalibrate_batchnorm(model, windows, training, count=windows_count, batch_size=BATCH, device=device)
        recomputed = score(targets, predict_probs(model, windows, held_out, batch_size=BATCH, device=device))
    return stored, recomputed, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the Kaggle layout the bundles were trained on")
    parser.add_argument("--bundle", type=Path, action="append", required=True)
    parser.add_argument("--windows", type=int, default=400)
    parser.add_argument("--doc", type=Path, help="write the table into this document's section 'train-bn'")
    args = parser.parse_args()
    lines = ["| bundle | held-out KL, stored BN | held-out KL, BN recomputed | windows |", "|---|---|---|---|"]
    print(*lines, sep="\n")
    windows = build_window_set(args.data, split="train", margin=400)
    for bundle in args.bundle:
        stored, recomputed, used = held_out_kl(bundle, windows, args.windows)
        lines.append(f"| {bundle.name} | {stored:.3f} | {recomputed:.3f} | {used} |")
        print(lines[-1], flush=True)
    if args.doc:
        command = "python -m scripts.bn_check " + " ".join(sys.argv[1:])
        replace_section(args.doc, "train-bn", "\n".join([
            "### BatchNorm statistics of trained bundles (`scripts/bn_check.py`)", "",
            "Held-out rows of each bundle scored with its stored BN statistics, then with statistics recomputed "
            "on clean training windows. Bundles trained before precise BN lose up to half their error; one "
            "trained with it (def2_mel2d) is unchanged, as it should be.", "", f"    {command}", "", *lines]))


if __name__ == "__main__":
    main()
