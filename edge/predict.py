"""Offline prediction on files through the same chain as the live runtime (map, units, resample, sanitise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.chain import SignalChain, Window
from edge.channels import build_channel_map
from edge.config import ChainConfig
from edge.engine import Engine
from edge.errors import DataError
from edge.recordings import read_recording
from edge.spec import CLASSES, SAMPLE_RATE_HZ

FEED_CHUNK = 4096  # any size gives the same windows; this one keeps Python overhead low
BATCH = 16


def file_windows(path: str | Path, config: ChainConfig, offset_s: float = 0.0, allow_missing: bool = False,
                 montage: str = "double_banana") -> Iterator[Window]:
    recording = read_recording(path)
    if offset_s < 0:
        raise DataError(f"--offset must be >= 0 seconds, got {offset_s}")
    channel_map = build_channel_map(recording.labels, recording.units, montage, allow_missing)
    chain = SignalChain(channel_map, recording.sample_rate_hz, config, round(offset_s * SAMPLE_RATE_HZ))
    for start in range(0, len(recording.data), FEED_CHUNK):
        for event in chain.push(recording.data[start:start + FEED_CHUNK]):
            if isinstance(event, Window):
                yield event


def predict_files(paths: list[Path], engine: Engine, hop_s: float = 2.0, offset_s: float = 0.0,
                  allow_missing: bool = False) -> Iterator[dict[str, Any]]:
    """One dict per window: file, offset (window start, seconds at 200 Hz), probs, quality flags."""
    config = ChainConfig(hop_s=hop_s)
    config.validate("predict")
    for path in paths:
        count = 0
        batch: list[Window] = []
        for window in file_windows(path, config, offset_s, allow_missing, engine.spec.frontend.montage):
            batch.append(window)
            if len(batch) == BATCH:
                yield from _run(path, batch, engine)
                count += len(batch)
                batch = []
        yield from _run(path, batch, engine)
        if count + len(batch) == 0:
            raise DataError(f"{path} is shorter than one {engine.spec.contract.window_seconds:.0f} s window "
                            f"after offset {offset_s} s")


def _run(path: Path, windows: list[Window], engine: Engine) -> Iterator[dict[str, Any]]:
    if not windows:
        return
    probs = engine.predict(np.stack([w.data for w in windows]))
    for window, p in zip(windows, probs, strict=True):
        yield {"file": str(path), "offset": window.start_sample / SAMPLE_RATE_HZ,
               "probs": {c: float(v) for c, v in zip(CLASSES, p, strict=True)},
               "flagged": window.flagged, "quality": window.quality}
