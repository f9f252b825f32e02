"""One vocabulary of status kinds (edge/chain/status.py): no module spells a kind as a string literal when it
makes a Status or a status record, and the groups the consumers use are drawn from it (issue 27)."""

from __future__ import annotations

import ast
from pathlib import Path

from edge.chain.status import NO_PREDICTION, REFUSED_WINDOW, Kind

EDGE = Path(__file__).resolve().parents[3] / "edge"


def literal_kinds(root: Path) -> list[str]:
    """'path:line' of every Status(...) or status-record call whose kind is a string literal."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = {"Status": node.args[:1], "runtime_status_record": node.args[:1],
                    "file_status_record": node.args[1:2]}.get(name, [])
            if any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_status_kinds_are_never_string_literals_where_statuses_are_made() -> None:
    assert literal_kinds(EDGE) == []


def test_a_planted_literal_kind_is_caught(tmp_path) -> None:
    (tmp_path / "m.py").write_text('Status("gap", 0.0, "x")\n')
    assert literal_kinds(tmp_path) == ["m.py:1"]


def test_the_groups_are_drawn_from_the_vocabulary() -> None:
    kinds = {v for k, v in vars(Kind).items() if k.isupper()}
    assert REFUSED_WINDOW <= NO_PREDICTION <= kinds
    assert {Kind.MISSING, Kind.ARTIFACT, Kind.IMPLAUSIBLE} == REFUSED_WINDOW
