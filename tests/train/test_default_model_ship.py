"""scripts/build_default_model.py's last step: what it copies into the package, and what it refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from calibrate.export import export_onnx
from edge.errors import DataError
from edge.model.bundle import load_spec, verify_checksums, write_checksums
from edge.model.model_spec import FrontEndConfig, ModelSpec
from scripts import bench_common, build_default_model
from train.checkpoint import save_bundle
from train.models import TINY_KWARGS, ProbabilityModel, create_model


def _trained_bundle(path: Path) -> Path:
    torch.manual_seed(0)
    model = create_model("grouped1d", frontend=FrontEndConfig(), **TINY_KWARGS["grouped1d"]).eval()
    spec = ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"])
    bundle = save_bundle(path, model, spec)
    export_onnx(ProbabilityModel(model).eval(), spec, bundle / "model.onnx")
    write_checksums(bundle)
    return bundle


def test_ship_copies_the_graph_and_records_the_figures(tmp_path):
    bundle = _trained_bundle(tmp_path / "fit")
    target = tmp_path / "package" / "default"
    shipped = build_default_model.ship(bundle, {"held_out_kl": 0.5}, target=target)
    assert shipped == target
    assert sorted(p.name for p in target.iterdir()) == ["SHA256SUMS", "model.onnx", "spec.json"]  # no weights
    verify_checksums(target)
    assert load_spec(target).training["default_model"] == {"held_out_kl": 0.5}
    assert not any(p.name.endswith(".tmp") for p in target.parent.iterdir())


def test_an_oversized_model_leaves_the_shipped_one_as_it_was(tmp_path, monkeypatch):
    bundle = _trained_bundle(tmp_path / "fit")
    target = build_default_model.ship(bundle, {"round": 1}, target=tmp_path / "package" / "default")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    monkeypatch.setattr(build_default_model, "MAX_BYTES", 1000)
    with pytest.raises(DataError, match=r"MB \(> 0 MB\): choose a smaller model"):
        build_default_model.ship(bundle, {"round": 2}, target=target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["default"]  # no staging folder left behind


def test_a_new_model_replaces_the_shipped_one_and_leaves_nothing_beside_it(tmp_path):
    bundle = _trained_bundle(tmp_path / "fit")
    target = build_default_model.ship(bundle, {"round": 1}, target=tmp_path / "package" / "default")
    build_default_model.ship(bundle, {"round": 2}, target=target)
    assert load_spec(target).training["default_model"] == {"round": 2}
    verify_checksums(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["default"]  # no .default.old or staging folder


def test_the_provenance_line_ignores_only_what_the_build_itself_wrote(tmp_path, monkeypatch):
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "spec.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-qm", "first")
    monkeypatch.setattr(bench_common, "REPO", tmp_path)
    (tmp_path / "model" / "spec.json").write_text('{"figures": 1}')  # the build's own output
    assert "uncommitted" not in bench_common.provenance(outputs=(tmp_path / "model",))
    assert "uncommitted code edits" in bench_common.provenance()
    (tmp_path / "code.py").write_text("x = 2\n")  # an edit to code is flagged whatever the outputs
    assert "uncommitted code edits" in bench_common.provenance(outputs=(tmp_path / "model",))
