"""Records shaped like the runtime's (edge.records), for the display tests."""

from __future__ import annotations

import pytest

from edge.contract import CLASSES


def prediction(stream: str, t: float, *, seizure: float = 0.1, flat: tuple[str, ...] = ()) -> dict:
    rest = (1.0 - seizure) / (len(CLASSES) - 1)
    probs = {c: (seizure if c == "seizure" else rest) for c in CLASSES}
    quality = {"missing": [], "sanitized": [], "flat": list(flat), "railing": [], "line_noise": []}
    return {"type": "prediction", "stream": stream, "window_start": t - 50, "window_end": t,
            "label_start": t - 30, "label_end": t - 20, "probs": probs, "smoothed": dict(probs),
            "flagged": bool(flat), "quality": quality, "model": "test-model", "latency_ms": 3.2, "emitted_at": t}


@pytest.fixture
def make_prediction():
    return prediction
