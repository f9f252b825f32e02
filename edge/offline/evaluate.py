"""`edge evaluate`: replay long recordings through the live Runtime (file sources, same chain, engine,
smoother, burden and alarm policy as `edge run`) and score the alarms against annotated seizures.

Two scorings of the same alarms (docs/monitoring.md). SzCORE, by its reference implementation
(edge/offline/szcore.py): event-based and sample-based over the alarm episodes. Edge's clinical figures:
an alarm episode is the stretch from an alarm "on" to its "off" (or the end of the recording) at the scored
levels, overlapping ones merged; a seizure is detected by an "on" within [onset - 30 s, offset + 60 s]
(latency: that time - onset) or by an episode already on; an episode near no seizure is a false alarm,
counted per 24 h of monitored time (valid predictions x hop: not warm-up, gaps or refused windows). Re-alarms
held back by throttling are counted. Burden error compares the seizure burden of every prediction with full
coverage against the annotated share of the same 5 minutes. Every figure has a 95 % interval
(edge/offline/intervals.py), and `--out` keeps every alarm and prediction scored (scored.jsonl).
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import RunConfig
from edge.errors import DataError
from edge.inputs.file_source import FileSource
from edge.offline.annotations import Annotation, read_annotations
from edge.offline.intervals import Interval, bootstrap, poisson_rate, quantile, wilson
from edge.offline.szcore import SzcoreCounts, f1, score_events
from edge.sinks import Sink

ONSET_TOLERANCE_S, OFFSET_TOLERANCE_S = 30.0, 60.0  # SzCORE event tolerances


@dataclass
class StreamLog:
    """What the runtime emitted for one recording."""

    seconds: float
    predictions: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    invalid: int = 0  # status records that stand for missing predictions


class _Collector(Sink):
    """A sink that keeps the records evaluate needs (trends are not kept)."""

    def __init__(self, logs: dict[str, StreamLog]) -> None:
        self.logs = logs

    def write(self, record: dict[str, Any]) -> None:
        log = self.logs.get(record.get("stream") or "")
        if log is None:
            return
        if record["type"] == "prediction":
            burden = record.get("burden") or {}
            smoothed = record["smoothed"] or {}  # None for a window that may not enter smoothing (flagged)
            log.predictions.append({"t": record["window_end"], "label_start": record["label_start"],
                                    "label_end": record["label_end"], "probs": record["probs"],
                                    "seizure": smoothed.get("seizure"), "burden": burden.get("seizure"),
                                    "coverage": burden.get("coverage"), "burden_t": burden.get("t")})
        elif record["type"] == "alarm":
            log.alarms.append(record)
        elif record["type"] == "status":
            log.invalid += 1

    def close(self) -> None:
        """The logs stay with the caller."""


def replay(paths: list[Path], bundle: str | Path, config: RunConfig, *, streams: int = 8,
           backend: str | None = None) -> dict[str, StreamLog]:
    """Run every recording through the Runtime, `streams` files at a time as simultaneous streams."""
    from edge.model.engine import Engine
    from edge.runtime import Runtime

    names = [Path(p).stem for p in paths]
    if len(set(names)) != len(names):
        raise DataError("recordings must have distinct names (the annotations refer to them by name)")
    logs: dict[str, StreamLog] = {}
    with Engine(bundle, backend or config.backend, config.threads) as engine:
        for start in range(0, len(paths), streams):
            sources = [FileSource(p, chunk_s=config.chain.hop_s) for p in paths[start:start + streams]]
            for source in sources:
                logs[source.name] = StreamLog(source.recording.seconds)
            runtime = Runtime(engine, sources, [_Collector(logs)], config)
            try:
                while not all(source.exhausted for source in sources):
                    runtime.step()
            finally:
                runtime.close()
    return logs


@dataclass(frozen=True)
class RecordingScore:
    file: str
    hours: float
    monitored_hours: float  # valid predictions x hop: the time the monitor was able to alarm
    seizures: int
    detected: int
    alarms: int  # alarm episodes at the scored levels (overlapping spans merged)
    false_alarms: int
    suppressed: int  # re-alarms held back by throttling (logged as state "suppressed")
    already_on: int  # seizures detected only by an episode that began before onset - 30 s (no latency)
    latencies_s: tuple[float, ...]
    burden_mae_pp: float | None  # mean |burden - annotated burden| in percentage points, full coverage only
    predictions: int
    # SzCORE by timescoring: reference events / seconds, true and false positives
    szcore_ref: int
    szcore_tp: int
    szcore_fp: int
    sample_ref_s: int
    sample_tp_s: int
    sample_fp_s: int

    @property
    def event_counts(self) -> SzcoreCounts:
        return SzcoreCounts(self.szcore_ref, self.szcore_tp, self.szcore_fp, self.hours * 3600)

    @property
    def sample_counts(self) -> SzcoreCounts:
        return SzcoreCounts(self.sample_ref_s, self.sample_tp_s, self.sample_fp_s, self.hours * 3600)


def _intervals(alarms: list[dict[str, Any]], levels: tuple[str, ...], end: float) -> list[tuple[float, float]]:
    """Alarm episodes: on -> off per level (a suppressed re-alarm is no episode: nobody was alerted), then
    overlapping ones merged across levels."""
    spans, active = [], {}
    for alarm in alarms:
        if alarm.get("level") not in levels:
            continue
        if alarm["state"] == "on":
            active[alarm["level"]] = alarm["t"]
        elif alarm["state"] == "off" and alarm["level"] in active:
            spans.append((active.pop(alarm["level"]), alarm["t"]))
    spans += [(t, end) for t in active.values()]
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def annotated_share(seizures: list[Annotation], start: float, end: float) -> float:
    """Share of [start, end) inside annotated seizures."""
    inside = sum(max(0.0, min(end, a.offset_s) - max(start, a.onset_s)) for a in seizures)
    return inside / (end - start)


def score_recording(name: str, log: StreamLog, annotations: list[Annotation], *, levels: tuple[str, ...],
                    window_s: float, hop_s: float) -> RecordingScore:
    """Clinical figures and SzCORE counts of one recording. A seizure is detected by an alarm "on" within
    [onset - 30 s, offset + 60 s] (its latency: that time - onset, never below -30 s) or by an episode already
    on before that (counted in already_on, no latency); an episode overlapping no such span is false."""
    seizures = sorted((a for a in annotations if a.file == name and a.label == "seizure"), key=lambda a: a.onset_s)
    predicted = _intervals(log.alarms, levels, log.seconds)
    ons = sorted(a["t"] for a in log.alarms if a.get("level") in levels and a["state"] == "on")
    hit = [False] * len(predicted)
    latencies, already_on = [], 0
    for seizure in seizures:
        lo, hi = seizure.onset_s - ONSET_TOLERANCE_S, seizure.offset_s + OFFSET_TOLERANCE_S
        overlapping = [i for i, (a, b) in enumerate(predicted) if a <= hi and b >= lo]
        for i in overlapping:
            hit[i] = True
        inside = [t for t in ons if lo <= t <= hi]
        if inside:
            latencies.append(inside[0] - seizure.onset_s)
        elif overlapping:
            already_on += 1
    errors = [abs(p["burden"] - annotated_share(seizures, p["burden_t"] - window_s, p["burden_t"]))
              for p in log.predictions if p["coverage"] == 1.0 and p["burden_t"] is not None]
    event, sample = score_events([(a.onset_s, a.offset_s) for a in seizures], predicted, log.seconds)
    valid = sum(p["seizure"] is not None for p in log.predictions)
    suppressed = sum(a.get("level") in levels and a["state"] == "suppressed" for a in log.alarms)
    return RecordingScore(name, log.seconds / 3600, valid * hop_s / 3600, len(seizures), len(latencies) + already_on,
                          len(predicted), hit.count(False), suppressed, already_on, tuple(latencies),
                          100 * float(np.mean(errors)) if errors else None, len(log.predictions),
                          event.ref, event.tp, event.fp, sample.ref, sample.tp, sample.fp)


@dataclass(frozen=True)
class Summary:
    """Pooled figures, each interval a (value, low, high) 95 % interval (edge/offline/intervals.py)."""

    levels: tuple[str, ...]
    hours: float
    monitored_hours: float
    seizures: int
    detected: int
    sensitivity: Interval  # Wilson, per annotated seizure
    alarms: int
    precision: Interval  # Wilson, per alarm episode
    false_alarms: int
    false_alarms_per_24h: Interval  # Poisson, per 24 h of monitored time
    suppressed: int
    already_on: int
    latency_median_s: Interval  # bootstrap over detected seizures
    latency_p90_s: Interval
    burden_mae_pp: Interval  # bootstrap over recordings
    szcore_event: dict[str, Any]  # ref/tp/fp counts; sensitivity, precision (Wilson), f1 (bootstrap), fp_per_24h
    szcore_sample: dict[str, Any]  # the same over seconds; intervals by bootstrap over recordings


def _szcore(scores: list[RecordingScore], sample: bool) -> dict[str, Any]:
    def counts(rows: list[RecordingScore]) -> SzcoreCounts:
        return sum((r.sample_counts if sample else r.event_counts for r in rows), SzcoreCounts(0, 0, 0, 0.0))

    def share(rows: list[RecordingScore], numerator: str) -> float | None:
        c = counts(rows)
        denominator = c.ref if numerator == "sensitivity" else c.tp + c.fp
        return c.tp / denominator if denominator else None

    total = counts(scores)
    figures: dict[str, Any] = {"ref": total.ref, "tp": total.tp, "fp": total.fp}
    if sample:  # seconds are not independent trials: intervals over recordings
        figures["sensitivity"] = bootstrap(scores, lambda rows: share(rows, "sensitivity"))
        figures["precision"] = bootstrap(scores, lambda rows: share(rows, "precision"))
        figures["fp_per_24h"] = bootstrap(scores, lambda rows: (
            86400 * counts(rows).fp / counts(rows).seconds if counts(rows).seconds else None))
    else:
        figures["sensitivity"] = wilson(total.tp, total.ref)
        figures["precision"] = wilson(total.tp, total.tp + total.fp)
        figures["fp_per_24h"] = poisson_rate(total.fp, total.seconds / 86400)
    figures["f1"] = bootstrap(scores, lambda rows: f1(counts(rows)))
    return figures


def summarize(scores: list[RecordingScore], levels: tuple[str, ...]) -> Summary:
    seizures, detected = sum(s.seizures for s in scores), sum(s.detected for s in scores)
    alarms, false = sum(s.alarms for s in scores), sum(s.false_alarms for s in scores)
    monitored = sum(s.monitored_hours for s in scores)
    latencies = [t for s in scores for t in s.latencies_s]
    maes = [(s.burden_mae_pp, s.predictions) for s in scores if s.burden_mae_pp is not None]
    return Summary(
        levels, sum(s.hours for s in scores), monitored, seizures, detected, wilson(detected, seizures), alarms,
        wilson(alarms - false, alarms), false, poisson_rate(false, monitored / 24), sum(s.suppressed for s in scores),
        sum(s.already_on for s in scores), bootstrap(latencies, quantile(50)), bootstrap(latencies, quantile(90)),
        bootstrap(maes, lambda rows: float(np.average([m for m, _ in rows], weights=[n for _, n in rows]))),
        _szcore(scores, sample=False), _szcore(scores, sample=True))


def table(scores: list[RecordingScore], summary: Summary) -> str:
    """Markdown: one row per recording and a total row."""
    def fmt(value: float | None, spec: str = ".1f") -> str:
        return "-" if value is None else format(value, spec)

    rows = ["| recording | hours | seizures | detected | alarms | false alarms | suppressed | median latency s | "
            "SzCORE TP/ref | SzCORE FP | burden MAE pp |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in scores:
        latency = float(np.median(s.latencies_s)) if s.latencies_s else None
        rows.append(f"| {s.file} | {s.hours:.2f} | {s.seizures} | {s.detected} | {s.alarms} | {s.false_alarms} | "
                    f"{s.suppressed} | {fmt(latency)} | {s.szcore_tp}/{s.szcore_ref} | {s.szcore_fp} | "
                    f"{fmt(s.burden_mae_pp, '.2f')} |")
    event = summary.szcore_event
    rows.append(f"| **all** | {summary.hours:.2f} | {summary.seizures} | {summary.detected} | "
                f"{summary.alarms} | {summary.false_alarms} | {summary.suppressed} | "
                f"{fmt(summary.latency_median_s[0])} | {event['tp']}/{event['ref']} | {event['fp']} | "
                f"{fmt(summary.burden_mae_pp[0], '.2f')} |")
    return "\n".join(rows)


def plot_timeline(path: Path, logs: dict[str, StreamLog], annotations: list[Annotation], *,
                  levels: tuple[str, ...]) -> Path:
    """One row per recording: annotated events, smoothed seizure probability, seizure burden, alarms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"seizure": "tab:red", "artifact": "0.6", "electrode_off": "0.3"}
    fig, axes = plt.subplots(len(logs), 1, figsize=(14, 1.3 * len(logs) + 0.8), sharey=True, squeeze=False)
    for ax, (name, log) in zip(axes[:, 0], logs.items(), strict=True):
        for a in annotations:
            if a.file == name:
                ax.axvspan(a.onset_s / 60, a.offset_s / 60, color=colours.get(a.label, "tab:orange"), alpha=0.3, lw=0)
        t = np.array([p["t"] for p in log.predictions]) / 60
        ax.plot(t, [np.nan if p["seizure"] is None else p["seizure"] for p in log.predictions], lw=0.5,
                color="tab:blue")
        ax.plot(np.array([p["burden_t"] or np.nan for p in log.predictions]) / 60,
                [np.nan if p["burden"] is None else p["burden"] for p in log.predictions], lw=1.2, color="k")
        for alarm in log.alarms:
            if alarm["state"] == "on" and (alarm["level"] in levels or alarm["level"] == "signal"):
                ax.axvline(alarm["t"] / 60, color="tab:purple" if alarm["level"] != "signal" else "tab:green", lw=1)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0, log.seconds / 60)
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_title("red: annotated seizure, orange: IIIC, grey: artifact / electrode off; blue: smoothed "
                         f"p(seizure); black: seizure burden; purple: alarm on ({', '.join(levels)}); green: signal",
                         fontsize=8)
    axes[-1, 0].set_xlabel("minutes")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_scored(path: Path, logs: dict[str, StreamLog], annotations: list[Annotation]) -> Path:
    """Everything scored, as JSONL: annotations, then per recording its length, alarms and predictions."""
    from edge.records import to_json

    with path.open("w") as f:
        for a in annotations:
            f.write(to_json({"type": "annotation", **asdict(a)}) + "\n")
        for name, log in logs.items():
            f.write(to_json({"type": "recording", "file": name, "seconds": log.seconds}) + "\n")
            for record in [*log.alarms, *({"type": "prediction", **p} for p in log.predictions)]:
                f.write(to_json({**record, "file": name}) + "\n")
    return path


def evaluate(paths: list[Path], annotations_path: Path | None, bundle: str | Path, *, config: RunConfig,
             out: Path | None = None, level_sets: tuple[tuple[str, ...], ...] = (("seizure",),), streams: int = 8,
             backend: str | None = None) -> tuple[list[RecordingScore], list[Summary]]:
    """Replay once, score each set of alarm levels (the per-recording scores are those of the first set),
    and (with `out`) write scores.csv, summary.json, run.json (inputs, replay time), timeline.png and
    scored.jsonl (every annotation, alarm and prediction scored, one JSON object a line: enough to re-score)."""
    known = set(config.alarm.level_names)
    unknown = sorted({level for levels in level_sets for level in levels} - known)
    if unknown or not level_sets:
        raise DataError(f"--level {', '.join(unknown)} is not an alarm level; choose from {', '.join(sorted(known))}")
    annotations = read_annotations(annotations_path) if annotations_path is not None else []
    started = time.perf_counter()
    logs = replay(paths, bundle, config, streams=streams, backend=backend)
    replay_s = time.perf_counter() - started
    summaries, first = [], None
    for levels in level_sets:
        scores = [score_recording(name, log, annotations, levels=levels, window_s=config.burden.window_s,
                                  hop_s=config.chain.hop_s)
                  for name, log in logs.items()]
        summaries.append(summarize(scores, levels))
        first = first or scores
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "scores.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(asdict(first[0])))
            writer.writeheader()
            writer.writerows({**asdict(s), "latencies_s": " ".join(f"{t:.1f}" for t in s.latencies_s)}
                             for s in first)
        (out / "summary.json").write_text(json.dumps([asdict(s) for s in summaries], indent=2) + "\n")
        run = {"recordings": [str(p) for p in paths], "annotations": None if annotations_path is None else
               str(annotations_path), "bundle": str(bundle), "level_sets": level_sets, "streams": streams,
               "replay_s": round(replay_s, 1)}
        (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
        plot_timeline(out / "timeline.png", logs, annotations, levels=level_sets[0])
        write_scored(out / "scored.jsonl", logs, annotations)
    return first, summaries
