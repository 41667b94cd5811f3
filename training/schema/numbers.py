"""Numbers as exports write them ("1 234,5", "1,234.5", "12,5"): parsed once per distinct
text, with the decimal separator inferred per column unless it is known.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import numpy as np
import pandas as pd

from training.schema.errors import FieldError, shown

_NUMBER_JUNK: Final = re.compile(r"[\s\u00a0\u202f'’]")


def parse_number(value: object, decimal: Literal[",", "."] | None = None) -> float:
    """A float from a number or a messy numeric string ("1 234,5", "1,234.5", "12,5")."""
    if isinstance(value, bool):
        raise FieldError(f"expected a number, got {shown(value)}")
    if isinstance(value, int | float):
        return float(value)
    parsed = parse_numbers(pd.Series([value], dtype=object), decimal).iloc[0]
    if pd.isna(parsed):
        raise FieldError(f"expected a number, got {shown(value)}")
    return float(parsed)


def infer_decimal(values: pd.Series) -> Literal[",", "."]:
    """Whether a column of numeric strings uses decimal commas.

    A comma is a decimal separator when some value has a comma not followed by exactly
    three digits ("12,5"), or when a comma comes after the last dot ("1.234,5").
    """
    text = pd.Series(values.dropna().unique(), dtype=object).astype(str)
    text = text.str.replace(_NUMBER_JUNK, "", regex=True)
    decimal_comma = text.str.contains(r",(?:\d{1,2}|\d{4,})$", regex=True) | text.str.contains(
        r"\.\d{3},", regex=True
    )
    return "," if bool(decimal_comma.any()) else "."


def _parse_distinct_numbers(text: pd.Series, decimal: Literal[",", "."]) -> pd.Series:
    cleaned = text.str.replace(_NUMBER_JUNK, "", regex=True)
    if decimal == ",":
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        cleaned = cleaned.str.replace(",", "", regex=False)
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def distinct_text(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values as strings); code -1 marks a missing cell."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Series(uniques, dtype=object).astype(str)


def parse_numbers(values: pd.Series, decimal: Literal[",", "."] | None = None) -> pd.Series:
    """Vectorised `parse_number`: NaN where a value is missing or not a number.

    Text is parsed once per distinct value: exports repeat their numbers a lot.
    """
    return numbers_and_blanks(values, decimal)[0]


def numbers_and_blanks(
    values: pd.Series, decimal: Literal[",", "."] | None
) -> tuple[pd.Series, pd.Series]:
    """`parse_numbers` of one column and where its cells are blank (missing or only
    whitespace), from one pass over its distinct values."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), values.isna()
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(np.nan, index=values.index, dtype="float64"), values.isna()
    codes, uniques = distinct_text(values)
    if decimal is None:
        decimal = infer_decimal(uniques)
    parsed = np.append(_parse_distinct_numbers(uniques, decimal).to_numpy(), np.nan)
    blank = np.append((uniques.str.strip() == "").to_numpy(dtype=bool), True)
    return (
        pd.Series(parsed[codes], index=values.index, dtype="float64"),
        pd.Series(blank[codes], index=values.index),
    )
