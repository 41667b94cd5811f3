"""Reading a table in chunks of rows: the one entry point for CSV and Parquet alike.

The CSV reader (`csv_read`) and the Parquet reader (`parquet`) yield raw pieces of any
size; here they are cut into chunks of `chunk_rows` rows under the chunk column names, as
Arrow tables or as pandas frames.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa

from training.files import readable
from training.schema import LINE_COLUMN, READ_ERROR_COLUMN, normalise_declarations
from training.tables.csv_read import csv_pieces
from training.tables.detect import detect_format
from training.tables.parquet import parquet_pieces
from training.tables.source import Source, TableFormat

DEFAULT_CHUNK_ROWS: Final = 100_000


def iter_table_chunks(
    source: Source,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    table_format: TableFormat | None = None,
) -> Iterator[pd.DataFrame]:
    """The records of a table, `chunk_rows` at a time (the last chunk may be shorter).

    Recognised headers are renamed to contract fields, other columns pass through. CSV cells
    are strings or None. Each chunk also has `LINE_COLUMN` (the 1-based line where the record
    starts; for Parquet, the 1-based row number) and `READ_ERROR_COLUMN`. The index is the
    0-based record position in the file. A table without records yields one empty chunk,
    so that its columns are known. The format is detected (and `TableError` raised) at call
    time, not at the first `next()`.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    table_format = table_format or detect_format(source)
    return _frames(iter_table_batches(source, chunk_rows=chunk_rows, table_format=table_format))


def iter_table_batches(
    source: Source,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    table_format: TableFormat | None = None,
) -> Iterator[pa.Table]:
    """The chunks of `iter_table_chunks` as Arrow tables (`table_frame` makes one a chunk).

    For callers that pass records on without looking at most cells: no Python object is
    made per cell.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    table_format = table_format or detect_format(source)
    if table_format.kind == "parquet":
        pieces = parquet_pieces(source, table_format, chunk_rows)
    else:
        pieces = csv_pieces(source, table_format)
    return _rechunk(pieces, table_format.frame_columns(), chunk_rows)


def table_frame(table: pa.Table, first_index: int = 0) -> pd.DataFrame:
    """A table from `iter_table_batches` as a chunk, its index starting at `first_index`."""
    frame: pd.DataFrame = table.to_pandas()
    frame.columns = pd.Index(table.column_names)
    frame.index = pd.RangeIndex(first_index, first_index + len(frame))
    return frame


def _frames(tables: Iterator[pa.Table]) -> Iterator[pd.DataFrame]:
    offset = 0
    for table in tables:
        yield table_frame(table, offset)
        offset += table.num_rows


def read_table(source: Source) -> pd.DataFrame:
    """The whole table in one frame (see `iter_table_chunks`)."""
    chunks = list(iter_table_chunks(source))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks)


def read_declarations(source: Source) -> pd.DataFrame:
    """The table normalised to typed declaration columns, with an `error` per row.

    A stream (`-`, a FIFO) is read once, into a temporary file, and read from there.
    """
    with contextlib.ExitStack() as stack:
        if isinstance(source, Path):
            source = stack.enter_context(readable(source))
        table_format = detect_format(source)
        chunks = list(iter_table_chunks(source, table_format=table_format))
    raw = chunks[0] if len(chunks) == 1 else pd.concat(chunks)
    return normalise_declarations(raw, decimal=table_format.decimal)


def _rechunk(pieces: Iterator[pa.Table], columns: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    """Pieces of any size as tables of `chunk_rows` rows, under the chunk column names.

    Joining and cutting Arrow tables copies nothing; cells become Python objects only when
    (and if) a chunk is converted to pandas.
    """
    buffered: list[pa.Table] = []
    size = 0
    names = [*columns, LINE_COLUMN, READ_ERROR_COLUMN]

    def take(rows: int) -> pa.Table:
        nonlocal buffered, size
        joined = buffered[0] if len(buffered) == 1 else pa.concat_tables(buffered)
        rest = joined.slice(rows)
        buffered = [rest] if rest.num_rows else []
        size = rest.num_rows
        return joined.slice(0, rows).rename_columns(names)

    yielded = False
    for piece in pieces:
        if not piece.num_rows:
            continue
        buffered.append(piece)
        size += piece.num_rows
        while size >= chunk_rows:
            yielded = True
            yield take(chunk_rows)
    if size:
        yield take(size)
    elif not yielded:
        yield _empty_table(names)


def _empty_table(names: list[str]) -> pa.Table:
    types = [pa.string()] * (len(names) - 2) + [pa.int64(), pa.string()]
    return pa.Table.from_arrays([pa.array([], type=kind) for kind in types], names=names)
