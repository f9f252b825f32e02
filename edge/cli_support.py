"""Run a typer app so that user errors become one line on stderr and a non-zero exit code."""

from __future__ import annotations

import sys

import click
import typer

from edge.errors import EegEdgeError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    prog = app.info.name or "eeg-edge"
    try:
        result = app(args=argv, standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EegEdgeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # missing file, permission, full disk: the message already names the path
        print(f"{prog}: error: {exc.strerror or exc} ({exc.filename or ''})".rstrip(" ()"), file=sys.stderr)
        return EXIT_USER_ERROR
