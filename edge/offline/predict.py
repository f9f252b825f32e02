"""Offline prediction on files through the same chain as the live runtime (map, units, resample, sanitise).

Files are read in bounded chunks (edge.inputs.input_files.open_recording) and windows predicted in small
batches, so memory does not grow with the recording's length (scripts/bench_long_file.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.chain.channels import build_channel_map
from edge.chain.signal_chain import SignalChain, Window
from edge.chain.status import REFUSED_WINDOW, Kind, Status
from edge.config import ChainConfig
from edge.contract import SAMPLE_RATE_HZ
from edge.errors import DataError
from edge.inputs.input_files import CHUNK_ROWS, open_recording
from edge.model.engine import Engine
from edge.records import file_prediction_record, file_status_record

BATCH = 16


def file_windows(path: str | Path, config: ChainConfig, *, offset_s: float = 0.0, allow_missing: bool = False,
                 montage: str = "double_banana", chunk_rows: int = CHUNK_ROWS) -> Iterator[Window | Status]:
    """Each window on the hop grid: a Window, or a Status (a REFUSED_WINDOW kind) when it is not valid EEG.
    Any `chunk_rows` gives the same windows (the chain cuts at hop boundaries of the sample count)."""
    recording = open_recording(path)
    if offset_s < 0:
        raise DataError(f"--offset must be >= 0 seconds, got {offset_s}")
    channel_map = build_channel_map(recording.labels, recording.units, montage, allow_missing=allow_missing)
    chain = SignalChain(channel_map, recording.sample_rate_hz, config, offset_samples=round(offset_s * SAMPLE_RATE_HZ))
    for chunk in recording.chunks(chunk_rows):
        for event in chain.push(chunk):
            if isinstance(event, Window) or event.kind in REFUSED_WINDOW:
                yield event


def predict_files(paths: list[Path], engine: Engine, *, hop_s: float = 2.0, offset_s: float = 0.0,
                  allow_missing: bool = False) -> Iterator[dict[str, Any]]:
    """One dict per window: a "prediction" (file, offset = window start in seconds at 200 Hz, probs,
    quality flags) or a "status" saying why the window is not predicted."""
    config = ChainConfig(hop_s=hop_s)
    config.validate("predict")
    for path in paths:
        count = 0
        batch: list[Window] = []
        for event in file_windows(path, config, offset_s=offset_s, allow_missing=allow_missing,
                                  montage=engine.spec.frontend.montage):
            count += 1
            if isinstance(event, Status):
                yield from _run(path, batch, engine)
                batch = []
                yield file_status_record(path, event.kind, event.detail["start_sample"], event.message, event.detail)
                continue
            batch.append(event)
            if len(batch) == BATCH:
                yield from _run(path, batch, engine)
                batch = []
        yield from _run(path, batch, engine)
        if count == 0:
            raise DataError(f"{path} is shorter than one {engine.spec.contract.window_seconds:.0f} s window "
                            f"after offset {offset_s} s")


def _run(path: Path, windows: list[Window], engine: Engine) -> Iterator[dict[str, Any]]:
    if not windows:
        return
    checked = engine.probabilities(np.stack([w.data for w in windows]))
    for window, p, problem in zip(windows, checked.probs, checked.problems, strict=True):
        if problem is not None:
            yield file_status_record(path, Kind.INVALID_OUTPUT, window.start_sample, f"model {problem}: not predicted",
                                     {"bad_seconds": window.bad_seconds})
            continue
        yield file_prediction_record(path, window, p)
