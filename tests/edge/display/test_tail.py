"""JsonlFollower: history first, then appends, line by line; torn lines wait; truncation re-reads; a bad
line (junk, torn, over-long, not UTF-8) is handed on for the display's intake to count, never an exit, and
memory stays bounded whatever the file holds."""

from __future__ import annotations

import json
import tracemalloc

from edge.display.intake import MAX_RECORD_BYTES
from edge.display.sink import DisplaySink
from edge.display.state import WardState
from edge.display.tail import JsonlFollower


def lines(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def shown(sink: DisplaySink) -> WardState:
    """What the display makes of everything the follower handed on."""
    ward = WardState()
    for item in sink.drain(limit=100_000)[0]:
        ward.apply(item, now=0.0, wall=0.0)
    return ward


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
    assert [json.loads(r)["window_end"] for r in sink.drain(limit=10)[0]] == [1.0, 2.0, 3.0]


def test_a_long_log_is_read_in_steps(tmp_path, make_prediction, monkeypatch) -> None:
    import edge.display.tail as tail

    log = tmp_path / "p.jsonl"
    log.write_text(lines(*(make_prediction("b", float(t)) for t in range(10))))
    monkeypatch.setattr(tail, "CHUNK_BYTES", 1000)  # about two records per read
    sink = DisplaySink()
    follower = JsonlFollower(log, sink)
    steps = [follower.poll() for _ in range(30)]
    assert max(steps) < 10 and sum(steps) == follower.records == 10
    assert [p["t"] for p in shown(sink).bed("b").history] == [float(t) for t in range(10)]


def test_a_replaced_or_truncated_log_is_read_again_from_its_start(tmp_path, make_prediction) -> None:
    log = tmp_path / "p.jsonl"
    log.write_text(lines(make_prediction("b", 1.0), make_prediction("b", 2.0)))
    follower = JsonlFollower(log, DisplaySink())
    assert follower.poll() == 2
    log.write_text(lines(make_prediction("b", 9.0)))
    assert follower.poll() == 1


def test_a_non_json_line_in_the_middle_is_counted_and_the_log_followed_on(tmp_path, make_prediction) -> None:
    """Was: `edge monitor` exited at the junk line and the whole ward went dark."""
    log = tmp_path / "p.jsonl"
    log.write_text(lines(make_prediction("b", 1.0)) + "hello\n" + '{"type": "predic\n' + "[1, 2]\n"
                   + lines(make_prediction("b", 2.0), make_prediction("new-bed", 2.0)))
    sink = DisplaySink()
    assert JsonlFollower(log, sink).poll() == 6  # nothing raised
    ward = shown(sink)
    assert ward.rejected.count == 3 and "not a JSON object" in ward.rejected.last
    assert ward.bed("b").prediction["window_end"] == 2.0 and "new-bed" in ward.beds


def test_a_multi_megabyte_line_without_newline_keeps_memory_bounded(tmp_path, make_prediction) -> None:
    """Was: the follower kept the whole unfinished line (123 -> 783 MB after 600 MB of line)."""
    log = tmp_path / "p.jsonl"
    log.write_text(lines(make_prediction("b", 1.0)))
    sink = DisplaySink()
    follower = JsonlFollower(log, sink)
    follower.poll()
    block = b"x" * (1 << 20)
    tracemalloc.start()
    try:
        for _ in range(8):  # 8 MB of one line, growing while it is followed
            with log.open("ab") as f:
                f.write(block)
            while follower.poll():
                pass
            assert follower.buffered <= MAX_RECORD_BYTES
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * (1 << 20), peak  # one read's worth, not the line
    with log.open("ab") as f:  # the line ends; what follows is read as usual
        f.write(b"tail of the long line\n" + lines(make_prediction("b", 2.0)).encode())
    follower.poll()
    ward = shown(sink)
    assert ward.rejected.count == 1 and "longer than 64 KiB" in ward.rejected.last
    assert ward.bed("b").prediction["window_end"] == 2.0


def test_a_long_complete_line_and_invalid_utf8_are_counted(tmp_path, make_prediction) -> None:
    log = tmp_path / "p.jsonl"
    record = {**make_prediction("b", 1.0), "padding": "x" * (2 * MAX_RECORD_BYTES)}
    log.write_bytes(lines(record).encode() + b'{"type": "\xff\xfe"}\n' + lines(make_prediction("b", 3.0)).encode())
    sink = DisplaySink()
    JsonlFollower(log, sink).poll()
    ward = shown(sink)
    assert ward.rejected.count == 2 and ward.bed("b").prediction["window_end"] == 3.0
