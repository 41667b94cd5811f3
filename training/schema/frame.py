"""The frame normaliser (`normalise_declarations`): typed, checked declaration columns from a
frame whose headers are already canonical, with each row's errors. Rows are never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training.schema.errors import FieldError, RowErrors
from training.schema.fields import (
    ALL_FIELDS,
    DECLARATION_FIELDS,
    ERROR_COLUMN,
    LINE_COLUMN,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    NUMERIC_FIELDS,
    READ_ERROR_COLUMN,
)
from training.schema.numbers import distinct_text, numbers_and_blanks
from training.schema.scalars import SCALAR_NORMALISERS

# Characters that NFKC keeps as they are, alone and next to each other (checked for every
# pair of the ASCII and Cyrillic ones; CJK ideographs take part in no composition), none of
# them whitespace. Text of these with single inner spaces is its own `normalise_text`.
_STABLE_CHARS: Final = "!-~\u0400-\u0482\u048a-\u04ff\u4e00-\u9fff"
_STABLE_TEXT: Final = f"^[{_STABLE_CHARS}]+(?: [{_STABLE_CHARS}]+)*$"
# Fields whose normaliser returns a stable text of at most this many characters unchanged.
_KEPT_WHEN_STABLE: Final = {
    "declaration_id": MAX_ID_CHARS,
    "sender_id": MAX_ID_CHARS,
    "recipient_id": MAX_ID_CHARS,
    "description": MAX_DESCRIPTION_CHARS,
}


def _stable_texts(uniques: pd.Series, max_chars: int) -> np.ndarray:
    """True for values that are stable text of at most `max_chars` characters.

    Checked in Arrow (C, no Python call per value): most identifiers and descriptions are,
    and only the others need the Python normaliser.
    """
    try:
        array = pa.array(uniques.to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowException, UnicodeError):  # lone surrogates: let the normaliser judge
        return np.zeros(len(uniques), dtype=bool)
    stable = pc.and_(
        pc.match_substring_regex(array, _STABLE_TEXT),
        pc.less_equal(pc.utf8_length(array), max_chars),
    )
    return np.asarray(stable.to_numpy(zero_copy_only=False), dtype=bool)


def _map_distinct(
    values: pd.Series, normalise: Callable[[str], Any], kept_when_stable: int | None = None
) -> tuple[pd.Series, pd.Series]:
    """Apply a scalar normaliser to each distinct non-blank value; (result, error message).

    With `kept_when_stable`, stable texts up to that length are known to normalise to
    themselves and skip the normaliser.
    """
    codes, uniques = distinct_text(values)
    stable = (
        _stable_texts(uniques, kept_when_stable)
        if kept_when_stable is not None and len(uniques)
        else np.zeros(len(uniques), dtype=bool)
    )
    # One slot per distinct value, and a trailing None for the NA sentinel (-1) to index.
    results = np.full(len(uniques) + 1, None, dtype=object)
    messages = np.full(len(uniques) + 1, None, dtype=object)
    distinct = uniques.to_numpy(dtype=object)
    results[:-1][stable] = distinct[stable]
    for position in np.flatnonzero(~stable).tolist():
        unique = distinct[position]
        if not unique.strip():
            continue
        try:
            results[position] = normalise(unique)
        except FieldError as exc:
            messages[position] = str(exc)
    return (
        pd.Series(results[codes], index=values.index, dtype=object),
        pd.Series(messages[codes], index=values.index, dtype=object),
    )


def normalise_declarations(
    raw: pd.DataFrame,
    *,
    decimal: Literal[",", "."] | None = None,
    with_labels: bool | None = None,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Typed, checked declaration columns from a frame whose headers are already canonical.

    Returns a new frame with every contract field (missing ones empty), typed: floats for
    numbers, `datetime64` for `posted_at`, Python strings or None for text. An `error`
    column holds `field: message` entries for rows that cannot be scored (None otherwise).
    Rows are never dropped and the index is kept, so results line up with `raw`.

    `decimal` fixes the decimal separator of numeric text columns; by default it is
    inferred per column. `with_labels` defaults to whether a `label` column is present.
    `only` normalises just those fields (a pass that reads a few columns of a file); the
    checks of fields left out are left out too.
    """
    index = raw.index
    lines = raw[LINE_COLUMN] if LINE_COLUMN in raw.columns else None
    errors = RowErrors(index)
    out: dict[str, pd.Series] = {}
    if with_labels is None:
        with_labels = "label" in raw.columns
    fields: tuple[str, ...] = ALL_FIELDS if with_labels else DECLARATION_FIELDS
    if only is not None:
        fields = tuple(field for field in fields if field in only)

    def column(field: str) -> pd.Series:
        if field in raw.columns:
            return raw[field]
        return pd.Series(None, index=index, dtype=object)

    description_messages = pd.Series(None, index=index, dtype=object)
    for field in fields:
        values = column(field)
        if field in SCALAR_NORMALISERS:
            if pd.api.types.is_numeric_dtype(values) and field == "label":
                values = values.astype("Int64").astype("string")
            normalised, messages = _map_distinct(
                values, SCALAR_NORMALISERS[field], _KEPT_WHEN_STABLE.get(field)
            )
            if field == "description":
                description_messages = messages
            bad = messages.notna()
            errors.add(field, bad, "", messages)
            out[field] = normalised
        elif field in NUMERIC_FIELDS:
            numbers, blank = numbers_and_blanks(values, decimal)
            not_number = numbers.isna() & ~blank
            errors.add(field, not_number, "expected a number, got ", values, quote=True)
            if field in ("gross_weight_kg", "net_weight_kg"):
                invalid = numbers <= 0
                errors.add(field, invalid, "expected a number > 0, got ", numbers)
            elif field == "value":
                invalid = numbers < 0
                errors.add(field, invalid, "expected a number >= 0, got ", numbers)
            else:  # quantity, item_no: whole numbers >= 1
                invalid = (numbers < 1) | (numbers.notna() & (numbers != np.floor(numbers)))
                errors.add(field, invalid, "expected a whole number >= 1, got ", numbers)
            out[field] = numbers.where(~invalid)
        elif field == "posted_at":
            if pd.api.types.is_datetime64_any_dtype(values):
                parsed = pd.to_datetime(values, utc=True)
                bad = pd.Series(False, index=index)
            else:
                codes, uniques = distinct_text(values)
                stripped = uniques.str.strip()
                blank = pd.Series(
                    np.append((stripped == "").to_numpy(dtype=bool), True)[codes], index=index
                )
                distinct = pd.to_datetime(stripped, format="ISO8601", errors="coerce", utc=True)
                parsed = pd.Series(
                    distinct.array.take(codes, allow_fill=True), index=index, dtype=distinct.dtype
                )
                bad = parsed.isna() & ~blank
                errors.add(field, bad, "expected an ISO 8601 date, got ", values, quote=True)
            out[field] = parsed.dt.tz_localize(None)

    # Every column above is a new array: no copy (which took ~1 ms per column and chunk).
    frame = pd.DataFrame({name: out[name] for name in fields}, index=index, copy=False)

    # Required fields. The description normaliser raises rather than return nothing, so an
    # empty result without a message is a blank cell (missing or only whitespace): found
    # without a second pass over the column.
    if "description" in frame.columns:
        missing_description = frame["description"].isna() & description_messages.isna()
        errors.add("description", missing_description, "is required and must not be empty")

    # A missing declaration id gets one derived from the row, so every row is its own parcel.
    missing_id = frame["declaration_id"].isna() | (frame["declaration_id"] == "")
    if bool(missing_id.any()):
        row_ids = lines if lines is not None else pd.Series(np.arange(1, len(index) + 1), index)
        frame.loc[missing_id, "declaration_id"] = "ROW-" + row_ids[missing_id].astype(str)

    # Item numbers default to the row's position within its parcel (grouped only if needed).
    if "item_no" in frame.columns and bool(frame["item_no"].isna().any()):
        position = frame.groupby("declaration_id", sort=False).cumcount() + 1
        frame["item_no"] = frame["item_no"].fillna(position.astype("float64"))

    if READ_ERROR_COLUMN in raw.columns:
        read_errors = raw[READ_ERROR_COLUMN]
        errors.add("row", read_errors.notna(), "", read_errors)

    frame[ERROR_COLUMN] = errors.result(lines)
    return frame
