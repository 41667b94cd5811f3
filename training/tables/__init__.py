"""Reading real declaration exports in chunks, and writing results atomically.

Exports come from many systems: `;` or `,` separated, UTF-8 (with or without BOM), cp1251
or GB18030, decimal commas, headers in several languages, and now and then a broken record.
The reader streams the file in blocks and never drops a record: each record becomes one row,
and a record that could not be read cleanly carries a message in `READ_ERROR_COLUMN`.

Clean blocks go through the pyarrow CSV parser; a block it cannot account for line by line
(a record with the wrong number of fields, a quote that never closes, undecodable bytes) is
re-read with the `csv` module, which lets each record be repaired and explained on its own.

One job a module:

- `source`: the source and its detected format, opening it, `TableError`.
- `detect`: which format a file is in (Parquet or CSV; encoding, delimiter, decimal, header).
- `read`: the chunked reading API over both formats (`iter_table_chunks` and the rest).
- `csv_read`: a CSV file as raw pieces, block by block, by one of two paths:
  `csv_fast` (pyarrow, for clean blocks) or `csv_careful` (the `csv` module, record by
  record); `csv_blocks` cuts the file into blocks of whole lines.
- `parquet`: a Parquet file as raw pieces.
- `csv_write`: frames and Arrow tables as CSV bytes, formula-guarded.
- `atomic`: `AtomicTableWriter`, which writes a CSV or Parquet file atomically.

Callers import from `training.tables`; the modules are its parts.
"""

from training.tables.atomic import AtomicTableWriter
from training.tables.csv_write import csv_bytes, guard_formulas
from training.tables.detect import DELIMITERS, ENCODINGS, detect_format
from training.tables.read import (
    DEFAULT_CHUNK_ROWS,
    iter_table_batches,
    iter_table_chunks,
    read_declarations,
    read_table,
    table_frame,
)
from training.tables.source import (
    MAX_FIELD_CHARS,
    Decimal,
    Kind,
    Source,
    TableError,
    TableFormat,
    allow_large_csv_fields,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DELIMITERS",
    "ENCODINGS",
    "MAX_FIELD_CHARS",
    "AtomicTableWriter",
    "Decimal",
    "Kind",
    "Source",
    "TableError",
    "TableFormat",
    "allow_large_csv_fields",
    "csv_bytes",
    "detect_format",
    "guard_formulas",
    "iter_table_batches",
    "iter_table_chunks",
    "read_declarations",
    "read_table",
    "table_frame",
]
