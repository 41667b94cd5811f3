"""What the commands share: failing in one line, the registry, tables, the store."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer
from rich.table import Table

from training.registry import Registry, RegistryError

if TYPE_CHECKING:
    from service.settings import StoreSettings
    from service.store import Database, Store
from service.cli.apps import err, out

T = TypeVar("T")


DEFAULT_SEED = 20261128


# Synthetic rows of the default model: 160,000 since the written rows passed 70,000 (the
# same readings within a seed's noise, and `make model` well under three minutes).
DEFAULT_ROWS = 160_000


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
    "gear_parcels_caught_new_parties": "new",
    "gear_parcels_caught_alone": "alone",
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


def say(message: str) -> None:
    """Plain text on stdout: no markup, so versions and [brackets] print as they are."""
    out.print(message, markup=False, highlight=False, soft_wrap=True)


def number(value: Any, share: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if share else f"{value:.3f}"
    return str(value)


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
