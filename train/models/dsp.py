"""Fixed filter designs of the front end, computed once in float64 numpy and stored as buffers.

Kept separate from the torch modules so each design can be checked on its own against scipy and
torchaudio's definitions.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import firwin, kaiserord

from edge.contract import SAMPLE_RATE_HZ
from edge.model.model_spec import FrontEndConfig

ANTIALIAS_STOPBAND_DB = 60.0  # 50/60 Hz mains alias onto 0/10 Hz at 50 Hz: 100 uV of it leaves 0.1 uV


def bandpass_taps(cfg: FrontEndConfig, decimation: int = 1) -> np.ndarray:
    """Linear-phase FIR bandpass (Hamming window design) at SAMPLE_RATE_HZ / decimation; the cutoffs are
    the -6 dB points. The filter spans the same time at any rate (same transition widths in Hz)."""
    taps = 2 * (cfg.bandpass_taps // 2 // decimation) + 1
    return firwin(taps, [cfg.bandpass_low_hz, cfg.bandpass_high_hz], pass_zero=False,
                  fs=SAMPLE_RATE_HZ / decimation)


def antialias_taps(cfg: FrontEndConfig, decimation: int) -> np.ndarray:
    """Linear-phase low-pass (Kaiser design, odd length) that precedes keeping every `decimation`-th sample.

    It must pass everything the Mel path keeps (up to f_keep = max(bandpass_high, mel_fmax)) and stop
    whatever would alias onto it: content at f folds to rate - f, so the stopband starts at rate - f_keep
    (30 Hz for 50 Hz and 20 Hz). The cutoff (-6 dB) sits midway, at the new Nyquist frequency.
    """
    rate = SAMPLE_RATE_HZ / decimation
    keep = max(cfg.bandpass_high_hz, cfg.mel_fmax_hz)
    width = (rate - 2 * keep) / (SAMPLE_RATE_HZ / 2)  # transition width, as a fraction of the input Nyquist
    taps, beta = kaiserord(ANTIALIAS_STOPBAND_DB, width)
    return firwin(taps | 1, rate / 2, window=("kaiser", beta), fs=SAMPLE_RATE_HZ)


def polyphase_kernel(taps: np.ndarray, block: int, decimation: int = 1) -> np.ndarray:
    """[block, block_in, Q] conv1d weight W, block_in = block * decimation, with
    W[r, s, q] = taps[block_in * q + s - decimation * r] (0 outside the taps).

    Run on a signal reshaped into blocks of ``block * decimation`` samples (channel s = sample s of each
    block), a dense conv1d with W gives output sample r of each output block: the same FIR, keeping every
    ``decimation``-th output, computed as small dense convolutions instead of one long depthwise (or
    strided) one, which CPU kernels (oneDNN, onnxruntime) run several times faster for the same FLOPs
    (+4 % for 401 taps and blocks of 16).
    """
    n_taps = len(taps)
    block_in = block * decimation
    n_q = -(-(n_taps + decimation * (block - 1)) // block_in)
    r, s, q = np.meshgrid(np.arange(block), np.arange(block_in), np.arange(n_q), indexing="ij")
    index = block_in * q + s - decimation * r
    return np.where((index >= 0) & (index < n_taps), taps[np.clip(index, 0, n_taps - 1)], 0.0)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(cfg: FrontEndConfig) -> np.ndarray:
    """[n_fft // 2 + 1, n_mels] triangular HTK filterbank, as torchaudio.functional.melscale_fbanks(norm=None),
    at the Mel path's rate and FFT size."""
    n_freqs = cfg.mel_stft_samples[0] // 2 + 1
    all_freqs = np.linspace(0, cfg.mel_sample_rate_hz / 2, n_freqs)
    f_pts = mel_to_hz(np.linspace(hz_to_mel(cfg.mel_fmin_hz), hz_to_mel(cfg.mel_fmax_hz), cfg.n_mels + 2))
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


def used_bins(filterbank: np.ndarray) -> slice:
    """The contiguous range of FFT bins any mel filter weights: the only bins the STFT must compute."""
    rows = np.flatnonzero(filterbank.any(axis=1))
    return slice(int(rows[0]), int(rows[-1]) + 1)


def stft_window(cfg: FrontEndConfig) -> np.ndarray:
    """Periodic Hann window of win_length, zero-padded to n_fft and centred (torch.stft's convention), at the
    Mel path's rate."""
    n_fft, win_length, _ = cfg.mel_stft_samples
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left))


def dft_basis(cfg: FrontEndConfig, bins: slice) -> np.ndarray:
    """[2 * n_bins, n_fft] windowed DFT rows: real parts then imaginary parts of the selected bins."""
    n_fft = cfg.mel_stft_samples[0]
    k = np.arange(bins.start, bins.stop)[:, None]
    n = np.arange(n_fft)[None, :]
    phase = 2.0 * np.pi * k * n / n_fft
    window = stft_window(cfg)
    return np.concatenate([np.cos(phase) * window, -np.sin(phase) * window])
