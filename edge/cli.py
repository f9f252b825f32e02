"""`edge` command line: thin wrappers that parse, build a config and call one library function."""

from __future__ import annotations

import sys

import typer

from edge.cli_support import run_app

app = typer.Typer(name="edge", help="Bedside runtime: live EEG over LSL -> rolling soft predictions.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def main() -> None:
    sys.exit(run_app(app))
