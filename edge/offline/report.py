"""`edge report LOG --out report.html`: a static, offline review of one recording from its JSONL log.

One PNG (probability timeline with alarms, burden, quality, qEEG trends when present) and one HTML
page that embeds it with the summary, the alarm log and the quality counts. The page has no scripts
and loads nothing: it can be mailed or archived with the patient record.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.chain.status import Kind
from edge.contract import CLASSES
from edge.display.state import alarm_key, trend_point
from edge.errors import DataError
from edge.model.bundle import atomic_write
from edge.monitoring.burden import BURDEN_NAMES
from edge.monitoring.trends import CDSA_CENTRES_HZ, LEFT_CHAINS, RIGHT_CHAINS
from edge.sinks.jsonl import read_jsonl

COLORS = ("#c33", "#e90", "#b5b", "#38b", "#3a9", "#999")


@dataclass(frozen=True)
class Recording:
    """One stream's records from a log, in file order."""

    stream: str
    predictions: list[dict[str, Any]]
    alarms: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    trends: list[dict[str, Any]]  # trend_point() form

    @property
    def t0(self) -> float:
        return self.predictions[0]["window_end"]

    def hours(self, t: float | None) -> float:
        return np.nan if t is None else (t - self.t0) / 3600.0


def load_recording(log: str | Path, *, trends: str | Path | None = None, stream: str | None = None) -> Recording:
    records = [r for r in read_jsonl(log) if isinstance(r.get("stream"), str)]
    streams = sorted({r["stream"] for r in records if r.get("type") == "prediction"})
    if not streams:
        raise DataError(f"{log} holds no prediction records; give the JSONL that `edge run --out` wrote")
    if stream is None:
        if len(streams) > 1:
            raise DataError(f"{log} holds {len(streams)} streams ({', '.join(streams)}); choose one with --stream")
        stream = streams[0]
    elif stream not in streams:
        raise DataError(f"{log} has no predictions for stream {stream!r}; it has: {', '.join(streams)}")
    mine = [r for r in records if r["stream"] == stream]
    trend_records = [r for r in mine if r.get("type") == "trends"]
    if trends is not None:
        trend_records += read_trends(trends, stream)
    points = sorted((p for p in map(trend_point, trend_records) if p is not None), key=lambda p: p["t"])
    return Recording(stream, [r for r in mine if r.get("type") == "prediction"],
                     [r for r in mine if r.get("type") == "alarm"], [r for r in mine if r.get("type") == "status"],
                     points)


def read_trends(path: str | Path, stream: str) -> list[dict[str, Any]]:
    """One stream's trend records from the runtime's trends CSV (edge.sinks.trends_file) or a JSONL of them."""
    path = Path(path)
    if path.suffix != ".csv":
        return [r for r in read_jsonl(path) if r.get("type") == "trends" and r.get("stream") == stream]
    with path.open(newline="", encoding="utf-8") as file:
        rows = csv.reader(file)
        header = next(rows, None)
        if header is None or header[:2] != ["stream", "t"]:
            raise DataError(f"{path} is not a trends file (its header must start with stream,t); give the "
                            ".trends.csv that `edge run` wrote next to its log")
        try:
            return [{"type": "trends", "stream": row[0], "t": float(row[1]), "values": [float(v) for v in row[2:]]}
                    for row in rows if row and row[0] == stream]
        except ValueError as exc:
            raise DataError(f"{path}:{rows.line_num} has a value that is not a number ({exc})") from None


def _alarm_spans(rec: Recording) -> list[tuple[str, float, float]]:
    """(level, on, off) in stream time; an alarm still on at the end runs to the last prediction."""
    spans, open_at = [], {}
    for alarm in rec.alarms:
        level = alarm_key(alarm)
        if alarm.get("state") == "on":
            open_at.setdefault(level, alarm["t"])
        elif level in open_at:
            spans.append((level, open_at.pop(level), alarm["t"]))
    end = rec.predictions[-1]["window_end"]
    return spans + [(level, t, end) for level, t in open_at.items()]


def _smoothed(rec: Recording) -> np.ndarray:
    """[n, classes]; NaN rows for flagged windows (not smoothed)."""
    return np.array([[np.nan] * len(CLASSES) if p.get("smoothed") is None else [p["smoothed"][c] for c in CLASSES]
                     for p in rec.predictions], dtype=float)


def plot_report(rec: Recording) -> bytes:
    from matplotlib.figure import Figure  # no pyplot: no global backend or GUI state

    x = np.array([rec.hours(p["window_end"]) for p in rec.predictions])
    panels = 4 if rec.trends else 3
    fig = Figure(figsize=(12, 2.6 * panels + (2.4 if rec.trends else 0)))
    axes = fig.subplots(panels + (1 if rec.trends else 0), 1, sharex=True)
    ax = axes[0]
    smoothed = _smoothed(rec)
    ax.stackplot(x, np.nan_to_num(smoothed).T, labels=CLASSES, colors=COLORS, alpha=0.85)
    for level, on, off in _alarm_spans(rec):  # a red bar along the top while an alarm is on
        ax.axvspan(rec.hours(on), rec.hours(off), ymin=0.97, ymax=1.0, color="red", lw=0)
        ax.text(rec.hours(on), 1.01, level, fontsize=7, color="red", transform=ax.get_xaxis_transform())
    ax.set(ylim=(0, 1), ylabel="smoothed (stacked)", title=f"{rec.stream}: probabilities; red bars: alarms on")
    ax.legend(loc="upper left", ncol=len(CLASSES), fontsize=8)
    _plot_burden(axes[1], rec, x, smoothed)
    _plot_quality(axes[2], rec, x)
    if rec.trends:
        _plot_trends(axes[3], axes[4], rec)
    axes[-1].set_xlabel("hours since the first prediction (stream clock)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _plot_burden(ax, rec: Recording, x: np.ndarray, smoothed: np.ndarray) -> None:
    burdens = [p.get("burden") if isinstance(p.get("burden"), dict) else None for p in rec.predictions]
    if any(burdens):
        for name, color in (("seizure", COLORS[0]), ("any_iiic", COLORS[3])):
            values = [np.nan if b is None or b.get(name) is None else b[name] for b in burdens]
            ax.plot(x, values, color=color, label=f"{name} burden")
        coverage = [np.nan if b is None else b.get("coverage", np.nan) for b in burdens]
        ax.plot(x, coverage, color="#777", ls=":", label="coverage")
        for alarm in rec.alarms:
            if isinstance(alarm.get("burden"), dict) and alarm.get("state") == "on":
                ax.axvline(rec.hours(alarm["t"]), color="red", lw=0.8, ls="--")
        ax.set(ylabel="share of burden window", title="burden (dashed: burden alarms raised)")
    else:
        ax.plot(x, smoothed[:, 0], color=COLORS[0], label="seizure (smoothed)")
        ax.set(ylabel="probability", title="seizure probability (these records carry no burden)")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)


def _plot_quality(ax, rec: Recording, x: np.ndarray) -> None:
    kinds = sorted({k for p in rec.predictions for k, v in (p.get("quality") or {}).items() if v})
    for row, kind in enumerate(kinds):
        hit = np.array([bool((p.get("quality") or {}).get(kind)) for p in rec.predictions])
        ax.scatter(x[hit], np.full(hit.sum(), row), marker="|", s=80, color="#e90")
    silent = [s for s in rec.statuses
              if s.get("kind") in (Kind.NO_DATA, Kind.GAP, Kind.CLOCK) and s.get("t") is not None]
    if silent:
        ax.scatter([rec.hours(s["t"]) for s in silent], np.full(len(silent), len(kinds)), marker="|", s=80,
                   color="#555")
    labels = [*kinds, *(["no data / gap"] if silent else [])] or ["no quality flags"]
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.8, max(len(labels), 1) - 0.2)
    ax.set_title("quality: flagged windows by flag, and stretches without data")


def _plot_trends(ax_cdsa, ax_aeeg, rec: Recording) -> None:
    t = np.array([rec.hours(p["t"]) for p in rec.trends])
    left = np.array([np.mean([p["cdsa"][c] for c in LEFT_CHAINS], axis=0) for p in rec.trends])
    right = np.array([np.mean([p["cdsa"][c] for c in RIGHT_CHAINS], axis=0) for p in rec.trends])
    bins = len(CDSA_CENTRES_HZ)
    image = np.concatenate([right.T, np.full((1, len(t)), np.nan), left.T])  # left on top
    extent = (t[0], t[-1] if len(t) > 1 else t[0] + 1e-3, 0, 2 * bins + 1)
    ax_cdsa.imshow(image, aspect="auto", origin="lower", extent=extent, cmap="jet", interpolation="nearest")
    ax_cdsa.set_yticks([bins / 2, bins + 1 + bins / 2], ["right 1-20 Hz", "left 1-20 Hz"])
    ax_cdsa.set_title("CDSA per hemisphere (dB re 1 uV^2 per 1 Hz bin)")
    for chains, name, color in ((LEFT_CHAINS, "left", "#124"), (RIGHT_CHAINS, "right", "#a33")):
        margins = np.array([np.mean([p["aeeg"][c] for c in chains], axis=0) for p in rec.trends])
        ax_aeeg.fill_between(t, margins[:, 0], margins[:, 1], color=color, alpha=0.35, label=f"aEEG {name}")
    ax_aeeg.set(ylabel="uV", ylim=(0, None), title="aEEG margins per hemisphere")
    ax_aeeg.legend(loc="upper left", fontsize=8)


def summary(rec: Recording) -> dict[str, str]:
    first, last = rec.predictions[0], rec.predictions[-1]
    latencies = np.array([p["latency_ms"] for p in rec.predictions if p.get("latency_ms") is not None])
    flagged = sum(bool(p.get("flagged")) for p in rec.predictions)
    alarms_on = Counter(alarm_key(a) for a in rec.alarms if a.get("state") == "on")
    statuses = Counter(str(s.get("kind")) for s in rec.statuses)
    rows = {
        "stream": rec.stream,
        "model": ", ".join(sorted({str(p.get("model")) for p in rec.predictions})),
        "time range (stream clock, s)": f"{first['window_start']:.1f} to {last['window_end']:.1f} "
                                        f"({(last['window_end'] - first['window_start']) / 3600:.2f} h)",
        "predictions": f"{len(rec.predictions)} ({flagged} flagged by quality, {flagged / len(rec.predictions):.1%})",
        "alarms raised": ", ".join(f"{k}: {v}" for k, v in sorted(alarms_on.items())) or "none",
        "status records": ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) or "none",
        "trend frames": str(len(rec.trends)),
    }
    if latencies.size:
        rows["latency (ms)"] = f"median {np.median(latencies):.1f}, p99 {np.percentile(latencies, 99):.1f}"
    burden = last.get("burden")
    if isinstance(burden, dict):
        shares = ", ".join(f"{k} {burden[k]:.0%}" for k in (*BURDEN_NAMES, "coverage") if burden.get(k) is not None)
        rows["burden at the end"] = f"{shares} (over {burden.get('window_s', float('nan')) / 60:g} min)"
    return rows


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(rec: Recording, png: bytes) -> str:
    alarms = [[f"{(a['t'] - rec.t0) / 60:.1f}", alarm_key(a), a.get("state"),
               a.get("p") if a.get("p") is not None else (a.get("burden") or {}).get("seizure", ""),
               a.get("message", "")] for a in rec.alarms]
    channels: Counter[tuple[str, str]] = Counter()
    for p in rec.predictions:
        for kind, names in (p.get("quality") or {}).items():
            channels.update((name, kind) for name in names)
    quality = [[name, kind, count, f"{count / len(rec.predictions):.1%}"]
               for (name, kind), count in sorted(channels.items())]
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eeg-edge report: {html.escape(rec.stream)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em;color:#1b1f24}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>eeg-edge review: {html.escape(rec.stream)}</h1>
<p>Decision support for trained staff, not a diagnosis. Times are on the stream clock.</p>
{_table(["", ""], [[k, v] for k, v in summary(rec).items()])}
<img alt="timeline, burden, quality and trends" src="data:image/png;base64,{image}">
<h2>Alarm log</h2>
{_table(["minutes since first prediction", "alarm", "state", "p / seizure burden", "message"], alarms)
 if alarms else "<p>no alarms</p>"}
<h2>Quality flags per channel</h2>
{_table(["channel", "flag", "windows", "share"], quality) if quality else "<p>no channel was flagged</p>"}
</body></html>
"""


def write_report(log: str | Path, out: str | Path, *, trends: str | Path | None = None,
                 stream: str | None = None) -> tuple[Path, Path]:
    """Writes OUT (HTML) and OUT with .png; returns both paths."""
    out = Path(out)
    rec = load_recording(log, trends=trends, stream=stream)
    png = plot_report(rec)
    png_path = atomic_write(out.with_suffix(".png"), png)
    return atomic_write(out, render_html(rec, png)), png_path
