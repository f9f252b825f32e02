"""`train` subcommands, one module per command group; each defines a `typer.Typer` named `app`."""

import importlib

import typer

COMMAND_MODULES = ("train.commands.synth", "train.commands.fit", "train.commands.explain")


def command_groups() -> list[typer.Typer]:
    return [importlib.import_module(name).app for name in COMMAND_MODULES]
