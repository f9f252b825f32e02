from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.errors import DataError
from train.data import load_table, validate_layout
from train.data.writer import train_columns, write_csv, write_eeg_parquet

SECONDS = {11: 60, 22: 50}  # eeg_id -> file length


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for eeg_id, seconds in SECONDS.items():
        signals = rng.normal(0, 20, size=(len(CHANNELS), seconds * SAMPLE_RATE_HZ))
        write_eeg_parquet(tmp_path / "train_eegs" / f"{eeg_id}.parquet", signals)
    votes = np.array([[3, 0, 0, 0, 0, 0], [2, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 12]])
    write_csv(tmp_path, "train", train_columns([11, 11, 22], [0.0, 10.0, 0.0], [7, 7, 8], votes=votes))
    return tmp_path


def rewrite_csv(layout: Path, edit) -> None:
    lines = (layout / "train.csv").read_text().splitlines()
    (layout / "train.csv").write_text("\n".join(edit(lines)) + "\n")


def test_valid_layout_loads_as_table(layout):
    assert validate_layout(layout) == []
    table = load_table(layout)
    assert len(table) == 3
    np.testing.assert_array_equal(table.eeg_samples, [12000, 12000, 10000])
    np.testing.assert_array_equal(table.total_votes, [3, 3, 12])
    np.testing.assert_allclose(table.targets[1], [2 / 3, 1 / 3, 0, 0, 0, 0], rtol=1e-6)
    assert table.targets.dtype == np.float32


def test_each_problem_is_one_line(layout):
    def edit(lines):
        header = lines[0].split(",")
        drop = header.index("other_vote")
        rows = [",".join(c for j, c in enumerate(line.split(",")) if j != drop) for line in lines]
        cells = rows[2].split(",")
        cells[header.index("eeg_label_offset_seconds")] = "30.0"  # 30 s + 50 s > 60 s file
        rows[2] = ",".join(cells)
        return rows

    rewrite_csv(layout, edit)
    (layout / "train_eegs" / "22.parquet").unlink()
    problems = validate_layout(layout)
    assert len(problems) == 3, problems
    assert problems[0].endswith("missing column other_vote")
    assert "line 3: eeg_id 11 offset 30 s needs 16000 samples but 11.parquet has 12000 (60 s)" in problems[1]
    assert "22.parquet: missing (eeg_id 22" in problems[2]
    with pytest.raises(DataError) as info:
        load_table(layout)
    assert str(info.value).split("\n") == problems


@pytest.mark.parametrize(("column", "value", "message"), [
    ("seizure_vote", "-1", "line 2: seizure_vote is negative (-1)"),
    ("seizure_vote", "1.5", "line 2: seizure_vote must be an integer, got 1.5"),
    ("seizure_vote", "abc", "line 2: seizure_vote is not a number ('abc')"),
    ("seizure_vote", "0", "line 2: the row has zero total votes"),
    ("eeg_label_offset_seconds", "-2", "line 2: eeg_label_offset_seconds is negative (-2)"),
])
def test_bad_cells_name_line_and_column(layout, column, value, message):
    def edit(lines):
        j = lines[0].split(",").index(column)
        cells = lines[1].split(",")
        cells[j] = value
        return [lines[0], ",".join(cells), *lines[2:]]

    rewrite_csv(layout, edit)
    problems = validate_layout(layout)
    assert any(message in line for line in problems), problems


def test_parquet_missing_channel_and_wrong_dtype(layout):
    path = layout / "train_eegs" / "22.parquet"
    table = pq.read_table(path).drop_columns(["O2"])
    table = table.set_column(0, "Fp1", pa.array(["x"] * table.num_rows))
    pq.write_table(table, path)
    problems = validate_layout(layout)
    assert any("missing channel column(s) O2" in p for p in problems), problems
    assert any("channel Fp1 has type string" in p for p in problems), problems


def test_optional_ekg_may_be_absent(layout):
    path = layout / "train_eegs" / "22.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["EKG"]), path)
    assert validate_layout(layout) == []


def test_missing_csv_and_test_split(layout):
    assert validate_layout(layout, "test") == [f"{layout / 'test.csv'}: missing (a Kaggle HMS layout has test.csv "
                                               f"next to test_eegs/)"]
    (layout / "test_eegs").mkdir()
    (layout / "train_eegs" / "22.parquet").rename(layout / "test_eegs" / "22.parquet")
    write_csv(layout, "test", {"spectrogram_id": [5], "eeg_id": [22], "patient_id": [8]})
    table = load_table(layout, "test")
    assert table.votes is None and table.targets is None and list(table.label_ids) == [-1]
    with pytest.raises(DataError, match="split must be one of train, test"):
        validate_layout(layout, "valid")
