"""Training checkpoints for resume after a kill: safetensors for tensors, JSON for everything else.

Never pickle. A checkpoint is `tensors-<step>.safetensors` (model, optimizer and EMA tensors) plus
`state.json` (step, epoch, position in the epoch, curves, optimizer hyperparameters, RNG states as
lists of ints) that names its tensor file. Both are written atomically, tensors first, so state.json
always points at a complete tensor file; older tensor files are removed afterwards.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from edge.errors import BundleError
from edge.model.bundle import atomic_target, atomic_write

STATE_FILE = "state.json"


@dataclass(frozen=True)
class TrainProgress:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    history: tuple[dict[str, Any], ...] = ()  # one record per optimizer step
    val_history: tuple[dict[str, Any], ...] = ()  # one record per epoch
    config_fingerprint: str = ""  # resuming under a different config would mix two runs


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state().tolist(),
             "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                       meta: dict[str, Any]) -> None:
    slots: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            slots.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        slots.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})


def save_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    *, ema_state: dict[str, torch.Tensor] | None, progress: TrainProgress) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema_state is not None:
        tensors |= {f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema_state.items()}
    optim_tensors, optim_meta = _flatten_optimizer(optimizer)
    tensors |= optim_tensors
    tensor_file = f"tensors-{progress.step:08d}.safetensors"
    with atomic_target(directory / tensor_file) as tmp:
        save_file(tensors, str(tmp))
    record = {"progress": asdict(progress), "tensors": tensor_file, "optimizer": optim_meta, "rng": _rng_state()}
    atomic_write(directory / STATE_FILE, json.dumps(record))
    for old in directory.glob("tensors-*.safetensors"):
        if old.name != tensor_file:
            old.unlink(missing_ok=True)


def load_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    *, ema_module: torch.nn.Module | None) -> TrainProgress | None:
    """Restore model/optimizer/EMA/RNG from `directory` and return the progress, or None when absent."""
    state_path = directory / STATE_FILE
    if not state_path.is_file():
        return None
    try:
        record = json.loads(state_path.read_text())
        tensors = load_file(str(directory / record["tensors"]))
    except (OSError, ValueError, KeyError) as exc:
        raise BundleError(f"checkpoint in {directory} is unreadable ({exc}); delete it or pass --no-resume") from None
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if ema_module is not None:
        ema_module.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    _restore_optimizer(optimizer, tensors, record["optimizer"])
    _set_rng_state(record["rng"])
    progress = record["progress"]
    progress["history"] = tuple(progress["history"])
    progress["val_history"] = tuple(progress["val_history"])
    return TrainProgress(**progress)
