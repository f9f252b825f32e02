"""The in-graph signal front end: raw referential EEG -> scaled bipolar signals -> Mel-dB image.

Everything is a fixed matrix or convolution held in buffers, so the exported graph uses only plain
MatMul/Conv/Pad/Clip/Log ops (no ONNX STFT/DFT, which TensorRT 10.3 cannot parse) and train and
serve run the same arithmetic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edge.contract import WINDOW_SAMPLES, montage_matrix
from edge.errors import DataError
from edge.model.model_spec import FrontEndConfig
from train.models.dsp import antialias_taps, bandpass_taps, dft_basis, mel_filterbank, polyphase_kernel, used_bins

FIR_BLOCK = 16  # samples per polyphase block; divides WINDOW_SAMPLES so no sample is cropped


def _buffer(value) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float32)


def in_float32(forward: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> Callable:
    """Run a front end's forward outside autocast, in float32.

    `train fit` trains under bf16 autocast on CUDA, and the edge serves in float32: a bf16 montage, FIR and
    DFT would move low-power Mel bins by ~5 dB, so the model would learn from other images than it is given.
    The check is plain Python, so export (which traces without autocast) records no autocast nodes.
    """

    @functools.wraps(forward)
    def wrapper(self: nn.Module, eeg: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled(eeg.device.type):
            with torch.autocast(eeg.device.type, enabled=False):
                return forward(self, eeg.float())
        return forward(self, eeg)

    return wrapper


class SignalFrontEnd(nn.Module):
    """eeg [B, 20, T] uV -> montage -> remove each pair's mean -> [anti-alias FIR keeping every
    `decimation`-th sample] -> FIR bandpass ("same" length) -> clip to +-clip_uv -> / scale: [B, P, T / decimation].

    The mean removal is there because 0 Hz lies inside the FIR's lower transition band (a 2 s, 0.5 Hz
    high-pass attenuates DC by only ~16 dB), and electrode offsets of 100+ uV are common.
    """

    def __init__(self, cfg: FrontEndConfig, decimation: int = 1) -> None:
        super().__init__()
        cfg.validate()
        self.register_buffer("montage", _buffer(montage_matrix(cfg.montage)))
        length = WINDOW_SAMPLES // decimation
        block = math.gcd(FIR_BLOCK, length)
        self.decimate = BlockFir(antialias_taps(cfg, decimation), block, WINDOW_SAMPLES, decimation) \
            if decimation > 1 else nn.Identity()
        self.fir = BlockFir(bandpass_taps(cfg, decimation), block, length)
        self.register_buffer("clip_uv", _buffer(cfg.clip_uv))
        self.register_buffer("scale_uv", _buffer(cfg.signal_scale_uv))

    @in_float32
    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        bipolar = torch.matmul(self.montage, eeg)
        filtered = self.fir(self.decimate(bipolar - bipolar.mean(dim=-1, keepdim=True)))
        return torch.minimum(torch.maximum(filtered, -self.clip_uv), self.clip_uv) / self.scale_uv


class BlockFir(nn.Module):
    """Odd-length FIR on [B, P, length], "same" length (centred, zero padded), keeping every
    `decimation`-th output sample (0, d, 2d, ...): equal to a depthwise conv1d with padding taps // 2 and
    stride d, computed in polyphase form (see dsp.polyphase_kernel), so dropped outputs cost nothing.

    All sizes are fixed at construction from the window length, so the exported graph has no shape
    arithmetic.
    """

    def __init__(self, taps: np.ndarray, block: int = FIR_BLOCK, length: int = WINDOW_SAMPLES,
                 decimation: int = 1) -> None:
        super().__init__()
        block_in = block * decimation
        if length % block_in:
            raise ValueError(f"FIR block {block} x decimation {decimation} must divide the window length {length}")
        self.register_buffer("kernel", _buffer(polyphase_kernel(taps, block, decimation)))  # [block, block_in, Q]
        self.block_in, self.length = block_in, length
        n_blocks_in = length // block_in + self.kernel.shape[-1] - 1
        self.pad = (len(taps) // 2, n_blocks_in * block_in - length - len(taps) // 2)

    def forward(self, signals: torch.Tensor) -> torch.Tensor:
        if signals.shape[-1] != self.length:  # static under export: a shape check, not data-dependent flow
            raise DataError(f"the front end takes {self.length}-sample windows, got {signals.shape[-1]} samples")
        padded = F.pad(signals.flatten(0, 1), self.pad)  # [B*P, T + taps - 1 + slack]
        blocks = padded.unflatten(-1, (-1, self.block_in)).transpose(1, 2)  # [B*P, block_in, blocks]
        out = F.conv1d(blocks, self.kernel)  # [B*P, block (position in output block), T / block_in]
        return out.transpose(1, 2).flatten(1).unflatten(0, (-1, signals.shape[1]))


class LogMelSpectrogram(nn.Module):
    """signals [B, P, T / mel_decimation] at the Mel path's rate -> power Mel spectrogram in dB [B, P, n_mels, frames].

    Equals torchaudio MelSpectrogram(sample_rate=mel_sample_rate_hz, n_fft etc. of mel_stft_samples,
    power=2, center=True, pad_mode="reflect", norm=None, mel_scale="htk")
    followed by AmplitudeToDB("power", top_db=None). The STFT is a strided conv1d whose kernels are the
    windowed DFT rows of only the bins the filterbank weights, so frequencies above mel_fmax cost nothing.
    """

    def __init__(self, cfg: FrontEndConfig) -> None:
        super().__init__()
        cfg.validate()
        filterbank = mel_filterbank(cfg)
        bins = used_bins(filterbank)
        self.register_buffer("dft", _buffer(dft_basis(cfg, bins)).unsqueeze(1))  # [2K, 1, n_fft]
        self.register_buffer("mel", _buffer(filterbank[bins].T))  # [n_mels, K]
        self.register_buffer("amin", _buffer(cfg.db_amin))
        self.n_bins = bins.stop - bins.start
        self.n_fft, _, self.hop_length = cfg.mel_stft_samples

    def forward(self, signals: torch.Tensor) -> torch.Tensor:
        flat = signals.flatten(0, 1).unsqueeze(1)  # [B*P, 1, T]
        half = self.n_fft // 2
        padded = F.pad(flat, (half, half), mode="reflect")
        spectrum = F.conv1d(padded, self.dft, stride=self.hop_length)  # [B*P, 2K, frames]
        real, imag = spectrum[:, : self.n_bins], spectrum[:, self.n_bins :]
        power = real * real + imag * imag
        mel = torch.matmul(self.mel, power)  # [B*P, n_mels, frames]
        db = 10.0 * torch.log10(torch.maximum(mel, self.amin))
        return db.unflatten(0, (-1, signals.shape[1]))


class MelImageFrontEnd(nn.Module):
    """eeg [B, 20, T] -> normalised Mel-dB image [B, C, H, W] laid out per FrontEndConfig.image_shape.

    "pairs": one input channel per bipolar pair, so the stem sees every pair at each time and frequency;
    "chains": one input channel per montage chain (LL, RL, LP, RP), its 4 pairs' Mel bands stacked
    vertically; "stack": every pair's Mel bands stacked in one channel.
    """

    def __init__(self, cfg: FrontEndConfig) -> None:
        super().__init__()
        self.signals = SignalFrontEnd(cfg, cfg.mel_decimation)
        self.spectrogram = LogMelSpectrogram(cfg)
        self.register_buffer("db_offset", _buffer(cfg.db_offset))
        self.register_buffer("db_scale", _buffer(cfg.db_scale))
        self.image_channels = cfg.image_shape[0]

    @in_float32
    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        db = self.spectrogram(self.signals(eeg))  # [B, P, n_mels, frames], pairs chain by chain
        image = (db - self.db_offset) / self.db_scale
        return image.flatten(1, 2).unflatten(1, (self.image_channels, -1))
