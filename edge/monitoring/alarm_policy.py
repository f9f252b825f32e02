"""Alarm policy for one stream, configured by [run.alarm] (docs/monitoring.md):

- "window": the per-window hysteresis on the smoothed probability of the target class (edge.monitoring.smoothing.Alarm);
- "brief": `brief_windows` consecutive valid windows whose own target probability reaches `brief_on`, for
  seizures too short for the burden levels; off at the first valid window below it;
- burden levels (seizure >= 10 %, prolonged >= 50 %, status epilepticus >= 90 % of the burden window), each
  with its own on/off hysteresis, on only while the seizure is still going and off once it has stopped
  (AlarmLevel.recent over the newest burden seconds), so the span estimates the seizure;
- re-alarm throttling (brief and burden levels): an "on" within the level's minimum interval of its last
  announced "on" is not announced but logged as state "suppressed" (and its "off" stays quiet);
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
    state: str  # "on" | "off" | "suppressed" (an "on" held back by re-alarm throttling)
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
        self.brief = _LevelState()
        self._run = 0  # consecutive valid windows at or above brief_on
        self._run_start = 0.0  # start of the first of them's labelled span
        self._last_valid: float | None = None  # stream time of the newest valid prediction (or first sign of life)
        self._signal = False

    def reset_window(self) -> None:
        """After a gap the per-window hysteresis starts over (as before); burden levels go on."""
        self.window.reset()

    def on_prediction(self, probs: np.ndarray, smoothed: np.ndarray, burden: Burden, *, t: float,
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
        events += self._brief(float(probs[self.window.index]), t, label_span)
        share = burden.lower_bound(self.config.target)
        going = burden.recent_share(self.config.target)
        for level in self.config.levels:
            state = self.levels[level.name]
            if not state.active and share >= level.on and going >= level.recent:
                new = self._switch_on(state, t, level.min_interval_s)
            elif state.active and (share < level.off or going < level.recent):
                new = self._switch_off(state)
            else:
                continue
            if new is not None:
                events.append(self._event(level.name, new, t,
                                          (burden.t - burden.window_s, burden.t), burden=burden.record(),
                                          message=f"{self.config.target} burden {share:.0%} of the last "
                                          f"{burden.window_s:g} s (coverage {burden.coverage:.0%}), "
                                          f"{going:.0%} of the last {burden.recent_s:g} s"))
        return events

    def _brief(self, p: float, t: float, label_span: tuple[float, float]) -> list[AlarmEvent]:
        if not self.config.brief_windows:
            return []
        if p < self.config.brief_on:
            self._run = 0
        elif self._run == 0:
            self._run, self._run_start = 1, label_span[0]
        else:
            self._run += 1
        if not self.brief.active and self._run >= self.config.brief_windows:
            new = self._switch_on(self.brief, t, self.config.brief_min_interval_s)
        elif self.brief.active and self._run == 0:
            new = self._switch_off(self.brief)
        else:
            return []
        if new is None:
            return []
        return [self._event("brief", new, t, (self._run_start, label_span[1]), p=p,
                            message=f"{self._run} consecutive windows with p({self.config.target}) >= "
                            f"{self.config.brief_on:g}" if new != "off" else f"p({self.config.target}) {p:.2f}")]

    @staticmethod
    def _switch_on(state: _LevelState, t: float, min_interval_s: float) -> str:
        """'on', or 'suppressed' within min_interval_s of the last announced 'on' (re-alarm throttling)."""
        state.active = True
        state.announced = state.last_on is None or t - state.last_on >= min_interval_s
        if state.announced:
            state.last_on = t
        return "on" if state.announced else "suppressed"

    @staticmethod
    def _switch_off(state: _LevelState) -> str | None:
        """'off', or None when the 'on' it ends was suppressed."""
        state.active = False
        return "off" if state.announced else None

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
