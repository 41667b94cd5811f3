"""What every table module shares: the source, its detected format, and the one error.

Also opening a source, how undecodable bytes show in decoded text, the `csv` module's field
size limit, and the column layout of the raw pieces the CSV and Parquet readers produce.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Literal

from training.schema import LINE_COLUMN, READ_ERROR_COLUMN

Source = Path | bytes
Kind = Literal["csv", "parquet"]
Decimal = Literal[",", "."]

# What `surrogateescape` turns undecodable bytes into.
ESCAPE: Final = "surrogateescape"
UNDECODABLE: Final = re.compile("[\udc80-\udcff]")


def replace_undecodable(value: str) -> str:
    """`value` with each undecodable byte shown as U+FFFD."""
    return UNDECODABLE.sub("\ufffd", value)


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
LINE: Final = "line"
ERROR: Final = "read_error"


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


def piece_names(width: int) -> list[str]:
    """The names of a raw piece's cell columns (the start line and read error follow)."""
    return [f"c{i}" for i in range(width)]


# --- opening ----------------------------------------------------------------------------------


def display_name(source: Source) -> str:
    return str(source) if isinstance(source, Path) else "input"


@contextlib.contextmanager
def open_binary(source: Source) -> Iterator[IO[bytes]]:
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
