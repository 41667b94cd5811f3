"""The history an export makes of itself: a first pass that keeps one record per parcel.

A CSV export is history in itself: each parcel's sender and recipient may appear on other
parcels of the file, before it by `posted_at`. Before scoring, the batch command reads only
the parcel columns of the file (one record per declaration, a few fields each, so memory
grows with parcels, not with rows or columns) and turns them, with what the store knows of
the same parties, into history facts that each scored row looks up by its declaration id.

A model that reads the parties' earlier scores (`training.history.PRIOR_FACTS`) needs one
more pass: the parcels whose sender or recipient appears on another parcel of the file are
scored on their own first (`first_pass_scores`), and the history is counted again with
those scores. A file without repeat parties skips it. The pass fills the model's cache of
text signals, which the scoring workers inherit, so their descriptions are not read twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from service.batch_output import worker_view
from service.batch_parcels import parcel_runs, parcel_units
from training.gear_words import names_gear
from training.history import (
    FIRST_PASS_COLUMN,
    NAMED_COLUMN,
    PARCEL_COLUMNS,
    PRIOR_SCORE_FEATURES,
    HistoryTable,
    WatchEntry,
)
from training.model import RiskModel, columns_of
from training.schema import ERROR_COLUMN, LINE_COLUMN, normalise_declarations
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
    model: RiskModel | None = None,
) -> HistoryTable:
    """The history facts of every parcel of a table: its own parcels, and the store's
    (with `model`, the parties' earlier scores too, where the model reads them)."""
    return sources_history([(source, table_format)], chunk_rows, store=store, now=now, model=model)


def sources_history(
    sources: Sequence[tuple[Source, TableFormat]],
    chunk_rows: int,
    *,
    store: StoreLookup | None = None,
    now: datetime | None = None,
    model: RiskModel | None = None,
) -> HistoryTable:
    """`file_history` of several tables counted as one export."""
    parcels = pd.concat(
        [file_parcels(source, form, chunk_rows) for source, form in sources], ignore_index=True
    )
    known: pd.DataFrame | None = None
    watch: list[WatchEntry] = []
    if store is not None:
        parties = pd.concat([parcels["sender_id"], parcels["recipient_id"]]).dropna().unique()
        known, watch = store(sorted(str(p) for p in parties))
    history = HistoryTable.of(parcels, known=known, watch=watch, now=now)
    if model is None or not reads_prior_scores(model):
        return history
    wanted = repeat_party_parcels(parcels)
    if not len(wanted):
        return history
    scores = pd.concat(
        [
            first_pass_scores(source, form, chunk_rows, model, history, wanted)
            for source, form in sources
        ]
    )
    best = scores.groupby(level=0).max()
    parcels[FIRST_PASS_COLUMN] = parcels["declaration_id"].map(best).to_numpy(dtype=np.float64)
    return HistoryTable.of(parcels, known=known, watch=watch, now=now)


def reads_prior_scores(model: RiskModel) -> bool:
    return all(name in model.feature_names for name in PRIOR_SCORE_FEATURES)


def repeat_party_parcels(parcels: pd.DataFrame) -> pd.Index:
    """The declaration ids of parcels whose sender or recipient is on another parcel too:
    the only ones whose score a later parcel can read."""
    repeat = np.zeros(len(parcels), dtype=bool)
    for role in ("sender_id", "recipient_id"):
        party = parcels[role]
        repeat |= (party.notna() & party.duplicated(keep=False)).to_numpy(dtype=bool)
    return pd.Index(parcels["declaration_id"][repeat].unique())


def first_pass_scores(
    source: Source,
    table_format: TableFormat,
    chunk_rows: int,
    model: RiskModel,
    history: HistoryTable,
    wanted: pd.Index,
) -> pd.Series:
    """The first-pass score of each wanted parcel of a table (by declaration id), scored
    as the scoring pass groups its rows; rows that cannot be scored are left out."""
    found: list[pd.Series] = []
    tables = iter_table_batches(source, chunk_rows=chunk_rows, table_format=table_format)
    for unit in parcel_units(tables):
        rows = unit[0] if len(unit) == 1 else pa.concat_tables(unit, promote_options="default")
        raw = table_frame(worker_view(rows))
        ids = normalise_declarations(raw, with_labels=False, only=("declaration_id",))
        keep = ids["declaration_id"].isin(wanted).to_numpy()
        if not keep.any():
            continue
        normalised = normalise_declarations(
            raw[keep], decimal=table_format.decimal, with_labels=False
        )
        valid = normalised[ERROR_COLUMN].isna().to_numpy()
        if not valid.any():
            continue
        real_ids = normalised["declaration_id"].to_numpy(dtype=object)[valid]
        items = columns_of(normalised[valid])
        items.update(history.columns_for(real_ids))
        # Grouped as the scoring pass groups them: runs of consecutive rows.
        items["declaration_id"] = parcel_runs(normalised["declaration_id"].to_numpy(dtype=object))[
            valid
        ]
        found.append(pd.Series(model.score(items).first_pass, index=real_ids))
    if not found:
        return pd.Series([], dtype=np.float64)
    return pd.concat(found)
