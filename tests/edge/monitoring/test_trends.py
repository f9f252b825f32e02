"""qEEG trends against independent scipy/numpy computations and signals with known answers.

Tolerances: parity with scipy 1e-6 dB (CDSA) and 1e-9 relative (aEEG, asymmetry); analytic answers 1 %
(CDSA total power, asymmetry) and 2 % (aEEG amplitude, the filter's gain at 8 Hz taken from sosfreqz);
suppression ratio exact (a count of epochs).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal as sps

from edge.config import TrendsConfig
from edge.contract import CHANNELS, MONTAGE_CHAINS, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.monitoring.trends import BANDS_HZ, CHAIN_NAMES, TrendState, trend_channels
from edge.testing import synthetic_eeg

FS = SAMPLE_RATE_HZ
HOP = 2 * FS


def _signal(seconds: float, **sines: tuple[float, float]) -> np.ndarray:
    """[20, n] zeros with a sine (amplitude uV, frequency Hz) on the named electrodes."""
    t = np.arange(round(seconds * FS)) / FS
    data = np.zeros((len(CHANNELS), t.size))
    for name, (amplitude, freq) in sines.items():
        data[CHANNELS.index(name)] = amplitude * np.sin(2 * np.pi * freq * t)
    return data


def _bipolar(data: np.ndarray) -> dict[str, np.ndarray]:
    """Per chain [4 pairs, n], straight from the electrode names."""
    index = {c: i for i, c in enumerate(CHANNELS)}
    return {chain: np.stack([data[index[a]] - data[index[b]] for a, b in itertools.pairwise(names)])
            for chain, names in MONTAGE_CHAINS.items()}


def _run(data: np.ndarray, hop: int = HOP, config: TrendsConfig | None = None):
    """Windows every `hop` samples over `data`; returns the last frame and the state."""
    state = TrendState(config)
    frame = None
    for end in range(WINDOW_SAMPLES, data.shape[1] + 1, hop):
        frame = state.update(data[:, end - WINDOW_SAMPLES:end], t=end / FS, segment=1,
                             start_sample=end - WINDOW_SAMPLES)
    return frame, state


def test_cdsa_and_asymmetry_match_scipy_periodogram() -> None:
    data = synthetic_eeg(60.0, seed=3).T.astype(np.float64)
    frame, _ = _run(data)
    edges = np.arange(0.5, 21.0, 1.0)
    for c, pairs in enumerate(_bipolar(data).values()):
        freqs, pxx = sps.periodogram(pairs[:, -HOP:], fs=FS, window="hann", detrend="constant", scaling="density")
        mean = pxx.mean(axis=0) * (freqs[1] - freqs[0])
        expected = [mean[(freqs >= lo) & (freqs < lo + 1)].sum() for lo in edges[:-1]]
        np.testing.assert_allclose(frame.cdsa_db[c], 10 * np.log10(expected), atol=1e-6)
    band_power = {}
    for chain, pairs in _bipolar(data).items():
        freqs, pxx = sps.periodogram(pairs[:, -HOP:], fs=FS, window="hann", scaling="density")
        band_power[chain] = [pxx.mean(axis=0)[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in BANDS_HZ.values()]
    left = np.add(band_power["LL"], band_power["LP"])
    right = np.add(band_power["RL"], band_power["RP"])
    np.testing.assert_allclose(frame.asymmetry, (left - right) / (left + right), rtol=1e-9)


def test_cdsa_power_and_asymmetry_of_known_sines() -> None:
    a, b = 40.0, 20.0  # uV on F7 (left lateral chain) and F8 (right lateral chain), 10 Hz
    frame, _ = _run(_signal(52.0, F7=(a, 10.0), F8=(b, 10.0)))
    # F7 enters two of the four LL pairs: mean pair power a^2/2 * 2/4
    ll = 10 ** (frame.cdsa_db[CHAIN_NAMES.index("LL")] / 10)
    assert ll.sum() == pytest.approx(a**2 / 4, rel=0.01)
    assert int(np.argmax(ll)) + 1 == 10
    alpha = list(BANDS_HZ).index("alpha")
    assert frame.asymmetry[alpha] == pytest.approx((a**2 - b**2) / (a**2 + b**2), rel=0.01)


def test_aeeg_margins_of_a_known_sine() -> None:
    amplitude = 30.0
    frame, _ = _run(_signal(54.0, C3=(amplitude, 8.0)))
    _, response = sps.sosfreqz(sps.butter(2, (2, 15), btype="bandpass", fs=FS, output="sos"), worN=[8.0], fs=FS)
    # C3 enters two of the four LP pairs, each with peak-to-peak 2 * amplitude * gain
    expected = 2 * 2 * amplitude * abs(response[0]) / 4
    lp = CHAIN_NAMES.index("LP")
    assert frame.aeeg_lower_uv[lp] == pytest.approx(expected, rel=0.02)
    assert frame.aeeg_upper_uv[lp] == pytest.approx(expected, rel=0.02)
    assert frame.aeeg_upper_uv[CHAIN_NAMES.index("RL")] == 0.0


@pytest.mark.parametrize("hop", [HOP, FS // 2, 3 * FS + 70])
def test_aeeg_streaming_matches_whole_signal_filtering(hop: int) -> None:
    """The filter state carried over windows equals filtering the whole recording at once."""
    data = synthetic_eeg(75.0, seed=5).T.astype(np.float64)
    rng = np.random.default_rng(0)
    data *= np.repeat(rng.uniform(0.2, 3.0, data.shape[1] // FS + 1), FS)[: data.shape[1]]  # amplitude steps
    frame, _ = _run(data, hop=hop)
    end = WINDOW_SAMPLES + (data.shape[1] - WINDOW_SAMPLES) // hop * hop
    sos = sps.butter(2, (2, 15), btype="bandpass", fs=FS, output="sos")
    for c, pairs in enumerate(_bipolar(data[:, :end]).values()):
        # the state starts on the first window (steady state on its first sample) and runs to the end
        filtered, _ = sps.sosfilt(sos, pairs, zi=sps.sosfilt_zi(sos)[:, None, :] * pairs[None, :, :1])
        usable = filtered.shape[1] // 100 * 100
        envelope = np.pi * np.abs(filtered[:, :usable].reshape(4, -1, 100)).mean(axis=2).mean(axis=0)
        np.testing.assert_allclose([frame.aeeg_lower_uv[c], frame.aeeg_upper_uv[c]],
                                   [envelope[-4:].min(), envelope[-4:].max()], rtol=1e-9)


def test_suppression_ratio_counts_quiet_epochs() -> None:
    rng = np.random.default_rng(1)
    seconds = 130
    epochs = seconds * 2
    quiet = rng.random(epochs) < 0.3
    amplitude = np.repeat(np.where(quiet, 1.0, 50.0), 100)  # +-1 uV: every pair within +-2 uV < 5 uV
    data = rng.uniform(-1, 1, (len(CHANNELS), seconds * FS)) * amplitude
    frame, _ = _run(data)
    assert np.all(frame.suppression == quiet[-120:].mean())
    assert 0.15 < frame.suppression[0] < 0.45


def test_suppression_threshold_is_configurable_and_a_new_segment_restarts() -> None:
    data = np.random.default_rng(2).uniform(-3, 3, (len(CHANNELS), 60 * FS))
    frame, state = _run(data, config=TrendsConfig(suppression_uv=20.0))
    assert np.all(frame.suppression == 1.0)
    frame, _ = _run(data, config=TrendsConfig(suppression_uv=1.0))
    assert np.all(frame.suppression == 0.0)
    loud = data[:, -WINDOW_SAMPLES:] * 100
    # a window of a new segment must not mix with the old history
    after = state.update(loud, t=0.0, segment=2, start_sample=0)
    assert np.all(after.suppression == 0.0)


def test_vector_matches_channel_labels() -> None:
    frame, _ = _run(synthetic_eeg(52.0, seed=1).T)
    channels = trend_channels()
    assert frame.vector().shape == (len(channels),) == (4 * 23 + 4,)
    assert len({label for label, _ in channels}) == len(channels)
    assert np.all(np.isfinite(frame.vector()))
    record = frame.record("EEG")
    assert len(record["cdsa_db"]) == 4 and len(record["cdsa_db"][0]) == 20
