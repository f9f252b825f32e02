"""Is a window valid EEG? Sample masks (missing, out of range) and per-channel, per-second checks.

Samples that are not finite are *missing*; finite EEG samples beyond `range_uv` are *out of range*
(optional channels such as EKG are not EEG: their bound is 100x wider, and they are not judged). Both
are masked (the model sees the channel's last good value, 0 before any) and their codes travel with
the signal through the ring buffer. Each window is then checked per channel in 1 s blocks (flat,
amplitude, railing, clipping, constant step, line noise). The labelled span decides: too much missing
there, or too few bipolar pairs left usable, and the window is not predicted. Any problem elsewhere,
or a minor one (line noise), flags the prediction. Across channels, the window must also be plausible as
scalp EEG in microvolts: the channels' typical standard deviation far below real EEG's tens of microvolts
means wrong units (V or mV read as uV) or a normalised export (each channel z-scored to std 1), and the
window is refused as "implausible", naming the likely cause. Thresholds: edge.config.QualityConfig.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from edge.chain.channels import ChannelMap
from edge.chain.status import Kind
from edge.config import QUALITY_FLAGS, QualityConfig
from edge.contract import CHANNELS, LABEL_START, LABEL_STOP, OPTIONAL_CHANNELS, SAMPLE_RATE_HZ

OK, MISSING, OUT_OF_RANGE = 0, 1, 2  # per-sample codes (uint8)
LINE_FREQUENCIES_HZ = (50.0, 60.0)
EEG_BAND_HZ = (0.5, 40.0)
BLOCK = SAMPLE_RATE_HZ  # checks run on 1 s blocks: records name channels and seconds
LABEL_BLOCKS = slice(LABEL_START // BLOCK, LABEL_STOP // BLOCK)
SEVERE = ("range", "flat", "amplitude", "railing", "clipping", "constant_step")  # the block is not EEG
MINOR = ("line_noise",)  # flagged only


class Sanitizer:
    """Masks non-finite and out-of-range samples, holding the channel's last good value (0 before any)."""

    def __init__(self, channels: int, range_uv: float | np.ndarray) -> None:
        self.channels = channels
        self.range_uv = np.broadcast_to(np.asarray(range_uv, dtype=np.float32), (channels,))
        self.reset()

    def reset(self) -> None:
        self._last = np.zeros(self.channels, dtype=np.float32)

    def process(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[n, channels] -> (clean copy, codes [n, channels] uint8: OK, MISSING or OUT_OF_RANGE)."""
        with np.errstate(invalid="ignore"):
            codes = np.where(np.isfinite(block), np.where(np.abs(block) > self.range_uv, OUT_OF_RANGE, OK), MISSING)
        codes = codes.astype(np.uint8)
        bad = codes != OK
        if not bad.any():
            if block.shape[0]:
                self._last = block[-1].copy()
            return block, codes
        # forward fill: index of the latest good sample at or before each row (-1: none in this block)
        rows = np.where(bad, -1, np.arange(block.shape[0])[:, None])
        np.maximum.accumulate(rows, axis=0, out=rows)
        clean = np.where(rows >= 0, block[np.maximum(rows, 0), np.arange(self.channels)], self._last)
        clean = clean.astype(np.float32)
        self._last = clean[-1].copy()
        return clean, codes


@dataclass(frozen=True)
class Verdict:
    """What the checks found in one window."""

    flags: dict[str, list[str]]  # problem -> channels (or, for "reconstructed", pairs); empty lists when clean
    alarm_eligible: bool  # no flag outside QualityConfig.alarm_ignores: may enter smoothing and the alarm
    bad_seconds: dict[str, list[int]]  # channel -> seconds from the window start with a severe problem
    refused: str | None  # a Kind of REFUSED_WINDOW when the window must not be predicted
    unusable: dict[str, list[str]]  # channel -> problems that make it unusable in the labelled span
    message: str


def _bins(low_hz: float, high_hz: float) -> slice:
    """The rfft bins of a BLOCK-sample block (1 Hz apart) from low_hz to high_hz inclusive."""
    step = SAMPLE_RATE_HZ / BLOCK
    return slice(int(np.ceil(low_hz / step)), int(np.floor(high_hz / step)) + 1)


BAND_BINS = _bins(*EEG_BAND_HZ)  # excludes DC: no need to remove each block's mean
LINE_BINS = [_bins(f0 - 1.0, f0 + 1.0) for f0 in LINE_FREQUENCIES_HZ if f0 + 1.0 < SAMPLE_RATE_HZ / 2]


def block_stats(window: np.ndarray, rail_uv: float) -> dict[str, np.ndarray]:
    """Statistic -> [channels, seconds] for a [channels, time] window in microvolts (what the checks compare)."""
    from scipy.fft import rfft  # float32 in, float32 out: half the work of numpy's float64 FFT

    blocks = np.asarray(window, dtype=np.float32).reshape(window.shape[0], -1, BLOCK)
    spectrum = np.abs(rfft(blocks, axis=-1)) ** 2
    band = spectrum[..., BAND_BINS].sum(axis=-1, dtype=np.float64)
    line = np.max([spectrum[..., bins].sum(axis=-1) for bins in LINE_BINS], axis=0) / (band + 1e-12)
    high, low = blocks.max(axis=-1), blocks.min(axis=-1)
    step = np.diff(blocks, axis=-1)
    stuck = np.zeros(high.shape)
    if max(high.max(), -low.min()) >= rail_uv:  # rare: skip the pass over every sample otherwise
        stuck = np.count_nonzero((step == 0) & (np.abs(blocks[..., 1:]) >= rail_uv), axis=-1) / BLOCK
    return {
        "max_abs_uv": np.maximum(high, -low),
        "ptp_uv": high - low,
        "band_rms_uv": np.sqrt(2 * band) / BLOCK,  # Parseval: RMS of the 0.5-40 Hz part of the block
        "line_ratio": line,
        "stuck_at_rail": stuck,
        "at_extreme": np.maximum(np.count_nonzero(blocks == high[..., None], axis=-1),
                                 np.count_nonzero(blocks == low[..., None], axis=-1)) / BLOCK,
        "repeated_step": np.count_nonzero((step[..., 1:] == step[..., :-1]) & (step[..., 1:] != 0), axis=-1) / BLOCK,
    }


def block_checks(window: np.ndarray, config: QualityConfig) -> dict[str, np.ndarray]:
    """Problem -> [channels, seconds] bool (samples beyond range_uv are masked before, not judged here)."""
    stats = block_stats(window, config.rail_uv)
    flat = stats["ptp_uv"] < config.flat_uv
    return {
        "flat": flat,
        "amplitude": stats["band_rms_uv"] > config.amplitude_uv,
        "railing": stats["stuck_at_rail"] > config.rail_fraction,
        "clipping": ~flat & (stats["at_extreme"] > config.clip_fraction),
        "constant_step": stats["repeated_step"] > config.step_fraction,
        "line_noise": ~flat & (stats["line_ratio"] > config.line_noise_ratio),
    }


def channel_scale_uv(window: np.ndarray) -> float:
    """The recording's amplitude scale over a [channels, time] window: the median over channels of each
    channel's standard deviation (robust to a few flat or wild channels)."""
    return float(np.median(np.std(window, axis=1, dtype=np.float64)))


def implausible_scale(window: np.ndarray, config: QualityConfig) -> str | None:
    """None when the window's amplitude scale is plausible scalp EEG in microvolts, else one line naming the
    likely cause. Exactly constant channels (scale 0) are not judged here: they are flat (a disconnection)."""
    scale = channel_scale_uv(window)
    if not 0 < scale < config.min_scale_uv:
        return None
    stds = np.std(window, axis=1, dtype=np.float64)
    if 0.5 <= scale <= 2.0 and np.ptp(stds) < 0.5:
        cause = "normalisation, not units: every channel's standard deviation is near 1 (z-scored per channel)"
    elif scale < 1e-2:
        cause = "units: volts read as microvolts (x1e6 too small)"
    elif scale < 0.5:
        cause = "units: millivolts read as microvolts (x1000 too small), or every electrode off"
    else:
        cause = "units or normalisation (a scaled or z-scored export)"
    return (f"recording not plausible as scalp EEG in microvolts (units): the channels' median standard deviation "
            f"over the window is {scale:.3g} uV, real EEG has tens of uV (refused below {config.min_scale_uv:g} uV, "
            f"chain.quality.min_scale_uv); likely cause: {cause}; send microvolts: not predicted, smoothing and "
            "alarm skipped")


class WindowJudge:
    """Judges one stream's windows. Overlapping windows share most of their seconds: when windows start
    on whole seconds (hops of whole seconds), each second's checks are computed once and reused."""

    def __init__(self, channel_map: ChannelMap, config: QualityConfig) -> None:
        self.map = channel_map
        self.config = config
        # channels the source lacks (filled) and optional ones (EKG) are not judged
        self.judged = [i for i, (c, src) in enumerate(zip(CHANNELS, channel_map.source_index, strict=True))
                       if src >= 0 and c not in OPTIONAL_CHANNELS]
        self.reset()

    def reset(self) -> None:
        self._first: int | None = None  # stream second of the cached columns' first
        self._checks: dict[str, np.ndarray] = {}

    def judge(self, window: np.ndarray, codes: np.ndarray, start_sample: int) -> Verdict:
        """A [channels, time] window with its per-sample codes, starting at `start_sample` of the stream."""
        checks = self._checks_of(window, start_sample)
        verdict = _verdict(checks, codes[self.judged], self.map, self.config, [CHANNELS[i] for i in self.judged])
        if verdict.refused == Kind.MISSING:  # held values say nothing about the recording's scale
            return verdict
        implausible = implausible_scale(window[self.judged], self.config)
        return verdict if implausible is None else dataclasses.replace(verdict, refused=Kind.IMPLAUSIBLE,
                                                                        message=implausible)

    def _checks_of(self, window: np.ndarray, start_sample: int) -> dict[str, np.ndarray]:
        seconds = window.shape[1] // BLOCK
        first = start_sample // BLOCK if start_sample % BLOCK == 0 else None
        cached = next(iter(self._checks.values()), None)
        known = 0  # leading seconds of this window checked before (at least the newest one is not)
        if first is not None and self._first is not None and cached is not None and first >= self._first:
            known = max(0, min(seconds - 1, self._first + cached.shape[1] - first))
        checks = block_checks(window[self.judged, known * BLOCK:], self.config)  # copies only new seconds
        if known:
            offset = first - self._first
            checks = {name: np.concatenate([self._checks[name][:, offset:offset + known], fresh], axis=1)
                      for name, fresh in checks.items()}
        self._first, self._checks = (first, checks) if first is not None else (None, {})
        return checks


def _verdict(checks: dict[str, np.ndarray], codes: np.ndarray, channel_map: ChannelMap, config: QualityConfig,
             names: list[str]) -> Verdict:
    """The verdict on a window from its per-second checks and per-sample codes of the judged channels."""
    shape = next(iter(checks.values())).shape
    missing_blocks, range_blocks, label_missing = np.zeros(shape, bool), np.zeros(shape, bool), np.zeros(len(names))
    if codes.any():  # most windows have no masked sample
        coded = codes.reshape(len(names), -1, BLOCK)
        missing_blocks, range_blocks = (coded == MISSING).any(axis=-1), (coded == OUT_OF_RANGE).any(axis=-1)
        label_missing = (codes[:, LABEL_START:LABEL_STOP] == MISSING).mean(axis=1)
    masked = missing_blocks | range_blocks
    problems = {name: found & ~masked for name, found in checks.items()}  # checks skip masked seconds
    problems["range"] = range_blocks
    severe = np.logical_or.reduce([problems[p] for p in SEVERE])

    channel_missing = label_missing > config.channel_missing_share
    overall_missing = label_missing.mean() > config.missing_share
    artifact = severe[:, LABEL_BLOCKS].mean(axis=1) > config.label_bad_share
    unusable = {name: [p for p in SEVERE if artifact[k] and problems[p][k, LABEL_BLOCKS].any()]
                + ["missing"] * bool(channel_missing[k])
                for k, name in enumerate(names) if artifact[k] or channel_missing[k]}
    pairs = channel_map.usable_pairs(list(unusable))

    refused = None
    if channel_missing.any() or overall_missing:
        refused = Kind.MISSING
    elif pairs < config.min_pairs:
        refused = Kind.ARTIFACT
    problems["missing_samples"] = missing_blocks
    flags = {"missing": list(channel_map.missing), "reconstructed": list(channel_map.reconstructed)}
    for name in QUALITY_FLAGS[len(flags):]:
        flags[name] = [n for n, found in zip(names, problems[name].any(axis=1), strict=True) if found]
    eligible = not any(found for name, found in flags.items() if name not in config.alarm_ignores)
    bad = severe | missing_blocks
    bad_seconds = {n: np.flatnonzero(bad[k]).tolist() for k, n in enumerate(names) if bad[k].any()}
    message = ""
    if refused is not None:
        label = f"{LABEL_START / SAMPLE_RATE_HZ:g}-{LABEL_STOP / SAMPLE_RATE_HZ:g} s"
        groups: dict[str, list[str]] = {}  # channels with the same problems at the same seconds: one entry
        for n, why in unusable.items():
            groups.setdefault(f"{'/'.join(why)} ({_seconds(bad_seconds.get(n, []))})", []).append(n)
        detail = "; ".join(f"{', '.join(chans)} {what}" for what, chans in groups.items())
        share = label_missing.mean()
        message = (f"labelled span ({label} of the window) is not valid EEG: {detail or 'no channel unusable'}; "
                   f"{share:.0%} of the span's samples missing, {pairs} of {len(channel_map.pairs)} bipolar pairs "
                   f"usable (need {config.min_pairs}): not predicted, smoothing and alarm skipped")
    return Verdict(flags, eligible, bad_seconds, refused, unusable, message)


def _seconds(seconds: list[int]) -> str:
    """[20, 21, 22, 25] -> '20-23 s, 25-26 s' (window-relative seconds)."""
    spans: list[list[int]] = []
    for s in seconds:
        if spans and s == spans[-1][1]:
            spans[-1][1] = s + 1
        else:
            spans.append([s, s + 1])
    return ", ".join(f"{a}-{b} s" for a, b in spans) or "no second entirely"
