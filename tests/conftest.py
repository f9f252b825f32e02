"""Test setup shared by the whole suite.

The loopback-only LSL config is set here, before any test module can import pylsl, so no LSL
traffic leaves the machine (the Makefile also runs the suite inside `unshare --net` where it can).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from edge.inputs.lsl_config import use_loopback_only
from edge.testing import shared_data_dir

use_loopback_only()

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = shared_data_dir()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real EEG under competition terms): tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture
def stream_name() -> str:
    """A unique LSL stream name per test, so parallel or repeated tests never see each other's streams."""
    return f"eegedge-test-{uuid.uuid4().hex[:12]}"
