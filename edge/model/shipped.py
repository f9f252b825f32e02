"""The model shipped inside the package (edge/model/default/), used when a command is given no --bundle.

It is trained on synthetic data only (`make default-model`; its spec.json says how and what it scored),
so every command that falls back to it says so on stderr: a first run works, and nobody mistakes it for
a model trained on real EEG.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge.errors import BundleError
from edge.model.bundle import SPEC_FILE

HERE = Path(__file__).resolve().parent
DEFAULT_BUNDLE = HERE / "default"
DEMO_RECORDING = HERE / "demo_seizure.parquet"  # a synthetic seizure the default model calls seizure


def resolve_bundle(bundle: Path | None, command: str) -> Path:
    """``bundle`` when given; else the shipped default model, announced on stderr."""
    if bundle is not None:
        return bundle
    if not (DEFAULT_BUNDLE / SPEC_FILE).is_file():
        raise BundleError(f"`edge {command}` got no --bundle and this install has no shipped default model; "
                          "pass --bundle DIR (a bundle from `train fit`) or run `make default-model`")
    print(f"edge {command}: no --bundle given: using the shipped default model {DEFAULT_BUNDLE} "
          "(trained on synthetic EEG only; see its spec.json)", file=sys.stderr)
    return DEFAULT_BUNDLE
