"""SzCORE scoring (Dan et al. 2024) with its reference implementation, `timescoring` (the `eval` extra).

Reference and hypothesis are event lists on one recording, turned into binary masks at 1 Hz
(timescoring.annotations.Annotation). Event-based: events closer than 90 s are merged and events longer
than 5 min split (both sides), a reference event is detected by any hypothesis overlap within
[onset - 30 s, offset + 60 s], and a hypothesis event that overlaps no detected (extended) reference event is
a false positive. Sample-based: per-second agreement of the masks. The counts pooled over recordings give
the figures; FP per 24 h is SzCORE's: over the recorded time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge.errors import DataError

MASK_HZ = 1
EVENT_PARAMETERS = {"toleranceStart": 30, "toleranceEnd": 60, "minOverlap": 0, "maxEventDuration": 300,
                    "minDurationBetweenEvents": 90}


@dataclass(frozen=True)
class SzcoreCounts:
    """One recording's (or a pool's) counts: events for event-based, seconds for sample-based scoring."""

    ref: int  # reference events (after merging and splitting) / seizure seconds
    tp: int
    fp: int
    seconds: float  # recorded time the masks cover

    def __add__(self, other: SzcoreCounts) -> SzcoreCounts:
        return SzcoreCounts(self.ref + other.ref, self.tp + other.tp, self.fp + other.fp, self.seconds + other.seconds)


def _timescoring():
    try:
        from timescoring import annotations, scoring
    except ImportError:
        raise DataError("SzCORE scoring needs the timescoring package: pip install -e '.[eval]' "
                        "(or pip install timescoring)") from None
    return annotations, scoring


def _annotation(events: list[tuple[float, float]], seconds: float):
    annotations, _ = _timescoring()
    return annotations.Annotation([(float(a), float(b)) for a, b in events], MASK_HZ, math.ceil(seconds * MASK_HZ))


def score_events(reference: list[tuple[float, float]], hypothesis: list[tuple[float, float]],
                 seconds: float) -> tuple[SzcoreCounts, SzcoreCounts]:
    """(event-based, sample-based) counts of one recording, by timescoring."""
    _, scoring = _timescoring()
    ref, hyp = _annotation(reference, seconds), _annotation(hypothesis, seconds)
    event = scoring.EventScoring(ref, hyp, scoring.EventScoring.Parameters(**EVENT_PARAMETERS))
    sample = scoring.SampleScoring(ref, hyp)
    return (SzcoreCounts(int(event.refTrue), int(event.tp), int(event.fp), seconds),
            SzcoreCounts(int(sample.refTrue), int(sample.tp), int(sample.fp), seconds))


def f1(counts: SzcoreCounts) -> float | None:
    """SzCORE's F1: 2 TP / (2 TP + FP + FN)."""
    denominator = 2 * counts.tp + counts.fp + (counts.ref - counts.tp)
    return 2 * counts.tp / denominator if denominator else None
