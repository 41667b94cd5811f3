"""Reading a Parquet file as raw pieces: one per record batch, columns as the file types them.

Contract fields become text, except numbers and dates that the file already types; other
columns pass through as they are. Each piece ends with the 1-based row number and an
empty read error, as the CSV reader's pieces do.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from training.schema import NUMERIC_FIELDS
from training.tables.source import ERROR, LINE, Source, TableFormat, open_binary, piece_names


def parquet_pieces(
    source: Source, table_format: TableFormat, chunk_rows: int
) -> Iterator[pa.Table]:
    fields = [table_format.renames.get(c) for c in table_format.columns]
    names = piece_names(len(fields))
    first_row = 1
    with open_binary(source) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=chunk_rows):
            arrays = [
                _parquet_column(array, contract_field)
                for array, contract_field in zip(batch.columns, fields, strict=True)
            ]
            rows = batch.num_rows
            lines = pa.array(np.arange(first_row, first_row + rows, dtype=np.int64))
            arrays += [lines, pa.nulls(rows, type=pa.string())]
            first_row += rows
            yield pa.Table.from_arrays(arrays, names=[*names, LINE, ERROR])


def _parquet_column(array: pa.Array, contract_field: str | None) -> pa.Array:
    """Contract fields as text, except numbers and dates that are typed already."""
    kind = array.type
    if contract_field is None:
        return array
    if contract_field in NUMERIC_FIELDS and (
        pa.types.is_integer(kind) or pa.types.is_floating(kind)
    ):
        return array
    if contract_field == "posted_at" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return pc.cast(array, pa.timestamp("us"))
    if pa.types.is_string(kind):
        return array
    return pc.cast(array, pa.string())
