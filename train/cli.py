"""`train` command line. Each command group lives in train/commands/ and is merged into `app` here."""

from __future__ import annotations

import sys

import typer

from edge.cli_support import run_app
from train.commands import command_groups

app = typer.Typer(name="train", help="Workstation training on the Kaggle HMS data layout.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for group in command_groups():
    app.add_typer(group)  # no name: the group's commands become top-level commands of `train`


def main() -> None:
    sys.exit(run_app(app))
