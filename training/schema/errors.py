"""What is wrong with a value, said so a person can fix it: `FieldError` for one value,
`shown` to quote it, `RowErrors` for the `field: message` entries of a frame's rows.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd


class FieldError(ValueError):
    """A value that does not fit its field; the message says what was expected."""


# Longest part of a caller's value quoted back in a message: enough to recognise it, never
# a megabyte of it echoed into a response or a log line.
SHOWN_CHARS: Final = 40


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value quoted for a message (`repr`), cut to `limit` characters with its length."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


# Characters that show nothing, or that steer how text around them shows: control
# characters (category Cc, except the whitespace ones, which become spaces), format
# characters (Cf: zero-width space and joiners, bidi overrides and isolates, soft hyphen,


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def _quoted_cut(values: pd.Series) -> pd.Series:
    """Values quoted for a row error, as `shown` quotes one: long ones cut, with their length."""
    lengths = values.str.len()
    long = lengths > SHOWN_CHARS
    quoted = "'" + values + "'"
    if bool(long.any()):
        cut = "'" + values[long].str[:SHOWN_CHARS] + "'... (" + lengths[long].astype(str)
        quoted[long] = cut + " characters)"
    return quoted


def _num(values: pd.Series) -> pd.Series:
    return values.map("{:g}".format)


class RowErrors:
    """Collects `field: message` entries for the (usually few) rows that have them."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.positions: list[np.ndarray] = []
        self.entries: list[np.ndarray] = []

    def add(
        self,
        field: str,
        mask: pd.Series,
        message: str,
        shown: pd.Series | None = None,
        *,
        quote: bool = False,
    ) -> None:
        """Record `message` for rows in `mask`, followed by the row's `shown` value if given.

        The per-row text is only built for the masked rows: errors are rare, rows are many.
        """
        flags = mask.to_numpy(dtype=bool, na_value=False)
        if not flags.any():
            return
        positions = np.flatnonzero(flags)
        if shown is None:
            texts = np.full(len(positions), f"{field}: {message}", dtype=object)
        else:
            picked = shown.iloc[positions]
            rendered = (
                _quoted_cut(_as_text(picked))
                if quote
                else (_num(picked) if pd.api.types.is_numeric_dtype(picked) else _as_text(picked))
            )
            texts = (f"{field}: {message}" + rendered).to_numpy(dtype=object)
        self.positions.append(positions)
        self.entries.append(texts)

    def has_error(self) -> np.ndarray:
        flags = np.zeros(len(self.index), dtype=bool)
        for positions in self.positions:
            flags[positions] = True
        return flags

    def result(self, lines: pd.Series | None) -> pd.Series:
        out = np.full(len(self.index), None, dtype=object)
        if self.positions:
            joined = (
                pd.Series(np.concatenate(self.entries), index=np.concatenate(self.positions))
                .groupby(level=0, sort=True)
                .agg("; ".join)
            )
            positions = joined.index.to_numpy()
            texts = joined.to_numpy(dtype=object)
            if lines is not None:
                texts = texts + " (line " + lines.iloc[positions].astype(str).to_numpy() + ")"
            out[positions] = texts
        return pd.Series(out, index=self.index, dtype=object)
