"""CUDA: the front end and the models give their CPU results, bf16 autocast stays close to float32, `train fit`
runs on the GPU into a bundle, and the exported bundle (onnxruntime; calibrate's torch reference runner on the
GPU) scores windows like the CUDA model.

Every test is marked gpu (`make test` deselects them) and skips where torch sees no CUDA device. Parity is
checked with TF32 off (cuDNN allows it for convolutions by default, a ~1e-3 relative error).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="needs CUDA: torch.cuda.is_available() is False")]

from torch import nn  # noqa: E402

from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES  # noqa: E402
from edge.model.bundle import verify_checksums  # noqa: E402
from edge.model.model_spec import FrontEndConfig  # noqa: E402
from edge.testing import synthetic_eeg  # noqa: E402
from train.models import ProbabilityModel, create_model  # noqa: E402
from train.models.frontend import MelImageFrontEnd, SignalFrontEnd  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "tiny.toml"
CUDA = torch.device("cuda")

# Signals are in units of signal_scale_uv (50 uV): 1e-4 is 5 nV. The image is in units of db_scale (12 dB):
# 1e-3 is 0.012 dB. float32 against float64 on the CPU differs by ~2e-6 and ~4e-5 on eeg_batch().
FRONT_ENDS = [pytest.param(SignalFrontEnd, 1e-4, id="signals"), pytest.param(MelImageFrontEnd, 1e-3, id="mel-image")]
MODELS = ["mel2d", "grouped1d"]  # the defaults, as `train fit` builds them


@pytest.fixture
def no_tf32():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def eeg_batch(batch: int = 4, seed: int = 0) -> torch.Tensor:
    """[batch, 20, 10000] uV: synthetic rhythms (~35 uV) plus a ~100 uV offset per electrode; the last window
    at 15x amplitude, so the +-500 uV clip is exercised too."""
    rng = np.random.default_rng(seed)
    windows = np.stack([synthetic_eeg(WINDOW_SAMPLES / SAMPLE_RATE_HZ, seed=seed + i).T for i in range(batch)])
    windows += rng.normal(0.0, 100.0, (batch, len(CHANNELS), 1))
    windows[-1] *= 15.0
    return torch.from_numpy(windows.astype(np.float32))


def calibrated(model: nn.Module, eeg: torch.Tensor, logit_std: float | None = None) -> nn.Module:
    """An untrained model made less degenerate: BatchNorm statistics measured on `eeg` (fresh ones are mean 0,
    variance 1), and with `logit_std` the head scaled so the logits spread like a trained model's; fresh
    weights give near-uniform probabilities, which any arithmetic reproduces to 1e-4."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: one batch gives exactly its statistics
    model.train()
    with torch.no_grad():
        model(eeg)
        model.eval()
        if logit_std is not None:
            head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
            scale = logit_std / model(eeg).std()
            head.weight.mul_(scale)
            head.bias.mul_(scale)
    return model


# ----------------------------------------------------------------------------- front end and models


@pytest.mark.parametrize(("module", "atol"), FRONT_ENDS)
def test_front_end_on_cuda_equals_cpu(module, atol, no_tf32) -> None:
    frontend = module(FrontEndConfig()).eval()
    eeg = eeg_batch()
    with torch.no_grad():
        expected = frontend(eeg)
        got = frontend.to(CUDA)(eeg.to(CUDA)).cpu()
    assert got.shape == expected.shape and got.dtype == torch.float32
    worst = float((got - expected).abs().max())
    assert worst <= atol, f"{module.__name__} on CUDA differs from the CPU by {worst:.2e} (allowed {atol:.0e})"


@pytest.mark.parametrize(("module", "atol"), FRONT_ENDS)
def test_front_end_under_bf16_autocast_still_computes_in_float32(module, atol, no_tf32) -> None:
    """`train fit` runs the model under bf16 autocast on CUDA; the bundle is served in float32. A front end
    computed in bf16 (montage matmul, FIR and DFT convolutions) gives a Mel-dB image off by up to ~0.4 units
    (~5 dB) in its low-power bins (measured with CPU bf16 autocast), so training would see other images than
    the edge computes. The front end has to leave autocast (or cast to float32) itself."""
    frontend = module(FrontEndConfig()).eval().to(CUDA)
    eeg = eeg_batch().to(CUDA)
    with torch.no_grad():
        expected = frontend(eeg)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            got = frontend(eeg)
    assert got.dtype == torch.float32, f"{module.__name__} returns {got.dtype} under bf16 autocast"
    worst = float((got - expected).abs().max())
    assert worst <= atol, f"{module.__name__} under bf16 autocast differs from float32 by {worst:.2e}"


@pytest.mark.parametrize("name", MODELS)
def test_model_on_cuda_equals_cpu(name, no_tf32) -> None:
    torch.manual_seed(0)
    eeg = eeg_batch()
    model = ProbabilityModel(calibrated(create_model(name, FrontEndConfig()), eeg, logit_std=3.0)).eval()
    with torch.no_grad():
        expected = model(eeg)
        got = model.to(CUDA)(eeg.to(CUDA)).cpu()
    assert expected.max() > 0.3  # not near-uniform: the comparison below means something
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_model_under_bf16_autocast_stays_close_to_float32(name, no_tf32) -> None:
    """The training forward pass (bf16 autocast) against the float32 one that evaluation and the edge use.

    Untrained weights (BatchNorm statistics measured, natural head: logits std ~0.5) accumulate bf16 rounding
    through the network: with CPU bf16 autocast and a float32 front end the probabilities of mel2d's mixnet_s
    moved by up to 0.03 and grouped1d's by 0.01, so 0.05 is the bound here; gross failures (overflow, NaN,
    a softmax in bf16) are what this catches. The front end has its own, tight test above.
    """
    torch.manual_seed(0)
    eeg = eeg_batch()
    model = ProbabilityModel(calibrated(create_model(name, FrontEndConfig()), eeg)).eval().to(CUDA)
    eeg = eeg.to(CUDA)
    with torch.no_grad():
        fp32 = model(eeg)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            bf16 = model(eeg)
    assert bf16.dtype == torch.float32  # autocast runs softmax in float32
    assert torch.isfinite(bf16).all()
    np.testing.assert_allclose(bf16.sum(dim=1).cpu().numpy(), 1.0, atol=1e-5)
    worst = float((bf16 - fp32).abs().max())
    assert worst <= 0.05, f"{name} under bf16 autocast moves probabilities by {worst:.3f}"


# ----------------------------------------------------------------------------- `train fit` on CUDA


@pytest.fixture(scope="module")
def cuda_fit(layout, tmp_path_factory):
    """configs/tiny.toml trained on the GPU with bf16 autocast, under the process's default TF32 flags."""
    from train.fit.config import load_config
    from train.fit.run import fit

    config = load_config(TINY, {"run.device": "cuda", "run.amp": True})
    return fit(layout, tmp_path_factory.mktemp("cuda_fit") / "bundle", config, show_progress=False)


@pytest.fixture(scope="module")
def exported(cuda_fit, tmp_path_factory) -> Path:
    """A copy of the fitted bundle with model.onnx (`calibrate export`)."""
    pytest.importorskip("onnxscript")
    from calibrate.pipeline import export_step

    bundle = shutil.copytree(cuda_fit.bundle, tmp_path_factory.mktemp("cuda_export") / "bundle")
    export_step(bundle)
    return bundle


@pytest.fixture(scope="module")
def window_set(layout):
    """The layout's labelled train windows, unshifted."""
    from train.data import build_window_set

    return build_window_set(layout, split="train", margin=0)


def first_rows(window_set, count: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(rows, [rows, 20, 10000] float32 windows) of the first `count` labelled windows."""
    rows = np.arange(min(count, len(window_set)))
    return rows, np.stack([window_set.window(int(r)) for r in rows]).astype(np.float32)


def test_fit_on_cuda_with_amp_writes_a_bundle_that_scores_like_on_the_cpu(cuda_fit, window_set, no_tf32) -> None:
    from train.checkpoint import load_bundle_model
    from train.fit.evaluate import predict_probs

    bundle = cuda_fit.bundle
    for name in ("spec.json", "weights.safetensors", "metrics.json", "oof.csv", "SHA256SUMS"):
        assert (bundle / name).is_file(), name
    verify_checksums(bundle)
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert math.isfinite(metrics["oof_kl"]) and math.isfinite(metrics["oof_prior_kl"])
    losses = metrics["curves"]["fold0"]["loss"]
    assert len(losses) > 3 and all(math.isfinite(v) for v in losses)

    model, spec = load_bundle_model(bundle)  # CPU, float32
    assert spec.training["config"]["run"]["device"] == "cuda" and spec.training["config"]["run"]["amp"]
    rows, _ = first_rows(window_set)
    on_cpu = predict_probs(model, window_set, rows, batch_size=16, device=torch.device("cpu"))
    on_cuda = predict_probs(model.to(CUDA), window_set, rows, batch_size=16, device=CUDA)
    np.testing.assert_allclose(on_cuda, on_cpu, atol=1e-4)

    # The shipped weights are fold 0's model: on the CPU they reproduce the out-of-fold predictions the fit
    # made on the GPU (in float32, but with cuDNN's default TF32 convolutions: hence the looser bound).
    with (bundle / "oof.csv").open() as fh:
        table = list(csv.DictReader(fh))
    oof = np.array([[float(r[k]) for k in r if k.startswith("pred_")] for r in table])
    oof_rows = np.array([int(np.flatnonzero(window_set.label_ids == int(r["label_id"]))[0]) for r in table])
    preds = predict_probs(model.cpu(), window_set, oof_rows, batch_size=16, device=torch.device("cpu"))
    np.testing.assert_allclose(preds, oof, atol=2e-3)


def test_exported_onnx_scores_like_the_cuda_model(cuda_fit, exported, window_set, no_tf32) -> None:
    from edge.model.engine import Engine
    from train.checkpoint import load_bundle_model
    from train.fit.evaluate import predict_probs

    model, _ = load_bundle_model(cuda_fit.bundle)
    rows, batch = first_rows(window_set)
    on_cuda = predict_probs(model.to(CUDA), window_set, rows, batch_size=16, device=CUDA)
    with Engine(exported, "onnxruntime") as engine:
        np.testing.assert_allclose(engine.predict(batch), on_cuda, atol=1e-4)


def test_torch_reference_runs_on_cuda_like_onnxruntime(exported, window_set) -> None:
    """No TF32 fixture: the runner must compute in float32 whatever the process's flags are."""
    from calibrate.reference import TorchReference
    from edge.model.engine import Engine

    _, batch = first_rows(window_set)
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    with TorchReference.from_bundle(exported) as by_torch, Engine(exported, "onnxruntime") as by_ort:
        assert by_torch.device == f"cuda:{torch.cuda.current_device()}"
        got = by_torch.infer({"eeg": batch})["probs"]
        np.testing.assert_allclose(got, by_ort.predict(batch), atol=1e-4)
        np.testing.assert_allclose(by_torch.infer({"eeg": batch[:1]})["probs"], got[:1], atol=1e-5)
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == flags  # restored
