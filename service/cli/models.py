"""`parcel-screen models`: the registry, its versions and the active one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from service.cli.apps import err, models_app, out
from service.cli.common import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    ModelsDir,
    active_or_none,
    fail,
    open_registry,
    say,
)
from service.cli.comparison import comparison_table
from training.registry import RegistryError


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
    from service.cli.training import train  # the training commands use this module

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


RELOAD_HINT = (
    "The running service keeps serving its current model until told to reload:\n"
    "  curl -X POST -H 'X-API-Key: <admin key>' http://<host>:<port>/v1/admin/reload\n"
    "  or send SIGHUP to the server process (kill -HUP <pid>).\n"
    "A service pinned to a version (PARCEL_SCREEN_MODEL_VERSION) keeps that version."
)


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
