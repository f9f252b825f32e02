"""`train check` (validate a Kaggle layout) and `train synth` (write synthetic HMS data, plot examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edge.cli_support import EXIT_USER_ERROR
from edge.errors import DataError

app = typer.Typer()  # merged into the `train` command line by train/cli.py


@app.command("check")
def check(data: Annotated[Path, typer.Option("--data", help="Kaggle HMS layout directory.")],
          split: Annotated[str, typer.Option("--split", help="train or test.")] = "train") -> int:
    """Validate a data directory: one line per problem, exit 2 when there is any."""
    from train.data import load_table
    from train.data.spectrogram import spectrogram_problems

    try:
        table = load_table(data, split)
    except DataError as exc:  # the message is every problem line
        for line in str(exc).splitlines():
            typer.echo(f"train check: {line}", err=True)
        return EXIT_USER_ERROR
    problems = spectrogram_problems(data, split)
    for line in problems:
        typer.echo(f"train check: {line}", err=True)
    if problems:
        return EXIT_USER_ERROR
    spectrograms = (f", {len(set(table.spectrogram_ids))} spectrograms"
                    if (Path(data) / f"{split}_spectrograms").is_dir() else ", no spectrograms")
    summary = f"{data}: {split} layout OK, {len(table)} rows, {len(set(table.eeg_ids))} EEGs, " \
              f"{len(set(table.patient_ids))} patients{spectrograms}"
    typer.echo(summary)
    return 0


@app.command("plot-spectrogram")
def plot_spectrogram_command(
    data: Annotated[Path, typer.Option("--data", help="Kaggle HMS layout directory with train_spectrograms/.")],
    out: Annotated[Path, typer.Option("--out", help="PNG to write.")],
    row: Annotated[int, typer.Option("--row", help="0-based row of train.csv whose window to mark.")] = 0,
) -> int:
    """Draw a labelled row's spectrogram (4 chains) with its 10 min window and labelled 10 s marked."""
    from train.data import load_table
    from train.data.spectrogram import spectrogram_path, spectrogram_rows
    from train.data.spectrogram_plot import plot_spectrogram

    table = load_table(data)
    if not 0 <= row < len(table):
        raise DataError(f"--row {row} is outside train.csv's {len(table)} rows; pick 0..{len(table) - 1}")
    ids, offsets = spectrogram_rows(data, "train")
    sid, offset = int(ids[row]), float(offsets[row])
    title = f"spectrogram {sid}, eeg {table.eeg_ids[row]}, offset {offset:g} s, votes {table.votes[row].tolist()}"
    typer.echo(plot_spectrogram(spectrogram_path(data, "train", sid), out, offset_s=offset, title=title))
    return 0


@app.command("synth")
def synth(
    out: Annotated[Path | None, typer.Option("--out", help="Directory to write the Kaggle layout into.")] = None,
    eegs: Annotated[int, typer.Option("--eegs", help="Number of train EEG recordings (50-90 s each).")] = 200,
    patients: Annotated[int, typer.Option("--patients", help="Number of patients (default: eegs / 4).")] = 0,
    *,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same data.")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Processes drawing recordings (output does not "
                                                           "depend on it; default: up to 2).")] = 0,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also render example pages per class here (PNG).")] = None,
    plot_real: Annotated[Path | None, typer.Option(
        "--plot-real", help="Render every 50 s parquet in this folder the same way (e.g. sparcnet_iiic).")] = None,
    profile: Annotated[str, typer.Option(
        "--profile", help="default (--eegs recordings of 50-90 s) or hms (the shape of Kaggle's train set: 17,089 "
                          "EEGs, 106,800 rows, 1,950 patients times --scale; ignores --eegs).")] = "default",
    scale: Annotated[float, typer.Option("--scale", help="--profile hms: fraction of the full size, in (0, 1].")] = 1.0,
    background: Annotated[Path | None, typer.Option(
        "--background", help="Folder of real EEG (.edf/.bdf/.parquet) to draw backgrounds from; eegmat subjects "
                             "18-23 are left out of training sets (the false-alarm check) and are the only ones "
                             "evaluation sets and --continuous recordings use.")] = None,
    background_share: Annotated[float, typer.Option(
        "--background-share", help="With --background: share of patients whose recordings get real background.")] = 0.5,
    spectrograms: Annotated[bool, typer.Option(
        "--spectrograms/--no-spectrograms", help="Also write <split>_spectrograms/ in Kaggle's format (about 60 ms "
                                                 "and 160 KB per recording).")] = True,
    continuous: Annotated[float | None, typer.Option(
        "--continuous", help="Instead: write HOURS of hour-long recordings (EDF + parquet) with annotated seizures, "
                             "IIIC stretches, artifacts and electrode-off periods (events.csv) for `edge evaluate`; "
                             "--background gives them real background (eegmat subjects 18-23 only: people no "
                             "model trained on).")] = None,
    hard: Annotated[bool, typer.Option(
        "--hard", help="--continuous: the harder evaluation set (brief, long and clustered seizures, post-ictal "
                       "IIIC, 3 h per patient); needs an evaluation seed (>= 9000).")] = False,
    evaluation: Annotated[bool, typer.Option(
        "--evaluation", help="Write an evaluation set to score models on: needs a seed >= 9000, --background draws "
                             "only on eegmat subjects 18-23 (people no training set has), and `train fit` refuses "
                             "it.")] = False,
) -> int:
    """Write a synthetic dataset in exactly the Kaggle HMS layout, and/or render examples to judge realism."""
    from train.synth.evaluation_set import check_seed
    from train.synth.generate import DEFAULT_WORKERS, SynthConfig, check_profile, generate_dataset
    from train.synth.plot import plot_real_segments, plot_synthetic_examples

    if continuous is not None:
        if evaluation:
            raise DataError("--evaluation is for the Kaggle layout; --continuous recordings are scored by `edge "
                            "evaluate` and never trained on (--hard: evaluation seeds only)")
        return _continuous(out, continuous, seed, background, hard=hard)
    if hard:
        raise DataError("--hard is an option of --continuous (evaluation recordings); add --continuous HOURS")
    check_seed(seed, evaluation=evaluation)
    if out is None and plot is None:
        raise DataError("nothing to do: give --out DIR to write data and/or --plot DIR to render examples")
    if plot_real is not None and plot is None:
        raise DataError("--plot-real needs --plot DIR to write the images into")
    if out is not None:
        extra = {"background_dir": background, "background_share": background_share, "spectrograms": spectrograms,
                 "evaluation": evaluation}
        config = SynthConfig.hms(scale, seed, **extra) if check_profile(profile) == "hms" else \
            SynthConfig(n_eegs=eegs, n_patients=patients, seed=seed, **extra)
        summary = generate_dataset(out, config, workers=workers or DEFAULT_WORKERS)
        counts = ", ".join(f"{name} {count}" for name, count in summary.class_counts.items())
        kind = "evaluation set: " if evaluation else ""
        typer.echo(f"wrote {kind}{summary.n_eegs} EEGs ({summary.n_rows} labelled windows, {summary.n_patients} "
                   f"patients; {counts}) + {summary.n_test} test EEGs to {out} in {summary.seconds:.1f} s")
    if plot is not None:
        paths = plot_synthetic_examples(plot, seed=seed)
        if plot_real is not None:
            paths += plot_real_segments(plot_real, plot)
        typer.echo(f"rendered {len(paths)} pages to {plot}")
    return 0


def _continuous(out: Path | None, hours: float, seed: int, background: Path | None, *, hard: bool) -> int:
    from train.synth.continuous import ContinuousConfig, generate_continuous

    if out is None:
        raise DataError("--continuous needs --out DIR to write the recordings into")
    config = ContinuousConfig.hard(hours, seed, background_dir=background) if hard else \
        ContinuousConfig(hours=hours, seed=seed, background_dir=background)
    summary = generate_continuous(out, config)
    counts = ", ".join(f"{label} {count}" for label, count in sorted(summary.counts.items()))
    typer.echo(f"wrote {summary.recordings} recordings ({summary.hours:g} h; events: {counts}) to {out} "
               f"in {summary.seconds:.1f} s")
    return 0


@app.command("baseline")
def baseline(
    data: Annotated[Path, typer.Option("--data", help="Kaggle layout to cross-validate on (by patient).")],
    folds: Annotated[int, typer.Option("--folds", help="Patient folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Fold assignment seed.")] = 0,
    *,
    eval_dir: Annotated[Path | None, typer.Option(
        "--eval", help="Also fit on all of --data and score here: a Kaggle layout or a folder with "
                       "IIIC-SPaRCNet labels.csv + parquet files.")] = None,
) -> int:
    """Band powers + logistic regression vs the class prior (Kaggle KL): is the data learnable?"""
    import tempfile

    from train.data.sparcnet import sparcnet_layout
    from train.synth.baseline import cross_validate, transfer

    result = cross_validate(data, folds=folds, seed=seed)
    typer.echo(f"{data}: {result.rows} rows, held-out patients: prior KL {result.prior_kl:.3f}, "
               f"band-power baseline KL {result.baseline_kl:.3f}")
    if eval_dir is not None:
        with tempfile.TemporaryDirectory() as tmp:
            layout = eval_dir if (eval_dir / "train.csv").is_file() else sparcnet_layout(eval_dir, Path(tmp))
            result = transfer(data, layout)
        typer.echo(f"{eval_dir}: {result.rows} rows, fitted on {data}: prior KL {result.prior_kl:.3f}, "
                   f"band-power baseline KL {result.baseline_kl:.3f}")
    return 0
