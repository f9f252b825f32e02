"""The model spec saved as a bundle's spec.json: front-end parameters, model name and options, tensor names.

Frozen dataclasses that round-trip through JSON and validate once, with errors that name the bad field.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from edge.config_io import Range, check_bounds, from_dict, parse_json, read_json, require_field
from edge.contract import (
    IMAGE_LAYOUTS,
    KAGGLE_LOOKAHEAD_S,
    MONTAGE_CHAINS,
    MONTAGES,
    SAMPLE_RATE_HZ,
    WINDOW_SAMPLES,
    SignalContract,
    check_lookahead,
    label_span_samples,
    montage_pairs,
)


@dataclass(frozen=True)
class FrontEndConfig:
    """Parameters of the in-graph signal front end (montage, bandpass, clip/scale, Mel-dB)."""

    montage: str = "double_banana"
    bandpass_low_hz: float = 0.5
    bandpass_high_hz: float = 20.0
    bandpass_taps: int = 401  # odd: linear-phase FIR applied as a conv1d
    clip_uv: float = 500.0
    signal_scale_uv: float = 50.0  # 1D branch input is clip(x) / scale
    # The Mel path runs at SAMPLE_RATE_HZ / mel_decimation (anti-alias FIR, then the bandpass at the low
    # rate): everything it keeps lies below mel_fmax_hz, so 200 Hz is 4x more samples than it needs.
    # n_fft, win_length and hop_length stay in 200 Hz samples and must be multiples of it.
    mel_decimation: int = 4
    n_fft: int = 256
    win_length: int = 256
    hop_length: int = 40
    n_mels: int = 24
    mel_fmin_hz: float = 0.5
    mel_fmax_hz: float = 20.0
    db_amin: float = 1e-10
    # image = (dB - offset) / scale; dB of the scaled bipolar signal. Mean and std measured over the 12
    # sparcnet_iiic segments (-4.5 dB, 11.7 dB; see docs/models.md), so the image is ~zero-mean, unit-variance.
    db_offset: float = -4.5
    db_scale: float = 12.0
    image_layout: str = "pairs"

    # Finite outer limits first (a spec.json value of 1e308 taps or inf uV never reaches numpy); the
    # relations between fields are checked after them.
    BOUNDS: ClassVar[dict[str, Range]] = {
        "bandpass_low_hz": Range(0.0, 100.0, lo_open=True), "bandpass_high_hz": Range(0.0, 100.0, lo_open=True),
        "bandpass_taps": Range(3, 4001, integer=True), "clip_uv": Range(0.0, 1e5, lo_open=True),
        "signal_scale_uv": Range(0.0, 1e5, lo_open=True), "mel_decimation": Range(1, 16, integer=True),
        "n_fft": Range(1, 8192, integer=True), "win_length": Range(1, 8192, integer=True),
        "hop_length": Range(1, 8192, integer=True), "n_mels": Range(1, 512, integer=True),
        "mel_fmin_hz": Range(0.0, 100.0), "mel_fmax_hz": Range(0.0, 100.0, lo_open=True),
        "db_amin": Range(0.0, 1.0, lo_open=True), "db_offset": Range(-1000.0, 1000.0),
        "db_scale": Range(0.0, 1000.0, lo_open=True)}

    def validate(self, where: str = "frontend") -> FrontEndConfig:
        check_bounds(self, where)
        nyquist = SAMPLE_RATE_HZ / 2
        require_field(self.montage in MONTAGES, f"{where}.montage", f"must be one of {MONTAGES}", value=self.montage)
        require_field(self.image_layout in IMAGE_LAYOUTS, f"{where}.image_layout", f"must be one of {IMAGE_LAYOUTS}",
                      value=self.image_layout)
        require_field(0 < self.bandpass_low_hz < self.bandpass_high_hz < nyquist, f"{where}.bandpass_low_hz/high_hz",
                      f"must satisfy 0 < low < high < {nyquist}", value=(self.bandpass_low_hz, self.bandpass_high_hz))
        require_field(self.bandpass_taps >= 3 and self.bandpass_taps % 2 == 1, f"{where}.bandpass_taps",
                      "must be an odd integer >= 3", value=self.bandpass_taps)
        for name in ("clip_uv", "signal_scale_uv", "db_amin", "db_scale"):
            require_field(getattr(self, name) > 0, f"{where}.{name}", "must be > 0", value=getattr(self, name))
        require_field(0 < self.win_length <= self.n_fft, f"{where}.win_length", "must be in (0, n_fft]",
                      value=self.win_length)
        require_field(0 < self.hop_length <= self.win_length, f"{where}.hop_length", "must be in (0, win_length]",
                      value=self.hop_length)
        require_field(self.n_mels > 0, f"{where}.n_mels", "must be > 0", value=self.n_mels)
        require_field(self.mel_decimation >= 1 and all(
            n % self.mel_decimation == 0 for n in (self.n_fft, self.win_length, self.hop_length, WINDOW_SAMPLES)),
            f"{where}.mel_decimation", f"must be >= 1 and divide n_fft, win_length, hop_length and {WINDOW_SAMPLES}",
            value=self.mel_decimation)
        mel_nyquist = self.mel_sample_rate_hz / 2
        require_field(0 <= self.mel_fmin_hz < self.mel_fmax_hz <= mel_nyquist, f"{where}.mel_fmin_hz/fmax_hz",
                      f"must satisfy 0 <= fmin < fmax <= {mel_nyquist:g} (the Mel path's Nyquist frequency)",
                      value=(self.mel_fmin_hz, self.mel_fmax_hz))
        # the anti-alias filter needs a transition band between what is kept and the new Nyquist frequency
        require_field(self.mel_decimation == 1 or max(self.bandpass_high_hz, self.mel_fmax_hz) < mel_nyquist,
                      f"{where}.bandpass_high_hz/mel_fmax_hz", f"must be < {mel_nyquist:g} Hz (the Mel path's "
                      "Nyquist frequency; lower mel_decimation to keep higher frequencies)",
                      value=(self.bandpass_high_hz, self.mel_fmax_hz))
        require_field(self.image_layout != "chains" or self.montage == "double_banana", f"{where}.image_layout",
                      "'chains' needs montage 'double_banana' (equal-length chains)", value=self.image_layout)
        return self

    @property
    def n_pairs(self) -> int:
        return len(montage_pairs(self.montage))

    @property
    def mel_sample_rate_hz(self) -> float:
        return SAMPLE_RATE_HZ / self.mel_decimation

    @property
    def mel_stft_samples(self) -> tuple[int, int, int]:
        """(n_fft, win_length, hop_length) at the Mel path's rate."""
        return self.n_fft // self.mel_decimation, self.win_length // self.mel_decimation, \
            self.hop_length // self.mel_decimation

    @property
    def n_frames(self) -> int:
        # torch.stft / torchaudio convention with center=True
        return WINDOW_SAMPLES // self.hop_length + 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """[channels, height, width] of the 2D branch's input image."""
        if self.image_layout == "chains":
            chains = len(MONTAGE_CHAINS)
            return chains, self.n_pairs // chains * self.n_mels, self.n_frames
        if self.image_layout == "pairs":
            return self.n_pairs, self.n_mels, self.n_frames
        return 1, self.n_pairs * self.n_mels, self.n_frames


SPEC_FORMAT_VERSION = 2  # 2: frontend.mel_decimation (a version-1 spec ran its Mel path at 200 Hz)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild and run a trained model; saved as ``spec.json`` in a bundle."""

    model: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)
    contract: SignalContract = field(default_factory=SignalContract)
    # seconds of the window after the labelled 10 s the model answers for (20: Kaggle's centre; 0: causal)
    lookahead_s: float = KAGGLE_LOOKAHEAD_S
    input_name: str = "eeg"
    output_name: str = "probs"
    format_version: int = SPEC_FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> ModelSpec:
        require_field(bool(self.model), "spec.model", "must name a registered model", value=self.model)
        require_field(self.format_version == SPEC_FORMAT_VERSION, "spec.format_version",
                      f"must be {SPEC_FORMAT_VERSION} (bundle made by another eeg-edge version)",
                      value=self.format_version)
        self.contract.validate("spec.contract")
        self.frontend.validate("spec.frontend")
        check_lookahead(self.lookahead_s, "spec.lookahead_s")
        return self

    @property
    def label_span_seconds(self) -> tuple[float, float]:
        """The labelled span this model answers for, relative to its window's start."""
        start, stop = label_span_samples(self.lookahead_s)
        return start / SAMPLE_RATE_HZ, stop / SAMPLE_RATE_HZ

    @property
    def input_shape(self) -> tuple[str, int, int]:
        return "batch", len(self.contract.channels), self.contract.window_samples

    @property
    def output_shape(self) -> tuple[str, int]:
        """What the model must output (edge.model.output_check): probabilities [batch, classes]."""
        return "batch", len(self.contract.classes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        if isinstance(data, dict) and data.get("format_version") == 1 and isinstance(data.get("frontend"), dict):
            data = {**data, "format_version": 2, "frontend": {"mel_decimation": 1, **data["frontend"]}}
        spec = from_dict(cls, data, "spec")
        spec.validate()
        return spec

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        return cls.from_dict(parse_json(text, "spec.json", allow_nonfinite=True))

    @classmethod
    def read(cls, path: str | Path) -> ModelSpec:
        """spec.json decoded as UTF-8 and depth-limited (edge.config_io): every failure one line. NaN may stand
        in its training record (json.dumps writes it); numeric fields the model uses are range-checked."""
        return cls.from_dict(read_json(path, "model spec", allow_nonfinite=True))
