"""Reading messy declaration exports and writing results atomically."""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training.schema import INVISIBLE_RANGES, LINE_COLUMN, READ_ERROR_COLUMN
from training.tables import (
    AtomicTableWriter,
    TableError,
    csv_bytes,
    detect_format,
    guard_formulas,
    iter_table_batches,
    iter_table_chunks,
    read_declarations,
    read_table,
    table_frame,
)
from training.tables.csv_fast import _has_blank_line

# A labelled export the project keeps itself (250 rows of a written set, CRLF, RFC 4180).
DEV = Path(__file__).resolve().parents[1] / "fixtures" / "declarations.csv"
NUMBERS = ("net_weight_kg", "gross_weight_kg", "value")


def dev_rows() -> tuple[list[str], list[list[str]]]:
    with DEV.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def to_csv(
    header: list[str],
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\r\n",
) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows([header, *rows])
    return out.getvalue().encode(encoding)


def encodable(rows: list[list[str]], encoding: str) -> list[list[str]]:
    def fits(row: list[str]) -> bool:
        try:
            "".join(row).encode(encoding)
        except UnicodeEncodeError:
            return False
        return True

    return [row for row in rows if fits(row)]


def declarations(data: bytes) -> pd.DataFrame:
    return read_declarations(data).drop(columns=["error"])


@pytest.fixture(scope="module")
def dev() -> tuple[list[str], list[list[str]]]:
    return dev_rows()


def test_dev_file_reads_every_row_as_text(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    table = read_table(DEV)
    assert len(table) == len(rows) == 250
    assert list(table.index) == list(range(250))
    assert list(table[LINE_COLUMN]) == list(range(2, 252))
    assert table[READ_ERROR_COLUMN].isna().all()
    assert list(table.columns[:-2]) == header
    text = table.drop(columns=[LINE_COLUMN])
    assert all(v is None or isinstance(v, str) for v in text.to_numpy().ravel())
    assert list(table["hs_code"].fillna("")) == [r[header.index("hs_code")] for r in rows]
    fmt = detect_format(DEV)
    assert (fmt.kind, fmt.encoding, fmt.delimiter, fmt.decimal) == ("csv", "utf-8", ",", ".")


def test_leading_zeros_survive(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    rows = [list(r) for r in rows]
    rows[0][header.index("hs_code")] = "0101.21"
    rows[1][header.index("declaration_id")] = "000123"
    table = read_table(to_csv(header, rows))
    assert table.loc[0, "hs_code"] == "0101.21"
    assert table.loc[1, "declaration_id"] == "000123"


def comma_decimals(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    positions = [header.index(n) for n in NUMBERS]
    return [[c.replace(".", ",") if i in positions else c for i, c in enumerate(r)] for r in rows]


def test_cp1251_semicolons_and_decimal_commas(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    rows = encodable(rows, "cp1251")
    assert any(any("\u0400" <= ch <= "\u04ff" for ch in "".join(r)) for r in rows)
    variant = to_csv(header, comma_decimals(header, rows), delimiter=";", encoding="cp1251")
    fmt = detect_format(variant)
    assert (fmt.encoding, fmt.delimiter, fmt.decimal) == ("cp1251", ";", ",")
    pdt.assert_frame_equal(declarations(variant), declarations(to_csv(header, rows)))


def test_gb18030(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    rows = [list(r) for r in rows]
    description = header.index("description")
    rows[3][description] = "战术背心，黑色"
    rows[7][description] = "防弹头盔 凯夫拉"
    rows[9][description] = "棉质T恤（儿童）"
    rows = encodable(rows, "gb2312")
    variant = to_csv(header, rows, encoding="gb18030")
    assert detect_format(variant).encoding == "gb18030"
    pdt.assert_frame_equal(declarations(variant), declarations(to_csv(header, rows)))


def test_utf8_bom(dev: tuple[list[str], list[list[str]]]) -> None:
    header, _ = dev
    variant = b"\xef\xbb\xbf" + DEV.read_bytes()
    fmt = detect_format(variant)
    assert fmt.encoding == "utf-8-sig"
    assert fmt.columns == tuple(header)
    pdt.assert_frame_equal(declarations(variant), declarations(DEV.read_bytes()))


def test_shuffled_aliased_headers_and_unknown_columns(
    dev: tuple[list[str], list[list[str]]],
) -> None:
    header, rows = dev
    aliases = {
        "description": "описание",
        "net_weight_kg": "вес",
        "value": "стоимость",
        "hs_code": "HS Code",
        "quantity": "Qty",
        "declaration_id": "Tracking Number",
        "gross_weight_kg": "毛重",
    }
    order = list(range(len(header)))
    random.Random(7).shuffle(order)
    new_header = [aliases.get(header[i], header[i].upper()) for i in order] + ["Notes", "=x"]
    new_rows = [[r[i] for i in order] + [f"note {n}", "-cmd"] for n, r in enumerate(rows)]
    variant = to_csv(new_header, new_rows)
    fmt = detect_format(variant)
    assert fmt.renames["описание"] == "description"
    assert "Notes" not in fmt.renames
    table = read_table(variant)
    assert list(table["Notes"]) == [f"note {n}" for n in range(len(rows))]
    assert (table["=x"] == "-cmd").all()
    pdt.assert_frame_equal(declarations(variant), declarations(DEV.read_bytes()))


def test_chinese_headers(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    names = {"description": "描述", "net_weight_kg": "重量", "value": "价值"}
    variant = to_csv([names.get(h, h) for h in header], rows)
    pdt.assert_frame_equal(declarations(variant), declarations(DEV.read_bytes()))


def test_quoted_newlines_keep_line_numbers(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    rows = [list(r) for r in rows]
    description = header.index("description")
    rows[4][description] = "tactical vest\r\nblack, size L"
    rows[10][description] = "helmet\nwith\nvisor"
    table = read_table(to_csv(header, rows))
    assert len(table) == 250
    assert table.loc[4, "description"] == "tactical vest\r\nblack, size L"
    lines = list(table[LINE_COLUMN])
    assert lines[:6] == [2, 3, 4, 5, 6, 8]
    assert lines[11] == 13 + 1 + 2  # two earlier extra lines in row 4 and row 10
    assert table[READ_ERROR_COLUMN].isna().all()


def test_chunks_match_a_single_read(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    rows = [list(r) for r in rows]
    rows[20][header.index("description")] = "multi\nline"
    data = to_csv(header, rows)
    whole = read_table(data)
    chunks = list(iter_table_chunks(data, chunk_rows=7))
    assert [len(c) for c in chunks] == [7] * 35 + [5]
    assert chunks[1].index[0] == 7
    pdt.assert_frame_equal(pd.concat(chunks), whole)


def test_bad_records_are_kept_and_explained(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    text = DEV.read_bytes().decode("utf-8").split("\r\n")
    assert text[-1] == ""
    text[5] += ",surplus,fields"  # line 6: too many fields
    text[8] = ",".join(text[8].split(",")[:5])  # line 9: too few fields
    cells = text[12].split(",")
    cells[9] = '"unterminated description'
    text[12] = ",".join(cells)  # line 13: a quote that never closes
    text[-2] = text[-2][:40]  # line 251 cut short, no newline after it
    data = "\r\n".join(text[:-1]).encode("utf-8")
    table = read_table(data)
    assert len(table) == 250
    assert list(table[LINE_COLUMN]) == list(range(2, 252))
    errors = table[READ_ERROR_COLUMN]
    assert set(errors.dropna().index) == {4, 7, 11, 249}
    assert "has 20 fields, expected 18" in errors[4]
    assert "has 5 fields, expected 18" in errors[7]
    assert "never closes" in errors[11]
    assert table.loc[11, "description"] == '"unterminated description'
    assert table.loc[11, "currency"] == rows[11][header.index("currency")]
    assert "expected 18" in errors[249]
    assert table.loc[4, "label_class"] == rows[4][-1]
    assert table.loc[7, "currency"] is None
    normalised = read_declarations(data)
    assert normalised.loc[4, "error"].startswith("row: has 20 fields")
    good = table.drop(index=[4, 7, 11, 249])
    expected = read_table(DEV).drop(index=[4, 7, 11, 249])
    pdt.assert_frame_equal(good, expected)


def test_unterminated_quote_at_end_does_not_swallow() -> None:
    data = DEV.read_bytes() + b'XX1,1,2024-01-01,parcel,gift,RU,CN,a,b,"open quote\r\n'
    table = read_table(data)
    assert len(table) == 251
    assert "never closes" in str(table.loc[250, READ_ERROR_COLUMN])
    assert table.loc[250, LINE_COLUMN] == 252


def test_undecodable_bytes_mid_file(dev: tuple[list[str], list[list[str]]]) -> None:
    lines = DEV.read_bytes().split(b"\r\n")
    lines[200] = lines[200].replace(b",", b",\xff", 1)
    table = read_table(b"\r\n".join(lines))
    assert len(table) == 250
    assert "not valid utf-8" in str(table.loc[199, READ_ERROR_COLUMN])
    assert "\ufffd" in "".join(str(v) for v in table.loc[199])
    assert table[READ_ERROR_COLUMN].notna().sum() == 1


def test_blank_lines_are_not_records(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    data = to_csv(header, rows[:3]).replace(b"\r\n", b"\r\n\r\n", 2)
    table = read_table(data)
    assert list(table[LINE_COLUMN]) == [3, 5, 6]


def test_empty_and_header_only(tmp_path: Path, dev: tuple[list[str], list[list[str]]]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(TableError, match="is empty"):
        detect_format(empty)
    header, _ = dev
    table = read_table(to_csv(header, []))
    assert len(table) == 0
    assert list(table.columns) == [*header, LINE_COLUMN, READ_ERROR_COLUMN]
    assert len(read_declarations(to_csv(header, []))) == 0


def test_unusable_inputs(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(TableError, match="not a text table"):
        detect_format(png)
    with pytest.raises(TableError, match="zip"):
        detect_format(b"PK\x03\x04" + b"x" * 100)
    latin1 = "description,weight\nMüller Größe Jäger,1.5\nÄrmel für Übergröße,2\n"
    with pytest.raises(TableError, match="encoding"):
        detect_format(latin1.encode("latin-1"))
    with pytest.raises(TableError, match=r"no description column.*'weight', 'value'"):
        detect_format(b"id,weight,value\nA1,1.5,3\n")
    with pytest.raises(TableError, match=r"'weight' and 'net_weight' both mean net_weight_kg"):
        detect_format(b"description,weight,net_weight\nvest,1,2\n")
    with pytest.raises(TableError) as raised:
        detect_format(b"description\n\x00\x01")
    assert "\n" not in str(raised.value)


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    table = read_table(DEV)
    path = tmp_path / "dev.parquet"
    data = table.drop(columns=[LINE_COLUMN, READ_ERROR_COLUMN]).rename(
        columns={"description": "item_description"}
    )
    data["net_weight_kg"] = pd.to_numeric(data["net_weight_kg"])
    data["hs_code"] = data["hs_code"]
    pq.write_table(pa.Table.from_pandas(data, preserve_index=False), path, row_group_size=40)
    assert detect_format(path).kind == "parquet"
    chunks = list(iter_table_chunks(path, chunk_rows=100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert list(pd.concat(chunks)[LINE_COLUMN]) == list(range(1, 251))
    pdt.assert_frame_equal(
        read_declarations(path).drop(columns="error"), declarations(DEV.read_bytes())
    )


def test_guard_formulas() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=SUM(A1)", "+7 (495)", "-1.5", "+7", "@cmd", "\tx", "plain", None],
            "number": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        }
    )
    guarded = guard_formulas(frame)
    assert list(guarded["text"]) == [
        "'=SUM(A1)",
        "'+7 (495)",
        "-1.5",
        "+7",
        "'@cmd",
        "'\tx",
        "plain",
        None,
    ]
    pdt.assert_series_equal(guarded["number"], frame["number"])
    assert frame.loc[0, "text"] == "=SUM(A1)"


def test_writer_csv_is_guarded_and_round_trips(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    chunks = list(iter_table_chunks(DEV, chunk_rows=100))
    with AtomicTableWriter(dest) as writer:
        for chunk in chunks:
            out = chunk.drop(columns=[LINE_COLUMN, READ_ERROR_COLUMN])
            out.loc[out.index[0], "sender_id"] = "=HYPERLINK()"
            writer.write(out)
    back = read_table(dest)
    assert len(back) == 250
    assert back.loc[0, "sender_id"] == "'=HYPERLINK()"
    assert back.loc[1, "description"] == chunks[0].loc[1, "description"]
    assert list(tmp_path.iterdir()) == [dest]


def test_writer_is_atomic(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    dest.write_text("previous result\n")
    chunk = read_table(DEV)
    with pytest.raises(RuntimeError), AtomicTableWriter(dest) as writer:
        writer.write(chunk)
        raise RuntimeError("interrupted")
    assert dest.read_text() == "previous result\n"
    assert list(tmp_path.iterdir()) == [dest]
    fresh = tmp_path / "fresh.parquet"
    with pytest.raises(RuntimeError), AtomicTableWriter(fresh) as writer:
        writer.write(chunk)
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == [dest]


def test_writer_parquet_round_trip(tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    chunks = list(iter_table_chunks(DEV, chunk_rows=60))
    with AtomicTableWriter(dest, columns=list(chunks[0].columns)) as writer:
        for chunk in chunks:
            writer.write(chunk)
    back = pq.read_table(dest).to_pandas()
    pdt.assert_frame_equal(back, read_table(DEV).reset_index(drop=True))


def test_writer_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with AtomicTableWriter("-", columns=["a", "b"]) as writer:
        writer.write(pd.DataFrame({"b": ["-x", "2"], "a": ["1", None]}))
    assert capsys.readouterr().out == "a,b\n1,'-x\n,2\n"


def test_writer_header_only(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    with AtomicTableWriter(dest, columns=["a", "b"]):
        pass
    assert dest.read_text() == "a,b\n"


def pandas_csv(frame: pd.DataFrame) -> bytes:
    """The CSV pandas writes for a frame, formula-guarded: what `csv_bytes` must match."""
    text: str = guard_formulas(frame).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")


def test_csv_bytes_matches_pandas() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=SUM(A1)", "a,b", 'say "hi"', "two\nlines", None, "", "-1.5", "плюс"],
            "score": [0.1234, 1.0, float("nan"), 1e-05, 0.5, 2.0, 1e16, 0.0],
            "signed": [0.0, -0.0, -1.5, float("nan"), 0.0, -0.0, 3.0, 0.25],
            "count": [1, 2, 3, 4, 5, 6, 7, -8],
            "flag": [True, False] * 4,
            "mixed": ["x", float("nan"), None, "@y", "+7", "\tz", "ok", "'q"],
        }
    )
    assert csv_bytes(frame, header=list(frame.columns)) == pandas_csv(frame)
    assert csv_bytes(frame.iloc[:0], header=list(frame.columns)) == pandas_csv(frame.iloc[:0])
    assert csv_bytes(frame) == pandas_csv(frame).split(b"\n", 1)[1]


def test_csv_bytes_edge_cells() -> None:
    # A record of one empty field is written as "" so that it does not read as a blank line.
    one = pd.DataFrame({"only": ["", None, "x"]})
    assert csv_bytes(one, header=["=only"]) == b'\'=only\n""\n""\nx\n'
    # A lone CR is a line break to CSV readers, so it is quoted too.
    assert csv_bytes(pd.DataFrame({"a": ["x\ry"], "b": ["z"]})) == b'"x\ry",z\n'
    # Columns of other types (and cells that are not text) go through pandas.
    dated = pd.DataFrame({"at": pd.to_datetime(["2024-01-02 03:04"]), "n": [object()]})
    dated["n"] = ["=1"]
    assert csv_bytes(dated, header=["at", "n"]) == pandas_csv(dated)
    odd = pd.DataFrame({"cell": [3, "=x", None]}, dtype=object)
    assert csv_bytes(odd, header=["cell"]) == pandas_csv(odd)


@pytest.mark.parametrize("as_arrow", [False, True])
def test_exports_carry_no_invisible_or_control_characters(as_arrow: bool) -> None:
    cells = [
        "\u200b=cmd|' /C calc'!A0",  # an invisible lead must not hide a formula
        "\u202e@SUM(1+1)\u202c",
        "nul\x00inside",
        "bullet\u200dproof",
        "vertical\x0btab",
        "кириллица «и» — знаки №1",  # ordinary non-ASCII text stays as it is
        "tab\tand\nnewline",
        None,
    ]
    frame = pd.DataFrame({"text": cells, "n": range(len(cells))})
    written = csv_bytes(pa.Table.from_pandas(frame) if as_arrow else frame)
    rows = list(csv.reader(io.StringIO(written.decode("utf-8"), newline="")))
    assert [row[0] for row in rows] == [
        "'=cmd|' /C calc'!A0",
        "'@SUM(1+1)",
        "nulinside",
        "bulletproof",
        "vertical tab",
        "кириллица «и» — знаки №1",
        "tab\tand\nnewline",
        "",
    ]
    assert b"\x00" not in written
    # The slow path (cells pandas writes) drops the same characters.
    mixed = pd.DataFrame({"cell": [3, "\u200b=x", "a\x00b"]}, dtype=object)
    assert csv_bytes(mixed) == b"3\n'=x\nab\n"


def test_every_invisible_character_is_dropped_from_exports() -> None:
    codes = [code for first, last in INVISIBLE_RANGES for code in range(first, last + 1)]
    cells = [f"a{chr(code)}b" for code in codes]
    written = csv_bytes(pd.DataFrame({"text": cells}))
    assert written.decode("utf-8").splitlines() == ["ab"] * len(codes)
    # Characters that share lead bytes with them (and are ordinary text) stay.
    ordinary = ["\u00a0", "«", "\u2014", "\u2116", "\u2026", "\u20ac", "\u3000x", "\ufb01"]
    assert csv_bytes(pd.DataFrame({"t": ordinary})).decode("utf-8").splitlines() == ordinary


def test_blank_line_check_matches_the_line_rule() -> None:
    # A blank line: a line break at the very start, or right after another line break
    # (LF, or a CR that is not part of CR LF).
    oracle = re.compile(r"(?:\A|\n|\r(?!\n))(?:\r\n|\n|\r)")
    pieces = ["a", ",", "\n", "\r", "\r\n", '"']
    randomness = random.Random(7)
    for _ in range(5_000):
        text = "".join(randomness.choice(pieces) for _ in range(randomness.randrange(1, 8)))
        assert _has_blank_line(text.encode()) == bool(oracle.search(text)), repr(text)


def test_arrow_batches_are_the_chunks(dev: tuple[list[str], list[list[str]]]) -> None:
    header, rows = dev
    lines = to_csv(header, rows).split(b"\r\n")
    lines[20] = lines[20].replace(b",", b",\xff", 1)  # a block read record by record
    lines[40] += b',"extra'  # and a quote that never closes
    data = b"\r\n".join(lines)
    for chunk_rows in (7, 100, 1_000):
        chunks = list(iter_table_chunks(data, chunk_rows=chunk_rows))
        batches = list(iter_table_batches(data, chunk_rows=chunk_rows))
        assert [b.num_rows for b in batches] == [len(c) for c in chunks]
        first = 0
        for batch, chunk in zip(batches, chunks, strict=True):
            pdt.assert_frame_equal(table_frame(batch, first), chunk)
            first += batch.num_rows
    empty = list(iter_table_batches(to_csv(header, [])))
    pdt.assert_frame_equal(table_frame(empty[0]), read_table(to_csv(header, [])))


def test_writer_takes_arrow_tables(tmp_path: Path) -> None:
    batches = list(iter_table_batches(DEV, chunk_rows=100))
    batches[0] = batches[0].set_column(
        batches[0].column_names.index("sender_id"),
        "sender_id",
        pa.array(["=HYPERLINK()", "+7", *batches[0].column("sender_id").to_pylist()[2:]]),
    )
    names = ["description", "no_such_column", "sender_id", LINE_COLUMN]
    from_tables, from_frames = tmp_path / "tables.csv", tmp_path / "frames.csv"
    with AtomicTableWriter(from_tables, columns=names) as writer:
        for batch in batches:
            writer.write(batch)
    with AtomicTableWriter(from_frames, columns=names) as writer:
        for batch in batches:
            writer.write(table_frame(batch))
    assert from_tables.read_bytes() == from_frames.read_bytes()
    back = read_table(from_tables)
    assert list(back.loc[:1, "sender_id"]) == ["'=HYPERLINK()", "+7"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lines_are_counted_alike_for_every_line_ending(newline: str) -> None:
    from training.tables.csv_blocks import Block

    text = newline.join(["a,b", "1,2", '"x\ny",3', "", "4,5"]) + newline
    block = Block(text, 1, final=True)
    assert block.line_count == len(block.lines) == len(io.StringIO(text, newline="").readlines())


@pytest.mark.parametrize("block_chars", [5, 16, 61])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_where_blocks_end_does_not_change_what_is_read(
    block_chars: int, newline: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks cut inside quoted line breaks, between CR and LF, inside a line longer than
    a block, or at a last line without its line break: the records are the same."""
    from training.tables import csv_blocks

    rows = [
        "declaration_id,description,net_weight_kg",
        'A1,"vest, ballistic",2',
        'A1,"two\nlines",1',
        "A2," + "x" * 100 + ",3",
        'A3,"never closed,4',
        "A4,ok,5",
    ]
    data = newline.join(rows).encode()
    expected = pd.concat(list(iter_table_chunks(data)))
    monkeypatch.setattr(csv_blocks, "_BLOCK_CHARS", block_chars)
    pdt.assert_frame_equal(pd.concat(list(iter_table_chunks(data))), expected)
    assert len(expected) == 5
