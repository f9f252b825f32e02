"""The file source `edge evaluate` feeds the Runtime with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.contract import CHANNELS
from edge.inputs.file_source import FileSource
from edge.inputs.input_files import Recording


def test_file_source_hands_out_one_hop_per_pull_with_file_timestamps() -> None:
    data = np.arange(1050 * len(CHANNELS), dtype=np.float32).reshape(1050, len(CHANNELS))
    source = FileSource(Recording(data, CHANNELS, ("uV",) * len(CHANNELS), 500.0, Path("x/rec.edf")), chunk_s=1.0,
                        t0=10.0)
    layout = source.open()
    assert (source.name, layout.sample_rate_hz, layout.source_id) == ("rec", 500.0, "x/rec.edf")
    pulls = []
    while not source.exhausted:
        pulls.append(source.pull())
    assert [len(p[0]) for p in pulls] == [500, 500, 50] and source.pull() is None
    np.testing.assert_array_equal(np.concatenate([p[0] for p in pulls]), data)
    np.testing.assert_allclose(np.concatenate([p[1] for p in pulls]), 10.0 + np.arange(1050) / 500.0)
    assert source.now() == pytest.approx(10.0 + 1049 / 500.0) and source.silent_for() == 0.0
