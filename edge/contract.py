"""The signal contract: the one place that defines channels, rates, windows, classes and montages.

train, calibrate and edge all read these values; nothing else in the repo may restate them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from edge.config_io import require_field
from edge.errors import DataError, SpecError

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
# A model's labelled span may sit elsewhere in its window: `lookahead` seconds of signal follow the span.
# The Kaggle layout has 20 s after it; a causal (bedside) model wants 0, so its answer is about the newest 10 s.
KAGGLE_LOOKAHEAD_S = (WINDOW_SAMPLES - LABEL_STOP) / SAMPLE_RATE_HZ

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

    def validate(self, where: str = "contract") -> SignalContract:
        # The contract is fixed: a bundle made for another one cannot run on this code.
        for name in ("channels", "sample_rate_hz", "window_samples", "label_start", "label_stop", "classes", "units"):
            expected = getattr(SignalContract, name)
            actual = getattr(self, name)
            require_field(actual == expected, f"{where}.{name}", f"must be {expected!r}", value=actual)
        return self

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate_hz

    @property
    def label_span_seconds(self) -> tuple[float, float]:
        """Labelled span relative to the window start, in seconds."""
        return self.label_start / self.sample_rate_hz, self.label_stop / self.sample_rate_hz


def check_lookahead(lookahead_s: float, where: str = "lookahead_s") -> float:
    """A lookahead is whole samples, and the labelled span must fit in the window."""
    most = (WINDOW_SAMPLES - (LABEL_STOP - LABEL_START)) / SAMPLE_RATE_HZ
    require_field(isinstance(lookahead_s, (int, float)) and 0 <= lookahead_s <= most
                  and float(lookahead_s * SAMPLE_RATE_HZ).is_integer(), where,
                  f"must be whole samples in [0, {most:g}] seconds", value=lookahead_s)
    return float(lookahead_s)


def label_span_samples(lookahead_s: float = KAGGLE_LOOKAHEAD_S) -> tuple[int, int]:
    """[start, stop) samples of the labelled 10 s inside a window whose span is followed by `lookahead_s`."""
    stop = WINDOW_SAMPLES - round(check_lookahead(lookahead_s) * SAMPLE_RATE_HZ)
    return stop - (LABEL_STOP - LABEL_START), stop


def window_shift_samples(lookahead_s: float) -> int:
    """Where a model's window starts relative to the Kaggle window of the same label (negative: earlier)."""
    return LABEL_START - label_span_samples(lookahead_s)[0]


def window_for_kaggle_label(window: np.ndarray, lookahead_s: float) -> np.ndarray:
    """[channels, 10000] model input for the label of a Kaggle-layout window (labelled on its centre 10 s).

    A model with lookahead L < 20 s needs its window (20 - L) s earlier: that context is not in the file,
    so it is filled with each channel's mean over the window (a flat stretch, no step edge), as training
    fills context before a file's start (train/data/windows.py). L = 20 returns the window unchanged.
    """
    shift = -window_shift_samples(lookahead_s)
    if shift == 0:
        return window
    out = np.empty_like(window)
    out[:, shift:] = window[:, :window.shape[1] - shift]
    out[:, :shift] = window.mean(axis=1, keepdims=True)
    return out


# Units: the contract is microvolts; a source states its unit and is scaled on the way in.
_UNIT_TO_UV = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
}  # fmt: skip


def unit_scale(unit: str | None) -> float:
    """Factor to microvolts; a stream that states no unit is taken to be in microvolts (the LSL custom)."""
    if unit is None or not unit.strip():
        return 1.0
    key = unit.strip().lower()
    if key not in _UNIT_TO_UV:
        raise DataError(f"unknown channel unit {unit!r}; expected one of V, mV, uV")
    return _UNIT_TO_UV[key]
