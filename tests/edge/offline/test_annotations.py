"""Hostile annotation files for `edge evaluate`: one line naming the file and its line, never scored."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.errors import EegEdgeError
from edge.offline.annotations import Annotation, read_annotations

HEADER = "file,onset_s,offset_s,label\n"


def _file(tmp_path: Path, content: str | bytes, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(("rows", "message"), [
    ("rec,70,10,seizure\n", r"events.csv:3: offset_s 10 is not after onset_s 70 \(a negative or zero duration\)"),
    ("rec,10,10,seizure\n", r"events.csv:3: offset_s 10 is not after onset_s 10"),
    ("rec,nan,10,seizure\n", r"events.csv:3: onset_s must be a finite number of seconds >= 0, got 'nan'"),
    ("rec,0,inf,seizure\n", r"events.csv:3: offset_s must be a finite number of seconds >= 0, got 'inf'"),
    ("rec,-inf,5,seizure\n", r"events.csv:3: onset_s must be a finite number"),
    ("rec,-5,5,seizure\n", r"events.csv:3: onset_s must be a finite number of seconds >= 0, got '-5'"),
    ("rec,1e400,1e401,seizure\n", r"events.csv:3: onset_s must be a finite number"),
    ("rec,ten,20,seizure\n", r"events.csv:3: onset_s must be a finite number of seconds >= 0, got 'ten'"),
    ("rec,10,20\n", r"events.csv:3: a ragged row of 3 field\(s\) under a header of 4"),
    ("rec,10,20,seizure,extra\n", r"events.csv:3: a ragged row of 5 field\(s\) under a header of 4"),
    ("rec,10,20,\n", r"events.csv:3: the label is empty"),
    (",10,20,seizure\n", r"events.csv:3: the file is empty"),
    ('rec,10,20,"seizure\n', r"events.csv:3: (not CSV|a ragged row)"),
])
def test_bad_rows_are_one_line_naming_file_and_line(tmp_path, rows, message) -> None:
    path = _file(tmp_path, HEADER + "# a comment line still counts\n" + rows)
    with pytest.raises(EegEdgeError, match=message) as info:
        read_annotations(path)
    assert "\n" not in str(info.value)


def test_the_line_named_is_the_line_in_the_file_after_blanks_and_comments(tmp_path) -> None:
    path = _file(tmp_path, "# header comment\n\n" + HEADER + "rec,1,2,seizure\n\n# note\nrec,5,-3,seizure\n")
    with pytest.raises(EegEdgeError, match=r"events.csv:7: offset_s must be a finite number"):
        read_annotations(path)


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "hold NUL bytes: a binary file, not CSV"),
    (b"file,onset_s,offset_s,label\nr\xe9c,1,2,seizure\n", r"not UTF-8 text \(byte 29 is invalid\)"),
    (b"", "needs the columns file, onset_s, offset_s, label"),
    (b"file;onset_s;offset_s;label\nrec;1;2;seizure\n", "missing file, onset_s, offset_s, label"),
])
def test_binary_and_foreign_files_are_one_line(tmp_path, content, message) -> None:
    with pytest.raises(EegEdgeError, match=message) as info:
        read_annotations(_file(tmp_path, content))
    assert "\n" not in str(info.value) and "events.csv" in str(info.value)


def test_tuh_rows_are_checked_the_same_way(tmp_path) -> None:
    path = _file(tmp_path, "# version = csv_v1.0.0\nchannel,start_time,stop_time,label,confidence\n"
                 "TERM,36.8,nan,seiz,1.0\n", "rec.csv_bi")
    with pytest.raises(EegEdgeError, match=r"rec.csv_bi:3: stop_time must be a finite number"):
        read_annotations(path)


def test_good_rows_still_read_with_spaces_and_a_bom(tmp_path) -> None:
    path = _file(tmp_path, "\ufeff" + HEADER + "rec.edf, 10.5 , 70 ,seizure\n")
    assert read_annotations(path) == [Annotation("rec", 10.5, 70.0, "seizure")]


def test_edge_evaluate_refuses_bad_annotations_before_replaying(tmp_path, recording_70s, test_bundle, capsys) -> None:
    from edge.cli import app
    from edge.cli_support import run_app

    path = _file(tmp_path, HEADER + "synthetic_70s,30,-10,seizure\n")
    code = run_app(app, ["evaluate", str(recording_70s), "--bundle", str(test_bundle), "--annotations", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "events.csv:2: offset_s must be a finite number" in err
