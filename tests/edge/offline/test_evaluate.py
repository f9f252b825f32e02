"""`edge evaluate`: annotations, any-overlap scoring, the file source, and a replay through the Runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.errors import DataError
from edge.offline.annotations import Annotation, read_annotations
from edge.offline.evaluate import StreamLog, annotated_share, score_recording, summarize


def _alarm(level: str, state: str, t: float) -> dict:
    return {"type": "alarm", "level": level, "state": state, "t": t}


def test_reads_plain_csv_and_tuh_csv_bi(tmp_path: Path) -> None:
    plain = tmp_path / "events.csv"
    plain.write_text("file,onset_s,offset_s,label\nrec_000.edf,10.5,70,seizure\nrec_001,5,9,lpd\n")
    assert read_annotations(plain) == [Annotation("rec_000", 10.5, 70.0, "seizure"), Annotation("rec_001", 5, 9, "lpd")]
    tuh = tmp_path / "aaaaaaac_s001_t000.csv_bi"
    tuh.write_text("# version = csv_v1.0.0\n# bname = aaaaaaac_s001_t000\n# duration = 301.00 secs\n#\n"
                   "channel,start_time,stop_time,label,confidence\nTERM,0.0000,36.8868,bckg,1.0000\n"
                   "TERM,36.8868,183.3055,seiz,1.0000\n")
    assert read_annotations(tuh)[1] == Annotation("aaaaaaac_s001_t000", 36.8868, 183.3055, "seizure")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,start\nx,1\n")
    with pytest.raises(DataError, match="needs the columns file, onset_s, offset_s, label"):
        read_annotations(bad)


def test_any_overlap_scoring_latency_and_false_alarms() -> None:
    seizures = [Annotation("r", 100, 160, "seizure"), Annotation("r", 2000, 2015, "seizure"),
                Annotation("r", 3000, 3100, "seizure"), Annotation("r", 500, 900, "lpd")]
    alarms = [_alarm("seizure", "on", 150), _alarm("prolonged", "on", 170), _alarm("prolonged", "off", 260),
              _alarm("seizure", "off", 300),  # one event: detects the first seizure 50 s after its onset
              _alarm("seizure", "on", 1000), _alarm("seizure", "off", 1100),  # no seizure near: a false alarm
              _alarm("window", "on", 2010), _alarm("window", "off", 2020),  # not a scored level
              _alarm("signal", "on", 2500),
              _alarm("seizure", "on", 3150)]  # never off: the event runs to the end; within the 60 s tolerance
    log = StreamLog(seconds=3600.0, alarms=alarms)
    score = score_recording("r", log, seizures, levels=("seizure", "prolonged"), window_s=300)
    assert (score.seizures, score.detected, score.alarms, score.false_alarms) == (3, 2, 3, 1)
    assert score.latencies_s == (50.0, 150.0)
    with_window = score_recording("r", log, seizures, levels=("seizure", "window"), window_s=300)
    assert with_window.detected == 3 and with_window.false_alarms == 1
    summary = summarize([score, score_recording("other", StreamLog(seconds=7200.0), seizures, levels=("seizure",),
                                                window_s=300)], ("seizure",))
    assert summary.hours == 3.0 and summary.sensitivity == pytest.approx(2 / 3)
    assert summary.precision == pytest.approx(2 / 3) and summary.false_alarms_per_24h == pytest.approx(8.0)
    assert summary.latency_median_s == 100.0


def test_burden_error_against_annotated_share() -> None:
    seizures = [Annotation("r", 100, 160, "seizure")]
    assert annotated_share(seizures, 0, 300) == pytest.approx(0.2)
    assert annotated_share(seizures, 150, 450) == pytest.approx(10 / 300)
    predictions = [{"burden": 0.25, "coverage": 1.0, "burden_t": 300.0},  # truth 0.2
                   {"burden": 0.9, "coverage": 0.5, "burden_t": 320.0},  # partial coverage: not scored
                   {"burden": 0.0, "coverage": 1.0, "burden_t": 460.0}]  # truth 0
    score = score_recording("r", StreamLog(600.0, predictions=predictions), seizures, levels=("seizure",),
                            window_s=300)
    assert score.burden_mae_pp == pytest.approx(2.5)


def test_replay_runs_the_live_runtime_over_files(test_bundle: Path, tmp_path: Path) -> None:
    from edge.config import RunConfig
    from edge.offline.evaluate import evaluate
    from edge.testing import synthetic_eeg, write_parquet

    paths = [write_parquet(tmp_path / f"rec{i}.parquet", synthetic_eeg(130.0, seed=i)) for i in range(3)]
    events = tmp_path / "events.csv"
    events.write_text("file,onset_s,offset_s,label\nrec0,60,100,seizure\n")
    scores, (summary, with_window) = evaluate(paths, events, test_bundle, config=RunConfig().validate(),
                                              out=tmp_path / "eval", streams=2,
                                              level_sets=(("seizure",), ("window", "seizure")))
    assert with_window.levels == ("window", "seizure") and with_window.seizures == 1
    assert [s.file for s in scores] == ["rec0", "rec1", "rec2"]
    # windows end every 2 s from 50 s to 130 s; the rate check needs its first seconds, as live
    assert all(38 <= s.predictions <= 41 for s in scores)
    assert summary.seizures == 1 and summary.hours == pytest.approx(3 * 130 / 3600)
    assert {p.name for p in (tmp_path / "eval").iterdir()} == {"scores.csv", "summary.json", "run.json", "timeline.png"}


def test_cli_prints_table_and_refuses_unknown_levels(test_bundle: Path, tmp_path: Path, capsys) -> None:
    from edge.cli import app
    from edge.cli_support import run_app
    from edge.testing import synthetic_eeg, write_parquet

    path = write_parquet(tmp_path / "rec.parquet", synthetic_eeg(60.0))
    assert run_app(app, ["evaluate", str(path), "--bundle", str(test_bundle), "--level", "seizure,nope"]) == 2
    assert "--level nope is not an alarm level" in capsys.readouterr().err
    assert run_app(app, ["evaluate", str(path), "--bundle", str(test_bundle), "--level", "seizure",
                         "--level", "window,seizure"]) == 0
    out = capsys.readouterr().out
    assert "| rec | 0.02 |" in out and "levels window, seizure: sensitivity -" in out
