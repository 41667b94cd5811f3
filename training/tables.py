"""Reading real declaration exports in chunks, and writing results atomically.

Exports come from many systems: `;` or `,` separated, UTF-8 (with or without BOM), cp1251
or GB18030, decimal commas, headers in several languages, and now and then a broken record.
The reader streams the file in blocks and never drops a record: each record becomes one row,
and a record that could not be read cleanly carries a message in `READ_ERROR_COLUMN`.

Clean blocks go through the pyarrow CSV parser; a block it cannot account for line by line
(a record with the wrong number of fields, a quote that never closes, undecodable bytes) is
re-read with the `csv` module, which lets each record be repaired and explained on its own.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from training.files import UnusableFileError, output_destination, partial_file, readable
from training.schema import (
    INVISIBLE_RANGES,
    INVISIBLE_RE2,
    LINE_COLUMN,
    NUMERIC_FIELDS,
    READ_ERROR_COLUMN,
    SPACING_CONTROLS,
    SPACING_CONTROLS_RE2,
    canonical_header,
    export_text,
    infer_decimal,
    normalise_declarations,
)

Source = Path | bytes
Kind = Literal["csv", "parquet"]
Decimal = Literal[",", "."]

DEFAULT_CHUNK_ROWS: Final = 100_000
DELIMITERS: Final = (",", ";", "\t", "|")
ENCODINGS: Final = ("utf-8", "utf-8-sig", "cp1251", "gb18030")

# Enough text to judge the encoding and the delimiter, small enough to read at once.
_SAMPLE_BYTES: Final = 1 << 20
# Text handed to the parser at a time: large enough to amortise pyarrow's per-call cost.
_BLOCK_CHARS: Final = 4 << 20
# A quoted field longer than this is taken to be a quote that never closes, so that one
# stray quote cannot swallow (and buffer) the rest of the file.
_MAX_RECORD_LINES: Final = 1_000
_MAX_RECORD_CHARS: Final = 1 << 20
# Fed to the `csv` module after a block: if it ends up inside a field, the block ended
# inside a quoted field. A noncharacter, so it does not occur in real text.
_SENTINEL: Final = "\ufdd0"
_UNCLOSED_QUOTE: Final = "a quote opened in this record never closes"
# What `surrogateescape` turns undecodable bytes into.
_UNDECODABLE: Final = re.compile("[\udc80-\udcff]")
_NUMBER_FIELDS: Final = ("net_weight_kg", "gross_weight_kg", "value", "quantity")
# Longest field the `csv` module reads. Its default (131,072 characters) is far below what a
# request body or an export may hold in one cell, and a field over it stopped the whole
# read. The limit is the process's own (the module has no other); above this much a field
# is reported on its record instead.
MAX_FIELD_CHARS: Final = 1 << 26


def allow_large_csv_fields() -> None:
    """Raise the `csv` module's field size limit to `MAX_FIELD_CHARS` (never lower it)."""
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)


allow_large_csv_fields()

# Names of the start line and read error columns inside the reader's Arrow tables.
_LINE: Final = "line"
_ERROR: Final = "read_error"


class TableError(Exception):
    """An input that cannot be read as a table at all; the message is one user-facing line."""


@dataclass(frozen=True)
class TableFormat:
    """How a table file is written, as detected from its first bytes."""

    kind: Kind
    encoding: str | None
    delimiter: str | None
    decimal: Decimal
    columns: tuple[str, ...]
    renames: dict[str, str] = field(default_factory=dict)

    def frame_columns(self) -> list[str]:
        """The column names chunks carry: contract fields where recognised, else as found."""
        return _frame_columns(self.columns, self.renames)


# --- opening ----------------------------------------------------------------------------------


def _display_name(source: Source) -> str:
    return str(source) if isinstance(source, Path) else "input"


@contextlib.contextmanager
def _open_binary(source: Source) -> Iterator[IO[bytes]]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
        return
    path = Path(source)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TableError(f"{path}: is a directory, not a table file") from None
    except OSError as exc:
        raise TableError(f"{path}: cannot be opened ({exc.strerror or exc})") from None
    with handle:
        yield handle


def _read_sample(source: Source) -> tuple[bytes, bool]:
    """The first bytes of the source, and whether they are the whole of it."""
    with _open_binary(source) as handle:
        sample = handle.read(_SAMPLE_BYTES + 1)
    return sample[:_SAMPLE_BYTES], len(sample) <= _SAMPLE_BYTES


# --- format detection -------------------------------------------------------------------------


def detect_format(source: Source) -> TableFormat:
    """The kind, encoding, delimiter, decimal separator and header of a table file.

    Raises `TableError` for anything that is not a readable declaration table.
    """
    name = _display_name(source)
    sample, complete = _read_sample(source)
    if not sample:
        raise TableError(f"{name} is empty")
    if sample.startswith(b"PAR1"):
        return _detect_parquet(source, name)
    _reject_non_text(sample, name)
    encoding = _detect_encoding(sample, complete, name)
    text = codecs.getincrementaldecoder(encoding)("replace").decode(sample, final=complete)
    lines = io.StringIO(text, newline="").readlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # possibly cut short by the sample
    lines = _without_leading_blank_lines(lines)
    if not lines:
        raise TableError(f"{name} is empty (no header line)")
    delimiter = _detect_delimiter(lines)
    records = _sample_records(lines, delimiter)
    columns = tuple(records[0])
    renames = _recognised_headers(columns, name)
    decimal = _detect_decimal(records[1:], columns, renames)
    return TableFormat("csv", encoding, delimiter, decimal, columns, renames)


def _reject_non_text(sample: bytes, name: str) -> None:
    if sample.startswith(b"PK\x03\x04"):
        raise TableError(
            f"{name} is a zip archive (an Excel workbook?), not a text table: export it as CSV"
        )
    if sample.startswith(b"\x1f\x8b"):
        raise TableError(f"{name} is gzip-compressed: decompress it first")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TableError(f"{name} is UTF-16 text, which is not supported: save it as UTF-8")
    if b"\x00" in sample:
        raise TableError(f"{name} is not a text table (it contains binary data)")
    if sample.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1] in (b"{", b"["):
        raise TableError(f"{name} looks like JSON, not a CSV or Parquet table")


def _without_leading_blank_lines(lines: list[str]) -> list[str]:
    for position, line in enumerate(lines):
        if line.strip():
            return lines[position:]
    return []


def _decodes(encoding: str, sample: bytes, complete: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=complete)
    except UnicodeDecodeError:
        return None


def _detect_encoding(sample: bytes, complete: bool, name: str) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _reads_as_utf8(sample, complete):
        return "utf-8"
    # cp1251 and GB18030 decode almost any bytes, so a candidate must also read as the
    # script it is for.
    plausible = []
    for encoding, reads_well in (("cp1251", _reads_as_cyrillic), ("gb18030", _reads_as_chinese)):
        text = _decodes(encoding, sample, complete)
        if text is not None and reads_well(text):
            plausible.append(encoding)
    if len(plausible) == 1:
        return plausible[0]
    if plausible:
        return _charset_normalizer_choice(sample, plausible)
    raise TableError(
        f"{name}: cannot tell the text encoding (it is not UTF-8, cp1251 or GB18030): "
        "save it as UTF-8"
    )


def _reads_as_utf8(sample: bytes, complete: bool) -> bool:
    """UTF-8, allowing a few damaged bytes among many well-formed non-ASCII characters.

    Text in a legacy encoding almost never forms valid multi-byte UTF-8 sequences, so a
    file whose non-ASCII text is mostly valid UTF-8 is UTF-8 with some damage, which the
    reader reports on the records that hold it.
    """
    text = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(sample, complete)
    damaged = len(_UNDECODABLE.findall(text))
    if not damaged:
        return True
    valid = len(re.findall(r"[^\x00-\x7f\udc80-\udcff]", text))
    return valid >= 20 * damaged


def _non_ascii_counts(text: str) -> Counter[str]:
    return Counter(re.findall(r"[^\x00-\x7f]", text))


_CYRILLIC_LETTER: Final = re.compile(r"[А-яЁё]")
_CYRILLIC_WORD: Final = re.compile(r"[А-яЁё]{2,}")
_CP1251_PUNCTUATION: Final = frozenset("№«»—–“”„…‘’•\u00a0")


def _reads_as_cyrillic(text: str) -> bool:
    counts = _non_ascii_counts(text)
    total = sum(counts.values())
    usual = sum(
        n for c, n in counts.items() if _CYRILLIC_LETTER.match(c) or c in _CP1251_PUNCTUATION
    )
    if total == 0 or usual < 0.95 * total:
        return False
    # Other scripts read as cp1251 come out as Cyrillic letters of random case.
    words = _CYRILLIC_WORD.findall(text)
    cased = sum(1 for w in words if w.islower() or w.isupper() or w.istitle())
    return cased >= 0.9 * len(words)


def _in_gb2312(char: str) -> bool:
    """Whether a character is in GB2312, the everyday subset of GB18030 (CJK, Cyrillic, ...)."""
    if "\uff00" <= char <= "\uffef":
        return True
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _reads_as_chinese(text: str) -> bool:
    # Other encodings read as GB18030 come out as rare characters outside GB2312.
    counts = _non_ascii_counts(text)
    total = sum(counts.values())
    usual = sum(n for c, n in counts.items() if _in_gb2312(c))
    return total > 0 and usual >= 0.95 * total


def _charset_normalizer_choice(sample: bytes, candidates: list[str]) -> str:
    best = from_bytes(sample[: 64 << 10], cp_isolation=candidates).best()
    if best is not None and best.encoding in candidates:
        return str(best.encoding)
    return candidates[0]


def _sample_records(lines: list[str], delimiter: str, limit: int = 2_000) -> list[list[str]]:
    records: list[list[str]] = []
    try:
        for row in csv.reader(lines, delimiter=delimiter):
            if row:
                records.append(row)
            if len(records) > limit:
                break
    except csv.Error:
        pass  # the reader explains broken records; the sample only needs the good ones
    return records or [[]]


def _detect_delimiter(lines: list[str]) -> str:
    def score(delimiter: str) -> tuple[int, int, float, int]:
        records = _sample_records(lines, delimiter, limit=50)
        header = records[0]
        width = len(header)
        body = records[1:]
        consistent = sum(len(r) == width for r in body) / len(body) if body else 1.0
        recognised = sum(canonical_header(h) is not None for h in header)
        return (width > 1, recognised, consistent, width)

    scores = {delimiter: score(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: scores[d])
    return best if scores[best][0] else ","


def _recognised_headers(columns: Sequence[str], name: str) -> dict[str, str]:
    renames: dict[str, str] = {}
    owners: dict[str, str] = {}
    for column in columns:
        contract_field = canonical_header(column)
        if contract_field is None:
            continue
        if contract_field in owners:
            raise TableError(
                f"{name}: columns {owners[contract_field]!r} and {column!r} both mean "
                f"{contract_field}: keep one of them"
            )
        owners[contract_field] = column
        renames[column] = contract_field
    if "description" not in owners:
        found = ", ".join(repr(c) for c in columns) or "none"
        raise TableError(f"{name}: no description column (columns found: {found})")
    return renames


def _detect_decimal(
    records: list[list[str]], columns: Sequence[str], renames: dict[str, str]
) -> Decimal:
    positions = [i for i, c in enumerate(columns) if renames.get(c) in _NUMBER_FIELDS]
    values = [r[i] for r in records for i in positions if i < len(r) and r[i]]
    if not values:
        return "."
    return infer_decimal(pd.Series(values, dtype=object))


def _frame_columns(columns: Sequence[str], renames: dict[str, str]) -> list[str]:
    """Contract names for recognised headers; others as found, made unique and non-empty."""
    names: list[str] = []
    taken = {LINE_COLUMN, READ_ERROR_COLUMN, *renames.values()}
    for position, column in enumerate(columns):
        if column in renames:
            names.append(renames[column])
            continue
        base = column if column.strip() else f"unnamed_{position + 1}"
        candidate, copy = base, 0
        while candidate in taken:
            copy += 1
            candidate = f"{base}.{copy}"
        taken.add(candidate)
        names.append(candidate)
    return names


def _detect_parquet(source: Source, name: str) -> TableFormat:
    try:
        with _open_binary(source) as handle:
            columns = tuple(pq.ParquetFile(handle).schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        raise TableError(f"{name}: not a readable Parquet file ({exc})") from None
    renames = _recognised_headers(columns, name)
    return TableFormat("parquet", None, None, ".", columns, renames)


# --- reading ----------------------------------------------------------------------------------


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
        pieces = _parquet_pieces(source, table_format, chunk_rows)
    else:
        pieces = _csv_pieces(source, table_format)
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


# --- CSV --------------------------------------------------------------------------------------


@dataclass
class _Block:
    """Whole physical lines, the first of which is line `first_line` of the file.

    Held whole, as the file's UTF-8 bytes or as decoded text: the fast path hands UTF-8 to
    pyarrow in one piece, and only a block that needs the careful path is split into lines
    (no Python object per line otherwise, and no decoding of UTF-8 that pyarrow checks).
    """

    content: str | bytes
    first_line: int
    final: bool

    @cached_property
    def text(self) -> str:
        content = self.content
        # surrogateescape keeps going past undecodable bytes and leaves them recognisable,
        # so the record that holds them can be reported rather than the whole file.
        return content if isinstance(content, str) else content.decode("utf-8", _ESCAPE)

    @cached_property
    def utf8(self) -> bytes | None:
        """The block as UTF-8 (not checked, if read as such); None if text cannot be."""
        if isinstance(self.content, bytes):
            return self.content
        try:
            # Strict encoding fails exactly on the surrogates that stand for undecodable
            # bytes (decoding makes no others), so clean text needs no separate scan.
            return self.content.encode("utf-8")
        except UnicodeEncodeError:
            return None

    @cached_property
    def lines(self) -> list[str]:
        # Lines end at LF, CR LF or CR, as reading with newline="" splits them (which
        # str.splitlines would not: it also splits at form feeds, NEL and others).
        return io.StringIO(self.text, newline="").readlines()

    @cached_property
    def line_count(self) -> int:
        # Counted without splitting: each LF, and each CR that does not start a CR LF.
        content = self.content
        lf, cr = _line_ends(content)
        if cr not in content:
            return content.count(lf)
        return content.count(lf) + content.count(cr) - content.count(cr + lf)

    def followed_by(self, fresh: _Block) -> _Block:
        """This block's lines and then `fresh`'s, as one block."""
        if isinstance(self.content, bytes) and isinstance(fresh.content, bytes):
            return _Block(self.content + fresh.content, self.first_line, fresh.final)
        return _Block(self.text + fresh.text, self.first_line, fresh.final)


def _line_ends(content: str | bytes) -> tuple[Any, Any]:
    """LF and CR in the type of `content` (text or bytes)."""
    return ("\n", "\r") if isinstance(content, str) else (b"\n", b"\r")


_ESCAPE: Final = "surrogateescape"
_UTF8: Final = frozenset({"utf-8", "utf-8-sig"})


def _csv_pieces(source: Source, table_format: TableFormat) -> Iterator[pa.Table]:
    assert table_format.encoding is not None and table_format.delimiter is not None
    name = _display_name(source)
    columns = table_format.frame_columns()
    with _open_binary(source) as binary:
        parser = _BlockParser(
            width=len(columns),
            delimiter=table_format.delimiter,
            encoding=table_format.encoding,
        )
        blocks = _blocks(_Reads(binary, table_format.encoding))
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
            piece, _ = parser.parse(_Block(carry.content, carry.first_line, final=True))
            yield _piece_table(piece, len(columns))


class _Reads:
    """A binary stream in large reads: UTF-8 as its bytes, other encodings decoded.

    UTF-8 stays bytes (LF and CR never occur inside a multi-byte character, so lines cut
    cleanly, and pyarrow checks the encoding); other text is decoded with one incremental
    decode per read, where `TextIOWrapper` decodes in 8 kB steps.
    """

    def __init__(self, binary: IO[bytes], encoding: str) -> None:
        self._binary = binary
        self._bom = b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b""
        self._decoder = (
            None if encoding in _UTF8 else codecs.getincrementaldecoder(encoding)(_ESCAPE)
        )

    def read(self, size: int) -> str | bytes:
        """About `size` bytes' worth; empty only at the end."""
        while True:
            raw = self._binary.read(size)
            if self._bom:
                raw = raw.removeprefix(self._bom) if raw.startswith(self._bom) else raw
                self._bom = b""
            if self._decoder is None:
                return raw
            text = self._decoder.decode(raw, final=not raw)
            if text or not raw:
                return text


def _blocks(reads: _Reads) -> Iterator[_Block]:
    first_line = 1
    current = _next_lines(reads, None)
    while current is not None:
        lines, rest = current
        current = _next_lines(reads, rest)
        final = current is None
        lf, cr = _line_ends(lines)
        if final and not lines.endswith((lf, cr)):
            # A line cut short by the end of the file must still end the record, and a
            # quote left open by it must still show as an open quote.
            lines += lf
        block = _Block(lines, first_line, final)
        yield block
        first_line += block.line_count


def _next_lines(reads: _Reads, rest: Any) -> tuple[Any, Any] | None:
    """(whole lines, the start of the next line) read after `rest`, as text or bytes
    like the reads; None at the end."""
    while True:
        chunk = reads.read(_BLOCK_CHARS)
        data = chunk if not rest else rest + chunk
        if not chunk:
            return (data, data[:0]) if data else None
        # After the last line end; a CR at the very end may be half of a CR LF.
        lf, cr = _line_ends(data)
        cut = max(data.rfind(lf), data.rfind(cr, 0, len(data) - 1)) + 1
        if cut:
            return data[:cut], data[cut:]
        rest = data  # one line longer than a block: read on


def _read_header(blocks: Iterator[_Block], parser: _BlockParser) -> tuple[list[str], _Block | None]:
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
        rest = _Block("".join(lines[used:]), block.first_line + used, block.final)
        return [parser.clean(h) for h in header], rest
    return [], None


_Piece = tuple[list[list[str | None]] | pa.Table, list[int] | np.ndarray, dict[int, str]]


class _BlockParser:
    """Turns blocks of lines into records: pyarrow for clean blocks, `csv` otherwise."""

    def __init__(self, *, width: int, delimiter: str, encoding: str) -> None:
        self.width = width
        self.delimiter = delimiter
        self.encoding = encoding
        self.names = _names(width)

    def clean(self, value: str) -> str:
        return _UNDECODABLE.sub("\ufffd", value)

    def parse(self, block: _Block) -> tuple[_Piece, _Block | None]:
        """Records of a block, and the lines of a record the block ends inside of (if any)."""
        if not block.content:
            return ([], [], {}), None
        data = block.utf8
        if data is not None:
            fast = self._parse_fast(data, block.line_count)
            if fast is not None:
                table, spans = fast
                starts = block.first_line + np.concatenate(([0], np.cumsum(spans)[:-1]))
                return (table, starts, {}), None
        return self._parse_slow(block)

    def _parse_fast(self, data: bytes, line_count: int) -> tuple[pa.Table, np.ndarray] | None:
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
                read_options=pacsv.ReadOptions(column_names=self.names),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=quoted,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid_row,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(self.names, pa.string()),
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid:
            return None
        if invalid:
            return None
        spans = np.ones(table.num_rows, dtype=np.int64)
        # As many records as lines: every record is one line, no cell holds a line break.
        if quoted and table.num_rows != line_count:
            for column in table.columns:
                spans += _line_breaks(column)
        if int(spans.sum()) != line_count:
            return None
        return table, spans

    def _parse_slow(self, block: _Block) -> tuple[_Piece, _Block | None]:
        records = _Records()
        lines = block.lines
        position = 0
        while position < len(lines):
            outcome = self._parse_from(lines, position, final=block.final, records=records)
            if isinstance(outcome, _Incomplete):
                carry = _Block(
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
            if value is not None and _UNDECODABLE.search(value):
                cells[i] = self.clean(value)
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

    def piece(self, first_line: int) -> _Piece:
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


def _piece_table(piece: _Piece, width: int) -> pa.Table:
    """A piece as text columns `c0`... plus the start line and the read error of each record."""
    records, starts, errors = piece
    if isinstance(records, pa.Table):
        table = records
    else:
        cells = list(zip(*records, strict=True)) if records else [()] * width
        table = pa.Table.from_arrays(
            [pa.array(column, type=pa.string()) for column in cells], names=_names(width)
        )
    messages: list[str | None] = [None] * table.num_rows
    for position, message in errors.items():
        messages[position] = message
    table = table.append_column(_LINE, pa.array(np.asarray(starts, dtype=np.int64)))
    return table.append_column(_ERROR, pa.array(messages, type=pa.string()))


def _names(width: int) -> list[str]:
    return [f"c{i}" for i in range(width)]


# --- Parquet ----------------------------------------------------------------------------------


def _parquet_pieces(
    source: Source, table_format: TableFormat, chunk_rows: int
) -> Iterator[pa.Table]:
    fields = [table_format.renames.get(c) for c in table_format.columns]
    names = _names(len(fields))
    first_row = 1
    with _open_binary(source) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=chunk_rows):
            arrays = [
                _parquet_column(array, contract_field)
                for array, contract_field in zip(batch.columns, fields, strict=True)
            ]
            rows = batch.num_rows
            lines = pa.array(np.arange(first_row, first_row + rows, dtype=np.int64))
            arrays += [lines, pa.nulls(rows, type=pa.string())]
            first_row += rows
            yield pa.Table.from_arrays(arrays, names=[*names, _LINE, _ERROR])


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


# --- writing ----------------------------------------------------------------------------------

_FORMULA_STARTS: Final = np.array(["=", "+", "-", "@", "\t", "\r"])
_PLAIN_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def guard_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which text cells a spreadsheet would run as a formula start with `'`.

    Plain numbers ("-1.5", "+7") and non-text columns are left as they are.
    """
    guarded: dict[int, np.ndarray] = {}
    for position, (_, column) in enumerate(frame.items()):
        if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
            continue
        values = column.to_numpy(dtype=object)
        # The first character of every cell, without a Python call per cell.
        first = values.astype("U1")
        candidates = np.flatnonzero(np.isin(first, _FORMULA_STARTS))
        hits = [
            i
            for i in candidates
            if isinstance(values[i], str) and not _PLAIN_NUMBER.fullmatch(values[i])
        ]
        if hits:
            values = values.copy()
            for i in hits:
                values[i] = "'" + values[i]
            guarded[position] = values
    out = frame.copy(deep=False)
    for position, series in guarded.items():
        out.isetitem(position, series)
    return out


# First bytes that could start a formula: they only find candidates, `_PLAIN_NUMBER` (whose
# \d also takes non-ASCII digits) has the last word on each, as in `guard_formulas`.
_FORMULA_BYTES: Final = np.isin(np.arange(256), [ord(c) for c in "=+-@\t\r"])
# What makes a cell need quotes (RFC 4180); a lone CR too, which `csv` leaves bare.
_QUOTE, _COMMA, _LF, _CR = (ord(c) for c in '",\n\r')


def csv_bytes(frame: pd.DataFrame | pa.Table, *, header: Sequence[str] | None = None) -> bytes:
    """A frame as UTF-8 CSV lines (`header` first, if given), formula-guarded.

    The cells are those pandas `to_csv` writes (missing: empty; floats as numpy prints them),
    quoted only where needed. Built with pyarrow compute rather than a Python call per cell;
    columns of other types (dates, say) go through pandas.
    """
    lines = [] if header is None else [_csv_lines(pd.DataFrame([list(header)]))]
    body = _csv_lines(frame) if len(frame) else b""
    return b"".join([*lines, body])


def _select(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """The named columns, in that order; a name the table lacks gives an empty column."""
    present = set(table.column_names)
    columns = [
        table.column(name) if name in present else pa.nulls(table.num_rows, type=pa.string())
        for name in names
    ]
    return pa.Table.from_arrays(columns, names=list(names))


def _csv_lines(frame: pd.DataFrame | pa.Table) -> bytes:
    cells: list[pa.Array] = []
    columns = frame.columns if isinstance(frame, pa.Table) else [c for _, c in frame.items()]
    for column in columns:
        text = _arrow_csv_cells(column) if isinstance(column, pa.ChunkedArray) else None
        if text is None:
            series = column.to_pandas() if isinstance(column, pa.ChunkedArray) else column
            text = _csv_cells(series)
        if text is None:
            return _pandas_csv_lines(frame)
        cells.append(text)
    if not cells:
        return b"\n" * len(frame)
    if len(cells) == 1:
        # A record of one empty field would read as a blank line: `csv` writes "" for it.
        empty = pc.fill_null(pc.equal(cells[0], ""), True)
        cells[0] = pc.if_else(empty, '""', cells[0])
    try:
        # The line end goes on the last cell: joining it onto whole lines cost a copy of
        # every line (0.2-0.9 us a row of 25 columns), onto one cell next to nothing.
        cells[-1] = pc.binary_join_element_wise(
            cells[-1], "\n", "", null_handling="replace", null_replacement=""
        )
        lines = pc.binary_join_element_wise(
            *cells, ",", null_handling="replace", null_replacement=""
        )
    except pa.ArrowException:  # more text than one array holds: pandas copes
        return _pandas_csv_lines(frame)
    return _string_data(lines)


def _pandas_csv_lines(frame: pd.DataFrame | pa.Table) -> bytes:
    if isinstance(frame, pa.Table):
        frame = table_frame(frame)
    text: str = guard_formulas(_visible_frame(frame)).to_csv(
        index=False, header=False, lineterminator="\n"
    )
    return text.encode("utf-8")


def _visible_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`export_text` on every text cell (the slow path's `_visible`)."""
    out = frame.copy(deep=False)
    for position, (_, column) in enumerate(frame.items()):
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            values = column.to_numpy(dtype=object).copy()
            for row, cell in enumerate(values):
                if isinstance(cell, str):
                    values[row] = export_text(cell)
            out.isetitem(position, values)
    return out


def _string_data(array: pa.Array) -> bytes:
    """The concatenated text of a string array without nulls, as one bytes object."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    return array.buffers()[2].slice(start, end - start).to_pybytes()


def _arrow_csv_cells(column: pa.ChunkedArray) -> pa.Array | None:
    """Like `_csv_cells`, for text and empty Arrow columns; None for any other type."""
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), type=pa.string())
    if column.type != pa.string():
        return None
    text, _ = _visible(column.combine_chunks())
    return _quoted(_guarded(text, None))


def _csv_cells(column: pd.Series) -> pa.Array | None:
    """A column's CSV cell text (null: empty cell), guarded and quoted; None if not handled."""
    kind = column.dtype
    if pd.api.types.is_object_dtype(kind) or isinstance(kind, pd.StringDtype):
        values = column.to_numpy(dtype=object)
        try:
            text = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowException, UnicodeError):
            return None  # cells that are not text, or text UTF-8 cannot hold
        text, changed = _visible(text)
        return _quoted(_guarded(text, None if changed else values))
    if isinstance(kind, np.dtype) and kind.kind in "fiub":
        # As pandas writes them: numpy's shortest round-trip text, NaN as an empty cell.
        # Printing a float is slow and scores take few distinct values: each is printed once.
        numbers = column.to_numpy()
        if kind.kind == "f" and np.signbit(numbers[numbers == 0]).any():
            # -0.0 and 0.0 are one value to factorize but print differently.
            return pa.array(numbers.astype(str), type=pa.string(), mask=np.isnan(numbers))
        codes, uniques = pd.factorize(numbers, use_na_sentinel=True)
        text = pa.array(np.asarray(uniques).astype(str), type=pa.string())
        return text.take(pa.array(codes, mask=codes < 0))
    return None


@dataclass(frozen=True)
class _Encodings:
    """How the UTF-8 of a set of characters starts: lead bytes, and the first two or three
    bytes of each (three for characters of three or four bytes)."""

    leads: bytes  # a `bytes.translate` table: 1 for a lead byte, 0 otherwise
    pairs: np.ndarray
    triples: np.ndarray

    @classmethod
    def of(cls, ranges: Sequence[tuple[int, int]], extra: str) -> _Encodings:
        leads = np.zeros(256, dtype=bool)
        pairs: set[int] = set()
        triples: set[int] = set()
        codes = [code for first, last in ranges for code in range(first, last + 1)]
        for code in [*codes, *map(ord, extra)]:
            encoded = chr(code).encode("utf-8", "surrogatepass")
            leads[encoded[0]] = True
            if len(encoded) == 2:
                pairs.add(encoded[0] << 8 | encoded[1])
            elif len(encoded) > 2:
                triples.add(encoded[0] << 16 | encoded[1] << 8 | encoded[2])
        return cls(
            leads.astype(np.uint8).tobytes(),
            np.array(sorted(pairs), dtype=np.uint32),
            np.array(sorted(triples), dtype=np.uint32),
        )

    def positions(self, data: np.ndarray) -> np.ndarray:
        """Where in UTF-8 `data` one of the characters starts (a few false hits allowed:
        four-byte characters are told apart by their first three bytes only)."""
        # bytes.translate maps a byte through a table ~4x faster than numpy indexing does.
        flags = data.tobytes().translate(self.leads)
        at = np.flatnonzero(np.frombuffer(flags, dtype=np.bool_))
        if not len(at):
            return at
        # Common punctuation (NBSP, guillemets, dashes, quotes) shares lead bytes with the
        # invisible characters; the following bytes tell them apart without a regex.
        last = len(data) - 1
        lead = data[at].astype(np.uint32)
        second = data[np.minimum(at + 1, last)].astype(np.uint32)
        third = data[np.minimum(at + 2, last)].astype(np.uint32)
        single = lead < 0x80
        double = (lead >= 0xC0) & (lead < 0xE0)
        hit = (
            single
            | (double & np.isin(lead << 8 | second, self.pairs))
            | (~single & ~double & np.isin(lead << 16 | second << 8 | third, self.triples))
        )
        return at[hit]


# The characters no export carries (see `training.schema.export_text`). Their bytes only
# find candidate cells; the regex decides, as in `_guarded`.
_INVISIBLE_BYTES: Final = _Encodings.of(INVISIBLE_RANGES, SPACING_CONTROLS)


def _visible(text: pa.Array) -> tuple[pa.Array, bool]:
    """`text` with `export_text` applied, and whether any cell changed.

    Invisible characters are dropped and whitespace controls become spaces before the
    formula guard looks at a cell, so "<U+200B>=cmd|..." cannot slip past it. Candidate
    cells are found from the bytes, as in `_formula_candidates`; only those are rewritten.
    """
    _, offsets_buffer, data_buffer = text.buffers()
    if data_buffer is None or not len(text):
        return text, False
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)
    offsets = offsets[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    at = _INVISIBLE_BYTES.positions(data)
    if not len(at):
        return text, False
    needs = np.zeros(len(text), dtype=bool)
    needs[np.searchsorted(offsets, at + offsets[0], side="right") - 1] = True
    cells = text.filter(pa.array(needs))
    cleaned = pc.replace_substring_regex(
        pc.replace_substring_regex(cells, INVISIBLE_RE2, ""), SPACING_CONTROLS_RE2, " "
    )
    if cleaned.equals(cells):
        return text, False
    return pc.replace_with_mask(text, pa.array(needs), cleaned), True


def _guarded(text: pa.Array, values: np.ndarray | None) -> pa.Array:
    """`text` with formula cells guarded; `values` are its cells as objects, if at hand."""
    candidates = {
        int(i): values[i] if values is not None else text[int(i)].as_py()
        for i in _formula_candidates(text)
    }
    hits = {i: cell for i, cell in candidates.items() if not _PLAIN_NUMBER.fullmatch(cell)}
    if not hits:
        return text
    mask = np.zeros(len(text), dtype=bool)
    mask[list(hits)] = True
    guarded = pa.array(["'" + cell for cell in hits.values()], type=pa.string())
    return pc.replace_with_mask(text, pa.array(mask), guarded)


def _formula_candidates(text: pa.Array) -> np.ndarray:
    """Positions of the cells whose first byte could start a formula (those bytes are ASCII).

    Read straight from the Arrow buffers: one gather, where a regex would scan every cell.
    """
    _, offsets_buffer, data_buffer = text.buffers()
    if data_buffer is None or not len(text):
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)
    offsets = offsets[text.offset : text.offset + len(text) + 1]
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    if text.null_count:
        nonempty = nonempty[text.is_valid().to_numpy(zero_copy_only=False)[nonempty]]
    first = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[:-1][nonempty]]
    return nonempty[_FORMULA_BYTES[first]]


def _quoted(text: pa.Array) -> pa.Array:
    """CSV cells: those holding a quote, comma or line break quoted (quotes doubled).

    Which cells need it is read from the bytes, like `_formula_candidates` (the characters
    are ASCII); only those cells are rewritten.
    """
    _, offsets_buffer, data_buffer = text.buffers()
    if data_buffer is None or not len(text):
        return text
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)
    offsets = offsets[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    # Four byte comparisons (vectorised) beat a lookup table or a regex per cell.
    special = (data == _QUOTE) | (data == _COMMA) | (data == _LF) | (data == _CR)
    at = np.flatnonzero(special)
    if not len(at):
        return text
    needs = np.zeros(len(text), dtype=bool)
    needs[np.searchsorted(offsets, at + offsets[0], side="right") - 1] = True
    cells = text.filter(pa.array(needs))
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(cells, '"', '""'), '"', "")
    return pc.replace_with_mask(text, pa.array(needs), quoted)


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
        os.chmod(self._temp, 0o666 & ~_umask())
        os.replace(self._temp, Path(self.dest))
        _fsync_directory(Path(self.dest).parent)

    def _discard(self) -> None:
        assert self._temp is not None and self._handle is not None
        with contextlib.suppress(Exception):
            if self._parquet is not None:
                self._parquet.close()
        with contextlib.suppress(OSError):
            self._handle.close()
        self._temp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable; not every platform allows opening a directory."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
