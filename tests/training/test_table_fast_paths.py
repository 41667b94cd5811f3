"""Each fast path of the table modules gives what the plain way gives, whatever the input size.

The reader's pyarrow path against its `csv` module path (and both against `csv.reader`), on
inputs inside one block and over many; the CSV writer's Arrow path against cells written
one at a time as pandas writes them; the formula guard's byte scan against a check of every
cell.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pytest

from training.schema import INVISIBLE_RANGES, LINE_COLUMN, READ_ERROR_COLUMN, export_text
from training.tables import csv_blocks, csv_bytes, csv_read, guard_formulas, iter_table_chunks

HEADER = "declaration_id,net_weight_kg,description"
# Block sizes: the default (every input here is one block), and small enough that blocks
# end inside records, inside quoted line breaks and between CR and LF.
BLOCK_SIZES = (csv_blocks._BLOCK_CHARS, 7, 23, 64)


def read(data: bytes, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(csv_read, "parse_fast", lambda *args, **kwargs: None)
        return pd.concat(list(iter_table_chunks(data)))


def random_field(randomness: random.Random, newline: str) -> str:
    words = ["vest", "", " ", "a b", "плита", "1,5", "x" * 30]
    kind = randomness.randrange(6)
    if kind == 0:
        return randomness.choice(words)
    if kind == 1:  # quoted, with delimiters, quotes and line breaks inside
        inner = randomness.choice(["two", "a,b", 'say ""hi""', f"one{newline}two", "\r", ""])
        return f'"{inner}"'
    if kind == 2:  # a quote that never closes
        return '"open ' + randomness.choice(words)
    if kind == 3:  # a quote inside an unquoted field
        return 'in"side'
    return randomness.choice(words[:4])


def random_export(randomness: random.Random) -> bytes:
    newline = randomness.choice(["\n", "\r\n", "\r"])
    records = []
    for _ in range(randomness.randrange(1, 9)):
        width = randomness.choice([3, 3, 3, 2, 4, 1])
        records.append(",".join(random_field(randomness, newline) for _ in range(width)))
    text = newline.join([HEADER, *records])
    if randomness.random() < 0.8:
        text += newline
    if randomness.random() < 0.1:
        text = text.replace(newline, newline * 2, 1)  # a blank line
    encoding = randomness.choice(["utf-8", "utf-8", "cp1251"])
    return text.encode(encoding)


@pytest.mark.parametrize("block_chars", BLOCK_SIZES)
def test_fast_reader_reads_what_the_csv_module_path_reads(
    block_chars: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_blocks, "_BLOCK_CHARS", block_chars)
    randomness = random.Random(block_chars)
    for _ in range(150):
        data = random_export(randomness)
        fast = read(data, fast=True, monkeypatch=monkeypatch)
        careful = read(data, fast=False, monkeypatch=monkeypatch)
        pdt.assert_frame_equal(fast, careful, obj=repr(data))


def plain_records(data: bytes) -> list[list[str | None]]:
    """Records as `csv.reader` reads them, empty cells as None, blank lines skipped."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return [[cell or None for cell in row] for row in rows[1:] if row]


@pytest.mark.parametrize("block_chars", BLOCK_SIZES)
def test_clean_exports_read_as_the_csv_module_reads_them(
    block_chars: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_blocks, "_BLOCK_CHARS", block_chars)
    randomness = random.Random(block_chars)
    for _ in range(150):
        newline = randomness.choice(["\n", "\r\n", "\r"])
        fields = [
            "vest",
            "",
            " ",
            '"a,b"',
            '"say ""hi"""',
            f'"one{newline}two"',
            '"\r"',
            '"плита, 4 класс"',
        ]
        records = [
            ",".join(randomness.choice(fields) for _ in range(3))
            for _ in range(randomness.randrange(1, 9))
        ]
        data = (newline.join([HEADER, *records]) + newline).encode()
        for fast in (True, False):
            table = read(data, fast=fast, monkeypatch=monkeypatch)
            assert table[READ_ERROR_COLUMN].isna().all(), repr(data)
            cells = table.drop(columns=[LINE_COLUMN, READ_ERROR_COLUMN])
            assert cells.to_numpy().tolist() == plain_records(data), repr(data)


def test_a_quoted_line_break_in_the_last_column_at_a_block_end_stays_in_its_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Blocks that end right after "ballistic vest": pyarrow took the open quote to end with
    # the block, so the record was cut in two (its description cut short, without an error).
    lines = [HEADER]
    lines += [f"A{i},1.5,cotton shirt size {i}" for i in range(50)]
    lines += ['M1,9,"ballistic vest\nlevel IV"']
    lines += [f"B{i},0.5,socks {i}" for i in range(50)]
    data = ("\n".join(lines) + "\n").encode()
    expected = plain_records(data)
    for block_chars in range(40, 1500, 7):
        monkeypatch.setattr(csv_blocks, "_BLOCK_CHARS", block_chars)
        table = read(data, fast=True, monkeypatch=monkeypatch)
        assert table[READ_ERROR_COLUMN].isna().all(), block_chars
        cells = table.drop(columns=[LINE_COLUMN, READ_ERROR_COLUMN])
        assert cells.to_numpy().tolist() == expected, block_chars
        assert table[LINE_COLUMN].tolist()[50:52] == [52, 54], block_chars


def test_an_open_quote_in_the_last_column_of_the_last_line_is_reported() -> None:
    for data in (b'id,description\nA1,"never closed\n', b'id,description\nA1,"never closed'):
        table = pd.concat(list(iter_table_chunks(data)))
        assert "never closes" in table[READ_ERROR_COLUMN].iloc[-1]
        assert table["description"].iloc[-1] == '"never closed'


# --- writing ------------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def guarded(text: str) -> str:
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def plain_cell(value: object) -> str:
    """One text cell as written: invisible characters out, formulas guarded, quoted where a
    quote, comma or line break (a lone CR too) would otherwise break the record."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    assert isinstance(value, str)
    text = guarded(export_text(value))
    if any(c in text for c in '",\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def plain_csv(columns: list[list[str | None]], rows: int) -> bytes:
    lines = []
    for row in range(rows):
        cells = [plain_cell(column[row]) for column in columns]
        # A record of one empty field is written as "", as the `csv` module writes it.
        lines.append(",".join(['""'] if cells == [""] else cells) + "\n")
    return "".join(lines).encode()


TEXT_PIECES = [
    *("a", "Z", " ", ",", '"', "\n", "\r", "\r\n", "\t", "1", ".", "e", "x"),
    *("=", "+", "-", "@", "д", "«", "\u00a0", "\u2014", "\u0663", "\ufb01"),
    *(chr(first) for first, _ in INVISIBLE_RANGES),
    *(chr(last) for _, last in INVISIBLE_RANGES),
    *"\x0b\x0c\x1c\x1d\x1e\x1f\x85",
]


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 300])
def test_csv_bytes_writes_text_cells_as_written_one_at_a_time(rows: int) -> None:
    randomness = random.Random(rows)
    for _ in range(60):
        columns: list[list[str | None]] = []
        for _ in range(randomness.choice([1, 2, 3])):
            column: list[str | None] = []
            for _ in range(rows):
                draw = randomness.random()
                if draw < 0.1:
                    column.append(None)
                elif draw < 0.15:
                    column.append("")
                else:
                    size = randomness.randrange(1, 6)
                    column.append("".join(randomness.choice(TEXT_PIECES) for _ in range(size)))
            columns.append(column)
        frame = pd.DataFrame({f"c{i}": pd.Series(c, dtype=object) for i, c in enumerate(columns)})
        expected = plain_csv(columns, rows)
        assert csv_bytes(frame) == expected, columns
        assert csv_bytes(pa.Table.from_pandas(frame, preserve_index=False)) == expected, columns


FLOATS = (0.0, -0.0, math.nan, 1e16, 1e-05, 1 / 3, -1.5, 2.0**60, 5e-324, math.inf, -math.inf)
NUMBERS: dict[str, Callable[[random.Random], object]] = {
    "float64": lambda r: (
        r.choice(FLOATS) if r.random() < 0.5 else round(r.uniform(-1e3, 1e3), r.randrange(6))
    ),
    "float32": lambda r: r.uniform(-10, 10),
    "int64": lambda r: r.randrange(-(2**40), 2**40),
    "uint8": lambda r: r.randrange(256),
    "bool": lambda r: r.random() < 0.5,
}


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 300])
@pytest.mark.parametrize("dtype", list(NUMBERS))
def test_csv_bytes_writes_numbers_as_pandas_does(rows: int, dtype: str) -> None:
    randomness = random.Random(rows)
    for _ in range(20):
        values = np.array([NUMBERS[dtype](randomness) for _ in range(rows)], dtype=dtype)
        frame = pd.DataFrame({"number": values, "text": ["x"] * rows})
        expected = frame.to_csv(index=False, header=False, lineterminator="\n").encode()
        assert csv_bytes(frame) == expected, values


@pytest.mark.parametrize("rows", [0, 1, 3, 40])
def test_guard_formulas_guards_the_cells_a_check_of_each_cell_guards(rows: int) -> None:
    pieces = ["=", "+", "-", "@", "\t", "\r", "1", ".", ",", "e", "x", " ", "\u0663", "'"]
    randomness = random.Random(rows)
    for _ in range(100):
        cells: list[object] = []
        for _ in range(rows):
            draw = randomness.random()
            if draw < 0.1:
                cells.append(None)
            elif draw < 0.15:
                cells.append(math.nan)
            elif draw < 0.2:
                cells.append(randomness.randrange(-5, 5))
            else:
                size = randomness.randrange(5)
                cells.append("".join(randomness.choice(pieces) for _ in range(size)))
        frame = pd.DataFrame({"cell": pd.Series(cells, dtype=object)})
        expected = [guarded(c) if isinstance(c, str) else c for c in cells]
        got = guard_formulas(frame)["cell"].tolist()
        assert [repr(c) for c in got] == [repr(c) for c in expected], cells
