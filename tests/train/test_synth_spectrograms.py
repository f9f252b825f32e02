"""`train synth` writes Kaggle spectrograms from its own EEG; `train check` validates them one line per problem."""

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge.cli_support import run_app
from train.cli import app
from train.data import load_table
from train.data.eeg_file import read_eeg_file
from train.data.spectrogram import (
    COLUMNS,
    SPECTROGRAM_LEAD_S,
    compute_spectrogram,
    read_spectrogram,
    spectrogram_path,
)

HMS = Path(__file__).resolve().parents[3] / "shared" / "data" / "hms"


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("spec")
    assert run_app(app, ["synth", "--out", str(out), "--eegs", "6", "--patients", "3", "--seed", "4"]) == 0
    return out


def test_spectrograms_follow_train_csv_and_kaggle_layout(synth_dir, capsys):
    assert run_app(app, ["check", "--data", str(synth_dir)]) == 0
    assert "6 spectrograms" in capsys.readouterr().out
    assert run_app(app, ["check", "--data", str(synth_dir), "--split", "test"]) == 0
    table = load_table(synth_dir)
    for sid, offset, eeg_id in zip(table.spectrogram_ids, table.offsets_s, table.eeg_ids, strict=True):
        names, times, values = read_spectrogram(spectrogram_path(synth_dir, "train", sid))
        assert tuple(names) == COLUMNS and times[0] == 1 and np.all(np.diff(times) == 2)
        assert times[-1] >= offset + 599  # the row's whole 10 min window
        # The 10 min window is centred on the labelled 50 s EEG window: its centre rows carry the spectrum.
        centre = np.flatnonzero(np.abs(times - (offset + 300)) <= 5)
        assert np.isfinite(values[centre]).all() and (values[centre] >= 0).all()
        eeg_seconds = read_eeg_file(table.eeg_path(eeg_id)).shape[1] / 200
        outside = (times < SPECTROGRAM_LEAD_S - 2) | (times > SPECTROGRAM_LEAD_S + eeg_seconds + 2)
        assert np.isnan(values[outside]).all()  # no EEG there: NaN, as Kaggle's gaps


@pytest.mark.skipif(not (HMS / "train_spectrogram_353733.parquet").is_file(), reason="needs ../shared/data/hms")
def test_matches_kaggles_own_spectrogram_of_a_real_recording():
    names, times, kaggle = read_spectrogram(HMS / "train_spectrogram_353733.parquet")
    assert tuple(names) == COLUMNS  # Kaggle's column spelling (LL_3.13, LL_4.1, ...)
    ours_t, ours = compute_spectrogram(read_eeg_file(HMS / "train_eeg_1628180742.parquet"))  # offset 0 in both
    rows = {t: i for i, t in enumerate(times)}
    pairs = [(i, rows[t]) for i, t in enumerate(ours_t) if t in rows and np.isfinite(ours[i]).all()]
    assert len(pairs) > 30
    a = np.log10(np.array([ours[i] for i, _ in pairs]) + 0.01)
    b = np.log10(np.array([kaggle[j] for _, j in pairs]) + 0.01)
    assert abs(np.median(b - a)) < 0.15 and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.85


def _rewrite(path: Path, change) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def test_check_fails_one_line_per_broken_spectrogram(synth_dir, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(synth_dir, broken, ignore=shutil.ignore_patterns(".eeg-edge-cache"))
    ids = sorted(set(load_table(broken).spectrogram_ids))
    paths = [spectrogram_path(broken, "train", sid) for sid in ids]
    paths[0].unlink()
    _rewrite(paths[1], lambda t: t.rename_columns(["time", "LL_0.6", *t.column_names[2:]]))
    _rewrite(paths[2], lambda t: t.set_column(5, t.column_names[5], pa.array(np.full(t.num_rows, -3.0, "float32"))))
    _rewrite(paths[3], lambda t: t.slice(0, 100))
    assert run_app(app, ["check", "--data", str(broken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4, err
    assert f"{ids[0]}.parquet: missing" in err[0]
    assert f"{ids[1]}.parquet: columns must be" in err[1] and "LL_0.6" in err[1]
    assert f"{ids[2]}.parquet: values must be powers" in err[2]
    assert f"{ids[3]}.parquet: ends at time 199 s" in err[3]


def test_plot_spectrogram_draws_a_row_and_refuses_a_bad_row(synth_dir, tmp_path, capsys):
    out = tmp_path / "spec.png"
    assert run_app(app, ["plot-spectrogram", "--data", str(synth_dir), "--out", str(out), "--row", "1"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert run_app(app, ["plot-spectrogram", "--data", str(synth_dir), "--out", str(out), "--row", "999"]) == 2
    assert "outside train.csv" in capsys.readouterr().err
