"""Detecting how a table file is written: Parquet or CSV, and for CSV its text encoding,
delimiter, decimal separator and header (recognised columns renamed to contract fields).

Only the first megabyte is read. Files that are not tables at all (archives, JSON, UTF-16,
binary data) are refused with a `TableError` that says what they look like instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from training.schema import canonical_header, infer_decimal
from training.tables.source import (
    UNDECODABLE,
    Decimal,
    Source,
    TableError,
    TableFormat,
    display_name,
    open_binary,
)

DELIMITERS: Final = (",", ";", "\t", "|")
ENCODINGS: Final = ("utf-8", "utf-8-sig", "cp1251", "gb18030")

# Enough text to judge the encoding and the delimiter, small enough to read at once.
_SAMPLE_BYTES: Final = 1 << 20
_NUMBER_FIELDS: Final = ("net_weight_kg", "gross_weight_kg", "value", "quantity")


def _read_sample(source: Source) -> tuple[bytes, bool]:
    """The first bytes of the source, and whether they are the whole of it."""
    with open_binary(source) as handle:
        sample = handle.read(_SAMPLE_BYTES + 1)
    return sample[:_SAMPLE_BYTES], len(sample) <= _SAMPLE_BYTES


def detect_format(source: Source) -> TableFormat:
    """The kind, encoding, delimiter, decimal separator and header of a table file.

    Raises `TableError` for anything that is not a readable declaration table.
    """
    name = display_name(source)
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
    damaged = len(UNDECODABLE.findall(text))
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


def _detect_parquet(source: Source, name: str) -> TableFormat:
    try:
        with open_binary(source) as handle:
            columns = tuple(pq.ParquetFile(handle).schema_arrow.names)
    except (pa.ArrowException, OSError) as exc:
        raise TableError(f"{name}: not a readable Parquet file ({exc})") from None
    renames = _recognised_headers(columns, name)
    return TableFormat("parquet", None, None, ".", columns, renames)
