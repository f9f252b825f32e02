"""Count FLOPs and parameters of every registered model with its default options (front end included).

FLOPs are torch.utils.flop_counter.FlopCounterMode's (2 x multiply-accumulates of matmul/conv ops;
elementwise ops are not counted), for one 50 s window (batch 1). Writes the table into docs/models.md
between `<!-- BEGIN flops -->` and `<!-- END flops -->`.

    .venv/bin/python scripts/count_flops.py [--doc docs/models.md] [--no-write]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edge.spec import CHANNELS, WINDOW_SAMPLES, FrontEndConfig
from scripts.benchdoc import replace_section
from train.models import create_model, list_models
from train.models.frontend import MelImageFrontEnd, SignalFrontEnd


@dataclass(frozen=True)
class Cost:
    name: str
    gflops: float
    params_m: float


def measure(name: str, module: nn.Module) -> Cost:
    eeg = torch.zeros(1, len(CHANNELS), WINDOW_SAMPLES)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module.eval()(eeg)
    params = sum(p.numel() for p in module.parameters())
    return Cost(name, counter.get_total_flops() / 1e9, params / 1e6)


def all_costs(frontend: FrontEndConfig) -> list[Cost]:
    costs = [measure(f"{name} (defaults)", create_model(name, frontend=frontend)) for name in list_models()]
    costs.append(measure("front end: signals only (montage, bandpass, clip)", SignalFrontEnd(frontend)))
    costs.append(measure("front end: signals + Mel-dB image", MelImageFrontEnd(frontend)))
    return costs


def markdown(costs: list[Cost], frontend: FrontEndConfig) -> str:
    lines = [
        f"Batch 1, one {WINDOW_SAMPLES}-sample window, default FrontEndConfig (image {frontend.image_shape}).",
        "Written by `.venv/bin/python scripts/count_flops.py` (FlopCounterMode: FLOPs = 2 x MACs).",
        "",
        "| model | GFLOP / window | parameters (M) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {c.name} | {c.gflops:.3f} | {c.params_m:.3f} |" for c in costs]
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
