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
from edge.contract import KAGGLE_LOOKAHEAD_S, LABEL_START, LABEL_STOP, SAMPLE_RATE_HZ, window_for_kaggle_label
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
                  allow_missing: bool = False, kaggle: bool = False) -> Iterator[dict[str, Any]]:
    """One dict per window: a "prediction" (file, offset = window start in seconds at 200 Hz, the labelled
    span it is about, probs, quality flags) or a "status" saying why the window is not predicted.

    The span is the model's (spec.lookahead_s). With `kaggle` every window is read as a Kaggle window,
    labelled on its centre 10 s, and the prediction is for that centre whatever the model's lookahead:
    contract.window_for_kaggle_label says how (the missing earlier context filled with channel means)."""
    config = ChainConfig(hop_s=hop_s)
    config.validate("predict")
    for path in paths:
        count = 0
        batch: list[Window] = []
        for event in file_windows(path, config, offset_s=offset_s, allow_missing=allow_missing,
                                  montage=engine.spec.frontend.montage):
            count += 1
            if isinstance(event, Status):
                yield from _run(path, batch, engine, kaggle=kaggle)
                batch = []
                yield file_status_record(path, event.kind, event.detail["start_sample"], event.message, event.detail)
                continue
            batch.append(event)
            if len(batch) == BATCH:
                yield from _run(path, batch, engine, kaggle=kaggle)
                batch = []
        yield from _run(path, batch, engine, kaggle=kaggle)
        if count == 0:
            raise DataError(f"{path} is shorter than one {engine.spec.contract.window_seconds:.0f} s window "
                            f"after offset {offset_s} s")


def _run(path: Path, windows: list[Window], engine: Engine, *, kaggle: bool) -> Iterator[dict[str, Any]]:
    if not windows:
        return
    lookahead = engine.spec.lookahead_s
    if kaggle:
        span = (LABEL_START / SAMPLE_RATE_HZ, LABEL_STOP / SAMPLE_RATE_HZ)
        data = np.stack([window_for_kaggle_label(w.data, lookahead) for w in windows])
        how = ("the model's own window" if lookahead == KAGGLE_LOOKAHEAD_S else
               f"model lookahead {lookahead:g} s: its window starts {KAGGLE_LOOKAHEAD_S - lookahead:g} s earlier, "
               "that context filled with channel means")
    else:
        span, how = engine.spec.label_span_seconds, None
        data = np.stack([w.data for w in windows])
    checked = engine.probabilities(data)
    for window, p, problem in zip(windows, checked.probs, checked.problems, strict=True):
        if problem is not None:
            yield file_status_record(path, Kind.INVALID_OUTPUT, window.start_sample, f"model {problem}: not predicted",
                                     {"bad_seconds": window.bad_seconds})
            continue
        yield file_prediction_record(path, window, p, span=span, kaggle_centre=how)
