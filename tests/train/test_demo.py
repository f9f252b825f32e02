"""`make demo TRAIN=1` (train.demo): which synthetic recording it replays."""

from edge.contract import VOTE_COLUMNS
from edge.testing import synthetic_eeg, write_parquet
from train.demo import pick_recording


def test_demo_picks_the_recording_with_most_seizure_votes(tmp_path) -> None:
    eegs = tmp_path / "synth" / "train_eegs"
    eegs.mkdir(parents=True)
    for eeg_id in (11, 22):
        write_parquet(eegs / f"{eeg_id}.parquet", synthetic_eeg(50.0))
    header = "eeg_id," + ",".join(VOTE_COLUMNS)
    (tmp_path / "synth" / "train.csv").write_text(f"{header}\n11,1,0,0,0,0,3\n22,3,0,0,0,0,1\n")
    assert pick_recording(tmp_path / "synth").name == "22.parquet"
