"""`edge evaluate`: annotations, any-overlap scoring, the file source, and a replay through the Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def _valid(seconds: float, hop: float = 2.0) -> list[dict]:
    """Valid predictions every hop over [50, seconds): the monitored time."""
    return [{"t": t, "seizure": 0.1, "burden": None, "coverage": None, "burden_t": None}
            for t in np.arange(50.0, seconds, hop)]


def test_clinical_scoring_latency_false_alarms_and_suppressed_realarms() -> None:
    seizures = [Annotation("r", 100, 160, "seizure"), Annotation("r", 2000, 2015, "seizure"),
                Annotation("r", 3000, 3100, "seizure"), Annotation("r", 500, 900, "lpd")]
    alarms = [_alarm("seizure", "on", 150), _alarm("prolonged", "on", 170), _alarm("prolonged", "off", 260),
              _alarm("seizure", "off", 300),  # one episode: detects the first seizure 50 s after its onset
              _alarm("seizure", "on", 1000), _alarm("seizure", "off", 1100),  # no seizure near: a false alarm
              _alarm("seizure", "suppressed", 1300),  # a throttled re-alarm: counted, no episode
              _alarm("window", "on", 2010), _alarm("window", "off", 2020),  # not a scored level
              _alarm("signal", "on", 2500),
              _alarm("seizure", "on", 3150)]  # never off: the episode runs to the end; within the 60 s tolerance
    log = StreamLog(seconds=3600.0, alarms=alarms, predictions=_valid(3600.0))
    score = score_recording("r", log, seizures, levels=("seizure", "prolonged"), window_s=300, hop_s=2.0)
    assert (score.seizures, score.detected, score.alarms, score.false_alarms) == (3, 2, 3, 1)
    assert score.latencies_s == (50.0, 150.0) and score.suppressed == 1 and score.already_on == 0
    assert score.monitored_hours == pytest.approx((3600 - 50) / 3600)
    with_window = score_recording("r", log, seizures, levels=("seizure", "window"), window_s=300, hop_s=2.0)
    assert with_window.detected == 3 and with_window.false_alarms == 1
    idle = score_recording("other", StreamLog(seconds=7200.0, predictions=_valid(7200.0)), seizures,
                           levels=("seizure",), window_s=300, hop_s=2.0)
    summary = summarize([score, idle], ("seizure",))
    assert summary.hours == 3.0 and summary.sensitivity[0] == pytest.approx(2 / 3)
    assert summary.sensitivity[1] < 2 / 3 < summary.sensitivity[2]  # Wilson
    assert summary.precision[0] == pytest.approx(2 / 3)
    # one false episode over the monitored time (not the recorded time: the first 50 s of each had no prediction)
    assert summary.false_alarms_per_24h[0] == pytest.approx(24 / summary.monitored_hours)
    assert summary.false_alarms_per_24h[1] < summary.false_alarms_per_24h[0] < summary.false_alarms_per_24h[2]
    assert summary.latency_median_s[0] == 100.0 and summary.suppressed == 1


def test_a_latency_is_never_credited_to_an_alarm_on_since_before_the_tolerance() -> None:
    seizures = [Annotation("r", 1000, 1060, "seizure")]
    log = StreamLog(seconds=3600.0, alarms=[_alarm("seizure", "on", 400), _alarm("seizure", "off", 1500)])
    score = score_recording("r", log, seizures, levels=("seizure",), window_s=300, hop_s=2.0)
    assert score.detected == 1 and score.already_on == 1 and score.latencies_s == ()


def _szcore_reference(ref: list[tuple[float, float]], hyp: list[tuple[float, float]], seconds: float):
    from timescoring import annotations, scoring

    ref_mask, hyp_mask = np.zeros(int(seconds), dtype=bool), np.zeros(int(seconds), dtype=bool)
    for a, b in ref:
        ref_mask[int(a):int(b)] = True
    for a, b in hyp:
        hyp_mask[int(a):int(b)] = True
    r, h = annotations.Annotation(ref_mask, 1), annotations.Annotation(hyp_mask, 1)
    return (scoring.EventScoring(r, h, scoring.EventScoring.Parameters(30, 60, 0, 300, 90)),
            scoring.SampleScoring(r, h))


@pytest.mark.parametrize(("case", "seizures", "alarms", "expected"), [
    # a 10 min alarm around a 60 s seizure: split at 5 min, the second half lies past offset + 60 s
    ("long alarm", [(1000, 1060)], [(990, 1590)], (1, 1, 1)),
    # a 476 s seizure is two reference events (split at 5 min); an alarm over its first minute finds one
    ("476 s seizure", [(1000, 1476)], [(1010, 1070)], (2, 1, 0)),
    # two seizures 60 s apart merge into one reference event; one alarm on each is one event too (< 90 s apart)
    ("60 s apart", [(1000, 1030), (1090, 1120)], [(1010, 1020), (1095, 1105)], (1, 1, 0)),
])
def test_szcore_figures_equal_timescoring_on_hand_made_masks(case, seizures, alarms, expected) -> None:
    """Where SzCORE and edge's own counting differ, edge's SzCORE counts are timescoring's on the same masks."""
    annotations = [Annotation("r", a, b, "seizure") for a, b in seizures]
    records = [_alarm("seizure", state, t) for a, b in alarms for state, t in (("on", a), ("off", b))]
    score = score_recording("r", StreamLog(seconds=3600.0, alarms=records), annotations, levels=("seizure",),
                            window_s=300, hop_s=2.0)
    event, sample = _szcore_reference(seizures, alarms, 3600.0)
    assert (score.szcore_ref, score.szcore_tp, score.szcore_fp) == (event.refTrue, event.tp, event.fp) == expected
    assert (score.sample_ref_s, score.sample_tp_s, score.sample_fp_s) == (sample.refTrue, sample.tp, sample.fp)
    summary = summarize([score], ("seizure",))
    assert summary.szcore_event["sensitivity"][0] == pytest.approx(event.sensitivity)
    assert summary.szcore_event["fp_per_24h"][0] == pytest.approx(event.fpRate)
    if event.tp + event.fp:
        assert summary.szcore_event["precision"][0] == pytest.approx(event.precision)
        assert summary.szcore_event["f1"][0] == pytest.approx(event.f1)
    assert summary.szcore_sample["sensitivity"][0] == pytest.approx(sample.sensitivity)
    assert summary.szcore_sample["fp_per_24h"][0] == pytest.approx(sample.fpRate)
    if case == "long alarm":  # edge's own count: one episode, it overlaps the seizure, no false alarm
        assert (score.alarms, score.false_alarms, score.detected) == (1, 0, 1)


def test_burden_error_against_annotated_share() -> None:
    seizures = [Annotation("r", 100, 160, "seizure")]
    assert annotated_share(seizures, 0, 300) == pytest.approx(0.2)
    assert annotated_share(seizures, 150, 450) == pytest.approx(10 / 300)
    predictions = [{"burden": 0.25, "coverage": 1.0, "burden_t": 300.0, "seizure": 0.1},  # truth 0.2
                   {"burden": 0.9, "coverage": 0.5, "burden_t": 320.0, "seizure": 0.1},  # partial coverage: not scored
                   {"burden": 0.0, "coverage": 1.0, "burden_t": 460.0, "seizure": 0.1}]  # truth 0
    score = score_recording("r", StreamLog(600.0, predictions=predictions), seizures, levels=("seizure",),
                            window_s=300, hop_s=2.0)
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
    assert {p.name for p in (tmp_path / "eval").iterdir()} == {"scores.csv", "summary.json", "run.json", "timeline.png",
                                                               "scored.jsonl"}
    from edge.sinks.jsonl import read_jsonl

    scored = read_jsonl(tmp_path / "eval" / "scored.jsonl")
    assert [r["type"] for r in scored[:2]] == ["annotation", "recording"]
    assert sum(r["type"] == "prediction" for r in scored) == sum(s.predictions for s in scores)


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
    assert "| rec | 0.02 |" in out and "levels window, seizure:" in out and "SzCORE events: sensitivity -" in out
