"""Score bundles on the 12 expert-voted real segments of sparcnet_iiic (Jing et al., Neurology 2023).

Compares each bundle's Kaggle KL with (a) the class prior of the bundle's training data and (b) the
published SPaRCNet probabilities for the same segments (train.fit.evaluate.evaluate_bundle_on_segments).
A bundle with weights runs in torch, one without (the shipped edge/model/default) through its ONNX graph.

    .venv/bin/python scripts/eval_sparcnet.py --bundle BUNDLE [--data ../shared/data/sparcnet_iiic] \
        [--backend auto|torch|onnx]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.cli_support import EXIT_USER_ERROR
from edge.errors import EegEdgeError
from edge.testing import shared_data_dir
from train.fit.evaluate import evaluate_bundle_on_segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, action="append", help="repeat to compare bundles")
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "sparcnet_iiic")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                        help="auto: torch when the bundle has weights, else its model.onnx")
    args = parser.parse_args()
    for bundle in args.bundle:
        try:
            print(json.dumps(evaluate_bundle_on_segments(bundle, args.data, backend=args.backend), indent=2))
        except EegEdgeError as exc:
            sys.exit(print(f"eval_sparcnet: {exc}", file=sys.stderr) or EXIT_USER_ERROR)


if __name__ == "__main__":
    main()
