"""The calibrate command line's defaults (the pipeline itself is tested in test_calibrate_pipeline.py)."""

from __future__ import annotations

import inspect

import pytest

from calibrate import cli
from calibrate.quantize import QuantizeConfig


@pytest.mark.parametrize("command", [cli.quantize, cli.run])
def test_cli_quantization_defaults_are_the_library_defaults(command):
    """cli.py writes QuantizeConfig's defaults out (so --help does not import onnxruntime); they must agree."""
    params = inspect.signature(command).parameters
    defaults = QuantizeConfig()
    assert (params["method"].default, params["percentile"].default) == (defaults.method, defaults.percentile)
    assert (params["calib_windows"].default, params["batch"].default) == (defaults.windows, defaults.batch)
