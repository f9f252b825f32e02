"""`train explain`: Grad-CAM map of one window for a bundle's torch model (thin wrapper over train.explain)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer()  # merged into the `train` command line by train/cli.py


@app.command("explain")
def explain_command(
    file: Annotated[Path, typer.Argument(help="Recording (.parquet, .edf, .bdf).")],
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle directory written by `train fit`.")],
    out: Annotated[Path, typer.Option("--out", help="PNG to write: traces and spectrogram under the map.")],
    *,
    offset: Annotated[float, typer.Option("--offset", help="Start of the window, seconds.")] = 0.0,
    target: Annotated[str | None, typer.Option("--class", help="Class to explain (default: predicted).")] = None,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Fill missing channels.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the map as JSON.")] = False,
) -> None:
    """Grad-CAM of one window: which bipolar pairs and seconds drive the prediction (mel2d, grouped1d)."""
    from edge.offline.explain_plot import write_explanation
    from train.explain import explain_file

    explanation = explain_file(bundle, file, offset_s=offset, target=target, allow_missing=allow_missing)
    write_explanation(explanation, out)
    if as_json:
        typer.echo(json.dumps(explanation.to_json()))
    print(f"{explanation.title()}: wrote {out}", file=sys.stderr)
