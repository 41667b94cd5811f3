"""The careful path of the CSV reader: a block read record by record with the `csv` module.

Every record becomes a row, whatever is wrong with it, and says what was: too many or too
few fields (cut or padded), a quote that never closes (the line read again without
quoting, so that one stray quote cannot swallow the rest of the file), bytes that are not
valid in the file's encoding (shown as U+FFFD). A block that ends inside a quoted field
hands the lines of that record on to be read with the next block.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa

from training.tables.csv_blocks import Block
from training.tables.source import UNDECODABLE, replace_undecodable

# Records of a block: cells (or a table of them), the line each starts on, read errors.
Piece = tuple[list[list[str | None]] | pa.Table, list[int] | np.ndarray, dict[int, str]]

# A quoted field longer than this is taken to be a quote that never closes, so that one
# stray quote cannot swallow (and buffer) the rest of the file.
_MAX_RECORD_LINES: Final = 1_000
_MAX_RECORD_CHARS: Final = 1 << 20
# Fed to the `csv` module after a block: if it ends up inside a field, the block ended
# inside a quoted field. A noncharacter, so it does not occur in real text.
_SENTINEL: Final = "\ufdd0"
_UNCLOSED_QUOTE: Final = "a quote opened in this record never closes"


class CarefulParser:
    """Reads blocks of lines with the `csv` module, repairing and explaining each record."""

    def __init__(self, *, width: int, delimiter: str, encoding: str) -> None:
        self.width = width
        self.delimiter = delimiter
        self.encoding = encoding

    def parse(self, block: Block) -> tuple[Piece, Block | None]:
        """Records of a block, and the lines of a record the block ends inside of (if any)."""
        records = _Records()
        lines = block.lines
        position = 0
        while position < len(lines):
            outcome = self._parse_from(lines, position, final=block.final, records=records)
            if isinstance(outcome, _Incomplete):
                carry = Block(
                    "".join(lines[outcome.start :]), block.first_line + outcome.start, False
                )
                return records.piece(block.first_line), carry
            if outcome is None:
                break
            # A quote that never closes: the line it opens on is read without quoting,
            # and reading resumes on the next line.
            self._add_unquoted(lines[outcome.start], outcome, records)
            position = outcome.start + 1
        return records.piece(block.first_line), None

    def _parse_from(
        self, lines: list[str], position: int, *, final: bool, records: _Records
    ) -> _Broken | _Incomplete | None:
        """Reads records from `position` on, until the block ends or a record is broken."""
        reader = csv.reader([*lines[position:], _SENTINEL + "\n"], delimiter=self.delimiter)
        end = position
        while True:
            start = end
            try:
                row = next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                return _Broken(start, f"cannot be parsed ({exc})")
            end = position + reader.line_num
            if not row:
                continue
            if row == [_SENTINEL]:
                return None
            spanned = end - start
            if _SENTINEL in row[-1]:
                spanned -= 1
                record_text = sum(len(line) for line in lines[start:end])
                if final or spanned > _MAX_RECORD_LINES or record_text > _MAX_RECORD_CHARS:
                    return _Broken(start, _UNCLOSED_QUOTE)
                return _Incomplete(start)
            if len(row) != self.width and spanned > 1:
                return _Broken(start, _UNCLOSED_QUOTE)
            if len(row) == 1 and self.width > 1 and not row[0].strip():
                continue  # a line of blanks is no record
            records.add(start, *self._cells(row, self._width_problem(len(row))))

    def _add_unquoted(self, line: str, broken: _Broken, records: _Records) -> None:
        try:
            row = next(csv.reader([line], delimiter=self.delimiter, quoting=csv.QUOTE_NONE), [])
        except csv.Error as exc:
            # Not even readable without quoting (a field over the limit): the record stays,
            # empty, with the reason.
            reason = broken.reason if str(exc) in broken.reason else f"{broken.reason}; {exc}"
            records.add(broken.start, [None] * self.width, reason)
            return
        reason = f"{broken.reason}; the line was read without quoting"
        values, message = self._cells(row, _join(reason, self._width_problem(len(row))))
        records.add(broken.start, values, message)

    def _width_problem(self, width: int) -> str | None:
        if width > self.width:
            return f"has {width} fields, expected {self.width}: the extra fields were dropped"
        if width < self.width:
            return f"has {width} fields, expected {self.width}: the missing ones are empty"
        return None

    def _cells(self, row: list[str], message: str | None) -> tuple[list[str | None], str | None]:
        """The row as exactly `width` cells, and its read error with any undecodable bytes."""
        cells: list[str | None] = [value or None for value in row[: self.width]]
        cells.extend([None] * (self.width - len(cells)))
        undecodable = False
        for i, value in enumerate(cells):
            if value is not None and UNDECODABLE.search(value):
                cells[i] = replace_undecodable(value)
                undecodable = True
        if undecodable:
            message = _join(
                message, f"contains bytes that are not valid {self.encoding} (shown as \ufffd)"
            )
        return cells, message


@dataclass
class _Records:
    """Records read by the `csv` module: cells, starting line offsets and read errors."""

    rows: list[list[str | None]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)

    def add(self, start: int, cells: list[str | None], message: str | None) -> None:
        if message:
            self.errors[len(self.rows)] = message
        self.rows.append(cells)
        self.starts.append(start)

    def piece(self, first_line: int) -> Piece:
        return self.rows, [first_line + s for s in self.starts], self.errors


@dataclass(frozen=True)
class _Broken:
    start: int
    reason: str


@dataclass(frozen=True)
class _Incomplete:
    start: int


def _join(first: str | None, second: str | None) -> str:
    return "; ".join(m for m in (first, second) if m)
