"""`edge replay` refuses a speed that cannot pace a stream (no LSL traffic: refused before any outlet)."""

from __future__ import annotations

import pytest

from edge.cli import app
from edge.cli_support import run_app
from edge.errors import SpecError
from edge.inputs.replay import ReplayConfig


@pytest.mark.parametrize("speed", ["nan", "inf", "-inf", "0", "-2"])
def test_speed_must_be_finite_and_positive(speed, recording_70s, capsys) -> None:
    with pytest.raises(SpecError, match="--speed must be a finite number in"):
        ReplayConfig(speed=float(speed)).validate()
    assert run_app(app, ["replay", str(recording_70s), "--speed", speed]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--speed must be a finite number in" in err
