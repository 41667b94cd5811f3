"""The history an export makes of itself: a first pass that keeps one record per parcel.

A CSV export is history in itself: each parcel's sender and recipient may appear on other
parcels of the file, before it by `posted_at`. Before scoring, the batch command reads only
the parcel columns of the file (one record per declaration, a few fields each, so memory
grows with parcels, not with rows or columns) and turns them, with what the store knows of
the same parties, into history facts that each scored row looks up by its declaration id.

A model that reads the parties' earlier scores (`training.history.PRIOR_FACTS`) needs one
more pass: the parcels that a later parcel of the same sender or recipient follows
(`parcels_read_later`) are scored on their own first (`Scoring.first_pass_scores`), and
the parties' earlier scores are counted with them. A file without repeat parties skips it.
The pass runs on the scoring workers' processes, as scoring does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from service.batch_parcels import parcel_units
from service.batch_pool import Scoring
from service.scorer import Scorer
from training.gear_words import names_gear
from training.history import (
    FIRST_PASS_COLUMN,
    NAMED_COLUMN,
    PARCEL_COLUMNS,
    PRIOR_SCORE_FEATURES,
    HistoryTable,
    WatchEntry,
)
from training.model import RiskModel
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
    scorer: Scorer | None = None,
    workers: int = 1,
) -> HistoryTable:
    """The history facts of every parcel of a table: its own parcels, and the store's
    (with `scorer`, the parties' earlier scores too, where its model reads them; its first
    pass on `workers` processes)."""
    return sources_history(
        [(source, table_format)], chunk_rows, store=store, now=now, scorer=scorer, workers=workers
    )


def sources_history(
    sources: Sequence[tuple[Source, TableFormat]],
    chunk_rows: int,
    *,
    store: StoreLookup | None = None,
    now: datetime | None = None,
    scorer: Scorer | None = None,
    workers: int = 1,
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
    if scorer is None or not reads_prior_scores(scorer.model):
        return history
    wanted = parcels_read_later(parcels)
    if not len(wanted):
        return history
    found: list[pd.Series] = []
    for source, form in sources:
        with Scoring.start(scorer, workers, form.decimal, history) as scoring:
            found.extend(scoring.first_pass_scores(_wanted_rows(source, form, chunk_rows, wanted)))
    scores = pd.concat(found) if found else pd.Series([], dtype=np.float64)
    best = scores.groupby(level=0).max()
    parcels[FIRST_PASS_COLUMN] = parcels["declaration_id"].map(best).to_numpy(dtype=np.float64)
    return history.with_prior_scores(parcels, known=known, now=now)


def reads_prior_scores(model: RiskModel) -> bool:
    return all(name in model.feature_names for name in PRIOR_SCORE_FEATURES)


def parcels_read_later(parcels: pd.DataFrame) -> pd.Index:
    """The declaration ids of parcels whose sender or recipient is on a later parcel too:
    the only ones whose score another parcel reads. Later as history counts it: by
    `posted_at`, then declaration id; an undated parcel after every dated one."""
    time = pd.to_datetime(parcels["posted_at"], errors="coerce")
    placed = parcels.assign(_time=time.fillna(pd.Timestamp.max)).sort_values(
        ["_time", "declaration_id"], kind="stable"
    )
    earlier = np.zeros(len(placed), dtype=bool)
    for role in ("sender_id", "recipient_id"):
        party = placed[role]
        earlier |= (party.notna() & party.duplicated(keep="last")).to_numpy(dtype=bool)
    return pd.Index(placed["declaration_id"][earlier].unique())


def _wanted_rows(
    source: Source, table_format: TableFormat, chunk_rows: int, wanted: pd.Index
) -> Iterator[pa.Table]:
    """The rows of the wanted parcels, in units that never split a parcel."""
    tables = iter_table_batches(source, chunk_rows=chunk_rows, table_format=table_format)
    for unit in parcel_units(tables):
        rows = unit[0] if len(unit) == 1 else pa.concat_tables(unit, promote_options="default")
        if "declaration_id" not in rows.column_names:
            continue
        present = [c for c in ("declaration_id", LINE_COLUMN) if c in rows.column_names]
        ids = normalise_declarations(
            table_frame(rows.select(present)), with_labels=False, only=("declaration_id",)
        )["declaration_id"]
        keep = ids.isin(wanted).to_numpy()
        if keep.any():
            yield rows.filter(pa.array(keep))
