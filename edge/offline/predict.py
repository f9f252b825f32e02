"""Offline prediction on files through the same chain as the live runtime (map, units, resample, sanitise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.chain.channels import build_channel_map
from edge.chain.signal_chain import SignalChain, Status, Window
from edge.config import ChainConfig
from edge.contract import (
    CLASSES,
    KAGGLE_LOOKAHEAD_S,
    LABEL_START,
    LABEL_STOP,
    SAMPLE_RATE_HZ,
    window_for_kaggle_label,
)
from edge.errors import DataError
from edge.inputs.input_files import read_recording
from edge.model.engine import Engine
from edge.records import RUN_ID

FEED_CHUNK = 4096  # any size gives the same windows; this one keeps Python overhead low
BATCH = 16
REFUSED = ("missing", "artifact")  # status kinds of a window that is not valid EEG (edge/chain/quality.py)


def file_windows(path: str | Path, config: ChainConfig, *, offset_s: float = 0.0, allow_missing: bool = False,
                 montage: str = "double_banana") -> Iterator[Window | Status]:
    """Each window on the hop grid: a Window, or a Status ("missing"/"artifact") when it is not valid EEG."""
    recording = read_recording(path)
    if offset_s < 0:
        raise DataError(f"--offset must be >= 0 seconds, got {offset_s}")
    channel_map = build_channel_map(recording.labels, recording.units, montage, allow_missing=allow_missing)
    chain = SignalChain(channel_map, recording.sample_rate_hz, config, offset_samples=round(offset_s * SAMPLE_RATE_HZ))
    for start in range(0, len(recording.data), FEED_CHUNK):
        for event in chain.push(recording.data[start:start + FEED_CHUNK]):
            if isinstance(event, Window) or event.kind in REFUSED:
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
                yield _status(path, event.kind, event.detail["start_sample"], event.message, event.detail)
                continue
            batch.append(event)
            if len(batch) == BATCH:
                yield from _run(path, batch, engine, kaggle=kaggle)
                batch = []
        yield from _run(path, batch, engine, kaggle=kaggle)
        if count == 0:
            raise DataError(f"{path} is shorter than one {engine.spec.contract.window_seconds:.0f} s window "
                            f"after offset {offset_s} s")


def _status(path: Path, kind: str, start_sample: int, message: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"type": "status", "run_id": RUN_ID, "file": str(path), "offset": start_sample / SAMPLE_RATE_HZ,
            "kind": kind, "message": message, **{k: detail[k] for k in ("unusable", "bad_seconds") if k in detail}}


def _run(path: Path, windows: list[Window], engine: Engine, *, kaggle: bool) -> Iterator[dict[str, Any]]:
    if not windows:
        return
    lookahead = engine.spec.lookahead_s
    if kaggle:
        span = (LABEL_START / SAMPLE_RATE_HZ, LABEL_STOP / SAMPLE_RATE_HZ)
        probs = engine.predict(np.stack([window_for_kaggle_label(w.data, lookahead) for w in windows]))
        how = ("the model's own window" if lookahead == KAGGLE_LOOKAHEAD_S else
               f"model lookahead {lookahead:g} s: its window starts {KAGGLE_LOOKAHEAD_S - lookahead:g} s earlier, "
               "that context filled with channel means")
    else:
        span, how = engine.spec.label_span_seconds, None
        probs = engine.predict(np.stack([w.data for w in windows]))
    for window, p in zip(windows, probs, strict=True):
        if not np.all(np.isfinite(p)):
            yield _status(path, "invalid_output", window.start_sample, "the model returned non-finite "
                          "probabilities: not predicted", {"bad_seconds": window.bad_seconds})
            continue
        yield {"type": "prediction", "run_id": RUN_ID, "file": str(path),
               "offset": window.start_sample / SAMPLE_RATE_HZ,
               "label_start": window.start_sample / SAMPLE_RATE_HZ + span[0],
               "label_end": window.start_sample / SAMPLE_RATE_HZ + span[1],
               **({"kaggle_centre": how} if how else {}),
               "probs": {c: float(v) for c, v in zip(CLASSES, p, strict=True)},
               "flagged": window.flagged, "quality": window.quality, "bad_seconds": window.bad_seconds}
