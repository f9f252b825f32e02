"""The CLI runner turns user errors into one line on stderr and exit 2; usage errors keep click's code."""

from __future__ import annotations

import typer

from edge.cli_support import EXIT_USER_ERROR, run_app
from edge.errors import DataError

app = typer.Typer(name="probe", add_completion=False)


@app.command()
def fail(kind: str) -> None:
    if kind == "data":
        raise DataError("train.csv is missing column 'seizure_vote'; add it or regenerate the layout")
    if kind == "many":
        raise DataError("train.csv: missing column 'seizure_vote'\ntrain_eegs/7.parquet: file is missing")
    if kind == "os":
        open("/nonexistent/dir/file.csv")  # noqa: SIM115


@app.command()
def ok() -> None:
    print("fine")


def test_user_error_is_one_line_and_exit_2(capsys):
    assert run_app(app, ["fail", "data"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing column 'seizure_vote'" in err and "Traceback" not in err


def test_multi_problem_error_prints_one_prefixed_line_each(capsys):
    assert run_app(app, ["fail", "many"]) == EXIT_USER_ERROR
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["probe: error: train.csv: missing column 'seizure_vote'",
                     "probe: error: train_eegs/7.parquet: file is missing"]


def test_os_error_names_the_path(capsys):
    assert run_app(app, ["fail", "os"]) == EXIT_USER_ERROR
    assert capsys.readouterr().err == "probe: error: No such file or directory: /nonexistent/dir/file.csv\n"


def test_usage_error_and_success_codes(capsys):
    assert run_app(app, ["fail"]) == 2  # missing argument: click's usage error
    assert "Missing argument" in capsys.readouterr().err
    assert run_app(app, ["ok"]) == 0
