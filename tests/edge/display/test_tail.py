"""JsonlFollower: history first, then appends; torn lines wait; truncation re-reads; bad lines are errors."""

from __future__ import annotations

import json

import pytest

from edge.display.sink import DisplaySink
from edge.display.tail import JsonlFollower
from edge.errors import DataError


def lines(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_follows_appends_and_waits_for_a_line_to_be_complete(tmp_path, make_prediction) -> None:
    log = tmp_path / "p.jsonl"
    sink = DisplaySink()
    follower = JsonlFollower(log, sink)
    assert follower.poll() == 0  # not written yet
    log.write_text(lines(make_prediction("b", 1.0), make_prediction("b", 2.0)))
    assert follower.poll() == 2
    text = json.dumps(make_prediction("b", 3.0))
    with log.open("a") as f:
        f.write(text[:20])
        f.flush()
        assert follower.poll() == 0
        f.write(text[20:] + "\n")
    assert follower.poll() == 1
    assert [r["window_end"] for r in sink.drain(limit=10)[0]] == [1.0, 2.0, 3.0]


def test_a_long_log_is_read_in_steps(tmp_path, make_prediction, monkeypatch) -> None:
    import edge.display.tail as tail

    log = tmp_path / "p.jsonl"
    log.write_text(lines(*(make_prediction("b", float(t)) for t in range(10))))
    monkeypatch.setattr(tail, "CHUNK_BYTES", 1000)  # about two records per read
    sink = DisplaySink()
    follower = JsonlFollower(log, sink)
    steps = [follower.poll() for _ in range(30)]
    assert max(steps) < 10 and sum(steps) == follower.records == 10
    assert [r["window_end"] for r in sink.drain(limit=20)[0]] == [float(t) for t in range(10)]


def test_a_replaced_or_truncated_log_is_read_again_from_its_start(tmp_path, make_prediction) -> None:
    log = tmp_path / "p.jsonl"
    log.write_text(lines(make_prediction("b", 1.0), make_prediction("b", 2.0)))
    follower = JsonlFollower(log, DisplaySink())
    assert follower.poll() == 2
    log.write_text(lines(make_prediction("b", 9.0)))
    assert follower.poll() == 1


def test_torn_records_are_skipped_and_other_bad_lines_are_errors(tmp_path, make_prediction) -> None:
    log = tmp_path / "p.jsonl"
    log.write_text('{"type": "predic\n' + lines(make_prediction("b", 1.0)))
    assert JsonlFollower(log, DisplaySink()).poll() == 1
    log.write_text("hello\n")
    with pytest.raises(DataError, match=r"p.jsonl:1 is not a JSON record"):
        JsonlFollower(log, DisplaySink()).poll()
