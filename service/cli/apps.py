"""The `parcel-screen` command and its groups (the commands are in the modules beside)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    pass


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

out = Console()


err = Console(stderr=True)
