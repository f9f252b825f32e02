"""The signal contract: the one place that defines channels, rates, windows, classes and montages.

train, calibrate and edge all read these values; nothing else in the repo may restate them.
Config objects are frozen dataclasses that round-trip through JSON (``spec.json``) and validate
once, with errors that name the bad field.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import SpecError

# Kaggle parquet column order. EKG is optional at the bedside.
CHANNELS: tuple[str, ...] = (
    "Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz", "Pz",
    "Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2", "EKG",
)  # fmt: skip
EEG_CHANNELS: tuple[str, ...] = CHANNELS[:-1]
OPTIONAL_CHANNELS: frozenset[str] = frozenset({"EKG"})
# Modern 10-10 names for the same electrodes, and common spellings of the EKG lead.
CHANNEL_ALIASES: dict[str, str] = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6", "ECG": "EKG"}

CLASSES: tuple[str, ...] = ("seizure", "lpd", "gpd", "lrda", "grda", "other")
VOTE_COLUMNS: tuple[str, ...] = tuple(f"{c}_vote" for c in CLASSES)

SAMPLE_RATE_HZ = 200
WINDOW_SAMPLES = 10_000  # 50 s
LABEL_START, LABEL_STOP = 4_000, 6_000  # the central 10 s the experts voted on

# Longitudinal bipolar "double banana", in the Kaggle spectrogram order LL, RL, LP, RP.
MONTAGE_CHAINS: dict[str, tuple[str, ...]] = {
    "LL": ("Fp1", "F7", "T3", "T5", "O1"),
    "RL": ("Fp2", "F8", "T4", "T6", "O2"),
    "LP": ("Fp1", "F3", "C3", "P3", "O1"),
    "RP": ("Fp2", "F4", "C4", "P4", "O2"),
}
CENTRAL_CHAIN: tuple[str, ...] = ("Fz", "Cz", "Pz")
MONTAGES: tuple[str, ...] = ("double_banana", "double_banana_central")
IMAGE_LAYOUTS: tuple[str, ...] = ("chains", "stack", "pairs")

# Left/right homologous electrodes; midline electrodes and EKG map to themselves.
HOMOLOGOUS: tuple[tuple[str, str], ...] = (
    ("Fp1", "Fp2"), ("F3", "F4"), ("C3", "C4"), ("P3", "P4"),
    ("F7", "F8"), ("T3", "T4"), ("T5", "T6"), ("O1", "O2"),
)  # fmt: skip

_LABEL_NOISE = re.compile(r"^(EEG|ECG|EKG)[\s_:-]+(?=\w)|[-_ ](REF|LE|AVG|AR|A1|A2|M1|M2|CZ)$", re.IGNORECASE)
_CANONICAL_BY_UPPER = {c.upper(): c for c in CHANNELS} | {a.upper(): c for a, c in CHANNEL_ALIASES.items()}


def canonical_channel(label: str) -> str | None:
    """Map a recording's channel label (``EEG Fp1-REF``, ``FP1``, ``T7``) to a contract name, or None."""
    text = label.strip()
    upper = text.upper()
    if upper in _CANONICAL_BY_UPPER:
        return _CANONICAL_BY_UPPER[upper]
    for _ in range(2):  # a prefix and a suffix may both be present
        text = _LABEL_NOISE.sub("", text).strip()
    return _CANONICAL_BY_UPPER.get(text.upper())


def montage_pairs(montage: str = "double_banana") -> tuple[tuple[str, str], ...]:
    """Bipolar pairs (anode, cathode) of a montage, chain by chain."""
    if montage not in MONTAGES:
        raise SpecError(f"montage must be one of {', '.join(MONTAGES)}, got {montage!r}")
    chains = list(MONTAGE_CHAINS.values())
    if montage == "double_banana_central":
        chains.append(CENTRAL_CHAIN)
    return tuple((a, b) for chain in chains for a, b in itertools.pairwise(chain))


def montage_names(montage: str = "double_banana") -> tuple[str, ...]:
    return tuple(f"{a}-{b}" for a, b in montage_pairs(montage))


def montage_matrix(montage: str = "double_banana") -> np.ndarray:
    """[pairs, 20] float32 matrix M with bipolar = M @ referential."""
    pairs = montage_pairs(montage)
    index = {c: i for i, c in enumerate(CHANNELS)}
    matrix = np.zeros((len(pairs), len(CHANNELS)), dtype=np.float32)
    for row, (anode, cathode) in enumerate(pairs):
        matrix[row, index[anode]] = 1.0
        matrix[row, index[cathode]] = -1.0
    return matrix


def hemisphere_flip_permutation() -> tuple[int, ...]:
    """Channel permutation that swaps left and right homologous electrodes."""
    index = {c: i for i, c in enumerate(CHANNELS)}
    perm = list(range(len(CHANNELS)))
    for left, right in HOMOLOGOUS:
        perm[index[left]], perm[index[right]] = index[right], index[left]
    return tuple(perm)


# ----------------------------------------------------------------------------- config objects


def require_field(cond: bool, where: str, message: str, value: Any) -> None:
    """Raise SpecError naming the field (`where`), the rule and the bad value unless `cond` holds."""
    if not cond:
        raise SpecError(f"{where} {message}, got {value!r}")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML config file; a missing or malformed file is a SpecError naming it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (JetPack 6): the same parser, as a package
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"config file {path} is not valid TOML: {exc}") from None


@dataclass(frozen=True)
class SignalContract:
    """What a window is: channels, rate, length and the span the label refers to."""

    channels: tuple[str, ...] = CHANNELS
    sample_rate_hz: int = SAMPLE_RATE_HZ
    window_samples: int = WINDOW_SAMPLES
    label_start: int = LABEL_START
    label_stop: int = LABEL_STOP
    classes: tuple[str, ...] = CLASSES
    units: str = "uV"

    def validate(self, where: str = "contract") -> None:
        # The contract is fixed: a bundle made for another one cannot run on this code.
        for name in ("channels", "sample_rate_hz", "window_samples", "label_start", "label_stop", "classes", "units"):
            expected = getattr(SignalContract, name)
            actual = getattr(self, name)
            require_field(actual == expected, f"{where}.{name}", f"must be {expected!r}", actual)

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate_hz

    @property
    def label_span_seconds(self) -> tuple[float, float]:
        """Labelled span relative to the window start, in seconds."""
        return self.label_start / self.sample_rate_hz, self.label_stop / self.sample_rate_hz


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

    def validate(self, where: str = "frontend") -> None:
        nyquist = SAMPLE_RATE_HZ / 2
        require_field(self.montage in MONTAGES, f"{where}.montage", f"must be one of {MONTAGES}", self.montage)
        require_field(self.image_layout in IMAGE_LAYOUTS, f"{where}.image_layout", f"must be one of {IMAGE_LAYOUTS}",
                      self.image_layout)
        require_field(0 < self.bandpass_low_hz < self.bandpass_high_hz < nyquist, f"{where}.bandpass_low_hz/high_hz",
                      f"must satisfy 0 < low < high < {nyquist}", (self.bandpass_low_hz, self.bandpass_high_hz))
        require_field(self.bandpass_taps >= 3 and self.bandpass_taps % 2 == 1, f"{where}.bandpass_taps",
                      "must be an odd integer >= 3", self.bandpass_taps)
        for name in ("clip_uv", "signal_scale_uv", "db_amin", "db_scale"):
            require_field(getattr(self, name) > 0, f"{where}.{name}", "must be > 0", getattr(self, name))
        require_field(0 < self.win_length <= self.n_fft, f"{where}.win_length", "must be in (0, n_fft]",
                      self.win_length)
        require_field(0 < self.hop_length <= self.win_length, f"{where}.hop_length", "must be in (0, win_length]",
                      self.hop_length)
        require_field(self.n_mels > 0, f"{where}.n_mels", "must be > 0", self.n_mels)
        require_field(self.mel_decimation >= 1 and all(
            n % self.mel_decimation == 0 for n in (self.n_fft, self.win_length, self.hop_length, WINDOW_SAMPLES)),
            f"{where}.mel_decimation", f"must be >= 1 and divide n_fft, win_length, hop_length and {WINDOW_SAMPLES}",
            self.mel_decimation)
        mel_nyquist = self.mel_sample_rate_hz / 2
        require_field(0 <= self.mel_fmin_hz < self.mel_fmax_hz <= mel_nyquist, f"{where}.mel_fmin_hz/fmax_hz",
                      f"must satisfy 0 <= fmin < fmax <= {mel_nyquist:g} (the Mel path's Nyquist frequency)",
                      (self.mel_fmin_hz, self.mel_fmax_hz))
        # the anti-alias filter needs a transition band between what is kept and the new Nyquist frequency
        require_field(self.mel_decimation == 1 or max(self.bandpass_high_hz, self.mel_fmax_hz) < mel_nyquist,
                      f"{where}.bandpass_high_hz/mel_fmax_hz", f"must be < {mel_nyquist:g} Hz (the Mel path's "
                      "Nyquist frequency; lower mel_decimation to keep higher frequencies)",
                      (self.bandpass_high_hz, self.mel_fmax_hz))
        require_field(self.image_layout != "chains" or self.montage == "double_banana", f"{where}.image_layout",
                      "'chains' needs montage 'double_banana' (equal-length chains)", self.image_layout)

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
    input_name: str = "eeg"
    output_name: str = "probs"
    format_version: int = SPEC_FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        require_field(bool(self.model), "spec.model", "must name a registered model", self.model)
        require_field(self.format_version == SPEC_FORMAT_VERSION, "spec.format_version",
                      f"must be {SPEC_FORMAT_VERSION} (bundle made by another eeg-edge version)", self.format_version)
        self.contract.validate("spec.contract")
        self.frontend.validate("spec.frontend")

    @property
    def input_shape(self) -> tuple[str, int, int]:
        return "batch", len(self.contract.channels), self.contract.window_samples

    @property
    def output_shape(self) -> tuple[str, int]:
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
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec.json is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: str | Path) -> ModelSpec:
        return cls.from_json(Path(path).read_text())


# ----------------------------------------------------------------------------- typed dict -> dataclass


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from plain JSON data, checking keys and types; errors name the field."""
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SpecError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(f"{where}.{f.name} is required")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _coerce(next(o for o in options if o is not type(None)), value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where} must be a list, got {type(value).__name__}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{where} must be an object, got {type(value).__name__}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise SpecError(f"{where} must be {hint.__name__}, got {value!r}")
    return value
