"""`train fit`, `train eval`, `train predict`: thin wrappers over train.fit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer()  # merged into the `train` command line by train/cli.py

DataOpt = Annotated[Path, typer.Option("--data", help="Kaggle HMS layout (train.csv + train_eegs/ ...).")]
BundleOpt = Annotated[Path, typer.Option("--bundle", help="Bundle directory written by `train fit`.")]
# None: `train fit` takes the config's run.device, `train eval` / `train predict` take "auto".
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda (default: auto, or the config's "
                                                                 "run.device for fit).")]


@app.command("fit")
def fit_command(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write (must be new or empty).")],
    config: Annotated[Path | None, typer.Option("--config", help="TOML config; defaults train a good model.")] = None,
    *,
    model: Annotated[str | None, typer.Option("--model", help="mel2d, grouped1d or ensemble.")] = None,
    folds: Annotated[int | None, typer.Option("--folds", help="Patient-grouped folds to train.")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs")] = None,
    unlabelled: Annotated[Path | None, typer.Option(
        "--unlabelled", help="Folder of unlabelled real EEG (.edf/.bdf/.parquet) for BatchNorm adaptation "
                             "([adapt]; eegmat subjects 18-23 are left out).")] = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from the last checkpoint.")] = True,
    device: DeviceOpt = None,
) -> None:
    """Train with patient-grouped CV and write a bundle with metrics, OOF predictions and plots."""
    from train.fit.config import load_config
    from train.fit.run import fit

    flags: dict[str, Any] = {"model.name": model, "cv.folds": folds, "run.seed": seed, "optim.epochs": epochs,
                             "run.device": device,
                             "adapt.unlabelled_eeg": None if unlabelled is None else str(unlabelled)}
    cfg = load_config(config, {k: v for k, v in flags.items() if v is not None})
    summary = fit(data, out, cfg, resume=resume)
    if summary is not None:
        typer.echo(f"bundle {summary.bundle}: out-of-fold KL {summary.oof_kl:.4f} "
                   f"(class-prior baseline {summary.oof_prior_kl:.4f}), shipped model: {summary.final_model}")
        calibration = summary.metrics["calibration"]
        if "skipped" in calibration:
            typer.echo(f"temperature 1 (calibration skipped: {calibration['skipped']})")
        else:
            before, after = calibration["before"], calibration["after"]
            typer.echo(f"temperature {calibration['temperature']:.3f}: held-out ECE {before['ece']:.4f} -> "
                       f"{after['ece']:.4f}, KL {before['kl']:.4f} -> {after['kl']:.4f} (cross-fitted)")


@app.command("adapt")
def adapt_command(
    bundle: BundleOpt,
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write (must be new or empty).")],
    unlabelled: Annotated[Path, typer.Option(
        "--unlabelled", help="Folder of unlabelled real EEG (.edf/.bdf/.parquet; eegmat subjects 18-23 are left "
                             "out).")],
    *,
    share: Annotated[float | None, typer.Option(
        "--share", help="Real windows' share of the BatchNorm statistics (default: config adapt.bn_share).")] = None,
    device: DeviceOpt = None,
) -> None:
    """Adapt a trained bundle's BatchNorm statistics to unlabelled real EEG (no retraining; --data: its training
    layout)."""
    from train.fit.adapt import adapt_bundle

    summary = adapt_bundle(bundle, data, out, unlabelled=unlabelled, bn_share=share, device=device or "auto")
    adapted = summary.metrics["adapt"]
    typer.echo(f"bundle {summary.bundle}: BatchNorm adapted with {adapted['windows']} real windows from "
               f"{adapted['files']} files; held-out KL {summary.oof_kl:.4f} (class-prior baseline "
               f"{summary.oof_prior_kl:.4f}), temperature {summary.metrics['calibration']['temperature']:.3f}")


@app.command("ensemble")
def ensemble_command(
    bundle: Annotated[list[Path], typer.Option("--bundle", help="A trained bundle; repeat for each member (>= 2).")],
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write (must be new or empty).")],
    temperature_data: Annotated[Path | None, typer.Option(
        "--temperature-data", help="A labelled Kaggle layout no member trained on: fit the ensemble's own "
                                   "temperature on top of the average (default: none, the plain mean).")] = None,
) -> None:
    """Average trained bundles (same contract, front end and lookahead) in one graph; no retraining."""
    from edge.model.bundle import load_spec
    from train.fit.combine import combine_bundles

    written = combine_bundles(bundle, out, temperature_data=temperature_data)
    fitted = load_spec(written).training.get("calibration")
    how = "their mean probability" if fitted is None else \
        (f"their mean probability at temperature {fitted['temperature']:.3f}, fitted on {fitted['rows']} rows of "
         f"{fitted['data']}: KL {fitted['kl_mean_of_members']:.4f} -> {fitted['kl_after']:.4f}")
    typer.echo(f"bundle {written}: ensemble of {len(bundle)} models ({how}); `calibrate export` it to run at the "
               "bedside")


@app.command("eval")
def eval_command(data: DataOpt, bundle: BundleOpt, device: DeviceOpt = None) -> None:
    """Kaggle KL of a bundle on a labelled layout, with per-class figures."""
    from train.fit.evaluate import evaluate_bundle

    report = evaluate_bundle(bundle, data, device=device or "auto")
    table = Table(title=f"{bundle} on {data}: KL {report.kl:.4f} (class prior {report.prior_kl:.4f}), "
                        f"{report.rows} rows, accuracy {report.accuracy:.3f}")
    for column in ("class", "rows (expert argmax)", "mean target", "mean pred", "KL share", "recall"):
        table.add_column(column, justify="right")
    for c in report.classes:
        table.add_row(c.name, str(c.rows), f"{c.mean_target:.3f}", f"{c.mean_pred:.3f}", f"{c.kl_share:.4f}",
                      f"{c.recall:.3f}")
    Console().print(table)


@app.command("predict")
def predict_command(
    data: DataOpt,
    bundle: BundleOpt,
    out: Annotated[Path, typer.Option("--out", help="Submission CSV to write.")],
    *,
    device: DeviceOpt = None,
) -> None:
    """Write a Kaggle submission (eeg_id + six <class>_vote probabilities) for the test layout."""
    from train.fit.evaluate import predict_submission

    path = predict_submission(bundle, data, out, device=device or "auto")
    typer.echo(f"wrote {path}")
