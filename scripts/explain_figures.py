"""Example explanation maps for the docs: one real segment per class, `edge explain` and `train explain`.

    python scripts/explain_figures.py --bundle BUNDLE [--data ../shared/data/sparcnet_iiic] [--out docs/figures]

Writes explain_edge_<class>.png (occlusion, onnxruntime; the bundle needs model.onnx: `calibrate export`)
and explain_train_<class>.png (Grad-CAM, torch) for the first segment of each class in labels.csv, each
mapping the evidence for the experts' class (the title gives the model's prediction), reduced to a
256-colour palette so the docs stay small.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from edge.model.bundle import atomic_write
from edge.model.engine import Engine
from edge.offline.explain import explain_file as occlusion_explanation
from edge.offline.explain_plot import Explanation, render
from edge.testing import shared_data_dir
from train.explain import explain_file as grad_cam_explanation

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = shared_data_dir() / "sparcnet_iiic"
COLOURS = 256


def small_png(explanation: Explanation) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(render(explanation))).convert("RGB").quantize(COLOURS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def one_per_class(data: Path) -> dict[str, Path]:
    with (data / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    chosen: dict[str, Path] = {}
    for row in rows:
        chosen.setdefault(row["vote_majority"], data / row["file"])
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, type=Path)
    parser.add_argument("--data", default=DEFAULT_DATA, type=Path)
    parser.add_argument("--out", default=REPO / "docs" / "figures", type=Path)
    args = parser.parse_args()
    with Engine(args.bundle, "onnxruntime") as engine:
        for name, path in one_per_class(args.data).items():
            for kind, explanation in (("edge", occlusion_explanation(path, engine, target=name)),
                                      ("train", grad_cam_explanation(args.bundle, path, target=name))):
                target = atomic_write(args.out / f"explain_{kind}_{name}.png", small_png(explanation))
                print(f"{target}: {explanation.title()}", flush=True)


if __name__ == "__main__":
    main()
