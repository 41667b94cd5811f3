"""The `parcel-screen` command and its groups (the commands are in the modules beside)."""

from __future__ import annotations

import os
import sys
from typing import Final, TextIO

import typer
from rich.console import Console

app = typer.Typer(
    help="Score postal customs declarations (CN22/CN23) for hidden tactical and military gear.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


models_app = typer.Typer(
    help="The model registry: list, inspect, promote, roll back, trust.", no_args_is_help=True
)


feedback_app = typer.Typer(help="Inspection outcomes kept for retraining.", no_args_is_help=True)


watchlist_app = typer.Typer(
    help="The watch list of parties (senders, recipients) kept by data staff.",
    no_args_is_help=True,
)


history_app = typer.Typer(help="What the store knows of a party.", no_args_is_help=True)


audit_app = typer.Typer(help="The audit trail of scored declarations.", no_args_is_help=True)


app.add_typer(models_app, name="models")
app.add_typer(feedback_app, name="feedback")
app.add_typer(watchlist_app, name="watchlist")
app.add_typer(history_app, name="history")
app.add_typer(audit_app, name="audit")

# Written to a file or a CI log rather than a terminal, rich would fit every table in 80
# columns, and `make model`'s table of some thirty sets and eleven metrics would lose its
# numbers to ellipses; a terminal's own width (or $COLUMNS) still rules where there is one.
_LOG_WIDTH: Final = 160


def _console(stream: TextIO, stderr: bool = False) -> Console:
    fixed = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=_LOG_WIDTH if fixed else None)


out = _console(sys.stdout)


err = _console(sys.stderr, stderr=True)
