"""The history an export makes of itself: a first pass that keeps one record per parcel.

A CSV export is history in itself: each parcel's sender and recipient may appear on other
parcels of the file, before it by `posted_at`. Before scoring, the batch command reads only
the parcel columns of the file (one record per declaration, a few fields each, so memory
grows with parcels, not with rows or columns) and turns them, with what the store knows of
the same parties, into history facts that each scored row looks up by its declaration id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd

from training.gear_words import names_gear
from training.history import NAMED_COLUMN, PARCEL_COLUMNS, HistoryTable, WatchEntry
from training.schema import LINE_COLUMN, normalise_declarations
from training.tables import Source, TableFormat, iter_table_batches, table_frame

# What the store knows of some parties: their earlier parcels (a parcel frame with outcome
# columns, see `training.history.records_frame`) and the watch list as it stands.
StoreLookup = Callable[[list[str]], tuple[pd.DataFrame | None, list[WatchEntry]]]


def file_parcels(source: Source, table_format: TableFormat, chunk_rows: int) -> pd.DataFrame:
    """One record per declaration of a table: the parcel columns history is counted from.

    Values are normalised as scoring normalises them; a value that cannot be read is left
    out (the row's own error is reported by the scoring pass).
    """
    columns = [*PARCEL_COLUMNS, NAMED_COLUMN]
    parts: list[pd.DataFrame] = []
    # Parcels with a line that names gear (a few percent); a parcel's lines may span chunks.
    named_ids: list[pd.Series] = []
    available = table_format.frame_columns()
    present = [c for c in PARCEL_COLUMNS if c in available]
    if "declaration_id" not in present:
        return pd.DataFrame(columns=columns)
    # The line numbers name rows without an id as scoring names them ("ROW-<line>").
    extra = [LINE_COLUMN]
    for table in iter_table_batches(source, chunk_rows=chunk_rows, table_format=table_format):
        raw = table_frame(table.select([*present, *extra]))
        normalised = normalise_declarations(
            raw, decimal=table_format.decimal, with_labels=False, only=PARCEL_COLUMNS
        )
        part = normalised[list(PARCEL_COLUMNS)]
        if "description" in table.column_names:
            named = names_gear(table.column("description"))
            named_ids.append(part["declaration_id"][named])
        parts.append(part[part["declaration_id"].notna()].drop_duplicates("declaration_id"))
    if not parts:
        return pd.DataFrame(columns=columns)
    every = pd.concat(parts, ignore_index=True).drop_duplicates("declaration_id")
    named_anywhere = pd.concat(named_ids) if named_ids else pd.Series([], dtype=object)
    return every.assign(**{NAMED_COLUMN: every["declaration_id"].isin(named_anywhere)})


def file_history(
    source: Source,
    table_format: TableFormat,
    chunk_rows: int,
    *,
    store: StoreLookup | None = None,
    now: datetime | None = None,
) -> HistoryTable:
    """The history facts of every parcel of a table: its own parcels, and the store's."""
    parcels = file_parcels(source, table_format, chunk_rows)
    known: pd.DataFrame | None = None
    watch: list[WatchEntry] = []
    if store is not None:
        parties = pd.concat([parcels["sender_id"], parcels["recipient_id"]]).dropna().unique()
        known, watch = store(sorted(str(p) for p in parties))
    return HistoryTable.of(parcels, known=known, watch=watch, now=now)
