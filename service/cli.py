"""The `parcel-screen` command. Thin: parse, call, print; the work lives in the packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from training.metrics import HEADLINE
from training.registry import Registry, RegistryError

app = typer.Typer(
    help="Score postal customs declarations (CN22/CN23) for hidden tactical and military gear.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="The model registry: list, inspect, promote, roll back.", no_args_is_help=True
)
feedback_app = typer.Typer(help="Inspection outcomes kept for retraining.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(feedback_app, name="feedback")

out = Console()
err = Console(stderr=True)

DEFAULT_SEED = 20261128
DEFAULT_ROWS = 300_000

ModelsDir = Annotated[
    Path,
    typer.Option(
        "--models-dir",
        envvar="PARCEL_SCREEN_MODELS_DIR",
        help="The model registry directory.",
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line reason on stderr and exit non-zero."""
    err.print(f"parcel-screen: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def metrics_table(title: str, columns: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for metric in (*HEADLINE, "items", "positives"):
        row = []
        for values in columns.values():
            value = values.get(metric)
            row.append(
                "-"
                if value is None
                else (f"{value:.3f}" if isinstance(value, float) else str(value))
            )
        table.add_row(metric, *row)
    return table


# --- data --------------------------------------------------------------------------------


@app.command()
def synth(
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
    rows: Annotated[int, typer.Option(help="Item rows to generate.", min=1)] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = DEFAULT_SEED,
) -> None:
    """Write generated, labelled declarations in the contract's CSV form."""
    from training.synth import write_synthetic_csv

    written = write_synthetic_csv(output, rows, seed)
    out.print(f"wrote {written:,} rows to {output}")


@app.command()
def score(
    input_path: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="CSV or Parquet export; with --engine dask, a directory or glob of them.",
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
) -> None:
    """Score a declaration export: every row back, in order, with its scores or its error."""
    from service.batch import BatchOptions, profile_policy, score_table
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
    try:
        registry = Registry(models_dir)
        policy = profile_policy(registry.card(model), threshold_profile)
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
                ),
            )
    except (TableError, RegistryError, ValueError, RuntimeError, OSError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted: no output was written", 130) from None
    err.print(summary.line(), markup=False, highlight=False, soft_wrap=True)


# --- training ------------------------------------------------------------------------------


@app.command()
def train(
    models_dir: ModelsDir = Path("models"),
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Labelled CSV/Parquet export(s) to train on (repeatable)."),
    ] = None,
    synthetic: Annotated[
        int | None,
        typer.Option(help="Add this many synthetic rows (default: all synthetic without --data)."),
    ] = None,
    rows: Annotated[
        int | None, typer.Option(help="Synthetic rows when training on them alone.")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the synthetic data and the fit.")
    ] = DEFAULT_SEED,
    activate: Annotated[
        bool, typer.Option(help="Make the new model active at once (default: a candidate).")
    ] = False,
    dev_data: Annotated[
        Path | None,
        typer.Option(help="Labelled file for a sim-to-real check, recorded in the model card."),
    ] = None,
) -> None:
    """Train a model, register it (as a candidate unless --activate) and print its metrics.

    Without --data it trains on synthetic declarations only. The newest 20% of parcels
    (by posted_at) are held out for calibration, thresholds and the metrics shown.
    """
    from training.pipeline import TrainingRequest, run_training

    try:
        result = run_training(
            TrainingRequest(
                data=list(data or []),
                synthetic_rows=synthetic,
                rows=rows or DEFAULT_ROWS,
                seed=seed,
                dev_data=dev_data,
            ),
            progress=lambda message: err.print(message, markup=False),
        )
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    registry = Registry(models_dir)
    version = registry.register(result.model, result.card, activate=activate)
    columns = {"holdout": result.card["metrics"]["holdout"]}
    if "dev" in result.card["metrics"]:
        columns["dev (sim-to-real)"] = result.card["metrics"]["dev"]
    if "dev_unseen_text" in result.card["metrics"]:
        columns["dev, unseen wording"] = result.card["metrics"]["dev_unseen_text"]
    out.print(metrics_table(f"model {version}", columns))
    out.print(f"registered {version}{' (active)' if activate else ' (candidate)'} in {models_dir}")


# --- the registry ---------------------------------------------------------------------------


@models_app.command("list")
def models_list(models_dir: ModelsDir = Path("models")) -> None:
    """Every registered version, the active one marked."""
    registry = Registry(models_dir)
    active = registry.active_version()
    table = Table()
    for name in ("version", "active", "created", "rows", "AUC (holdout)", "AUC (dev)"):
        table.add_column(name)
    for version in registry.versions():
        card = registry.card(version)
        metrics = card.get("metrics", {})
        table.add_row(
            version,
            "*" if version == active else "",
            str(card.get("created_at", "")),
            str(card.get("training_data", {}).get("rows", "")),
            f"{metrics.get('holdout', {}).get('roc_auc', float('nan')):.3f}",
            f"{metrics.get('dev', {}).get('roc_auc', float('nan')):.3f}",
        )
    out.print(table)


@models_app.command("show")
def models_show(
    version: Annotated[
        str | None, typer.Argument(help="Version (default: the active one).")
    ] = None,
    models_dir: ModelsDir = Path("models"),
) -> None:
    """The model card of a version, as JSON."""
    try:
        card = Registry(models_dir).card(version)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    card.get("model", {}).pop("features", None)
    sys.stdout.write(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


@models_app.command("ensure-default")
def models_ensure_default(
    models_dir: ModelsDir = Path("models"),
    rows: Annotated[int, typer.Option(help="Synthetic rows to train on.")] = DEFAULT_ROWS,
    seed: Annotated[int, typer.Option(help="Seed.")] = DEFAULT_SEED,
    dev_data: Annotated[Path | None, typer.Option(help="Sim-to-real check file.")] = None,
) -> None:
    """Build and activate the default model (synthetic data) unless one is active already."""
    registry = Registry(models_dir)
    active = registry.active_version()
    if active is not None:
        try:
            registry.verify(active)
            out.print(f"model {active} is active in {models_dir}")
            return
        except RegistryError as exc:
            err.print(f"active model unusable ({exc}); building a new default", markup=False)
    train(
        models_dir=models_dir,
        data=None,
        synthetic=None,
        rows=rows,
        seed=seed,
        activate=True,
        dev_data=dev_data if dev_data and dev_data.is_file() else None,
    )


# --- serving ------------------------------------------------------------------------------------


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
