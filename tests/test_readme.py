"""The README's commands exist as written: every `make` target, subcommand and option it shows.

Commands are taken from the README's bash blocks and from the backticked first cell of its CLI tables.
A command is checked against the real `--help` of its subcommand (options) and the Makefile (targets);
running them whole (training, live streams) is what the rest of the suite and `make demo` do.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOOLS = ("edge", "train", "calibrate")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.split(" ", 1)[0] in (*TOOLS, "make"):
                commands.append(line)
    for cell in re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE):
        if cell.split(" ", 1)[0] in TOOLS:
            commands.append(cell)
    return commands


@cache
def help_text(tool: str, sub: str) -> str:
    result = subprocess.run([str(BIN / tool), sub, "--help"], capture_output=True, text=True, timeout=120,
                            env={"COLUMNS": "200", "TERM": "dumb", "PATH": str(BIN)})
    assert result.returncode == 0, f"`{tool} {sub} --help` failed: {result.stderr.strip()[-300:]}"
    return result.stdout


def test_the_readme_shows_commands_of_every_tool():
    tools = {c.split(" ", 1)[0] for c in readme_commands()}
    assert {"make", *TOOLS} <= tools


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_exists_as_written(command: str):
    words = command.split()
    if words[0] == "make":
        targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
        named = [w for w in words[1:] if "=" not in w]
        assert set(named) <= targets, f"Makefile has no target {sorted(set(named) - targets)}"
        return
    tool, sub = words[0], words[1]
    text = help_text(tool, sub)
    for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", command):
        assert option in text, f"`{tool} {sub}` has no option {option} (README: {command})"
