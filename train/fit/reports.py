"""Bundle reports: metrics.json, oof.csv, training curves and confusion matrix as PNG (matplotlib, Agg)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from edge.contract import CLASSES
from train.fit.evaluate import CalibrationResult, EvalReport, reliability_bins

METRICS_FILE = "metrics.json"
OOF_FILE = "oof.csv"
CURVES_FILE = "training_curves.png"
CONFUSION_FILE = "confusion_matrix.png"
RELIABILITY_FILE = "reliability.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def metrics_json(summary: dict[str, Any], report: EvalReport, curves: dict[str, Any]) -> str:
    return json.dumps({**summary, "oof": asdict(report), "curves": curves}, indent=2, sort_keys=True) + "\n"


def oof_csv(windows, rows: np.ndarray, fold_of_row: np.ndarray, *, preds: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["eeg_id", "label_id", "patient_id", "fold", "total_votes",
                     *(f"target_{c}" for c in CLASSES), *(f"pred_{c}" for c in CLASSES)])
    for row, pred in zip(rows, preds, strict=True):
        writer.writerow([int(windows.eeg_ids[row]), int(windows.label_ids[row]), int(windows.patient_ids[row]),
                         int(fold_of_row[row]), int(windows.total_votes[row]),
                         *(f"{v:.6f}" for v in windows.targets[row]), *(f"{v:.6f}" for v in pred)])
    return buffer.getvalue()


def curves_png(curves: dict[str, dict[str, list]], prior_kl: float) -> bytes:
    """Per model: training loss per step (light), its moving mean, and validation KL per epoch."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, curve) in enumerate(curves.items()):
        color = f"C{i}"
        steps, losses = np.asarray(curve["step"]), np.asarray(curve["loss"])
        axes[0].plot(steps, losses, color=color, alpha=0.25, linewidth=0.8)
        window = max(len(losses) // 20, 1)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        axes[0].plot(steps[window - 1:], smooth, color=color, label=name)
        val = [(s, v) for s, v in zip(curve["val_step"], curve["val_kl"], strict=True) if v is not None]
        if val:
            axes[1].plot(*zip(*val, strict=True), marker="o", color=color, label=name)
    axes[1].axhline(prior_kl, color="grey", linestyle="--", label="class-prior baseline")
    axes[0].set(title="training loss (vote-weighted KL)", xlabel="step", ylabel="loss")
    axes[1].set(title="validation KL (held-out patients)", xlabel="step", ylabel="Kaggle KL")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def confusion_png(report: EvalReport, title: str) -> bytes:
    plt = _pyplot()
    matrix = np.asarray(report.confusion)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="black" if count < matrix.max() / 2 else "white")
    ax.set(xticks=range(len(CLASSES)), yticks=range(len(CLASSES)), xticklabels=CLASSES, yticklabels=CLASSES,
           xlabel="predicted (argmax)", ylabel="experts (argmax of votes)",
           title=f"{title}\nKL {report.kl:.3f} (prior {report.prior_kl:.3f}), accuracy {report.accuracy:.2f}")
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    return _png(fig)


def curves_from_history(history, val_history) -> dict[str, list]:
    return {"step": [h["step"] for h in history], "loss": [h["loss"] for h in history],
            "val_step": [v["step"] for v in val_history], "val_kl": [v["val_kl"] for v in val_history]}


def reliability_png(targets: np.ndarray, before: np.ndarray, after: np.ndarray, *, result: CalibrationResult) -> bytes:
    """One reliability diagram per class: mean expert vote share against mean predicted probability per bin."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), sharex=True, sharey=True)
    for c, (name, ax) in enumerate(zip(CLASSES, axes.flat, strict=True)):
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
        for probs, label, ece, color in ((before, "before", result.before.ece_per_class[c], "C3"),
                                         (after, "after", result.after.ece_per_class[c], "C0")):
            counts, mean_pred, mean_target = reliability_bins(targets[:, c], probs[:, c])
            filled = counts > 0
            ax.plot(mean_pred[filled], mean_target[filled], color=color, label=f"{label}: ECE {ece:.3f}")
            # marker area ~ rows in the bin: a bin of two rows should not look like a bin of two hundred
            ax.scatter(mean_pred[filled], mean_target[filled], s=10 + 200 * counts[filled] / len(targets), color=color)
        ax.set(title=name, xlim=(0, 1), ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes[1]:
        ax.set_xlabel("mean predicted probability (bin)")
    for ax in axes[:, 0]:
        ax.set_ylabel("mean expert vote share")
    b, a = result.before, result.after
    fig.suptitle(f"held-out patients ({result.rows} rows, {result.patients} patients), temperature "
                 f"{result.temperature:.3f}; after = cross-fitted over patient halves\n"
                 f"ECE {b.ece:.4f} -> {a.ece:.4f}, Kaggle KL {b.kl:.4f} -> {a.kl:.4f}, "
                 f"Brier {b.brier:.4f} -> {a.brier:.4f}")
    return _png(fig)
