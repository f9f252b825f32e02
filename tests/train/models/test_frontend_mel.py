"""The Mel-dB front end against independent references: a numpy HTK filterbank written here,
scipy.signal.stft, and torchaudio where it imports (it does not on the CPU machines of this project).
The references work at the Mel path's rate (SAMPLE_RATE_HZ / mel_decimation, 50 Hz by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.signal
import torch

from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.model.model_spec import FrontEndConfig
from train.models.dsp import mel_filterbank
from train.models.frontend import LogMelSpectrogram, MelImageFrontEnd, SignalFrontEnd

CFG = FrontEndConfig()
# float32 rounding of the signal and of the DFT basis limits accuracy for entries far below the
# strongest one of their pair; the 1e-3 dB bound holds over the top 60 dB of each pair's spectrogram.
DYNAMIC_RANGE_DB = 60.0


def read_segment(path: Path) -> np.ndarray:
    table = pq.read_table(path, columns=list(CHANNELS))
    return np.stack([table.column(c).to_numpy() for c in CHANNELS]).astype(np.float32)


def reference_filterbank(cfg: FrontEndConfig) -> np.ndarray:
    """HTK triangles written filter by filter: rise from f[m-1] to f[m], fall to f[m+1] (no normalisation)."""
    freqs = np.linspace(0.0, cfg.mel_sample_rate_hz / 2, cfg.mel_stft_samples[0] // 2 + 1)
    lo, hi = (2595.0 * np.log10(1.0 + f / 700.0) for f in (cfg.mel_fmin_hz, cfg.mel_fmax_hz))
    edges = 700.0 * (10.0 ** (np.linspace(lo, hi, cfg.n_mels + 2) / 2595.0) - 1.0)
    bank = np.zeros((freqs.size, cfg.n_mels))
    for m in range(cfg.n_mels):
        left, centre, right = edges[m : m + 3]
        rising = (freqs - left) / (centre - left)
        falling = (right - freqs) / (right - centre)
        bank[:, m] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def reference_log_mel(signals: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """[P, T / mel_decimation] -> [P, n_mels, frames] dB via scipy.signal.stft, in float64."""
    n_fft, win_length, hop_length = cfg.mel_stft_samples
    half = n_fft // 2
    padded = np.pad(signals.astype(np.float64), ((0, 0), (half, half)), mode="reflect")  # torch.stft center=True
    window = scipy.signal.get_window("hann", win_length)  # periodic, like torch.hann_window
    window = np.pad(window, ((n_fft - win_length) // 2, (n_fft - win_length + 1) // 2))
    _, _, spectrum = scipy.signal.stft(padded, window=window, nperseg=n_fft, noverlap=n_fft - hop_length,
                                       boundary=None, padded=False, detrend=False, return_onesided=True)
    spectrum *= window.sum()  # scipy's default scaling="spectrum" divides by the window sum
    mel = np.einsum("fm,pft->pmt", reference_filterbank(cfg), np.abs(spectrum) ** 2)
    return 10.0 * np.log10(np.maximum(mel, cfg.db_amin))


def torch_log_mel(signals: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    with torch.no_grad():
        return LogMelSpectrogram(cfg)(torch.from_numpy(signals)[None])[0].numpy()


def max_error_db(got: np.ndarray, expected: np.ndarray) -> float:
    top = expected.max(axis=(1, 2), keepdims=True)
    return float(np.abs(got - expected)[expected >= top - DYNAMIC_RANGE_DB].max())


def synthetic_signals(cfg: FrontEndConfig, seed: int = 0) -> np.ndarray:
    """Sinusoids across the band, a chirp, a spike train and noise, at EEG-like amplitudes (scaled units),
    sampled at the Mel path's rate."""
    rng = np.random.default_rng(seed)
    n = WINDOW_SAMPLES // cfg.mel_decimation
    t = np.arange(n) / cfg.mel_sample_rate_hz
    rows = [np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * a for f, a in [(0.7, 2.0), (3.3, 1.0), (19.0, 0.2)]]
    rows.append(scipy.signal.chirp(t, f0=0.5, t1=t[-1], f1=20.0))
    rows.append((t % 1.0 < 0.04) * 3.0)  # 1 Hz periodic discharges
    rows.append(rng.standard_normal(n) * 0.5)
    return np.stack(rows).astype(np.float32)


def test_filterbank_matches_the_htk_reference_and_keeps_only_weighted_bins() -> None:
    bank = mel_filterbank(CFG)
    np.testing.assert_allclose(bank, reference_filterbank(CFG), atol=1e-12)
    assert (bank.sum(axis=0) > 0).all(), "every Mel filter must weight at least one FFT bin"
    spectrogram = LogMelSpectrogram(CFG)
    assert spectrogram.n_bins == np.ptp(np.flatnonzero(bank.any(axis=1))) + 1 < CFG.mel_stft_samples[0] // 2 + 1


def test_filterbank_matches_torchaudio() -> None:
    torchaudio = pytest.importorskip("torchaudio", exc_type=ImportError)
    expected = torchaudio.functional.melscale_fbanks(CFG.mel_stft_samples[0] // 2 + 1, CFG.mel_fmin_hz,
                                                     CFG.mel_fmax_hz, CFG.n_mels, CFG.mel_sample_rate_hz, norm=None,
                                                     mel_scale="htk")
    np.testing.assert_allclose(mel_filterbank(CFG), expected.numpy(), atol=1e-6)


def test_log_mel_matches_scipy_on_synthetic_signals() -> None:
    signals = synthetic_signals(CFG)
    assert max_error_db(torch_log_mel(signals, CFG), reference_log_mel(signals, CFG)) <= 1e-3


@pytest.mark.parametrize("decimation", [1, 2])
def test_log_mel_matches_scipy_with_other_stft_settings(decimation: int) -> None:
    cfg = FrontEndConfig(n_fft=200, win_length=150, hop_length=50, n_mels=24, mel_fmin_hz=1.0, mel_fmax_hz=30.0,
                         mel_decimation=decimation)
    signals = synthetic_signals(cfg, seed=1)
    got = torch_log_mel(signals, cfg)
    assert got.shape == (signals.shape[0], cfg.n_mels, cfg.n_frames)
    assert max_error_db(got, reference_log_mel(signals, cfg)) <= 1e-3


@pytest.mark.parametrize("segment", ["SZ_sample2", "LPD_sample1", "Other_sample1"])
def test_log_mel_matches_scipy_on_real_eeg(shared_data: Path, segment: str) -> None:
    eeg = read_segment(shared_data / "sparcnet_iiic" / f"{segment}.parquet")
    with torch.no_grad():
        signals = SignalFrontEnd(CFG, CFG.mel_decimation)(torch.from_numpy(eeg)[None])[0].numpy()
    assert max_error_db(torch_log_mel(signals, CFG), reference_log_mel(signals, CFG)) <= 1e-3


def test_log_mel_matches_torchaudio() -> None:
    torchaudio = pytest.importorskip("torchaudio", exc_type=ImportError)
    n_fft, win_length, hop_length = CFG.mel_stft_samples
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=CFG.mel_sample_rate_hz, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
        f_min=CFG.mel_fmin_hz, f_max=CFG.mel_fmax_hz, n_mels=CFG.n_mels, power=2.0, center=True,
        pad_mode="reflect", norm=None, mel_scale="htk")
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
    signals = synthetic_signals(CFG)
    expected = to_db(mel(torch.from_numpy(signals))).numpy()
    assert max_error_db(torch_log_mel(signals, CFG), expected) <= 1e-3


def test_image_normalisation_defaults_fit_real_eeg(shared_data: Path) -> None:
    """db_offset/db_scale were chosen as the mean/std of the Mel-dB over all sparcnet segments."""
    frontend = MelImageFrontEnd(CFG)
    paths = sorted((shared_data / "sparcnet_iiic").glob("*.parquet"))
    eeg = torch.from_numpy(np.stack([read_segment(p) for p in paths]))
    with torch.no_grad():
        image = frontend(eeg)
    assert abs(float(image.mean())) < 0.25
    assert 0.8 < float(image.std()) < 1.25
