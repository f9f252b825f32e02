"""Fixtures shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    """16 synthetic EEGs of 8 patients plus 2 test EEGs, in the Kaggle layout: what the fit tests train on."""
    from train.synth.generate import SynthConfig, generate_dataset

    out = tmp_path_factory.mktemp("fit_layout")
    generate_dataset(out, SynthConfig(n_eegs=16, n_patients=8, seed=3, n_test=2, max_seconds=60))
    return out
