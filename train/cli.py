"""`train` command line. Each command lives in train/commands/ and registers itself on `app`."""

from __future__ import annotations

import sys

import typer

from edge.cli_support import run_app

app = typer.Typer(name="train", help="Workstation training on the Kaggle HMS data layout.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def main() -> None:
    sys.exit(run_app(app))


from train.commands import register_all  # noqa: E402  (commands need `app` defined first)

register_all()
