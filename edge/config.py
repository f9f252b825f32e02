"""Runtime policy: hop, gaps, watchdog, quality thresholds, smoothing and alarm, as frozen dataclasses.

Loaded from an optional TOML file (`edge run --config edge.toml`, table [run]) and overridden by CLI
flags; validated once, with errors that name the bad field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from edge.spec import from_dict, read_toml, require_field


@dataclass(frozen=True)
class ChainConfig:
    """Per-stream signal chain: how often to predict and when a discontinuity is a gap."""

    hop_s: float = 2.0
    # A timestamp jump larger than this (beyond one sample period) is a gap: every stage resets.
    gap_reset_s: float = 0.5
    # Quality is judged on the most recent seconds of each window.
    quality_s: float = 10.0
    flat_uv: float = 0.5  # peak-to-peak below this: flat (disconnected or shorted electrode)
    rail_uv: float = 1000.0  # |x| at or above this on >1% of samples: railing amplifier
    rail_fraction: float = 0.01
    line_noise_ratio: float = 0.5  # power within 1 Hz of 50/60 Hz over power in 0.5-40 Hz

    def validate(self, where: str = "chain") -> None:
        for name in ("hop_s", "gap_reset_s", "quality_s", "flat_uv", "rail_uv", "rail_fraction", "line_noise_ratio"):
            require_field(getattr(self, name) > 0, f"{where}.{name}", "must be > 0", getattr(self, name))


@dataclass(frozen=True)
class WatchdogConfig:
    """No samples for `silence_s` -> status records and a re-resolve of the stream by name."""

    silence_s: float = 5.0
    resolve_timeout_s: float = 10.0  # how long `edge run` waits for the stream at start-up
    poll_interval_s: float = 0.005  # sleep between polls when no stream had data (pull is non-blocking)

    def validate(self, where: str = "watchdog") -> None:
        for name in ("silence_s", "resolve_timeout_s", "poll_interval_s"):
            require_field(getattr(self, name) > 0, f"{where}.{name}", "must be > 0", getattr(self, name))


@dataclass(frozen=True)
class SmoothingConfig:
    kind: str = "mean"  # "mean" of the last k predictions, or "ema" with factor alpha
    k: int = 5
    alpha: float = 0.3

    def validate(self, where: str = "smoothing") -> None:
        require_field(self.kind in ("mean", "ema"), f"{where}.kind", "must be 'mean' or 'ema'", self.kind)
        require_field(self.k >= 1, f"{where}.k", "must be >= 1", self.k)
        require_field(0 < self.alpha <= 1, f"{where}.alpha", "must be in (0, 1]", self.alpha)


@dataclass(frozen=True)
class AlarmConfig:
    """Hysteresis on the smoothed probability of one class: on at `on`, off below `off`."""

    target: str = "seizure"
    on: float = 0.6
    off: float = 0.4

    def validate(self, where: str = "alarm") -> None:
        require_field(0 < self.off < self.on <= 1, f"{where}.on/off", "must satisfy 0 < off < on <= 1",
                      (self.off, self.on))


@dataclass(frozen=True)
class RunConfig:
    chain: ChainConfig = field(default_factory=ChainConfig)
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    alarm: AlarmConfig = field(default_factory=AlarmConfig)
    backend: str = "auto"
    threads: int = 0  # onnxruntime intra-op threads; 0 lets onnxruntime choose

    def validate(self) -> RunConfig:
        self.chain.validate("run.chain")
        self.watchdog.validate("run.watchdog")
        self.smoothing.validate("run.smoothing")
        self.alarm.validate("run.alarm")
        require_field(self.threads >= 0, "run.threads", "must be >= 0", self.threads)
        return self

    def replace(self, **sections: object) -> RunConfig:
        """Copy with fields of nested sections replaced: replace(chain={"hop_s": 1.0})."""
        changes = {}
        for name, values in sections.items():
            current = getattr(self, name)
            if dataclasses.is_dataclass(current):
                values = {k: v for k, v in dict(values).items() if v is not None}
                changes[name] = dataclasses.replace(current, **values)
            elif values is not None:
                changes[name] = values
        return dataclasses.replace(self, **changes).validate()


def load_run_config(path: str | Path | None) -> RunConfig:
    if path is None:
        return RunConfig().validate()
    path = Path(path)
    return from_dict(RunConfig, read_toml(path).get("run", {}), f"{path.name}:run").validate()
