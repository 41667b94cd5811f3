"""Reading a CSV file as raw pieces of records, block by block.

Clean blocks go through the pyarrow CSV parser (`csv_fast`); a block it cannot account for
line by line (a record with the wrong number of fields, a quote that never closes,
undecodable bytes) is re-read with the `csv` module (`csv_careful`), which lets each record
be repaired and explained on its own. Either way a record is one row, and a record that
could not be read cleanly carries a message.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from training.tables.csv_blocks import Block, Reads, line_blocks
from training.tables.csv_careful import CarefulParser, Piece
from training.tables.csv_fast import parse_fast
from training.tables.source import (
    ERROR,
    LINE,
    Source,
    TableError,
    TableFormat,
    display_name,
    open_binary,
    piece_names,
    replace_undecodable,
)


def csv_pieces(source: Source, table_format: TableFormat) -> Iterator[pa.Table]:
    assert table_format.encoding is not None and table_format.delimiter is not None
    name = display_name(source)
    columns = table_format.frame_columns()
    with open_binary(source) as binary:
        parser = _BlockParser(
            width=len(columns),
            delimiter=table_format.delimiter,
            encoding=table_format.encoding,
        )
        blocks = line_blocks(Reads(binary, table_format.encoding))
        header, carry = _read_header(blocks, parser)
        if len(header) != len(table_format.columns):
            raise TableError(
                f"{name}: the header has {len(header)} columns, expected "
                f"{len(table_format.columns)}"
            )
        for fresh in blocks:
            block = fresh if carry is None else carry.followed_by(fresh)
            piece, carry = parser.parse(block)
            if len(piece[0]):
                yield _piece_table(piece, len(columns))
        if carry is not None:  # the file ended inside a quoted field
            piece, _ = parser.parse(Block(carry.content, carry.first_line, final=True))
            yield _piece_table(piece, len(columns))


class _BlockParser:
    """Turns blocks of lines into records: pyarrow for clean blocks, `csv` otherwise."""

    def __init__(self, *, width: int, delimiter: str, encoding: str) -> None:
        self.delimiter = delimiter
        self.names = piece_names(width)
        self.careful = CarefulParser(width=width, delimiter=delimiter, encoding=encoding)

    def parse(self, block: Block) -> tuple[Piece, Block | None]:
        """Records of a block, and the lines of a record the block ends inside of (if any)."""
        if not block.content:
            return ([], [], {}), None
        data = block.utf8
        if data is not None:
            fast = parse_fast(data, block.line_count, names=self.names, delimiter=self.delimiter)
            if fast is not None:
                table, spans = fast
                starts = block.first_line + np.concatenate(([0], np.cumsum(spans)[:-1]))
                return (table, starts, {}), None
        return self.careful.parse(block)


def _read_header(blocks: Iterator[Block], parser: _BlockParser) -> tuple[list[str], Block | None]:
    """The header record, and the block lines that follow it."""
    for block in blocks:
        lines = block.lines
        start = 0
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start == len(lines):
            continue
        reader = csv.reader(lines[start:], delimiter=parser.delimiter)
        try:
            header = next(reader)
        except csv.Error as exc:
            raise TableError(f"the header line cannot be read ({exc})") from None
        used = start + reader.line_num
        rest = Block("".join(lines[used:]), block.first_line + used, block.final)
        return [replace_undecodable(h) for h in header], rest
    return [], None


def _piece_table(piece: Piece, width: int) -> pa.Table:
    """A piece as text columns `c0`... plus the start line and the read error of each record."""
    records, starts, errors = piece
    if isinstance(records, pa.Table):
        table = records
    else:
        cells = list(zip(*records, strict=True)) if records else [()] * width
        table = pa.Table.from_arrays(
            [pa.array(column, type=pa.string()) for column in cells], names=piece_names(width)
        )
    messages: list[str | None] = [None] * table.num_rows
    for position, message in errors.items():
        messages[position] = message
    table = table.append_column(LINE, pa.array(np.asarray(starts, dtype=np.int64)))
    return table.append_column(ERROR, pa.array(messages, type=pa.string()))
