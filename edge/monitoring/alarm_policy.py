"""Alarm policy for one stream, configured by [run.alarm] (docs/monitoring.md):

- "window": the per-window hysteresis on the smoothed probability of the target class (edge.monitoring.smoothing.Alarm);
- burden levels (seizure >= 10 %, prolonged >= 50 %, status epilepticus >= 90 % of the burden window), each
  with its own on/off hysteresis and re-alarm throttling: a level that goes on again within
  `min_interval_s` of its last announced "on" stays quiet (and so does its matching "off");
- "signal": no valid prediction for `signal_after_s` (electrode off, artifact, no data), off at the next one.

Only valid predictions (those that reach the smoother) feed the window and burden levels, and burden levels
count unknown seconds as not seizure, so invalid data can raise the signal alarm and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.config import AlarmConfig
from edge.monitoring.burden import Burden
from edge.monitoring.smoothing import Alarm


@dataclass(frozen=True)
class AlarmEvent:
    level: str  # "window", a burden level's name, or "signal"
    state: str  # "on" | "off"
    t: float  # stream time of the decision
    span: tuple[float, float]  # the stretch of stream time the evidence covers
    model: str
    target: str | None  # the class the alarm is about (None for "signal")
    p: float | None = None  # window level: the smoothed probability
    burden: dict[str, Any] | None = None  # burden levels: Burden.record() at the decision
    message: str = ""

    def record(self, stream: str) -> dict[str, Any]:
        return {"type": "alarm", "stream": stream, "level": self.level, "state": self.state, "class": self.target,
                "p": None if self.p is None else round(self.p, 7), "burden": self.burden,
                "span": [self.span[0], self.span[1]], "model": self.model, "t": self.t, "message": self.message}


@dataclass
class _LevelState:
    active: bool = False
    announced: bool = False  # the current "on" was emitted (not throttled)
    last_on: float | None = None


class AlarmPolicy:
    """`on_prediction` per valid prediction, `on_invalid` per status record; `reset()` forgets all state."""

    def __init__(self, config: AlarmConfig, model_id: str) -> None:
        self.config = config
        self.model_id = model_id
        self.window = Alarm(config)
        self.reset()

    def reset(self) -> None:
        self.window.reset()
        self.levels = {level.name: _LevelState() for level in self.config.levels}
        self._last_valid: float | None = None  # stream time of the newest valid prediction (or first sign of life)
        self._signal = False

    def reset_window(self) -> None:
        """After a gap the per-window hysteresis starts over (as before); burden levels go on."""
        self.window.reset()

    def on_prediction(self, smoothed: np.ndarray, burden: Burden, *, t: float,
                      label_span: tuple[float, float]) -> list[AlarmEvent]:
        events = []
        if self._signal:
            self._signal = False
            events.append(self._event("signal", "off", t, (self._last_valid or t, t), target=None,
                                      message="valid predictions again"))
        self._last_valid = t
        change = self.window.update(smoothed)
        if change is not None:
            events.append(self._event("window", change, t, label_span, p=float(smoothed[self.window.index])))
        for level in self.config.levels:
            state = self.levels[level.name]
            share = burden.lower_bound(self.config.target)
            if not state.active and share >= level.on:
                state.active = True
                throttled = state.last_on is not None and t - state.last_on < level.min_interval_s
                state.announced = not throttled
                if state.announced:
                    state.last_on = t
                new = "on"
            elif state.active and share < level.off:
                state.active = False
                new = "off"
            else:
                continue
            if state.announced:
                events.append(self._event(level.name, new, t,
                                          (burden.t - burden.window_s, burden.t), burden=burden.record(),
                                          message=f"{self.config.target} burden {share:.0%} of the last "
                                          f"{burden.window_s:g} s (coverage {burden.coverage:.0%})"))
        return events

    def on_invalid(self, t: float, reason: str) -> list[AlarmEvent]:
        """A status record instead of a valid prediction at stream time `t` (artifact, missing, gap, no data)."""
        if self._last_valid is None:
            self._last_valid = t  # the stream's first sign of life starts the clock
        if self._signal or t - self._last_valid < self.config.signal_after_s:
            return []
        self._signal = True
        return [self._event("signal", "on", t, (self._last_valid, t), target=None,
                            message=f"no valid prediction for {t - self._last_valid:.0f} s ({reason})")]

    def _event(self, level: str, state: str, t: float, span: tuple[float, float], *, target: str | None = "",
               p: float | None = None, burden: dict | None = None, message: str = "") -> AlarmEvent:
        """`target` "" means the configured target class."""
        return AlarmEvent(level, state, t, span, self.model_id, self.config.target if target == "" else target,
                          p, burden, message)
