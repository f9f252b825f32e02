"""Run a typer app so that user errors become one line on stderr and a non-zero exit code."""

from __future__ import annotations

import sys

import typer

from edge.errors import EegEdgeError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    prog = app.info.name or "eeg-edge"
    try:
        result = app(args=argv, standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EegEdgeError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:  # one line per problem found
            print(f"{prog}: error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # missing file, permission, full disk: the message already names the path
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{prog}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except typer.TyperException as exc:  # usage errors (typer vendors click: these are not click's classes)
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return getattr(exc, "exit_code", EXIT_USER_ERROR)
