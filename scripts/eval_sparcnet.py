"""Score bundles on the 12 expert-voted real segments of sparcnet_iiic (Jing et al., Neurology 2023).

Compares each bundle's Kaggle KL with (a) the class prior of the bundle's training data and (b) the
published SPaRCNet probabilities for the same segments (train.fit.evaluate.evaluate_bundle_on_segments).

    .venv/bin/python scripts/eval_sparcnet.py --bundle BUNDLE [--data ../shared/data/sparcnet_iiic]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.testing import shared_data_dir
from train.fit.evaluate import evaluate_bundle_on_segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, action="append", help="repeat to compare bundles")
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "sparcnet_iiic")
    args = parser.parse_args()
    for bundle in args.bundle:
        print(json.dumps(evaluate_bundle_on_segments(bundle, args.data), indent=2))


if __name__ == "__main__":
    main()
