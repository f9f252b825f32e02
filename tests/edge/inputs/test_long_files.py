"""Long recordings are read in bounded chunks (edge/inputs/input_files.py open_recording): the same samples and
the same predictions as reading the whole file (issue 28 item 7: a 14 h parquet took 3.5 GB in `edge predict`;
the memory figure itself comes from scripts/bench_long_file.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge.chain.channels import build_channel_map
from edge.chain.signal_chain import SignalChain, Window
from edge.config import ChainConfig
from edge.contract import CHANNELS, CLASSES
from edge.inputs.file_source import FileSource
from edge.inputs.input_files import open_recording, read_recording
from edge.model.engine import Engine
from edge.offline.predict import file_windows, predict_files
from edge.testing import synthetic_eeg


def parquet_in_row_groups(path: Path, data: np.ndarray, rows_per_group: int) -> Path:
    table = pa.table({name: data[:, i] for i, name in enumerate(CHANNELS)})
    pq.write_table(table, path, row_group_size=rows_per_group)
    assert pq.ParquetFile(path).num_row_groups > 1
    return path


@pytest.fixture
def long_parquet(tmp_path) -> tuple[Path, np.ndarray]:
    data = synthetic_eeg(130.0, seed=4)
    data[5000:5100, 3] = np.nan  # masks must survive chunk boundaries too
    return parquet_in_row_groups(tmp_path / "long.parquet", data, 7_001), data


@pytest.mark.parametrize("rows", [1, 997, 65_536, 10**9])
def test_parquet_chunks_are_bounded_and_join_to_the_whole_file(long_parquet, rows) -> None:
    path, data = long_parquet
    recording = open_recording(path)
    chunks = list(recording.chunks(rows)) if rows > 1 else list(recording.chunks(rows))[:50]
    assert all(0 < len(c) <= rows for c in chunks) and all(c.dtype == np.float32 for c in chunks)
    if rows > 1:
        np.testing.assert_array_equal(np.concatenate(chunks), data)
        assert recording.n_samples == len(data)


def test_edf_chunks_are_whole_data_records_and_join_to_the_whole_file(tmp_path) -> None:
    from edfio import Edf, EdfSignal, read_edf

    source = synthetic_eeg(37.0, rate=250) * 1e-6
    path = tmp_path / "rec.edf"
    Edf([EdfSignal(source[:, i].astype(np.float64), 250, label=f"EEG {c}-REF", physical_dimension="V")
         for i, c in enumerate(CHANNELS)]).write(path)
    whole = np.column_stack([s.data for s in read_edf(path).signals]).astype(np.float32)
    recording = open_recording(path)
    chunks = list(recording.chunks(600))  # 2 data records of 250 samples
    assert {len(c) for c in chunks[:-1]} == {500} and recording.n_samples == len(whole)
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    np.testing.assert_array_equal(read_recording(path).data, whole)


def test_chunked_prediction_equals_reading_the_whole_file(long_parquet, test_bundle) -> None:
    """`edge predict` (chunked) against the whole file pushed through the chain at once."""
    path, data = long_parquet
    chain = SignalChain(build_channel_map(CHANNELS, ("uV",) * len(CHANNELS)), 200.0, ChainConfig())
    whole = [e for e in chain.push(data) if isinstance(e, Window)]
    with Engine(test_bundle, "onnxruntime") as engine:
        reference = engine.predict(np.stack([w.data for w in whole]))
        records = [r for r in predict_files([path], engine) if r["type"] == "prediction"]
    assert [r["offset"] for r in records] == [w.start_sample / 200 for w in whole]
    np.testing.assert_array_equal(np.array([[r["probs"][c] for c in CLASSES] for r in records]), reference)


def test_window_data_does_not_depend_on_the_read_chunk(long_parquet) -> None:
    path, _ = long_parquet
    small = list(file_windows(path, ChainConfig(), chunk_rows=333))
    large = list(file_windows(path, ChainConfig(), chunk_rows=10**9))
    assert len(small) == len(large) > 30
    for a, b in zip(small, large, strict=True):
        assert type(a) is type(b)
        if isinstance(a, Window):
            np.testing.assert_array_equal(a.data, b.data)


def test_the_file_source_pulls_bounded_chunks_from_disk(long_parquet) -> None:
    path, data = long_parquet
    source = FileSource(path, chunk_s=1.0)
    pulls = []
    while (pulled := source.pull()) is not None:
        pulls.append(pulled)
    assert source.exhausted and all(len(p[0]) <= 200 for p in pulls)
    np.testing.assert_array_equal(np.concatenate([p[0] for p in pulls]), data)
    np.testing.assert_allclose(np.concatenate([p[1] for p in pulls]), np.arange(len(data)) / 200.0)
