"""Evaluation sets: synthetic data written to score models on, never to train them.

Seeds from EVAL_SEED_START on are reserved for them, so no training set redraws their patients. `train synth
--evaluation` also marks its layout (MARKER), which `train fit` and `train adapt` refuse, and only such a set may
draw its real backgrounds from eegmat subjects 18-23 (the false-alarm check's people, never in a training set,
train.synth.real_background): its figures then measure people no model saw, not only new synthetic patients on
backgrounds the model trained on.
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import DataError

EVAL_SEED_START = 9000
MARKER = "EVALUATION_SET"


def check_seed(seed: int, *, evaluation: bool) -> None:
    """Training data below EVAL_SEED_START, evaluation data from it on; DataError naming the fix otherwise."""
    if evaluation and seed < EVAL_SEED_START:
        raise DataError(f"--seed {seed}: an evaluation set needs a seed >= {EVAL_SEED_START} (the seeds no "
                        "training set draws)")
    if not evaluation and seed >= EVAL_SEED_START:
        raise DataError(f"--seed {seed} is reserved for evaluation sets (>= {EVAL_SEED_START}); choose a lower "
                        "seed for training data, or add --evaluation")


def mark(out: Path) -> None:
    """Mark ``out`` as an evaluation set before anything else is written into it."""
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / MARKER).write_text("Written by `train synth --evaluation`: score models on this set (`train eval`), "
                                    "never train on it. Its real backgrounds are eegmat subjects 18-23.\n")


def is_evaluation_set(data_dir: Path) -> bool:
    return (Path(data_dir) / MARKER).is_file()


def refuse_training_on(data_dir: Path, *, option: str = "--data") -> None:
    """DataError when ``data_dir`` is an evaluation set: training (or fitting anything) on it would leak its
    people into the model."""
    if is_evaluation_set(data_dir):
        raise DataError(f"{option} {data_dir} is an evaluation set ({MARKER}: `train synth --evaluation`); fit on a "
                        "set written without --evaluation and score on this one with `train eval`")
