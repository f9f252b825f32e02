"""`calibrate triton-repo`: a standard Triton model repository from a verified bundle (served for real in
tests/edge/test_triton.py)."""

from __future__ import annotations

import json
import shutil

import pytest

from calibrate.triton_repo import write_triton_repo
from edge.errors import SpecError
from edge.model.bundle import CALIBRATION_FILE, ONNX_FILE, ONNX_FP16_FILE, bundle_id, write_checksums
from edge.testing import build_test_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_test_bundle(tmp_path_factory.mktemp("bundle") / "b")


def test_the_repository_is_a_valid_triton_config_with_the_bundle_identity(bundle, tmp_path) -> None:
    text_format = pytest.importorskip("google.protobuf.text_format")
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    repo = write_triton_repo(bundle, tmp_path / "repo", name="seizure", max_batch=16)
    assert repo.path == tmp_path / "repo" / "seizure" and repo.precision == "fp32"
    assert (repo.path / "1" / "model.onnx").read_bytes() == (bundle / ONNX_FILE).read_bytes()
    config = text_format.Parse((repo.path / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert (config.name, config.platform, config.max_batch_size) == ("seizure", "onnxruntime_onnx", 16)
    assert [(t.name, list(t.dims)) for t in config.input] == [("eeg", [20, 10000])]
    assert [(t.name, list(t.dims)) for t in config.output] == [("probs", [6])]
    assert config.HasField("dynamic_batching") and not config.HasField("optimization")  # accelerator: commented
    assert config.parameters["eeg_edge_bundle_id"].string_value == bundle_id(bundle)
    assert len(config.parameters["eeg_edge_spec_sha256"].string_value) == 64


def test_the_gpu_precision_is_fp16_where_verified_and_unverified_ones_are_refused(bundle, tmp_path) -> None:
    copy = shutil.copytree(bundle, tmp_path / "bundle")
    with pytest.raises(SpecError, match="precision 'fp16' is not verified"):
        write_triton_repo(copy, tmp_path / "a", precision="fp16")
    shutil.copy(copy / ONNX_FILE, copy / ONNX_FP16_FILE)  # a stand-in fp16 graph
    (copy / CALIBRATION_FILE).write_text(json.dumps({"precision": {"verified": ["fp32", "fp16"]}}))
    write_checksums(copy)
    repo = write_triton_repo(copy, tmp_path / "b")
    assert repo.precision == "fp16" and 'value: "FP16"' in (repo.path / "config.pbtxt").read_text()
    with pytest.raises(SpecError, match="already exists"):
        write_triton_repo(copy, tmp_path / "b")
