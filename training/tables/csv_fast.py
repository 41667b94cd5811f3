"""The fast path of the CSV reader: a clean block parsed by pyarrow in one call.

It only answers when every line of the block is accounted for by a clean record (the right
number of fields, no blank line, quotes that close, valid UTF-8); otherwise it returns None
and the block goes to the careful path (`csv_careful`), which reads the same records.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def parse_fast(
    data: bytes, line_count: int, *, names: list[str], delimiter: str
) -> tuple[pa.Table, np.ndarray] | None:
    """The block parsed by pyarrow, if every line is accounted for by a clean record."""
    invalid = False

    def on_invalid_row(_row: object) -> str:
        nonlocal invalid
        invalid = True
        return "skip"

    if _has_blank_line(data):
        return None  # pyarrow would read a blank line as a record
    quoted = b'"' in data
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=quoted,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if invalid:
        return None
    spans = np.ones(table.num_rows, dtype=np.int64)
    if quoted:
        # With as many records as lines, every record is one line and no cell holds a line
        # break, but for the last record: pyarrow takes a quote still open at the end of the
        # data to end there, with the last line end inside the cell (the block ended inside
        # a quoted field, which the careful path carries on into the next block).
        last = max(table.num_rows - 1, 0) if table.num_rows == line_count else 0
        for column in table.slice(last).columns:
            spans[last:] += _line_breaks(column)
    if int(spans.sum()) != line_count:
        return None
    return table, spans


def _has_blank_line(data: bytes) -> bool:
    """Whether a line of the text is empty: a line break at the start or after another.

    After LF, or a CR that is not part of CR LF, any line break starts with LF or CR.
    """
    if data[:1] in (b"\n", b"\r"):
        return True
    if b"\r" not in data:  # one fast byte scan: most exports end lines with LF alone
        return b"\n\n" in data
    return b"\n\n" in data or b"\n\r" in data or b"\r\r" in data


def _line_breaks(column: pa.ChunkedArray) -> np.ndarray:
    """Physical line breaks inside each cell: LF, CR LF and a lone CR count once each."""
    lf = pc.count_substring(column, "\n")
    cr = pc.count_substring(column, "\r")
    crlf = pc.count_substring(column, "\r\n")
    breaks = pc.subtract(pc.add(lf, cr), crlf).fill_null(0)
    return np.asarray(breaks.to_numpy(), dtype=np.int64)
