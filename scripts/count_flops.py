"""Count FLOPs and parameters of every registered model with its default options (front end included).

FLOPs are torch.utils.flop_counter.FlopCounterMode's (2 x multiply-accumulates of matmul/conv ops;
elementwise ops are not counted), for one 50 s window (batch 1). Writes the table into docs/models.md
between `<!-- BEGIN flops -->` and `<!-- END flops -->`.

    .venv/bin/python scripts/count_flops.py [--doc docs/models.md] [--no-write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_common import replace_section  # scripts/ is sys.path[0] when run as a script
from torch import nn

from edge.contract import WINDOW_SAMPLES
from edge.model.model_spec import FrontEndConfig
from train.models import create_model, list_models
from train.models.cost import ModelCost, model_cost
from train.models.frontend import MelImageFrontEnd, SignalFrontEnd


def all_costs(frontend: FrontEndConfig) -> dict[str, ModelCost]:
    modules: dict[str, nn.Module] = {f"{name} (defaults)": create_model(name, frontend=frontend)
                                     for name in list_models()}
    modules["front end of grouped1d: 200 Hz signals (montage, bandpass, clip)"] = SignalFrontEnd(frontend)
    modules[f"front end of mel2d: signals at {frontend.mel_sample_rate_hz:g} Hz + Mel-dB image"] = \
        MelImageFrontEnd(frontend)
    return {name: model_cost(module) for name, module in modules.items()}


def markdown(costs: dict[str, ModelCost], frontend: FrontEndConfig) -> str:
    lines = [
        f"Batch 1, one {WINDOW_SAMPLES}-sample window, default FrontEndConfig (image {frontend.image_shape}).",
        "Written by `.venv/bin/python scripts/count_flops.py` (FlopCounterMode: FLOPs = 2 x MACs).",
        "",
        "| model | GFLOP / window | parameters (M) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {c.flops / 1e9:.3f} | {c.params / 1e6:.3f} |" for name, c in costs.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "models.md")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    frontend = FrontEndConfig()
    table = markdown(all_costs(frontend), frontend)
    print(table)
    if not args.no_write:
        replace_section(args.doc, "flops", table)
        print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
