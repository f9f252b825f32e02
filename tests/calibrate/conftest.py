"""Shared fixtures for the calibrate tests: one small synthetic dataset and one calibrated tiny bundle per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CALIB_WINDOWS = 12
VERIFY_WINDOWS = 8
SCORE_WINDOWS = 8
# An untrained tiny model's probabilities are near ties: any rounding flips some top classes, so the argmax
# agreement gate is off on it (tests/calibrate/test_verify.py and the fragile-model test check it).
TINY_MIN_AGREEMENT = 0.0


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    from train.synth.generate import SynthConfig, generate_dataset

    out = tmp_path_factory.mktemp("calibrate-data") / "hms"
    generate_dataset(out, SynthConfig(n_eegs=20, seed=3))
    return out


def make_tiny_bundle(path: Path, name: str = "mel2d") -> Path:
    import torch

    from edge.model.model_spec import FrontEndConfig, ModelSpec
    from train.checkpoint import save_bundle
    from train.models import TINY_KWARGS, create_model

    torch.manual_seed(0)
    model = create_model(name, frontend=FrontEndConfig(), **TINY_KWARGS[name])
    return save_bundle(path, model, ModelSpec(model=name, model_kwargs=TINY_KWARGS[name]))


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory, synth_data):
    """(bundle, RunResult) after `calibrate run` on a tiny mel2d; copy the bundle before changing it."""
    from calibrate.gates import Gates
    from calibrate.pipeline import run_all
    from calibrate.quantize import QuantizeConfig
    from calibrate.verify import VerifyConfig

    bundle = make_tiny_bundle(tmp_path_factory.mktemp("calibrate-bundle") / "bundle")
    result = run_all(bundle, synth_data, quantize=QuantizeConfig(windows=CALIB_WINDOWS, batch=4,
                                                                 sensitivity_windows=SCORE_WINDOWS),
                     verify_config=VerifyConfig(windows=VERIFY_WINDOWS, batch=4),
                     gates=Gates(min_argmax_agreement=TINY_MIN_AGREEMENT))
    return bundle, result


@pytest.fixture
def tiny_bundle():
    """make_tiny_bundle(path, name): a randomly initialised TINY_KWARGS model saved as a bundle."""
    return make_tiny_bundle


@pytest.fixture
def verify_windows() -> int:
    return VERIFY_WINDOWS


@pytest.fixture
def bundle_copy(calibrated, tmp_path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(calibrated[0], target)
    return target


@pytest.fixture
def tiny_gates():
    """The default gates with the argmax-agreement gate off (see TINY_MIN_AGREEMENT)."""
    from calibrate.gates import Gates

    return Gates(min_argmax_agreement=TINY_MIN_AGREEMENT)
