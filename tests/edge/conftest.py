"""Fixtures for the edge tests: a tiny ONNX bundle built without torch, and synthetic recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.testing import build_test_bundle, synthetic_eeg, write_parquet


@pytest.fixture(scope="session")
def test_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_bundle(tmp_path_factory.mktemp("bundle") / "test-onnx")


@pytest.fixture(scope="session")
def recording_70s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("rec") / "synthetic_70s.parquet", synthetic_eeg(70.0))
