"""Writing a table file atomically: it appears, complete, only when the writer closes cleanly.

CSV goes out through `csv_write` (UTF-8, `,`-separated, formula-guarded), Parquet through
pyarrow; `"-"` writes CSV to standard output.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.files import UnusableFileError, output_destination, partial_file, put_in_place
from training.tables.csv_write import csv_bytes
from training.tables.read import table_frame
from training.tables.source import Kind, TableError


class AtomicTableWriter:
    """Streams chunks to a file that only appears, complete, when the writer closes cleanly.

    Chunks go to a temporary file next to the destination, which replaces the destination
    on a clean exit from the `with` block; after an exception the temporary file is
    removed and the destination is left as it was. A destination that exists and is not a
    regular file is refused (`TableError`), and partial files of killed runs towards the
    same destination are removed (see `training.files`). `"-"` writes CSV to standard output.
    CSV output is UTF-8 and `,`-separated, with `guard_formulas` applied.
    """

    def __init__(
        self,
        dest: Path | Literal["-"],
        kind: Kind | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.dest = dest
        if kind is None:
            kind = (
                "parquet"
                if dest != "-" and Path(dest).suffix.lower() in (".parquet", ".pq")
                else "csv"
            )
        if dest == "-" and kind != "csv":
            raise ValueError("only CSV can be written to standard output")
        self.kind: Kind = kind
        self.columns = list(columns) if columns is not None else None
        self._temp: Path | None = None
        self._handle: IO[bytes] | None = None
        self._text: IO[str] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._wrote_header = False

    def __enter__(self) -> AtomicTableWriter:
        if self.dest == "-":
            self._text = sys.stdout
            return self
        try:
            # A destination that is not a regular file would be replaced by one.
            self.dest = output_destination(Path(self.dest))
        except UnusableFileError as exc:
            raise TableError(str(exc)) from None
        self._handle, self._temp = partial_file(self.dest)
        return self

    def write(self, chunk: pd.DataFrame | pa.Table) -> None:
        """Appends a chunk: a frame, or an Arrow table (text columns go out without pandas)."""
        if self._text is None and self._handle is None:
            raise RuntimeError("AtomicTableWriter must be used as a context manager")
        if isinstance(chunk, pa.Table):
            if self.columns is None:
                self.columns = list(chunk.column_names)
            if self.kind == "csv":
                self._write_csv(_select(chunk, self.columns))
                return
            chunk = table_frame(chunk)
        if self.columns is None:
            self.columns = [str(c) for c in chunk.columns]
        chunk = chunk.reindex(columns=self.columns)
        if self.kind == "csv":
            self._write_csv(chunk)
        else:
            self._write_parquet(chunk)

    def write_csv_lines(self, data: bytes) -> None:
        """Appends CSV lines made by `csv_bytes` (without a header) for this writer's columns.

        For callers that render rows elsewhere (in worker processes, say) and only hand on
        the bytes.
        """
        if self.kind != "csv" or self.columns is None:
            raise ValueError("CSV lines need a CSV writer with its columns set")
        if not self._wrote_header:
            self._write_csv(pd.DataFrame(columns=self.columns))
        self._write_bytes(data)

    def _write_csv(self, chunk: pd.DataFrame | pa.Table) -> None:
        assert self.columns is not None
        data = csv_bytes(chunk, header=None if self._wrote_header else self.columns)
        self._wrote_header = True
        self._write_bytes(data)

    def _write_bytes(self, data: bytes) -> None:
        if self._text is None and self._handle is None:
            raise RuntimeError("AtomicTableWriter must be used as a context manager")
        if self._handle is not None:
            self._handle.write(data)
            return
        assert self._text is not None
        binary: IO[bytes] | None = getattr(self._text, "buffer", None)
        if binary is None:
            self._text.write(data.decode("utf-8"))
            return
        self._text.flush()  # whatever went out as text before stays in front of these bytes
        binary.write(data)

    def _write_parquet(self, chunk: pd.DataFrame) -> None:
        assert self._handle is not None
        if self._schema is None:
            inferred = pa.Schema.from_pandas(chunk, preserve_index=False)
            # A column that is empty in the first chunk has no type yet; text is the safe one.
            self._schema = pa.schema(
                [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in inferred]
            )
            self._parquet = pq.ParquetWriter(self._handle, self._schema)
        assert self._parquet is not None
        table = pa.Table.from_pandas(chunk, schema=self._schema, preserve_index=False)
        self._parquet.write_table(table)

    def _finish(self) -> None:
        if self.kind == "csv" and not self._wrote_header and self.columns is not None:
            self._write_csv(pd.DataFrame(columns=self.columns))
        if self.kind == "parquet" and self._parquet is None:
            self._write_parquet(
                pd.DataFrame({c: pd.Series(dtype=object) for c in self.columns or []})
            )
        if self._parquet is not None:
            self._parquet.close()
        if self._text is not None:
            self._text.flush()
            binary: IO[bytes] | None = getattr(self._text, "buffer", None)
            if binary is not None:
                binary.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.dest == "-":
            if exc_type is None:
                self._finish()
            return
        assert self._temp is not None and self._handle is not None
        try:
            if exc_type is None:
                self._finish()
                self._handle.flush()
                os.fsync(self._handle.fileno())
        except BaseException:
            self._discard()
            raise
        if exc_type is not None:
            self._discard()
            return
        self._handle.close()
        put_in_place(self._temp, Path(self.dest))

    def _discard(self) -> None:
        assert self._temp is not None and self._handle is not None
        with contextlib.suppress(Exception):
            if self._parquet is not None:
                self._parquet.close()
        with contextlib.suppress(OSError):
            self._handle.close()
        self._temp.unlink(missing_ok=True)


def _select(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """The named columns, in that order; a name the table lacks gives an empty column."""
    present = set(table.column_names)
    columns = [
        table.column(name) if name in present else pa.nulls(table.num_rows, type=pa.string())
        for name in names
    ]
    return pa.Table.from_arrays(columns, names=list(names))
