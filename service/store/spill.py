"""Where audit rows wait while the store cannot take them.

The audit trail must not lose a scored declaration because the database is locked for
long, on a full disk, or gone: the writer appends such rows to a spill file (JSON lines,
fsynced), and puts them into the database once it takes writes again. The file is on the
database's disk by default; on another disk (`PARCEL_SCREEN_AUDIT_SPILL_PATH`) it also
covers a full database disk.

A replay inserts the whole file in one transaction and only then removes it: a crash in
between can only insert its rows twice, never lose them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson


class Spill:
    """An append-only file of audit rows (each a JSON array of the `scored` columns)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def pending(self) -> bool:
        return self.path.exists() or self._replaying.exists()

    @property
    def _replaying(self) -> Path:
        return self.path.with_name(self.path.name + ".replaying")

    def append(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append rows durably (written and fsynced), or raise `OSError`."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(orjson.dumps(list(row)) + b"\n" for row in rows)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = 0
            while written < len(data):
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def replay(self, insert_all: Callable[[Iterator[list[Any]]], int]) -> int:
        """Hand every spilled row to `insert_all` (which inserts them in one transaction
        and returns how many), then remove the file; returns the rows."""
        # A file left by a replay that did not finish goes first; new spills append to a
        # fresh file meanwhile.
        if not self._replaying.exists():
            if not self.path.exists():
                return 0
            os.replace(self.path, self._replaying)
        rows = insert_all(self._rows(self._replaying))
        self._replaying.unlink()
        return rows

    @staticmethod
    def _rows(path: Path) -> Iterator[list[Any]]:
        with path.open("rb") as handle:
            for line in handle:
                # A line cut short by a crash mid-append holds no complete row.
                with contextlib.suppress(orjson.JSONDecodeError):
                    row = orjson.loads(line)
                    if isinstance(row, list):
                        yield row
