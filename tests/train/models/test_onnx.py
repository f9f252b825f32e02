"""ONNX export of the front end and of every registered model (tiny configs), with both exporters.

The exported graph must use plain ops only (no STFT/DFT: TensorRT 10.3 on JetPack 6 cannot parse
them), keep a dynamic batch axis, and match torch in onnxruntime.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from edge.contract import CHANNELS, WINDOW_SAMPLES, hemisphere_flip_permutation
from edge.model.model_spec import FrontEndConfig
from train.models import TINY_KWARGS, ProbabilityModel, create_model, list_models
from train.models.frontend import MelImageFrontEnd

FORBIDDEN_OPS = {"STFT", "DFT", "MelWeightMatrix", "HannWindow", "Loop", "If", "Scan"}


def export(module: nn.Module, path: Path, dynamo: bool, output_name: str) -> onnx.ModelProto:
    example = torch.randn(2, len(CHANNELS), WINDOW_SAMPLES) * 40
    names = {"input_names": ["eeg"], "output_names": [output_name]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter deprecation chatter
        if dynamo:
            shapes = {"eeg": {0: torch.export.Dim("batch", min=1, max=1024)}}
            torch.onnx.export(module, (example,), str(path), dynamo=True, dynamic_shapes=shapes, **names)
        else:
            axes = {"eeg": {0: "batch"}, output_name: {0: "batch"}}
            torch.onnx.export(module, (example,), str(path), dynamo=False, dynamic_axes=axes, **names)
    return onnx.load(str(path))


def assert_plain_ops(graph: onnx.ModelProto) -> None:
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & FORBIDDEN_OPS, f"graph uses {sorted(ops & FORBIDDEN_OPS)}"
    assert all(node.domain in ("", "ai.onnx") for node in graph.graph.node), "custom-domain op in graph"


def max_diff_vs_torch(module: nn.Module, path: Path, batches: tuple[int, ...] = (1, 3)) -> float:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    generator = torch.Generator().manual_seed(7)
    for batch in batches:
        eeg = torch.randn(batch, len(CHANNELS), WINDOW_SAMPLES, generator=generator) * 40
        with torch.no_grad():
            expected = module(eeg).numpy()
        (got,) = session.run(None, {"eeg": eeg.numpy()})
        assert got.shape == expected.shape
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


EXPORTERS = [pytest.param(False, id="legacy"), pytest.param(True, id="dynamo", marks=pytest.mark.slow)]


@pytest.mark.parametrize("dynamo", EXPORTERS)
def test_front_end_exports_to_plain_ops(tmp_path: Path, dynamo: bool) -> None:
    frontend = MelImageFrontEnd(FrontEndConfig()).eval()
    graph = export(frontend, tmp_path / "frontend.onnx", dynamo, "image")
    assert_plain_ops(graph)
    # Image units are dB / db_scale; 1e-4 is ~1e-3 dB.
    assert max_diff_vs_torch(frontend, tmp_path / "frontend.onnx") <= 1e-4


@pytest.mark.parametrize("dynamo", EXPORTERS)
@pytest.mark.parametrize("name", list_models())
def test_probability_model_exports_and_matches_torch(tmp_path: Path, name: str, dynamo: bool) -> None:
    torch.manual_seed(0)
    model = ProbabilityModel(create_model(name, **TINY_KWARGS[name])).eval()
    graph = export(model, tmp_path / "model.onnx", dynamo, "probs")
    assert_plain_ops(graph)
    assert [i.name for i in graph.graph.input] == ["eeg"]
    assert [o.name for o in graph.graph.output] == ["probs"]
    assert max_diff_vs_torch(model, tmp_path / "model.onnx") <= 1e-5


@pytest.mark.parametrize("name", ["mel2d", "grouped1d"])
def test_flip_average_is_the_mean_of_both_hemisphere_views_and_exports(tmp_path: Path, name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, **TINY_KWARGS[name], flip_average=True).eval()
    model.calibration.temperature.fill_(1.7)  # the temperature applies to the averaged output, once
    eeg = torch.randn(3, len(CHANNELS), WINDOW_SAMPLES) * 40
    mirror = eeg[:, list(hemisphere_flip_permutation())]
    with torch.no_grad():
        averaged = torch.softmax(model(eeg), -1)
        model.flip_average = False
        views = [torch.softmax(model.logits(model.forward_frontend(x)), -1) for x in (eeg, mirror)]
        model.flip_average = True
    mean = (views[0] + views[1]) / 2
    expected = mean ** (1 / 1.7) / (mean ** (1 / 1.7)).sum(-1, keepdim=True)
    assert torch.allclose(averaged, expected, atol=1e-6)
    assert torch.allclose(averaged, torch.softmax(model(mirror), -1), atol=1e-6)  # symmetric by construction
    probs = ProbabilityModel(model).eval()
    export(probs, tmp_path / "model.onnx", False, "probs")
    assert max_diff_vs_torch(probs, tmp_path / "model.onnx") <= 1e-5
