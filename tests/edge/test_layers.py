"""The layer rules of edge/: a sample travels inputs -> chain -> model -> monitoring -> sinks/display, and
imports only point down that path (docs/architecture.md). Imports anywhere in a module count, lazy ones too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[2] / "edge"
FOUNDATION = {"errors", "config_io", "contract", "config", "timing"}
# group -> the edge groups it may import (besides itself); a group is a subpackage or a top-level module
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config_io": {"errors"},
    "contract": {"errors", "config_io"},
    "config": {"errors", "config_io", "contract"},
    "timing": set(),
    "inputs": FOUNDATION,
    "chain": FOUNDATION,
    "model": FOUNDATION,
    "monitoring": FOUNDATION | {"chain"},
    "records": FOUNDATION | {"chain", "monitoring"},
    "sinks": FOUNDATION | {"chain", "monitoring", "records"},
    "runtime": FOUNDATION | {"inputs", "chain", "model", "monitoring", "records", "sinks"},
    "display": FOUNDATION | {"inputs", "chain", "monitoring", "records", "sinks"},
    "offline": FOUNDATION | {"inputs", "chain", "model", "monitoring", "records", "sinks", "display", "runtime"},
    "sysinfo": FOUNDATION | {"model"},
    "testing": FOUNDATION | {"model", "sinks"},  # ListSink is a Sink
    "demo": FOUNDATION | {"inputs", "model", "runtime", "sinks"},
    "cli_support": FOUNDATION,
    "cli": {"*"},
}
NEVER = ("torch", "train", "calibrate")  # the bedside package needs none of them, not even lazily


def group_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def violations(root: Path) -> list[str]:
    """Every import in ``root`` (an edge/ tree) that breaks a layer rule, as 'module: imported (rule)'."""
    found = []
    for path in sorted(root.rglob("*.py")):
        group = group_of(path, root)
        if group == "__init__":
            continue
        allowed = ALLOWED.get(group)
        if allowed is None:
            found.append(f"{path.relative_to(root)}: group {group!r} has no layer rule; add it to ALLOWED")
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                head, _, rest = name.partition(".")
                if head in NEVER:
                    found.append(f"{path.relative_to(root)}: {name} (edge never imports {head})")
                elif head == "edge" and rest:
                    target = rest.split(".")[0]
                    if target != group and "*" not in allowed and target not in allowed:
                        found.append(f"{path.relative_to(root)}: {name} ({group} may not import {target})")
    return found


def test_edge_keeps_its_layer_rules() -> None:
    assert violations(EDGE) == []


@pytest.mark.parametrize(("module", "line", "expected"), [
    ("chain/ring.py", "from edge.model.engine import Engine", "chain may not import model"),
    ("model/engine.py", "from edge.chain.ring import Ring", "model may not import chain"),
    ("inputs/source.py", "from edge.chain.channels import ChannelMap", "inputs may not import chain"),
    ("monitoring/burden.py", "import torch", "edge never imports torch"),
    ("offline/predict.py", "from train.metric import kaggle_kl", "edge never imports train"),
    ("contract.py", "from edge.config import RunConfig", "contract may not import config"),
])
def test_a_planted_violation_is_caught(tmp_path: Path, module: str, line: str, expected: str) -> None:
    target = tmp_path / module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"def lazy():\n    {line}\n")
    (found,) = violations(tmp_path)
    assert expected in found
