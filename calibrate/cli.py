"""`calibrate` command line: export, quantize, build, verify, run (all of them)."""

from __future__ import annotations

import sys

import typer

from edge.cli_support import run_app

app = typer.Typer(name="calibrate", help="Export a trained bundle to ONNX, INT8 and TensorRT, with parity gates.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def main() -> None:
    sys.exit(run_app(app))
