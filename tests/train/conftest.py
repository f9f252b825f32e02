"""Fixtures shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edge.contract import CHANNELS


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    """16 synthetic EEGs of 8 patients plus 2 test EEGs, in the Kaggle layout: what the fit tests train on."""
    from train.synth.generate import SynthConfig, generate_dataset

    out = tmp_path_factory.mktemp("fit_layout")
    generate_dataset(out, SynthConfig(n_eegs=16, n_patients=8, seed=3, n_test=2, max_seconds=60))
    return out


@pytest.fixture
def make_batch():
    """make_batch(n, seed) -> (eeg [n, 20, 10000], targets [n, 6], weights [n]): a random training batch."""

    def _batch(n=6, seed=0):
        rng = np.random.default_rng(seed)
        eeg = torch.tensor(rng.normal(0, 30, size=(n, len(CHANNELS), 10_000)), dtype=torch.float32)
        targets = torch.tensor(rng.dirichlet(np.ones(6), size=n), dtype=torch.float32)
        return eeg, targets, torch.ones(n)

    return _batch
