"""Write one named section of docs/benchmarks.md, leaving the other sections as they are.

Each benchmark script owns a section delimited by `<!-- BEGIN name -->` / `<!-- END name -->`.
"""

from __future__ import annotations

import re
from pathlib import Path

from edge.model.bundle import atomic_write

HEADER = "# Benchmarks\n\nEvery figure here is written by a command the project ships, named in its section.\n"


def replace_section(path: str | Path, name: str, body: str) -> Path:
    path = Path(path)
    text = path.read_text() if path.is_file() else HEADER
    block = f"<!-- BEGIN {name} -->\n{body.rstrip()}\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    return atomic_write(path, text)
