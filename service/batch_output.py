"""What a run writes: which input columns go out under which names, and a unit of rows
scored and rendered for the writer (CSV bytes, or an Arrow table for Parquet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd
import pyarrow as pa

from service.batch_scoring import OUTPUT_SCORE_COLUMNS, score_rows
from service.scorer import Scorer
from training.history import FIRST_PASS_COLUMN, HistoryTable
from training.schema import (
    DECLARATION_FIELDS,
    ERROR_COLUMN,
    LINE_COLUMN,
    READ_ERROR_COLUMN,
    canonical_header,
)
from training.tables import Decimal, Kind, TableError, TableFormat, table_frame
from training.tables import csv_bytes as table_csv_bytes

FLAGGED_DECISIONS: Final = ("review", "inspect")
# Columns the workers need: the contract fields and what the reader adds for errors.
WORKER_COLUMNS: Final = (*DECLARATION_FIELDS, LINE_COLUMN, READ_ERROR_COLUMN)


class UnusableInputError(TableError, ValueError):
    """Input that cannot be scored at all (not a table, no description column, ...).

    A `TableError`, and a `ValueError` for callers that only know about the latter.
    """


@dataclass(frozen=True)
class OutputLayout:
    """Which reader columns go out, under which names, followed by the score columns."""

    input_columns: tuple[str, ...]
    input_names: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [*self.input_names, *OUTPUT_SCORE_COLUMNS]

    @classmethod
    def of(cls, table_format: TableFormat, columns: Sequence[str] | None = None) -> OutputLayout:
        """The layout for a table, with all its columns or only `columns` (by header name).

        Input columns keep their original header; one that clashes with a score column or
        with another kept column gets a suffix, so every output column has its own name.
        """
        frame_columns = table_format.frame_columns()
        originals = list(table_format.columns)
        if columns is None:
            positions = list(range(len(originals)))
        else:
            positions = [_column_position(name, originals, frame_columns) for name in columns]
        taken = set(OUTPUT_SCORE_COLUMNS)
        names: list[str] = []
        for position in positions:
            base = originals[position]
            name = base if base not in taken else f"{base}.input"
            copy = 1
            while name in taken:
                copy += 1
                name = f"{base}.input{copy}"
            taken.add(name)
            names.append(name)
        return cls(tuple(frame_columns[p] for p in positions), tuple(names))


def _column_position(name: str, originals: list[str], frame_columns: list[str]) -> int:
    wanted = name.strip()
    if wanted in originals:
        return originals.index(wanted)
    contract_field = canonical_header(wanted)
    if contract_field is not None and contract_field in frame_columns:
        return frame_columns.index(contract_field)
    known = ", ".join(repr(c) for c in originals)
    raise UnusableInputError(f"--columns: no column {wanted!r} in the input (columns: {known})")


def output_frame(piece: pd.DataFrame, scores: pd.DataFrame, layout: OutputLayout) -> pd.DataFrame:
    """Reader rows with their score columns, under the output names."""
    values = [piece[column].to_numpy() for column in layout.input_columns]
    values += [scores[name].to_numpy() for name in OUTPUT_SCORE_COLUMNS]
    frame = pd.DataFrame(dict(enumerate(values)), index=piece.index)
    frame.columns = pd.Index(layout.names)
    return frame


def output_table(piece: pa.Table, scores: pd.DataFrame, layout: OutputLayout) -> pa.Table:
    """`output_frame` for a piece read as an Arrow table: its columns go out as they are."""
    columns = [piece.column(column) for column in layout.input_columns]
    for name in OUTPUT_SCORE_COLUMNS:
        values = scores[name].to_numpy()
        try:
            array = (
                pa.array(values)
                if values.dtype.kind == "f"
                else pa.array(values, type=pa.string(), from_pandas=True)
            )
        except (pa.ArrowException, UnicodeError):
            # Not plain text: pandas writes it as it always has.
            return pa.Table.from_pandas(
                output_frame(table_frame(piece), scores, layout), preserve_index=False
            )
        columns.append(pa.chunked_array([array]))
    return pa.Table.from_arrays(columns, names=layout.names)


@dataclass(frozen=True)
class RenderedUnit:
    """A unit of rows scored and made ready for the writer, with its counts.

    This is what comes back from a worker: CSV bytes or an Arrow table pickle as buffers,
    where score columns of Python objects would cost both sides a call per cell.
    """

    rows: int
    errors: int
    flagged: int
    csv: bytes | None = None  # CSV lines without the header, for CSV output
    table: pa.Table | None = None  # for Parquet output


def render_unit(
    scorer: Scorer,
    unit: list[pa.Table],
    decimal: Decimal,
    layout: OutputLayout,
    kind: Kind,
    history: HistoryTable | None = None,
    *,
    keep_table: bool = False,
) -> RenderedUnit:
    """Score a unit of reader tables and render its output rows (`keep_table`: the table
    too when rendering CSV, for an audit of the rows)."""
    rows = unit[0] if len(unit) == 1 else pa.concat_tables(unit, promote_options="default")
    scores = score_rows(scorer, table_frame(worker_view(rows)), decimal, history)
    table = output_table(rows, scores, layout)
    kept = table if kind != "csv" else None
    if kind == "csv" and keep_table:
        # The audit of a CSV answer keeps each parcel's first-pass score for the store, in a
        # column beyond the answer's, always the last (`service.store.records.csv_rows`).
        first_pass = pa.array(scores[FIRST_PASS_COLUMN].to_numpy(dtype=float), from_pandas=True)
        kept = table.append_column(FIRST_PASS_COLUMN, first_pass)
    return RenderedUnit(
        rows=len(scores),
        errors=int(scores[ERROR_COLUMN].notna().sum()),
        flagged=int(scores["decision"].isin(FLAGGED_DECISIONS).sum()),
        csv=table_csv_bytes(table) if kind == "csv" else None,
        table=kept,
    )


def worker_view(piece: pa.Table) -> pa.Table:
    # Only the columns scoring reads: Arrow tables pickle as their buffers, and a wide
    # export's other columns stay with the parent, which writes them out as they are.
    return piece.select([c for c in piece.column_names if c in WORKER_COLUMNS])
