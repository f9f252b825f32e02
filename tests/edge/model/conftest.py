"""A small bundle of plain files (spec, a stand-in graph, a calibration record), checksummed."""

from __future__ import annotations

import pytest

from edge.model.bundle import atomic_write, save_spec, write_checksums
from edge.model.model_spec import ModelSpec


@pytest.fixture
def bundle(tmp_path):
    save_spec(tmp_path, ModelSpec(model="grouped1d"))
    atomic_write(tmp_path / "model.onnx", b"\x08\x07onnx-bytes")
    atomic_write(tmp_path / "calibration.json", '{"precision": {"verified": ["fp32", "fp16"], "chosen": {}}}')
    write_checksums(tmp_path)
    return tmp_path
