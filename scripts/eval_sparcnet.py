"""Score a bundle on the 12 expert-voted real segments of sparcnet_iiic (Jing et al., Neurology 2023).

Compares the bundle's Kaggle KL with (a) the class prior of the bundle's training data and (b) the
published SPaRCNet probabilities for the same segments. SPaRCNet's probabilities are printed to 4
decimals, so their rows are renormalised to sum to 1 before scoring.

    .venv/bin/python scripts/eval_sparcnet.py --bundle BUNDLE [--data ../shared/data/sparcnet_iiic]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge.contract import CLASSES, VOTE_COLUMNS
from train.data import fill_gaps
from train.data.eeg_file import read_eeg_file
from train.data.sparcnet import read_labels
from train.metric import score

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sparcnet_iiic"


def load_segments(data: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """File names, eeg [12, 20, 10000] uV, expert vote distributions and SPaRCNet probabilities (CLASSES order)."""
    rows = read_labels(data, columns=("file", *VOTE_COLUMNS, *(f"sparcnet_p_{c}" for c in CLASSES)))
    names, signals = [], []
    for row in rows:
        eeg = read_eeg_file(data / row["file"])
        fill_gaps(eeg)
        names.append(row["file"])
        signals.append(eeg)
    votes = np.array([[float(r[f"{c}_vote"]) for c in CLASSES] for r in rows])
    sparcnet = np.array([[float(r[f"sparcnet_p_{c}"]) for c in CLASSES] for r in rows])
    return names, np.stack(signals), votes / votes.sum(1, keepdims=True), sparcnet / sparcnet.sum(1, keepdims=True)


def evaluate(bundle: Path, data: Path) -> dict:
    import torch

    from train.checkpoint import load_bundle_model

    model, spec = load_bundle_model(bundle)
    names, eeg, targets, sparcnet = load_segments(data)
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(eeg)).double(), dim=1).numpy()
    prior = np.asarray(spec.training["data"]["class_prior"], dtype=np.float64)
    return {
        "bundle": bundle.name, "model": spec.model, "segments": len(names),
        "kl_model": score(targets, probs),
        "kl_class_prior": score(targets, np.broadcast_to(prior, targets.shape)),
        "kl_sparcnet": score(targets, sparcnet),
        "argmax_agreement_model": float((probs.argmax(1) == targets.argmax(1)).mean()),
        "argmax_agreement_sparcnet": float((sparcnet.argmax(1) == targets.argmax(1)).mean()),
        "per_segment": [{"file": n, "expert_majority": CLASSES[int(t.argmax())],
                         "model_top": CLASSES[int(p.argmax())], "model_p_top": round(float(p.max()), 3),
                         "model_p_seizure": round(float(p[CLASSES.index("seizure")]), 3)}
                        for n, t, p in zip(names, targets, probs, strict=True)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, action="append", help="repeat to compare bundles")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    for bundle in args.bundle:
        print(json.dumps(evaluate(bundle, args.data), indent=2))


if __name__ == "__main__":
    main()
