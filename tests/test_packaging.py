"""The install: pinned CPU torch, no CUDA wheels, console scripts that start."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def test_torch_is_pinned_and_a_cpu_build_brings_no_nvidia_wheels():
    import torch

    assert importlib.metadata.version("torch").startswith("2.13.0")
    if torch.version.cuda is not None:
        pytest.skip("torch is a CUDA build here (make install TORCH_INDEX=...): its nvidia wheels are expected")
    nvidia = sorted(d.metadata["Name"] for d in importlib.metadata.distributions()
                    if (d.metadata["Name"] or "").lower().startswith("nvidia"))
    assert nvidia == []


@pytest.mark.parametrize("command", ["edge", "train", "calibrate"])
def test_console_scripts_show_help(command):
    result = subprocess.run([str(BIN / command), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
