"""What averaging trained bundles does on the 12 expert-voted real segments (sparcnet_iiic).

For every k-subset of the bundles given (k = 2 .. --max-k), the Kaggle KL of the subset's mean probability
(what `train ensemble` ships) against the mean of its members' own KLs. Measurement only: the labelled
segments never pick members.

    .venv/bin/python scripts/ensemble_gain.py --bundle B1 --bundle B2 ... [--max-k 4]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.contract import VOTE_COLUMNS
from edge.testing import shared_data_dir
from train.data.sparcnet import filled_eeg, load_segments, vote_targets
from train.fit.evaluate import segment_probs
from train.metric import score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, action="append", required=True, help="repeat: at least two")
    parser.add_argument("--max-k", type=int, default=4)
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "sparcnet_iiic")
    args = parser.parse_args()
    if len(args.bundle) < 2:
        parser.error("give at least two --bundle")
    segments = load_segments(args.data, columns=("file", *VOTE_COLUMNS))
    eeg, targets = filled_eeg(segments), vote_targets(segments)
    probs = [segment_probs(b, eeg)[0] for b in args.bundle]
    single = [score(targets, p) for p in probs]
    print(f"{len(probs)} bundles, real 12 KL each: " + ", ".join(f"{k:.3f}" for k in single))
    print("| k | subsets | members' mean KL | ensemble KL (mean; min-max) | ensemble below its members' mean |")
    print("|---|---|---|---|---|")
    for k in range(2, min(args.max_k, len(probs)) + 1):
        rows = np.array([(np.mean([single[i] for i in combo]), score(targets, np.mean([probs[i] for i in combo], 0)))
                         for combo in itertools.combinations(range(len(probs)), k)])
        print(f"| {k} | {len(rows)} | {rows[:, 0].mean():.3f} | {rows[:, 1].mean():.3f} ({rows[:, 1].min():.3f}-"
              f"{rows[:, 1].max():.3f}) | {int((rows[:, 1] < rows[:, 0]).sum())}/{len(rows)} |")
    print(f"all {len(probs)}: {score(targets, np.mean(probs, 0)):.3f}")


if __name__ == "__main__":
    main()
