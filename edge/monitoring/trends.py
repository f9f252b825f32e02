"""qEEG trends per double-banana chain (LL, RL, LP, RP), updated on every window: CDSA, aEEG margins,
left/right asymmetry per band and a suppression ratio. Definitions in docs/monitoring.md.

Spectra come from the newest `spectrum_s` of each window (stateless). aEEG and suppression work on
0.5 s epochs of the stream: a causal 2-15 Hz filter whose state is carried from window to window, and
histories of per-epoch values, so each new window only processes the samples it adds. A window from a
new segment (gap, reconnect) or one that does not continue the previous one restarts that state.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from edge.config import TrendsConfig
from edge.contract import MONTAGE_CHAINS, SAMPLE_RATE_HZ, WINDOW_SAMPLES, montage_matrix

CHAIN_NAMES: tuple[str, ...] = tuple(MONTAGE_CHAINS)
LEFT_CHAINS, RIGHT_CHAINS = ("LL", "LP"), ("RL", "RP")
# CDSA: 1 Hz bins centred on 1, 2, ... 20 Hz (edges 0.5, 1.5, ... 20.5)
CDSA_CENTRES_HZ: tuple[int, ...] = tuple(range(1, 21))
BANDS_HZ: dict[str, tuple[float, float]] = {"delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
                                            "beta": (13.0, 30.0)}
AEEG_BAND_HZ = (2.0, 15.0)
EPOCH_S = 0.5  # aEEG envelope and suppression epochs: one cycle of the slowest aEEG frequency
EPOCH_SAMPLES = round(EPOCH_S * SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class TrendFrame:
    """Trends at time `t` (end of the window). Arrays are per chain in CHAIN_NAMES order."""

    t: float
    cdsa_db: np.ndarray  # [4, 20] power per 1 Hz bin, dB re 1 uV^2 (mean of the chain's pairs)
    aeeg_lower_uv: np.ndarray  # [4] aEEG lower / upper margin (peak-to-peak equivalent), uV
    aeeg_upper_uv: np.ndarray
    suppression: np.ndarray  # [4] share of suppressed epochs over the newest suppression_s
    asymmetry: np.ndarray  # [4 bands] (L - R) / (L + R) of band power, left = LL + LP, right = RL + RP

    def vector(self) -> np.ndarray:
        """Flat values in the order of `trend_channels()`."""
        per_chain = np.concatenate([self.cdsa_db, self.aeeg_lower_uv[:, None], self.aeeg_upper_uv[:, None],
                                    self.suppression[:, None]], axis=1)
        return np.concatenate([per_chain.ravel(), self.asymmetry]).astype(np.float32)

    def record(self, stream: str) -> dict:
        """Compact JSON form for the trends file (rounded: a trend, not a measurement archive)."""
        return {"type": "trends", "stream": stream, "t": self.t,
                "cdsa_db": np.round(self.cdsa_db, 2).tolist(),
                "aeeg_uv": np.round(np.stack([self.aeeg_lower_uv, self.aeeg_upper_uv], axis=1), 2).tolist(),
                "suppression": np.round(self.suppression, 4).tolist(),
                "asymmetry": dict(zip(BANDS_HZ, np.round(self.asymmetry, 4).tolist(), strict=True))}


def trend_channels() -> list[tuple[str, str]]:
    """(label, unit) of every value in TrendFrame.vector(), for the LSL trends stream."""
    channels = []
    for chain in CHAIN_NAMES:
        channels += [(f"{chain}_cdsa_{f}Hz", "dB(uV^2)") for f in CDSA_CENTRES_HZ]
        channels += [(f"{chain}_aeeg_lower", "uV"), (f"{chain}_aeeg_upper", "uV"), (f"{chain}_suppression", "ratio")]
    return channels + [(f"asymmetry_{band}", "ratio") for band in BANDS_HZ]


class TrendState:
    """Per-stream trends; `update(window)` every hop, `reset()` to forget the stream."""

    def __init__(self, config: TrendsConfig | None = None) -> None:
        self.config = config or TrendsConfig()
        self.montage = montage_matrix("double_banana").astype(np.float64)  # [16, 20], chain by chain
        self.pairs_per_chain = self.montage.shape[0] // len(CHAIN_NAMES)
        self.sos = sps.butter(2, AEEG_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
        n_spec = round(self.config.spectrum_s * SAMPLE_RATE_HZ)
        self._hann = sps.get_window("hann", n_spec)
        # one-sided density scaling, as scipy.signal.periodogram(scaling="density")
        self._scale = 1.0 / (SAMPLE_RATE_HZ * np.sum(self._hann**2))
        freqs = np.fft.rfftfreq(n_spec, 1.0 / SAMPLE_RATE_HZ)
        self._df = freqs[1]
        edges = np.arange(0.5, 21.0, 1.0)
        self._cdsa_bins = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in itertools.pairwise(edges)]).astype(float)
        self._band_bins = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in BANDS_HZ.values()]).astype(float)
        self._aeeg_epochs = max(1, round(self.config.aeeg_s / EPOCH_S))
        self.reset()

    def reset(self) -> None:
        self._zi: np.ndarray | None = None
        self._pending_raw = np.zeros((self.montage.shape[0], 0))
        self._pending_filtered = np.zeros((self.montage.shape[0], 0))
        self._last: tuple[int, int] | None = None  # (segment, start_sample) of the previous window
        self._envelopes: deque[np.ndarray] = deque(maxlen=self._aeeg_epochs)
        self._suppressed: deque[np.ndarray] = deque(maxlen=max(1, round(self.config.suppression_s / EPOCH_S)))
        self._suppressed_sum = np.zeros(len(CHAIN_NAMES))  # running sum over the deque

    def update(self, data: np.ndarray, *, t: float, segment: int, start_sample: int) -> TrendFrame:
        """`data`: one window [20, WINDOW_SAMPLES] uV in contract order; t: its end time."""
        step = self._new_samples(segment, start_sample)
        # only the samples this window adds, or the spectrum segment if longer, are turned bipolar
        bipolar = self.montage @ np.asarray(data[:, -max(step, self._hann.size):], dtype=np.float64)
        self._advance(bipolar[:, -step:], restart=step == WINDOW_SAMPLES)
        power = self._spectrum(bipolar[:, -self._hann.size:])  # [16, freqs], uV^2 per frequency bin
        cdsa = self._per_chain(power @ self._cdsa_bins.T)
        bands = self._per_chain(power @ self._band_bins.T)  # [4 chains, 4 bands]
        left = bands[[CHAIN_NAMES.index(c) for c in LEFT_CHAINS]].sum(axis=0)
        right = bands[[CHAIN_NAMES.index(c) for c in RIGHT_CHAINS]].sum(axis=0)
        asymmetry = (left - right) / np.maximum(left + right, 1e-12)
        envelopes = np.array(self._envelopes)
        return TrendFrame(t, 10 * np.log10(np.maximum(cdsa, 1e-12)), envelopes.min(axis=0), envelopes.max(axis=0),
                          self._suppressed_sum / len(self._suppressed), asymmetry)

    def _new_samples(self, segment: int, start_sample: int) -> int:
        """Samples this window adds to the previous one; the whole window (after a reset) if it does not
        continue it."""
        step = None if self._last is None or self._last[0] != segment else start_sample - self._last[1]
        if step is None or not 0 < step < WINDOW_SAMPLES:
            self.reset()
            step = WINDOW_SAMPLES
        self._last = (segment, start_sample)
        return step

    def _advance(self, new: np.ndarray, *, restart: bool) -> None:
        """Feed new bipolar samples [16, n] to the filter and the epoch histories."""
        if restart:
            self._zi = sps.sosfilt_zi(self.sos)[:, None, :] * new[None, :, :1]  # steady state on the offset
        filtered, self._zi = sps.sosfilt(self.sos, new, axis=-1, zi=self._zi)
        raw = np.concatenate([self._pending_raw, new], axis=1)
        filtered = np.concatenate([self._pending_filtered, filtered], axis=1)
        whole = raw.shape[1] // EPOCH_SAMPLES * EPOCH_SAMPLES
        if whole:
            shape = (raw.shape[0], -1, EPOCH_SAMPLES)
            epochs = raw[:, :whole].reshape(shape)
            deviation = np.abs(epochs - epochs.mean(axis=2, keepdims=True)).max(axis=2)  # [16, epochs]
            quiet = self._chains(deviation < self.config.suppression_uv).all(axis=1)  # [4, epochs]
            # peak-to-peak equivalent of a sine: pi * mean |x| = 2 * amplitude
            envelope = self._chains(np.pi * np.abs(filtered[:, :whole].reshape(shape)).mean(axis=2)).mean(axis=1)
            for flags in quiet.T.astype(float):
                if len(self._suppressed) == self._suppressed.maxlen:
                    self._suppressed_sum -= self._suppressed[0]
                self._suppressed.append(flags)
                self._suppressed_sum += flags
            self._envelopes.extend(envelope.T)
        self._pending_raw, self._pending_filtered = raw[:, whole:], filtered[:, whole:]

    def _chains(self, per_pair: np.ndarray) -> np.ndarray:
        """[16, ...] -> [4 chains, 4 pairs, ...]"""
        return per_pair.reshape(len(CHAIN_NAMES), self.pairs_per_chain, *per_pair.shape[1:])

    def _per_chain(self, per_pair: np.ndarray) -> np.ndarray:
        return self._chains(per_pair).mean(axis=1)

    def _spectrum(self, x: np.ndarray) -> np.ndarray:
        """Hann periodogram with constant detrend, integrated per FFT bin (uV^2), one-sided."""
        spectrum = np.abs(np.fft.rfft((x - x.mean(axis=1, keepdims=True)) * self._hann, axis=1)) ** 2 * self._scale
        spectrum[:, 1:-1 if x.shape[1] % 2 == 0 else None] *= 2
        return spectrum * self._df
