"""Runtime policy: hop, gaps, watchdog, quality thresholds, smoothing and alarm, as frozen dataclasses.

Loaded from an optional TOML file (`edge run --config edge.toml`, table [run]) and overridden by CLI
flags; validated once, with errors that name the bad field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from edge.config_io import Range, check_bounds, from_dict, read_toml, require_field
from edge.contract import CLASSES, SAMPLE_RATE_HZ

# Seconds between predictions, for `edge run` ([run.chain] hop_s, --hop) and `edge predict --hop` alike:
# whole samples at the model rate (never silently rounded), at most 10 predictions a second per stream.
HOP_RANGE = Range(0.1, 3600.0, step=1 / SAMPLE_RATE_HZ)
SHARE = Range(0.0, 1.0, hi_open=True)  # a share of samples or seconds that must leave some good data
FRACTION = Range(0.0, 1.0, lo_open=True)

# What a window's quality flags can name (edge/chain/quality.py); every flag marks the prediction `flagged`.
QUALITY_FLAGS = ("missing", "reconstructed", "missing_samples", "range", "flat", "amplitude", "railing", "clipping",
                 "constant_step", "line_noise")


@dataclass(frozen=True)
class QualityConfig:
    """Is a window valid EEG? Checked per channel and 1 s block (edge/chain/quality.py, docs/reliability.md).

    The labelled span decides whether a window is predicted; problems elsewhere in the window flag it.
    Defaults measured on real EEG (`scripts/quality_stats.py`): sparcnet_iiic (12 segments), tests/data
    (3), hms (4 files) and eegmat (48 EDF at 500 -> 200 Hz), 1 s blocks of the 19 EEG channels.
    """

    # |x| beyond this is not EEG: the sample is masked (never reaches the model). Real maximum 7.0 mV
    # (60 Hz hum on sparcnet Other_sample1; seizure SZ_sample2 reaches 5.4 mV); clinical AC amplifiers span
    # a few mV. A DC-coupled stream must be high-passed before it is sent.
    range_uv: float = 10_000.0
    # RMS in 0.5-40 Hz per second beyond this: not EEG (real maximum 1.72 mV, SZ_sample2; median 9-31 uV).
    amplitude_uv: float = 3_000.0
    flat_uv: float = 0.5  # peak-to-peak per second below this: flat (real minimum 12 uV, eegmat)
    # More than `rail_fraction` of a second stuck (same value twice running) at |x| >= rail_uv: a railing
    # amplifier. Real EEG never repeats a value there (measured 0 on all sets).
    rail_uv: float = 1000.0
    rail_fraction: float = 0.01
    clip_fraction: float = 0.1  # share of a second at exactly its max or min (real maximum 0.02)
    # Share of a second whose step equals the previous non-zero step: a ramp or test signal. Real maximum
    # 0.02 (up to 0.33 when the real sets are rounded to 1 uV, as a coarse integer stream would be).
    step_fraction: float = 0.5
    # Minor: power within 1 Hz of 50/60 Hz over power in 0.5-40 Hz in some second of a channel.
    line_noise_ratio: float = 0.5
    # Flags that still let a prediction into smoothing and the alarm. Hum: 8 of the 12 sparcnet segments
    # (and 2 of 3 in tests/data) carry it, and the model's own 0.5-20 Hz band-pass removes it, so blocking
    # alarms on it would silence the monitor on most real recordings. () makes every flag block alarms.
    alarm_ignores: tuple[str, ...] = ("line_noise",)
    # A channel is unusable in the labelled span when more than this share of its seconds fail a check,
    # or more than `channel_missing_share` of its samples are missing; a window with any channel missing
    # that much, or more than `missing_share` of the span's samples missing overall, is not predicted.
    label_bad_share: float = 0.2
    channel_missing_share: float = 0.1
    missing_share: float = 0.05
    # Fewest bipolar pairs computable from usable electrodes (absent channels under --allow-missing, or
    # unusable in the labelled span): 14 of 16 tolerates one lost electrode (each is in at most 2 pairs).
    min_pairs: int = 14
    # Recording-level plausibility: the median over the EEG channels of each channel's standard deviation
    # over the window, in uV. Below it (and above 0, which is flat) the window is refused "implausible":
    # wrong units or a normalised export. Range (0, 10] uV. Real EEG (`scripts/quality_stats.py`,
    # window_scale_uv, 50 s windows every 10 s): smallest 6.03 uV (eegmat), 24.2 (sparcnet_iiic and
    # tests/data), 25.7 (hms); largest 3.57 mV (sparcnet SZ_sample2). z-scored EEG sits at ~1.0, mV read as
    # uV at ~0.01-0.1: 2.5 leaves a factor 2.4 below real EEG and 2.5 above z-scored.
    min_scale_uv: float = 2.5

    # Finite ceilings keep every check switched on: 1 V is no scalp EEG, 100 mV RMS neither.
    BOUNDS: ClassVar[dict[str, Range]] = {
        "range_uv": Range(10.0, 1e6), "amplitude_uv": Range(1.0, 1e5), "flat_uv": Range(0.0, 1000.0, lo_open=True),
        "rail_uv": Range(1.0, 1e6), "rail_fraction": FRACTION, "clip_fraction": FRACTION, "step_fraction": FRACTION,
        "line_noise_ratio": Range(0.0, 100.0, lo_open=True), "label_bad_share": SHARE,
        "channel_missing_share": SHARE, "missing_share": SHARE, "min_pairs": Range(1, 64, integer=True),
        "min_scale_uv": Range(0.0, 10.0, lo_open=True)}

    def validate(self, where: str = "quality") -> QualityConfig:
        check_bounds(self, where)
        require_field(set(self.alarm_ignores) <= set(QUALITY_FLAGS), f"{where}.alarm_ignores",
                      f"must name flags among {', '.join(QUALITY_FLAGS)}", value=self.alarm_ignores)
        return self


@dataclass(frozen=True)
class ChainConfig:
    """Per-stream signal chain: how often to predict, when a discontinuity is a gap, what is valid EEG."""

    hop_s: float = 2.0
    # A timestamp jump larger than this (beyond one sample period) is a gap: every stage resets.
    gap_reset_s: float = 0.5
    quality: QualityConfig = field(default_factory=QualityConfig)

    BOUNDS: ClassVar[dict[str, Range]] = {"hop_s": HOP_RANGE, "gap_reset_s": Range(0.01, 60.0)}

    def validate(self, where: str = "chain") -> ChainConfig:
        check_bounds(self, where)
        self.quality.validate(f"{where}.quality")
        return self


@dataclass(frozen=True)
class WatchdogConfig:
    """No samples for `silence_s` -> status records and a re-resolve of the stream by name."""

    silence_s: float = 5.0
    resolve_timeout_s: float = 10.0  # how long `edge run` waits for the stream at start-up
    poll_interval_s: float = 0.005  # sleep between polls when no stream had data (pull is non-blocking)
    # Stream checks (docs/reliability.md): the rate measured from the stream's own timestamps over the
    # newest `rate_window_s` must be within `rate_tolerance` of the nominal rate, else no predictions.
    # Off only for deliberate faster-than-real-time replays (tests, `edge demo`).
    check_rate: bool = True
    rate_window_s: float = 5.0
    rate_tolerance: float = 0.1  # relative; timestamp jitter of chunked amplifiers is ~1 % over 5 s
    inlet_buffer_s: int = 60  # liblsl keeps at most this much of a stream we fall behind on; older samples drop
    # After the first match, how long to listen for other outlets with the same name (measured on loopback:
    # a second outlet is heard within 0.5 s in 2 of 8 tries, within 0.8 s in 8 of 8).
    duplicate_wait_s: float = 1.0

    # rate_tolerance stops at 50 %: beyond it the rate check would be off in all but name (check_rate says so);
    # inlet_buffer_s bounds liblsl's memory per stream (10 min of 256 channels at 2 kHz is 1.2 GB).
    BOUNDS: ClassVar[dict[str, Range]] = {
        "silence_s": Range(0.1, 3600.0), "resolve_timeout_s": Range(0.1, 3600.0),
        "poll_interval_s": Range(0.0001, 1.0), "rate_window_s": Range(1.0, 600.0),
        "rate_tolerance": Range(0.0, 0.5, lo_open=True), "inlet_buffer_s": Range(1, 600, integer=True),
        "duplicate_wait_s": Range(0.1, 60.0)}

    def validate(self, where: str = "watchdog") -> WatchdogConfig:
        check_bounds(self, where)
        return self


@dataclass(frozen=True)
class SmoothingConfig:
    kind: str = "mean"  # "mean" of the last k predictions, or "ema" with factor alpha
    k: int = 5
    alpha: float = 0.3

    BOUNDS: ClassVar[dict[str, Range]] = {"k": Range(1, 1000, integer=True), "alpha": FRACTION}

    def validate(self, where: str = "smoothing") -> SmoothingConfig:
        require_field(self.kind in ("mean", "ema"), f"{where}.kind", "must be 'mean' or 'ema'", value=self.kind)
        check_bounds(self, where)
        return self


@dataclass(frozen=True)
class AlarmLevel:
    """A burden alarm: on when the seizure burden reaches `on` while the seizure is still going (its share of
    the newest burden.recent_s seconds is at least `recent`), off when the burden falls below `off` or the
    seizure has stopped (share of the newest seconds below `recent`): the span then ends with the seizure
    instead of when the 5 min window drains. `recent` 0 turns that rule off. A new "on" within
    `min_interval_s` of the last announced one is suppressed (logged as state "suppressed", not announced).
    Burden here counts unknown seconds as not seizure."""

    name: str
    on: float
    off: float
    min_interval_s: float = 600.0
    recent: float = 0.25

    BOUNDS: ClassVar[dict[str, Range]] = {"on": FRACTION, "off": FRACTION, "min_interval_s": Range(0.0, 86400.0),
                                          "recent": Range(0.0, 1.0)}

    def validate(self, where: str) -> AlarmLevel:
        check_bounds(self, where)
        require_field(self.off < self.on, f"{where}.on/off", "must satisfy 0 < off < on <= 1",
                      value=(self.off, self.on))
        return self


# Ceribell-style levels over the burden window (5 min): 10 % = 30 s, 50 %, 90 % (status epilepticus).
DEFAULT_ALARM_LEVELS: tuple[AlarmLevel, ...] = (
    AlarmLevel("seizure", 0.10, 0.05), AlarmLevel("prolonged", 0.50, 0.40),
    AlarmLevel("status_epilepticus", 0.90, 0.80),
)


@dataclass(frozen=True)
class AlarmConfig:
    """Per-window hysteresis on the smoothed probability of one class (on at `on`, off below `off`), burden
    levels on the seizure burden, and a "signal" alarm after `signal_after_s` without a valid prediction."""

    target: str = "seizure"
    on: float = 0.6
    off: float = 0.4
    levels: tuple[AlarmLevel, ...] = DEFAULT_ALARM_LEVELS
    signal_after_s: float = 60.0
    # "brief": on after `brief_windows` consecutive valid windows whose own (unsmoothed) target probability is
    # at least `brief_on`, off at the first valid window below it; for seizures too short for the burden
    # levels (under 30 s). 0 windows turns it off. Re-alarms within brief_min_interval_s are suppressed.
    # Defaults chosen on a tuning set kept apart from the reported one (docs/benchmarks.md "alarm-sweep":
    # `train synth --continuous 24 --hard --seed 9100`): 2 windows at 0.4 detect the most, soonest.
    brief_windows: int = 2
    brief_on: float = 0.4
    brief_min_interval_s: float = 60.0

    BOUNDS: ClassVar[dict[str, Range]] = {
        "on": FRACTION, "off": FRACTION, "signal_after_s": Range(1.0, 86400.0),
        "brief_windows": Range(0, 100, integer=True), "brief_on": FRACTION, "brief_min_interval_s": Range(0.0, 86400.0)}

    def validate(self, where: str = "alarm") -> AlarmConfig:
        require_field(self.target in CLASSES, f"{where}.target", f"must be one of {', '.join(CLASSES)}",
                      value=self.target)
        check_bounds(self, where)
        require_field(self.off < self.on, f"{where}.on/off", "must satisfy 0 < off < on <= 1",
                      value=(self.off, self.on))
        names = [level.name for level in self.levels]
        require_field(len(set(names)) == len(names) and not {"window", "signal"} & set(names), f"{where}.levels",
                      "names must be unique and not 'window' or 'signal'", value=names)
        for i, level in enumerate(self.levels):
            level.validate(f"{where}.levels[{i}]")
        require_field("brief" not in names, f"{where}.levels", "'brief' is the brief-seizure level's name",
                      value=names)
        return self

    @property
    def level_names(self) -> tuple[str, ...]:
        """Every level that can alarm about the target: window, brief (when on) and the burden levels."""
        return ("window", *(("brief",) if self.brief_windows else ()), *(level.name for level in self.levels))


@dataclass(frozen=True)
class BurdenConfig:
    """Share of the last `window_s` of stream time per class (docs/monitoring.md)."""

    window_s: float = 300.0
    recent_s: float = 20.0  # the newest seconds (at most window_s) the alarm levels' "still going" rule looks at
    # A second counts for its top class only when the mean probability of that class is at least min_p,
    # otherwise as "other": a seizure at p 0.35 over five rival classes is a guess, not a burden (measured:
    # docs/experiments/2026-12-causal-model.md, "min_p").
    min_p: float = 0.5

    # from one labelled span to a day; the newest seconds from one to an hour; min_p a probability
    BOUNDS: ClassVar[dict[str, Range]] = {"window_s": Range(10.0, 86400.0), "recent_s": Range(1.0, 3600.0),
                                          "min_p": Range(0.0, 1.0)}

    def validate(self, where: str = "burden") -> BurdenConfig:
        check_bounds(self, where)
        require_field(self.recent_s <= self.window_s, f"{where}.recent_s", "must be at most window_s",
                      value=self.recent_s)
        return self


@dataclass(frozen=True)
class TrendsConfig:
    """qEEG trends per chain every hop (docs/monitoring.md)."""

    enabled: bool = True
    spectrum_s: float = 2.0  # CDSA and asymmetry: periodogram of the newest seconds of the window
    aeeg_s: float = 2.0  # aEEG margins: min / max of the 0.5 s envelopes in the newest seconds
    suppression_uv: float = 5.0  # an epoch is suppressed when |x - mean| stays below this on every pair
    suppression_s: float = 60.0  # suppression ratio: share of suppressed epochs in the newest seconds

    # spectrum_s and aeeg_s look into one window (50 s)
    BOUNDS: ClassVar[dict[str, Range]] = {
        "spectrum_s": Range(1.0, 50.0), "aeeg_s": Range(0.5, 50.0), "suppression_uv": Range(0.0, 1000.0, lo_open=True),
        "suppression_s": Range(1.0, 3600.0)}

    def validate(self, where: str = "trends") -> TrendsConfig:
        check_bounds(self, where)
        return self


@dataclass(frozen=True)
class TritonConfig:
    """A Triton server that runs the bundle's graph (`--backend triton`): gRPC, TLS and a token off loopback."""

    url: str = ""  # host:port of Triton's gRPC endpoint
    model: str = ""  # the served model's name (calibrate triton-repo's default: the bundle's model name)
    token_file: str | None = None  # file with a bearer token, sent as the authorization header
    tls: bool = False  # TLS to the server (required off loopback)
    ca_file: str | None = None  # PEM root certificate(s) for TLS (default: the system's)
    timeout_s: float = 5.0  # one batch's deadline; past it the batch's windows get `backend_unavailable`

    BOUNDS: ClassVar[dict[str, Range]] = {"timeout_s": Range(0.05, 600.0)}

    def validate(self, where: str = "triton") -> TritonConfig:
        check_bounds(self, where)
        if not self.url:
            return self
        host = self.url.rsplit(":", 1)[0].strip("[]")
        require_field(bool(self.model), f"{where}.model", "must name the served model (--triton-model)",
                      value=self.model)
        if host not in ("127.0.0.1", "localhost", "::1"):
            require_field(self.tls and bool(self.token_file), f"{where}.url", "is off loopback: EEG leaves this "
                          "machine only over TLS with a token (--triton-tls --triton-token-file)", value=self.url)
        return self


@dataclass(frozen=True)
class RunConfig:
    chain: ChainConfig = field(default_factory=ChainConfig)
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    alarm: AlarmConfig = field(default_factory=AlarmConfig)
    burden: BurdenConfig = field(default_factory=BurdenConfig)
    trends: TrendsConfig = field(default_factory=TrendsConfig)
    backend: str = "auto"
    threads: int = 0  # onnxruntime intra-op threads; 0 lets onnxruntime choose
    max_batch: int = 32  # windows per engine call: bounds the engine's memory however many streams are due
    # A due window older than this (stream clock) is shed, keeping each stream's newest: a stream that
    # falls behind catches up instead of queueing stale windows (and memory).
    max_lag_s: float = 10.0
    signature_key: str | None = None  # ed25519 public key file: refuse bundles whose SHA256SUMS it did not sign
    triton: TritonConfig = field(default_factory=TritonConfig)  # the server of `backend = "triton"`

    BOUNDS: ClassVar[dict[str, Range]] = {
        "threads": Range(0, 64, integer=True), "max_batch": Range(1, 1024, integer=True),
        "max_lag_s": Range(0.1, 3600.0)}

    def validate(self) -> RunConfig:
        self.chain.validate("run.chain")
        self.watchdog.validate("run.watchdog")
        self.smoothing.validate("run.smoothing")
        self.alarm.validate("run.alarm")
        self.burden.validate("run.burden")
        self.trends.validate("run.trends")
        check_bounds(self, "run")
        self.triton.validate("run.triton")
        require_field(self.backend != "triton" or bool(self.triton.url), "run.triton.url",
                      "must name the server for backend triton (--triton-url)", value=self.triton.url)
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


# Command-line options that are no config field (those are checked by the config's BOUNDS after replace()),
# and the flags that set one, so a refusal names the flag the user typed.
OPTION_RANGES: dict[str, Range] = {
    "--hop": HOP_RANGE, "--offset": Range(0.0, 1e7), "--for": Range(0.0, 1e8, lo_open=True),
    "--smooth": SmoothingConfig.BOUNDS["k"], "--threads": RunConfig.BOUNDS["threads"],
    "--stale": Range(1.0, 86400.0), "--streams": Range(1, 256, integer=True),
    "--seconds": Range(1.0, 86400.0), "--speed": Range(0.01, 1000.0), "--chunk": Range(1, 65536, integer=True)}


def check_option(flag: str, value: float | None) -> float | None:
    """``value`` of option ``flag`` (None: not given), or a SpecError naming the flag and its range."""
    return value if value is None else OPTION_RANGES[flag].check(value, flag)

