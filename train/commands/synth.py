"""`train check` (validate a Kaggle layout) and `train synth` (write synthetic HMS data, plot examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edge.cli_support import EXIT_USER_ERROR
from edge.errors import DataError
from train.cli import app


@app.command("check")
def check(data: Annotated[Path, typer.Option("--data", help="Kaggle HMS layout directory.")],
          split: Annotated[str, typer.Option("--split", help="train or test.")] = "train") -> int:
    """Validate a data directory: one line per problem, exit 2 when there is any."""
    from train.data import load_table

    try:
        table = load_table(data, split)
    except DataError as exc:  # the message is every problem line
        for line in str(exc).splitlines():
            typer.echo(f"train check: {line}", err=True)
        return EXIT_USER_ERROR
    summary = f"{data}: {split} layout OK, {len(table)} rows, {len(set(table.eeg_ids))} EEGs, " \
              f"{len(set(table.patient_ids))} patients"
    typer.echo(summary)
    return 0
