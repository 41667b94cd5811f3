"""Scoring commands: `score` an export, `synth` generated declarations, `serve` HTTP."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from training.registry import RegistryError

if TYPE_CHECKING:
    pass
from service.cli.apps import app, err, out
from service.cli.common import DEFAULT_SEED, ModelsDir, configured_store, fail, open_registry


@app.command()
def synth(
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
    rows: Annotated[int, typer.Option(help="Item rows to generate.", min=1)] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = DEFAULT_SEED,
) -> None:
    """Write generated, labelled declarations in the contract's CSV form."""
    from training.files import output_destination
    from training.synth import write_synthetic_csv

    try:
        written = write_synthetic_csv(output_destination(output), rows, seed)
    except OSError as exc:
        raise fail(str(exc)) from None
    out.print(f"wrote {written:,} rows to {output}")


@app.command()
def score(
    input_path: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="CSV or Parquet export ('-': standard input; a FIFO is read once); with "
            "--engine dask, a directory or glob of them.",
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "-o", "--output", help="File to write ('-': CSV on stdout); with dask, a directory."
        ),
    ],
    model: Annotated[
        str | None, typer.Option("--model", help="Model version (default: the active one).")
    ] = None,
    models_dir: ModelsDir = Path("models"),
    chunk_size: Annotated[int, typer.Option(help="Rows read at a time.", min=1)] = 20_000,
    workers: Annotated[
        int | None, typer.Option(help="Scoring processes (default: every core).", min=1)
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option("--format", help="csv or parquet (default: from the OUTPUT suffix)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="Input columns to keep, comma-separated (default: all of them)."),
    ] = None,
    threshold_profile: Annotated[
        str | None,
        typer.Option(help="Named review/inspect thresholds of the model card (e.g. strict)."),
    ] = None,
    engine: Annotated[str, typer.Option(help="local, or dask for many files.")] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask scheduler address (default: a local cluster for the run)."),
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            help="Count each parcel's sender and recipient over the whole file before scoring "
            "(--no-history: score every parcel as one from parties with no history)."
        ),
    ] = True,
) -> None:
    """Score a declaration export: every row back, in order, with its scores or its error."""
    from service.batch import BatchOptions, score_table
    from service.policy import scoring_policy
    from service.scorer import Scorer
    from training.tables import Kind, TableError

    if output_format not in (None, "csv", "parquet"):
        raise fail(f"--format must be csv or parquet, not {output_format!r}")
    kind: Kind | None = (
        None if output_format is None else ("parquet" if output_format == "parquet" else "csv")
    )
    if engine not in ("local", "dask"):
        raise fail(f"--engine must be local or dask, not {engine!r}")
    kept = [c for c in columns.split(",") if c.strip()] if columns else None
    store = configured_store() if history else None
    lookup = None
    if store is not None:
        from service.party_history import PartyHistory

        lookup = PartyHistory(store).lookup
    registry = open_registry(models_dir)
    try:
        policy = (
            scoring_policy(registry.card(model), profile=threshold_profile)
            if threshold_profile is not None
            else None
        )
        scorer = Scorer.from_registry(registry, model, policy)
        if engine == "dask":
            from service.dask_engine import score_partitions

            summary = score_partitions(
                input_path,
                Path(output),
                scorer,
                scheduler=scheduler,
                output_format=kind,
                chunk_rows=chunk_size,
                columns=kept,
                history=history,
                store=lookup,
            )
        else:
            summary = score_table(
                Path(input_path),
                "-" if output == "-" else Path(output),
                scorer,
                BatchOptions(
                    chunk_rows=chunk_size,
                    workers=workers,
                    output_format=kind,
                    columns=kept,
                    history=history,
                    store=lookup,
                ),
            )
    except (TableError, RegistryError, ValueError, RuntimeError, OSError, csv.Error) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted: no output was written", 130) from None
    err.print(summary.line(), markup=False, highlight=False, soft_wrap=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    models_dir: ModelsDir = Path("models"),
) -> None:
    """Serve the HTTP API. Without API keys configured it binds to loopback only."""
    from service.server import serve as run_server
    from service.settings import Settings

    settings = Settings(models_dir=models_dir)
    try:
        run_server(settings, host=host, port=port, workers=workers)
    except (RegistryError, ValueError) as exc:
        raise fail(str(exc)) from exc
