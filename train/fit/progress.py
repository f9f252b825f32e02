"""Training progress: a rich bar with live loss/LR/val KL on a TTY, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ProgressReporter:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.live = enabled and self.stream.isatty()
        self._bar: Progress | None = None
        self._task = None
        self._label = ""

    def start(self, label: str, total_steps: int, done_steps: int) -> None:
        self._label = label
        if not self.enabled:
            return
        if self.live:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total_steps, completed=done_steps, stats="")
        else:
            print(f"[{label}] {total_steps} steps, starting at {done_steps}", file=self.stream, flush=True)

    def step(self, step: int, *, epoch: int, loss: float, lr: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=step, stats=f"epoch {epoch} loss {loss:.4f} lr {lr:.2e}")

    def epoch_end(self, epoch: int, *, step: int, train_loss: float, val_kl: float | None) -> None:
        val = "" if val_kl is None else f" val_kl {val_kl:.4f}"
        text = f"epoch {epoch} step {step} train_loss {train_loss:.4f}{val}"
        if self._bar is not None:
            self._bar.console.log(f"[{self._label}] {text}")
        elif self.enabled:
            print(f"[{self._label}] {text}", file=self.stream, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
