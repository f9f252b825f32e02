"""`train` subcommands, one module per command group."""

import importlib

COMMAND_MODULES = ("train.commands.synth", "train.commands.fit")


def register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
