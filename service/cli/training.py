"""Training commands: `train`, `evaluate`, `drift`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from training.registry import RegistryError

if TYPE_CHECKING:
    pass
from service.cli.apps import app, err, out
from service.cli.common import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    ModelsDir,
    active_or_none,
    export_source,
    fail,
    metrics_table,
    number,
    open_registry,
    say,
    store_call,
)
from service.cli.comparison import print_comparison, record_comparison


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
        int | None,
        typer.Option(
            help="How many times each written training row counts (default: the training "
            "pipeline's, `TrainingRequest.written_repeat`).",
            min=1,
        ),
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
                corpora=corpora if corpora and corpora.is_dir() else None,
                # One default, the pipeline's: the option only overrides it.
                **({} if written_repeat is None else {"written_repeat": written_repeat}),
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
    from training.labelled import read_labelled

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
            None
            if loaded is None
            else loaded.model.score_together(columns_of(current_frame)).risk_score
        )
        if reference is not None:
            reference_frame = usable_rows(read_declarations(reference))
            reference_scores = (
                None
                if loaded is None
                else loaded.model.score_together(columns_of(reference_frame)).risk_score
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
