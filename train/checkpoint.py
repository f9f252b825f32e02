"""Save and load models as bundles: safetensors weights + spec.json. Never unpickles."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from edge.errors import BundleError, DataError
from edge.model.bundle import (
    SPEC_FILE,
    WEIGHTS_FILE,
    atomic_write,
    load_spec,
    save_spec,
    write_checksums,
)
from edge.model.model_spec import ModelSpec

CALIBRATION_KEY = "calibration.temperature"  # train.models.layers.Temperature inside every model


def runtime_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in ("eeg-edge", "timm", "numpy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    return versions


def save_weights(path: Path, model: torch.nn.Module) -> Path:
    """Weights only, contiguous CPU tensors, written atomically with the bundle's file mode (safetensors'
    save_file would leave them 0600, unreadable to the service account that runs the bundle)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return atomic_write(path, save(state))


def load_weights(path: Path, model: torch.nn.Module) -> None:
    if not path.is_file():
        raise BundleError(f"{path} is missing; the bundle has no trained weights")
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Bundles written before post-hoc calibration have no temperature: they keep 1, the identity.
    missing = [k for k in missing if not k.endswith(CALIBRATION_KEY)]
    if missing or unexpected:
        raise BundleError(
            f"{path} does not fit model: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


def require_new_bundle_dir(out: Path) -> None:
    """Refuse an ``--out`` that holds anything (a file, or a directory with files): nothing written is lost."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"--out {out} already exists and is not an empty directory; "
                        "choose a new directory or delete it")


def save_bundle(bundle: str | Path, model: torch.nn.Module, spec: ModelSpec,
                *, extra_files: dict[str, bytes | str] | None = None) -> Path:
    """Write spec.json + weights.safetensors (+ extra files such as metrics.json) and SHA256SUMS."""
    bundle = Path(bundle)
    bundle.mkdir(parents=True, exist_ok=True)
    save_spec(bundle, spec)
    save_weights(bundle / WEIGHTS_FILE, model)
    for name, payload in (extra_files or {}).items():
        atomic_write(bundle / name, payload)
    write_checksums(bundle)
    return bundle


def build_model(spec: ModelSpec) -> torch.nn.Module:
    from train.models import create_model, without_init_options

    # The weights come from the bundle: options that only initialise them (a pretrained file) are dropped.
    return create_model(spec.model, frontend=spec.frontend, **without_init_options(spec.model, spec.model_kwargs))


def load_bundle_model(bundle: str | Path, verify: bool = True) -> tuple[torch.nn.Module, ModelSpec]:
    """Rebuild the model described by spec.json and load its weights; returns (model in eval mode, spec)."""
    bundle = Path(bundle)
    spec = load_spec(bundle, verify=verify)
    model = build_model(spec)
    load_weights(bundle / WEIGHTS_FILE, model)
    return model.eval(), spec


__all__ = ["SPEC_FILE", "WEIGHTS_FILE", "build_model", "load_bundle_model", "runtime_versions", "save_bundle"]
