"""The signal half of the front end: montage, FIR bandpass, clip/scale, and the image layout."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from edge.contract import CHANNELS, MONTAGE_CHAINS, SAMPLE_RATE_HZ, WINDOW_SAMPLES, montage_pairs
from edge.errors import DataError
from edge.model.model_spec import FrontEndConfig
from train.models.dsp import antialias_taps, bandpass_taps
from train.models.frontend import BlockFir, LogMelSpectrogram, MelImageFrontEnd, SignalFrontEnd

CFG = FrontEndConfig()
TIME = np.arange(WINDOW_SAMPLES) / SAMPLE_RATE_HZ
# Away from the window edges, where the zero-padded FIR sees only part of its support.
CENTRE = slice(CFG.bandpass_taps, WINDOW_SAMPLES - CFG.bandpass_taps)


def run(frontend: torch.nn.Module, eeg: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return frontend(torch.from_numpy(eeg.astype(np.float32))).numpy()


def sinusoid_response(freq_hz: float, amplitude_uv: float = 100.0, decimation: int = 1) -> tuple[float, float]:
    """Gain and phase (rad) of the front end at freq_hz, measured on a sinusoid fed to Fp1 (pair Fp1-F7)."""
    eeg = np.zeros((1, len(CHANNELS), WINDOW_SAMPLES))
    eeg[0, CHANNELS.index("Fp1")] = amplitude_uv * np.sin(2 * np.pi * freq_hz * TIME)
    centre = slice(CENTRE.start // decimation, CENTRE.stop // decimation)
    out = run(SignalFrontEnd(CFG, decimation), eeg)[0, 0, centre] * CFG.signal_scale_uv
    phase = 2 * np.pi * freq_hz * TIME[::decimation][centre]
    basis = np.stack([np.sin(phase), np.cos(phase), np.ones_like(phase)], 1)  # the constant absorbs the mean removal
    (sin_part, cos_part, _), *_ = np.linalg.lstsq(basis, out, rcond=None)
    return float(np.hypot(sin_part, cos_part)) / amplitude_uv, float(np.arctan2(cos_part, sin_part))


def test_montage_is_anode_minus_cathode_and_ignores_ekg() -> None:
    rng = np.random.default_rng(0)
    levels = rng.uniform(-100, 100, len(CHANNELS))  # a distinct constant per electrode
    eeg = np.broadcast_to(levels[None, :, None], (1, len(CHANNELS), WINDOW_SAMPLES)).copy()
    frontend = SignalFrontEnd(CFG)
    with torch.no_grad():
        bipolar = torch.matmul(frontend.montage, torch.from_numpy(eeg.astype(np.float32)))[0, :, 0].numpy()
    expected = [levels[CHANNELS.index(a)] - levels[CHANNELS.index(b)] for a, b in montage_pairs(CFG.montage)]
    np.testing.assert_allclose(bipolar, expected, rtol=1e-5)
    eeg_ekg = eeg.copy()
    eeg_ekg[0, CHANNELS.index("EKG")] += 1e4
    np.testing.assert_array_equal(run(frontend, eeg), run(frontend, eeg_ekg))


@pytest.mark.parametrize("taps", [CFG.bandpass_taps, 31])
def test_block_fir_equals_centred_convolution(taps: int) -> None:
    fir = bandpass_taps(FrontEndConfig(bandpass_taps=taps))
    signals = np.random.default_rng(0).standard_normal((2, 3, WINDOW_SAMPLES)).astype(np.float32)
    got = run(BlockFir(fir), signals)
    expected = np.apply_along_axis(lambda x: np.convolve(x, fir, mode="same"), -1, signals.astype(np.float64))
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("freq_hz", [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 19.5, 20.0, 21.0, 25.0, 40.0, 60.0, 90.0])
def test_bandpass_gain_equals_freqz_of_the_taps(freq_hz: float) -> None:
    gain, _ = sinusoid_response(freq_hz)
    _, response = scipy.signal.freqz(bandpass_taps(CFG), worN=[freq_hz], fs=SAMPLE_RATE_HZ)
    assert gain == pytest.approx(abs(response[0]), abs=2e-4)


@pytest.mark.parametrize("decimation", [1, CFG.mel_decimation])
@pytest.mark.parametrize("freq_hz", [2.0, 5.0, 10.0, 15.0, 18.0])
def test_bandpass_passes_the_band_without_delay(freq_hz: float, decimation: int) -> None:
    gain, phase = sinusoid_response(freq_hz, decimation=decimation)
    assert abs(20 * np.log10(gain)) < 0.1  # within 0.1 dB of unity
    assert abs(phase) < 1e-3  # linear phase, centred taps: zero delay keeps the label span aligned


@pytest.mark.parametrize("decimation", [1, CFG.mel_decimation])
@pytest.mark.parametrize("freq_hz", [22.0, 30.0, 50.0, 60.0, 90.0])
def test_bandpass_stops_above_the_band(freq_hz: float, decimation: int) -> None:
    """Beyond the upper transition band (20 Hz + ~0.8 Hz for 2 s Hamming taps): below -40 dB; at 50 Hz,
    whatever aliases into the band (mains at 50/60 Hz lands on 0/10 Hz) is held below -55 dB."""
    gain, _ = sinusoid_response(freq_hz, decimation=decimation)
    assert 20 * np.log10(gain) < (-55 if decimation > 1 and freq_hz >= 30 else -40)


@pytest.mark.parametrize("factor", [2, 4])
def test_decimating_block_fir_keeps_every_nth_sample_of_the_centred_convolution(factor: int) -> None:
    fir = antialias_taps(CFG, factor)
    signals = np.random.default_rng(0).standard_normal((2, 3, WINDOW_SAMPLES)).astype(np.float32)
    got = run(BlockFir(fir, 4, WINDOW_SAMPLES, factor), signals)
    expected = np.apply_along_axis(lambda x: np.convolve(x, fir, mode="same"), -1, signals.astype(np.float64))
    np.testing.assert_allclose(got, expected[..., ::factor], atol=1e-5)


def test_antialias_filter_passes_what_the_mel_path_keeps_and_stops_what_would_alias_onto_it() -> None:
    taps = antialias_taps(CFG, CFG.mel_decimation)
    aliasing = np.linspace(CFG.mel_sample_rate_hz - CFG.mel_fmax_hz, SAMPLE_RATE_HZ / 2, 200)
    _, passband = scipy.signal.freqz(taps, worN=np.linspace(0, CFG.mel_fmax_hz, 41), fs=SAMPLE_RATE_HZ)
    _, stopband = scipy.signal.freqz(taps, worN=aliasing, fs=SAMPLE_RATE_HZ)
    assert np.abs(20 * np.log10(np.abs(passband))).max() < 0.01
    assert 20 * np.log10(np.abs(stopband)).max() < -59


def test_electrode_offsets_are_removed() -> None:
    """0 Hz is inside the FIR's lower transition band, so DC is removed by subtracting each pair's mean."""
    _, response = scipy.signal.freqz(bandpass_taps(CFG), worN=[0.0], fs=SAMPLE_RATE_HZ)
    assert 20 * np.log10(abs(response[0])) > -20  # what the FIR alone would leave
    eeg = np.zeros((1, len(CHANNELS), WINDOW_SAMPLES))
    eeg[0, :-1] = np.random.default_rng(0).uniform(-300, 300, len(CHANNELS) - 1)[:, None]
    assert np.abs(run(SignalFrontEnd(CFG), eeg)).max() * CFG.signal_scale_uv < 1e-3


def test_a_window_of_another_length_is_a_data_error() -> None:
    with pytest.raises(DataError, match=f"takes {WINDOW_SAMPLES}-sample windows, got 2000"):
        run(SignalFrontEnd(CFG), np.zeros((1, len(CHANNELS), 2000)))


def test_clip_and_scale() -> None:
    eeg = np.zeros((1, len(CHANNELS), WINDOW_SAMPLES))
    eeg[0, CHANNELS.index("Fp1")] = 5000.0 * np.sin(2 * np.pi * 5.0 * TIME)  # 10x the clip level
    out = run(SignalFrontEnd(CFG), eeg)[0, 0]
    assert np.abs(out).max() == pytest.approx(CFG.clip_uv / CFG.signal_scale_uv)
    assert (np.abs(out[CENTRE]) >= CFG.clip_uv / CFG.signal_scale_uv - 1e-6).mean() > 0.5


@pytest.mark.parametrize("layout", ["pairs", "chains", "stack"])
def test_image_layout_places_each_pair_where_documented(layout: str) -> None:
    cfg = FrontEndConfig(image_layout=layout)
    eeg = np.random.default_rng(0).standard_normal((2, len(CHANNELS), WINDOW_SAMPLES)) * 40
    frontend = MelImageFrontEnd(cfg)
    image = run(frontend, eeg)
    assert image.shape == (2, *cfg.image_shape)
    with torch.no_grad():
        signals = SignalFrontEnd(cfg, cfg.mel_decimation)(torch.from_numpy(eeg.astype(np.float32)))
        db = LogMelSpectrogram(cfg)(signals).numpy()
    normalised = (db - cfg.db_offset) / cfg.db_scale
    pairs_per_channel = cfg.n_pairs // cfg.image_shape[0]
    for pair in range(cfg.n_pairs):
        channel, row = divmod(pair, pairs_per_channel)
        block = image[:, channel, row * cfg.n_mels : (row + 1) * cfg.n_mels]
        np.testing.assert_allclose(block, normalised[:, pair], atol=1e-5)
    if layout == "chains":  # channel c holds chain c's pairs, in MONTAGE_CHAINS order (LL, RL, LP, RP)
        assert list(MONTAGE_CHAINS) == ["LL", "RL", "LP", "RP"] and pairs_per_channel == 4


def test_hyperparameters_are_buffers_not_parameters() -> None:
    frontend = MelImageFrontEnd(CFG)
    assert not list(frontend.parameters()), "the front end is fixed, not trained"
    buffers = {name.rsplit(".", 1)[-1] for name, _ in frontend.named_buffers()}
    assert buffers >= {"montage", "kernel", "clip_uv", "scale_uv", "dft", "mel", "amin", "db_offset", "db_scale"}
    assert set(frontend.state_dict()) == {name for name, _ in frontend.named_buffers()}
