from __future__ import annotations

import pytest

from edge.demo import pick_recording, run_demo
from edge.sinks.jsonl import read_jsonl
from edge.spec import VOTE_COLUMNS
from edge.testing import synthetic_eeg, write_parquet


def test_demo_picks_the_recording_with_most_seizure_votes(tmp_path) -> None:
    eegs = tmp_path / "synth" / "train_eegs"
    eegs.mkdir(parents=True)
    for eeg_id in (11, 22):
        write_parquet(eegs / f"{eeg_id}.parquet", synthetic_eeg(50.0))
    header = "eeg_id," + ",".join(VOTE_COLUMNS)
    (tmp_path / "synth" / "train.csv").write_text(f"{header}\n11,1,0,0,0,0,3\n22,3,0,0,0,0,1\n")
    assert pick_recording(tmp_path).name == "22.parquet"


@pytest.mark.lsl
def test_demo_leaves_jsonl_and_png(tmp_path, test_bundle, recording_70s) -> None:
    png = run_demo(tmp_path / "demo", test_bundle, recording_70s, seconds=6.0, speed=25.0)
    records = read_jsonl(tmp_path / "demo" / "predictions.jsonl")
    assert any(r["type"] == "prediction" for r in records)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
