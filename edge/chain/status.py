"""What a status record can say: one vocabulary of kinds for the chain, the runtime, monitoring, the offline
commands and the display, and the Status event that carries one (records: edge.records.status_record).

Plain string constants, not an Enum: records are JSON, and consumers compare and hash plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Kind:
    """Status kinds. The chain's: a window not (yet) predicted; the runtime's: the stream, the model, the outputs."""

    WARMING = "warming"  # fewer than a window of samples since the (re)start
    GAP = "gap"  # a forward timestamp jump: every stage reset
    CLOCK = "clock"  # timestamps running backwards while samples arrive: every stage reset
    MISSING = "missing"  # labelled span: too many samples missing
    ARTIFACT = "artifact"  # labelled span: too few usable bipolar pairs
    IMPLAUSIBLE = "implausible"  # the recording as a whole cannot be scalp EEG in microvolts (units, normalisation)
    INVALID_OUTPUT = "invalid_output"  # the model's output is not a probability distribution
    BACKEND_UNAVAILABLE = "backend_unavailable"  # a remote inference server (Triton) timed out or is unreachable
    NO_DATA = "no_data"  # no samples for silence_s
    RATE = "rate"  # not at the nominal rate (or not measured yet)
    RATE_OK = "rate_ok"
    SHED = "shed"  # fell behind: stale due windows dropped
    REFUSED = "refused"  # a restarted outlet failed the stream checks
    RECONNECTED = "reconnected"
    SINK_FAILED = "sink_failed"  # an output was disabled (stream "edge")


# a window that is not valid EEG: not predicted (edge/chain/quality.py)
REFUSED_WINDOW = frozenset({Kind.MISSING, Kind.ARTIFACT, Kind.IMPLAUSIBLE})
# no valid prediction at this time: the signal alarm counts them; "warming" too, a stream that never gets past it
# is not monitored
NO_PREDICTION = REFUSED_WINDOW | {Kind.GAP, Kind.CLOCK, Kind.WARMING, Kind.NO_DATA, Kind.RATE, Kind.SHED,
                                  Kind.INVALID_OUTPUT, Kind.BACKEND_UNAVAILABLE}


@dataclass(frozen=True)
class Status:
    kind: str  # a Kind
    t: float
    message: str
    available_s: float = 0.0
    detail: dict[str, Any] | None = None  # a refused window: its span, unusable channels and bad seconds
    # a refused window's samples, for the live display only (staff must see the artifact); never in records
    data: np.ndarray | None = field(default=None, repr=False, compare=False)
