"""The `parcel-screen` command. Thin: parse, call, print; the work lives in the packages."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from training.registry import Registry, RegistryError

if TYPE_CHECKING:
    from service.settings import StoreSettings
    from service.store import Database, Store

T = TypeVar("T")

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

DEFAULT_SEED = 20261128
DEFAULT_ROWS = 200_000

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


def open_registry(models_dir: Path) -> Registry:
    """The registry, with the signing key of the environment (PARCEL_SCREEN_MODEL_SIGNING_KEY)
    so that what this command registers or loads is signed or checked as the service does."""
    from pydantic import ValidationError

    from service.settings import RegistrySettings

    try:
        key = RegistrySettings().signing_key()
    except ValidationError as exc:
        raise fail("; ".join(str(error["msg"]) for error in exc.errors())) from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    return Registry(models_dir, signing_key=key)


def active_or_none(registry: Registry) -> str | None:
    """The active version, or None (with the reason on stderr) if ACTIVE names none."""
    try:
        return registry.active_version()
    except RegistryError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return None


# Columns of the metrics table: item metrics, then parcel decisions at the stored thresholds
# (written corpora: ordinary parcels flagged, sent to inspect; gear parcels caught), with
# headers short enough for a terminal.
METRIC_COLUMNS: Final = {
    "roc_auc": "AUC",
    "average_precision": "AP",
    "recall_at_1pct_fpr": "R@1%",
    "recall_at_2pct_fpr": "R@2%",
    "recall_at_5pct_fpr": "R@5%",
    "brier": "brier",
    "benign_parcels_flagged": "flagged",
    "benign_parcels_inspected": "inspected",
    "gear_parcels_caught": "caught",
    "items": "items",
    "positives": "gear",
}


def metrics_table(title: str, sets: dict[str, dict[str, Any]]) -> Table:
    """One row per data set, one column per metric ("-" where a set has none)."""
    table = Table(title=title)
    table.add_column("set", no_wrap=True)
    for header in METRIC_COLUMNS.values():
        table.add_column(header, justify="right")
    for name, values in sets.items():
        cells = []
        for metric in METRIC_COLUMNS:
            value = values.get(metric)
            cells.append(
                "-"
                if value is None
                else (f"{value:.3f}" if isinstance(value, float) else str(value))
            )
        table.add_row(name, *cells)
    return table


# --- data --------------------------------------------------------------------------------


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
    corpora: Annotated[
        Path | None,
        typer.Option(
            help="Written corpora: learn from its train/ sets, set thresholds on its "
            "calibration/ sets (ordinary traffic), measure every set into the card."
        ),
    ] = None,
    written_repeat: Annotated[
        int, typer.Option(help="How many times each written training row counts.", min=1)
    ] = 60,
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
                corpora=corpora if corpora and corpora.is_dir() else None,
                written_repeat=written_repeat,
            ),
            progress=lambda message: err.print(message, markup=False),
        )
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    registry = open_registry(models_dir)
    previous_active = active_or_none(registry)
    record_comparison(registry, result)
    version = registry.register(result.model, result.card, activate=activate)
    columns = {"holdout": result.card["metrics"]["holdout"]}
    if "dev" in result.card["metrics"]:
        columns["dev (sim-to-real)"] = result.card["metrics"]["dev"]
    if "dev_unseen_text" in result.card["metrics"]:
        columns["dev, unseen wording"] = result.card["metrics"]["dev_unseen_text"]
    for name, values in result.card["metrics"].get("written", {}).items():
        columns[f"{name} ({values['use']})"] = values
    out.print(metrics_table(f"model {version}", columns))
    out.print(f"thresholds set on {result.card['thresholds_set_on']}")
    out.print(f"registered {version}{' (active)' if activate else ' (candidate)'} in {models_dir}")
    print_comparison(version, result.card, previous_active, activate)


# --- the registry ---------------------------------------------------------------------------


@models_app.command("list")
def models_list(models_dir: ModelsDir = Path("models")) -> None:
    """Every registered version, the active one marked."""
    registry = open_registry(models_dir)
    active = active_or_none(registry)
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
        card = open_registry(models_dir).card(version)
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
    corpora: Annotated[Path | None, typer.Option(help="Written corpora (see `train`).")] = None,
) -> None:
    """Build and activate the default model (synthetic data and the written corpora) unless
    one is active already."""
    registry = open_registry(models_dir)
    active = active_or_none(registry)
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
        corpora=corpora,
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


# --- retraining: compare, promote, roll back, evaluate, drift, feedback ------------------------

RELOAD_HINT = (
    "The running service keeps serving its current model until told to reload:\n"
    "  curl -X POST -H 'X-API-Key: <admin key>' http://<host>:<port>/v1/admin/reload\n"
    "  or send SIGHUP to the server process (kill -HUP <pid>).\n"
    "A service pinned to a version (PARCEL_SCREEN_MODEL_VERSION) keeps that version."
)


SMALL_HOLDOUT_BENIGN = 200
SMALL_HOLDOUT_GEAR = 30


def say(message: str) -> None:
    """Plain text on stdout: no markup, so versions and [brackets] print as they are."""
    out.print(message, markup=False, highlight=False, soft_wrap=True)


def number(value: Any, share: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if share else f"{value:.3f}"
    return str(value)


def record_comparison(registry: Registry, result: Any) -> None:
    """Put the candidate-vs-active comparison and the drift profile into the new card.

    Both are computed on the candidate's held-out rows, which exist only during training:
    `models promote` and `drift --model` later read what is stored here.
    """
    from training.drift import profile_of
    from training.gate import compare_on_holdout

    active_version = active_or_none(registry)
    active_model = None
    load_error = None
    if active_version is not None:
        try:
            active_model = registry.load(active_version).model
        except RegistryError as exc:
            load_error = str(exc)
            err.print(f"cannot compare with the active model {active_version}: {exc}", markup=False)
    holdout = result.holdout
    comparison = compare_on_holdout(
        result.model,
        active_model,
        active_version if active_model is not None else None,
        holdout,
        str(result.card["training_data"].get("holdout", "held-out rows")),
    )
    if load_error is not None:
        comparison["active_error"] = load_error
    result.card["comparison"] = comparison
    result.card["training_data"]["profile"] = profile_of(
        holdout, holdout["risk_score"].to_numpy()
    ).to_card()


def comparison_table(version: str, comparison: dict[str, Any]) -> Table:
    from training.gate import COMPARED_METRICS, DEFAULT_METRIC, LOWER_IS_BETTER, change_column

    active_version = comparison.get("active_version")
    table = Table(
        title=f"candidate {version} vs active {active_version}, on the candidate's "
        f"{comparison.get('rows', '?')} held-out rows ({comparison.get('positives', '?')} gear)"
    )
    table.add_column("metric")
    table.add_column(f"candidate {version}", justify="right")
    table.add_column(f"active {active_version}", justify="right")
    table.add_column("change", justify="right")
    candidate, active = comparison.get("candidate", {}), comparison.get("active") or {}
    for metric in COMPARED_METRICS:
        if metric not in candidate:
            continue
        note = " (lower is better)" if metric in LOWER_IS_BETTER else ""
        note += " (promotion gate)" if metric == DEFAULT_METRIC else ""
        table.add_row(
            metric + note,
            number(candidate.get(metric)),
            number(active.get(metric)),
            change_column(candidate.get(metric), active.get(metric)),
        )
    return table


def print_comparison(
    version: str, card: dict[str, Any], previous_active: str | None, activated: bool
) -> None:
    """After training: rows skipped, the comparison with the active model, what to do next."""
    from training.gate import judge

    skipped = card.get("training_data", {}).get("skipped") or {}
    if skipped:
        parts = ", ".join(f"{count:,} ({why})" for why, count in skipped.items())
        say(f"rows skipped, not trained on: {parts}")
    else:
        say("rows skipped: none")
    holdout_rows = int(card.get("training_data", {}).get("holdout_rows", 0))
    positives = int(card.get("comparison", {}).get("positives", 0))
    # Below ~100 benign items, 1-2% of them is one item or none: those recalls mean nothing.
    if holdout_rows - positives < SMALL_HOLDOUT_BENIGN or positives < SMALL_HOLDOUT_GEAR:
        say(
            f"warning: only {holdout_rows:,} held-out rows ({positives:,} gear): too few to "
            "measure recall at 1-2% false alarms; add rows (e.g. --synthetic 5000)"
        )
    comparison = card.get("comparison") or {}
    if comparison.get("active") is None:
        say("no active model to compare with (none is active yet)")
        return
    out.print(comparison_table(version, comparison))
    if activated:
        say(f"{version} was activated at once (--activate); it replaced {previous_active}.")
        return
    decision = judge(version, card, previous_active)
    if decision.allowed:
        say(f"candidate is at least as good ({decision.message}).")
        say(f"to put it in service: parcel-screen models promote {version}")
    else:
        say(decision.message.replace("refused: ", "`models promote` would refuse it: "))


@models_app.command("promote")
def models_promote(
    version: Annotated[
        str,
        typer.Argument(
            metavar="VERSION", help="The candidate version to put in service (see `models list`)."
        ),
    ],
    metric: Annotated[
        str,
        typer.Option(
            help="Metric the candidate must match or beat on its held-out rows, e.g. "
            "recall_at_2pct_fpr, recall_at_1pct_fpr, roc_auc, average_precision, brier."
        ),
    ] = "recall_at_2pct_fpr",
    force: Annotated[
        bool,
        typer.Option("--force", help="Promote even if the candidate is worse; needs --reason."),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(help="Why, in words; kept in the registry history. Required with --force."),
    ] = None,
    models_dir: ModelsDir = Path("models"),
) -> None:
    """Make a candidate the active model, if it is at least as good as the active one.

    The check uses the comparison `train` stored with the candidate: both models scored on
    the candidate's held-out rows (its newest 20% of parcels). The service keeps its model
    until it is told to reload.
    """
    from training.gate import judge

    if force and not (reason and reason.strip()):
        raise fail("--force needs --reason TEXT: say why, it is kept in the registry history")
    registry = open_registry(models_dir)
    try:
        card = registry.card(version)
        active = registry.active_version()
        decision = judge(version, card, active, metric)
    except (RegistryError, ValueError) as exc:
        raise fail(str(exc)) from exc
    if active == version:
        raise fail(f"{version} is already the active model")
    comparison = card.get("comparison") or {}
    if comparison.get("active") is not None and comparison.get("active_version") == active:
        out.print(comparison_table(version, comparison))
    if not decision.allowed and not force:
        raise fail(f"{decision.message}; to override: --force --reason TEXT", code=1)
    if decision.allowed:
        recorded = reason or f"passed the gate: {decision.message}"
    else:
        recorded = f"{reason} (forced past the gate: {decision.message.removeprefix('refused: ')})"
    try:
        registry.activate(version, action="promote", reason=recorded)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    say(f"promoted {version} (was {active or 'none'}): {recorded}")
    say(RELOAD_HINT)


@models_app.command("rollback")
def models_rollback(models_dir: ModelsDir = Path("models")) -> None:
    """Re-activate the previous model: the version active before the current one.

    Recorded in the registry history. The service keeps its model until it is told to
    reload.
    """
    registry = open_registry(models_dir)
    current = active_or_none(registry)
    try:
        version = registry.rollback()
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    say(f"rolled back from {current} to {version}")
    say(RELOAD_HINT)


@models_app.command("trust")
def models_trust(
    version: Annotated[str, typer.Argument(metavar="VERSION", help="The version to trust.")],
    reason: Annotated[
        str | None, typer.Option(help="Why, in words; kept in the registry history.")
    ] = None,
    models_dir: ModelsDir = Path("models"),
) -> None:
    """Pin (and, with PARCEL_SCREEN_MODEL_SIGNING_KEY, sign) a version's SHA256SUMS.

    For a version registered before pins were kept or before the signing key was set; only
    run it on a model you know to be yours. A version pinned already cannot be trusted with
    a different SHA256SUMS.
    """
    registry = open_registry(models_dir)
    try:
        digest = registry.trust(version, reason=reason)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    signed = " and signed" if registry.signing_key is not None else ""
    say(f"pinned{signed} {version} (SHA256SUMS {digest[:12]}...)")


@app.command()
def evaluate(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Labelled CSV/Parquet export (needs `label`; `label_class` helps)."
        ),
    ],
    model: Annotated[
        str | None, typer.Option("--model", help="Model version (default: the active one).")
    ] = None,
    models_dir: ModelsDir = Path("models"),
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Directory for report.html (plots inside, opens offline) and the plots as PNGs.",
        ),
    ] = None,
) -> None:
    """Measure a model on labelled declarations: how much gear it catches at which cost.

    Prints the headline metrics, the cut-off table (share inspected vs gear caught and
    false alarms), per-class results and calibration. With --report, also writes an HTML
    report with curves, per-lane results and the worst misses and false alarms.
    """
    from service.scorer import Scorer, ScoringPolicy
    from training.evaluate import evaluate as evaluate_model_on
    from training.evaluate import headline_rows, write_report
    from training.pipeline import read_labelled

    registry = open_registry(models_dir)
    try:
        frame = read_labelled(data)
        # No random selection: evaluation is about what the model flags.
        scorer = Scorer.from_registry(registry, model, ScoringPolicy(random_selection_rate=0.0))
        evaluation = evaluate_model_on(scorer, frame, data.name)
    except (ValueError, OSError, RegistryError) as exc:
        raise fail(str(exc)) from exc
    metrics = evaluation.metrics
    skipped = ", ".join(f"{n:,} ({why})" for why, n in evaluation.skipped.items()) or "none"
    say(
        f"model {evaluation.model_version} on {data.name}: {metrics['items']:,} items, "
        f"{metrics['positives']:,} gear; rows skipped: {skipped}"
    )
    table = Table(title="headline")
    for name in ("metric", "value", "what it says"):
        table.add_column(name, justify="right" if name == "value" else "left")
    for row in headline_rows(metrics):
        table.add_row(row["metric"], number(row["value"]), row["meaning"])
    out.print(table)
    cuts = Table(title="cut-offs (items at or above are flagged)")
    for name in ("cut-off", "score", "items flagged", "parcels", "gear caught", "false alarms"):
        cuts.add_column(name, justify="left" if name == "cut-off" else "right")
    for row in evaluation.threshold_rows:
        cuts.add_row(
            row["cut_off"],
            number(row["threshold"]),
            number(row["items_inspected"], share=True),
            number(row["parcels_inspected"], share=True),
            number(row["recall"], share=True),
            number(row["false_alarm_rate"], share=True),
        )
    out.print(cuts)
    classes = Table(title="by true class")
    for name in ("class", "items", "mean score", "flagged at review", "class named right"):
        classes.add_column(name, justify="left" if name == "class" else "right")
    for row in evaluation.class_rows:
        classes.add_row(
            row["class"],
            str(row["items"]),
            number(row["mean_score"]),
            number(row["flagged_at_review"], share=True),
            number(row["class_accuracy"], share=True),
        )
    out.print(classes)
    reliability = Table(title="calibration (score 0.3 = gear 30% of the time)")
    for name in ("score bin", "items", "mean score", "observed gear share"):
        reliability.add_column(name, justify="left" if name == "score bin" else "right")
    for row in metrics.get("reliability", []):
        reliability.add_row(
            row["bin"], str(row["items"]), number(row["mean_score"]), number(row["observed_rate"])
        )
    out.print(reliability)
    if report is not None:
        try:
            path = write_report(evaluation, report)
        except OSError as exc:
            raise fail(f"cannot write the report: {exc}") from exc
        say(f"report written to {path}")


@app.command()
def drift(
    reference: Annotated[
        Path | None,
        typer.Option(help="Reference traffic: a CSV/Parquet export (e.g. the training data)."),
    ] = None,
    current: Annotated[
        Path | None, typer.Option(help="Current traffic: a CSV/Parquet export of declarations.")
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Take current traffic from the store (PARCEL_SCREEN_DATABASE_URL): its "
            "`audit export` is written to a temporary file and read.",
        ),
    ] = False,
    audit_db: Annotated[
        Path | None,
        typer.Option(
            "--audit-db",
            help="As --from-store, from a SQLite audit database (superseded).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="From the store: only declarations scored on/after this date."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model that scores both sides (default: the active one). Without "
            "--reference, its stored profile of its held-out data is the reference.",
        ),
    ] = None,
    models_dir: ModelsDir = Path("models"),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """How current traffic differs from the reference: is it time to retrain?

    Population stability index (PSI: under 0.1 stable, 0.1-0.25 watch, over 0.25 a real
    shift) of the risk scores and of key features, the share of vague descriptions, and
    frequent words of current descriptions never seen in the reference. Retraining is
    advised when the score PSI or 2+ feature PSIs exceed 0.25, or over 10% of words are new.
    """
    from training.drift import (
        Profile,
        compare,
        model_vocabulary,
        profile_of,
        psi_status,
        usable_rows,
    )
    from training.model import columns_of
    from training.tables import TableError, read_declarations

    if (current is not None) + (audit_db is not None) + from_store != 1:
        raise fail(
            "give the current traffic: --current FILE, --from-store or --audit-db PATH "
            "(one of them)"
        )
    registry = open_registry(models_dir)
    loaded = None
    try:
        loaded = registry.load(model)
    except RegistryError as exc:
        if model is not None or reference is None:
            raise fail(str(exc)) from exc
        err.print(f"no model to score with ({exc}); comparing features only", markup=False)
    try:
        if current is not None:
            current_frame = usable_rows(read_declarations(current))
        else:
            # Training reads exports of the store, never its tables.
            current_frame = usable_rows(read_declarations(exported_traffic(audit_db, since)))
        current_scores = (
            None if loaded is None else loaded.model.score(columns_of(current_frame)).risk_score
        )
        if reference is not None:
            reference_frame = usable_rows(read_declarations(reference))
            reference_scores = (
                None
                if loaded is None
                else loaded.model.score(columns_of(reference_frame)).risk_score
            )
            profile = profile_of(reference_frame, reference_scores)
        else:
            assert loaded is not None
            stored = loaded.card.get("training_data", {}).get("profile")
            if stored is None:
                raise fail(
                    f"model {loaded.version} has no stored profile of its data (trained before "
                    "profiles were kept): give --reference FILE"
                )
            profile = Profile.from_card(stored, model_vocabulary(loaded.model))
        result = compare(profile, current_frame, current_scores)
    except (TableError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n")
        return
    source = f"model {loaded.version}'s held-out data" if reference is None and loaded else ""
    say(
        f"reference: {source or reference} ({result.reference_rows:,} items); "
        f"current: {current or audit_db or 'the store'} ({result.current_rows:,} items)"
    )
    table = Table(title="population stability index (PSI)")
    for name in ("quantity", "PSI", "reading"):
        table.add_column(name, justify="right" if name == "PSI" else "left")
    for name, value in result.psi.items():
        table.add_row(name, f"{value:.3f}", psi_status(value))
    out.print(table)
    say(
        f"vague descriptions: {result.vague_share_reference:.1%} of reference items, "
        f"{result.vague_share_current:.1%} of current items"
    )
    say(f"words of current descriptions not seen in the reference: {result.new_term_share:.1%}")
    if result.new_terms:
        terms = Table(title="frequent new terms")
        terms.add_column("term")
        terms.add_column("count", justify="right")
        for term, count in result.new_terms:
            terms.add_row(term, str(count))
        out.print(terms)
    say(result.summary)


def exported_traffic(audit_db: Path | None, since: str | None) -> Path:
    """The store's scored traffic (`audit export`) in a temporary file, removed at exit."""
    import atexit
    import shutil
    import tempfile

    from service.store.export import export_scored

    directory = Path(tempfile.mkdtemp(prefix="parcel-screen-drift-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "scored.csv"
    rows = store_call(lambda: export_scored(export_source(audit_db), path, since))
    if rows == 0:
        raise fail(f"the store holds no scored declarations{' since ' + since if since else ''}")
    return path


@feedback_app.command("export")
def feedback_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="Labelled CSV file to write.")],
    audit_db: AuditDb = None,
) -> None:
    """Write every inspected item (confirmed: label 1, cleared: label 0) as labelled CSV.

    The file goes straight to `parcel-screen train --data FILE` (usually with --synthetic N,
    since feedback alone is rarely enough to train on). Reads the store that
    PARCEL_SCREEN_DATABASE_URL names (or --audit-db, a SQLite file).
    """
    from service.store.engine import StoreUnavailableError
    from service.store.export import export_feedback

    try:
        written = export_feedback(export_source(audit_db), output)
    except (OSError, ValueError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    say(f"exported {written:,} labelled rows to {output}")
    if written == 0:
        err.print("no inspection outcomes yet: `train --data` will refuse this file", markup=False)


# --- the store: audit export, watch list, party history -----------------------------------

AuditDb = Annotated[
    Path | None,
    typer.Option(
        "--audit-db",
        help="A SQLite audit database to read instead of the store PARCEL_SCREEN_DATABASE_URL "
        "names (superseded; for databases of older deployments).",
    ),
]


def store_settings() -> StoreSettings:
    """The store settings of the environment, the same the service reads."""
    from pydantic import ValidationError

    from service.settings import StoreSettings

    try:
        return StoreSettings()
    except ValidationError as exc:
        raise fail("; ".join(str(error["msg"]) for error in exc.errors())) from None


def open_store() -> Store:
    """The store PARCEL_SCREEN_DATABASE_URL names; its schema is created or migrated on
    first use."""
    from service.settings import SettingsError
    from service.store.store import store_of

    try:
        return store_of(store_settings())
    except SettingsError as exc:
        raise fail(str(exc)) from None


def configured_store() -> Store | None:
    """The store, when there is one to read: a PostgreSQL URL, or a SQLite file that
    exists (scoring a file never creates an empty store)."""
    store = open_store()
    path = store.database.sqlite_path
    if path is not None and not path.exists():
        return None
    return store


def export_source(audit_db: Path | None) -> Path | Database:
    """What an export reads: --audit-db, else the configured store. A SQLite file that does
    not exist is named as such rather than made empty."""
    if audit_db is not None:
        return audit_db
    database = open_store().database
    if database.sqlite_path is not None:
        return database.sqlite_path
    return database


def cli_user() -> str:
    """Who made a change from the command line, as the watch-list log keeps it."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def store_call(work: Callable[[], T]) -> T:
    """Run a store call; its refusals as a one-line reason and exit status 2."""
    from service.store.engine import StoreUnavailableError
    from service.store.watchlist import WatchListError, WatchListImportError

    try:
        return work()
    except (WatchListError, WatchListImportError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(str(exc)) from None


def moment(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(sep=" ", timespec="seconds")


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
    since: Annotated[
        str | None, typer.Option(help="Only declarations scored on/after this date (ISO).")
    ] = None,
    audit_db: AuditDb = None,
) -> None:
    """Write the latest scoring of each declaration as CSV: the contract's columns plus
    scored_at, decision and model_version. What `drift` reads as current traffic."""
    from service.store.export import export_scored

    rows = store_call(lambda: export_scored(export_source(audit_db), output, since))
    say(f"exported {rows:,} scored items to {output}")


@watchlist_app.command("add")
def watchlist_add(
    party_id: Annotated[str, typer.Argument(help="The party's id, as declarations carry it.")],
    role: Annotated[str, typer.Option(help="sender or recipient")],
    reason: Annotated[str, typer.Option(help="Why the party is watched.")],
    expires: Annotated[
        str | None,
        typer.Option(help="Last day the entry applies (YYYY-MM-DD, UTC); default: until removed."),
    ] = None,
) -> None:
    """Put a party on the watch list (or update its entry for that role)."""
    store = open_store()
    entry, created = store_call(
        lambda: store.watch(party_id, role.strip().lower(), reason, expires, by=cli_user())
    )
    until = f" until {moment(entry.expires_at)}" if entry.expires_at else ""
    say(f"{'added' if created else 'updated'}: {entry.party_id} as {entry.role}{until}")


@watchlist_app.command("remove")
def watchlist_remove(
    party_id: Annotated[str, typer.Argument(help="The party's id.")],
) -> None:
    """Take a party off the watch list (every role)."""
    store = open_store()
    removed = store_call(lambda: store.unwatch(party_id, by=cli_user()))
    if not removed:
        raise fail(f"{party_id} is not on the watch list", code=1)
    say(f"removed: {party_id} as {', '.join(entry.role for entry in removed)}")


@watchlist_app.command("list")
def watchlist_list() -> None:
    """Every entry of the watch list (expired ones marked)."""
    store = open_store()
    entries = store_call(store.watch_list)
    now = datetime.now(UTC).replace(tzinfo=None)
    table = Table(title=f"watch list ({len(entries)} entries)")
    for name in ("party", "role", "reason", "listed by", "listed at", "expires", "active"):
        table.add_column(name)
    for entry in entries:
        table.add_row(
            entry.party_id,
            entry.role,
            entry.reason,
            entry.listed_by,
            moment(entry.listed_at),
            moment(entry.expires_at),
            "yes" if entry.active_at(now) else "expired",
        )
    out.print(table)


@watchlist_app.command("import")
def watchlist_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns party_id, role, reason, expires.")],
) -> None:
    """Add or update every entry of a CSV file. A file with any bad row changes nothing:
    every bad row is reported with its row number and field."""
    store = open_store()
    count = store_call(lambda: store.import_watch_list(file, by=cli_user()))
    say(f"imported {count:,} entries from {file}")


@history_app.command("show")
def history_show(party_id: Annotated[str, typer.Argument(help="The party's id.")]) -> None:
    """A party's parcels within the retention window: as sender and recipient, decisions,
    inspection outcomes, counterparties, watch-list entries."""
    store = open_store()
    summary = store_call(lambda: store.party_history(party_id))
    say(
        f"{summary.party_id}: {len(summary.parcels)} parcels ({summary.as_sender} as sender, "
        f"{summary.as_recipient} as recipient) in the last {store.retention_days} days"
    )
    say(f"sent to review: {summary.review}, to inspection: {summary.inspect}")
    say(
        f"outcomes: {summary.confirmed} confirmed (latest {moment(summary.latest_confirmed_at)}), "
        f"{summary.cleared} cleared (latest {moment(summary.latest_cleared_at)})"
    )
    say(f"distinct counterparties: {summary.counterparties}")
    if summary.watch:
        now = datetime.now(UTC).replace(tzinfo=None)
        for entry in summary.watch:
            state = "active" if entry.active_at(now) else "expired"
            say(
                f"watch list: {entry.role}, {entry.reason} (by {entry.listed_by}, "
                f"{moment(entry.listed_at)}, expires {moment(entry.expires_at)}, {state})"
            )
    else:
        say("watch list: not listed")
    if summary.parcels:
        table = Table(title="parcels (newest first, at most 20)")
        for name in ("declaration", "posted", "sender", "recipient", "to", "decision", "outcome"):
            table.add_column(name)
        for parcel in sorted(summary.parcels, key=lambda p: p.posted_at, reverse=True)[:20]:
            table.add_row(
                parcel.declaration_id,
                moment(parcel.posted_at),
                parcel.sender_id or "-",
                parcel.recipient_id or "-",
                parcel.destination_country or "-",
                parcel.decision or "-",
                parcel.outcome or "-",
            )
        out.print(table)


@history_app.command("forget")
def history_forget(
    party_id: Annotated[str, typer.Argument(help="The party's id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove everything the store keeps about a party: its id in the parcels index and in
    the stored inputs of its declarations, its watch-list entries and its id in the
    watch-list log. Parcels past the retention window are purged at the same time."""
    if not yes and not typer.confirm(f"forget every trace of {party_id}?"):
        raise fail("nothing forgotten", code=1)
    store = open_store()
    done = store_call(lambda: store.forget(party_id, by=cli_user()))
    say(
        f"forgot {done.party_id}: its id taken out of {done.parcels} parcels "
        f"({done.parcels_removed} removed, no party left on them), "
        f"of {done.scorings_scrubbed} stored scorings, and {done.watch_entries} watch-list "
        "entries removed"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
