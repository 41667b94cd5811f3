"""Writing frames and Arrow tables as CSV bytes: what pandas `to_csv` writes, made safe.

Text cells are cleaned of invisible and control characters (`export_text`) and guarded
against spreadsheet formulas (`guard_formulas`) before they are quoted. The cells are built
with pyarrow compute from the Arrow buffers rather than with a Python call per cell;
columns of other types go through pandas, which writes the same bytes more slowly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training.schema import (
    INVISIBLE_RANGES,
    INVISIBLE_RE2,
    SPACING_CONTROLS,
    SPACING_CONTROLS_RE2,
    export_text,
)
from training.tables.read import table_frame

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
