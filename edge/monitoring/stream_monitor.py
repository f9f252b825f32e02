"""Per-stream monitoring on top of the predictions: qEEG trends, burden and the alarm policy, in one
object the runtime holds next to the smoother (docs/monitoring.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.chain.signal_chain import Window, label_span
from edge.chain.status import NO_PREDICTION
from edge.config import RunConfig
from edge.contract import KAGGLE_LOOKAHEAD_S
from edge.monitoring.alarm_policy import AlarmEvent, AlarmPolicy
from edge.monitoring.burden import Burden, BurdenState
from edge.monitoring.trends import TrendState


class StreamMonitor:
    def __init__(self, config: RunConfig, model_id: str, *, lookahead_s: float = KAGGLE_LOOKAHEAD_S) -> None:
        self.lookahead_s = lookahead_s  # the model's: where its labelled span sits in the window
        self.trends = TrendState(config.trends) if config.trends.enabled else None
        self.burden = BurdenState(config.burden)
        self.policy = AlarmPolicy(config.alarm, model_id)

    def reset(self) -> None:
        if self.trends is not None:
            self.trends.reset()
        self.burden.reset()
        self.policy.reset()

    def on_window(self, stream: str, window: Window) -> dict[str, Any] | None:
        """Trends of a valid window (alarm-eligible: flat or disconnected electrodes would read as suppression):
        a "trends" record, or None when trends are off."""
        if self.trends is None:
            return None
        frame = self.trends.update(window.data, t=window.t_end, segment=window.segment,
                                   start_sample=window.start_sample)
        return {"type": "trends", "stream": stream, "t": frame.t,
                "values": np.round(frame.vector().astype(np.float64), 3).tolist()}

    def on_prediction(self, window: Window, probs: np.ndarray, smoothed: np.ndarray
                      ) -> tuple[Burden, list[AlarmEvent]]:
        """A valid prediction (one that reached the smoother)."""
        span = label_span(window, self.lookahead_s)  # the same span as the prediction record's
        burden = self.burden.update(probs, *span)
        return burden, self.policy.on_prediction(probs, smoothed, burden, t=window.t_end, label_span=span)

    def on_ineligible(self, window: Window) -> list[AlarmEvent]:
        """A prediction that may not enter smoothing (flagged signal): no valid prediction at its time."""
        return self.policy.on_invalid(window.t_end, "flagged signal")

    def on_status(self, kind: str, t: float | None) -> list[AlarmEvent]:
        """A status record of this stream; those that stand for missing predictions advance the signal alarm.
        (A gap restarts the per-window hysteresis with the smoother: StreamState.reset_outputs.)"""
        if kind not in NO_PREDICTION or t is None:
            return []
        return self.policy.on_invalid(t, kind)

    def current_burden(self) -> Burden | None:
        """The burden as of the newest valid prediction, None before any (since reset)."""
        return None if self.burden.empty else self.burden.current()
