"""Reading recordings: a bad file is one clear line and exit 2, never a traceback or a silent success."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge.cli import app
from edge.cli_support import run_app
from edge.contract import CHANNELS
from edge.errors import DataError
from edge.inputs.input_files import read_recording
from edge.testing import synthetic_eeg, write_parquet


def table_with(column, kind=None) -> pa.Table:
    data = synthetic_eeg(2.0)
    columns = {name: data[:, i] for i, name in enumerate(CHANNELS)}
    columns["C3"] = pa.array(column(len(data)), type=kind)
    return pa.table(columns)


@pytest.mark.parametrize(("column", "kind"), [
    (lambda n: ["12.5"] * n, None),  # strings
    (lambda n: [[1.0, 2.0]] * n, None),  # lists
    (lambda n: [True] * n, None),  # booleans
])
def test_non_numeric_eeg_column_is_one_line_exit_2(tmp_path, capsys, column, kind) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(table_with(column, kind), path)
    with pytest.raises(DataError, match="column 'C3' holds .*, not numbers"):
        read_recording(path)
    assert run_app(app, ["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "column 'C3'" in err and "Traceback" not in err


def test_zero_row_file_is_refused(tmp_path, capsys) -> None:
    path = write_parquet(tmp_path / "empty.parquet", np.zeros((0, len(CHANNELS)), np.float32))
    with pytest.raises(DataError, match="holds no samples"):
        read_recording(path)
    assert run_app(app, ["replay", str(path)]) == 2
    assert "holds no samples (0 rows)" in capsys.readouterr().err
