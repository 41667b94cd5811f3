"""Where audit rows wait while the audit database cannot take them.

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
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

# Rows inserted per statement batch while replaying.
_REPLAY_BATCH: Final = 500


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

    def replay(self, connection: sqlite3.Connection, insert: str) -> int:
        """Insert every spilled row with `insert`, then remove the file; returns the rows."""
        # A file left by a replay that did not finish goes first; new spills append to a
        # fresh file meanwhile.
        if not self._replaying.exists():
            if not self.path.exists():
                return 0
            os.replace(self.path, self._replaying)
        rows = 0
        with connection:
            connection.execute("BEGIN")
            batch: list[list[Any]] = []
            for row in self._rows(self._replaying):
                batch.append(row)
                if len(batch) >= _REPLAY_BATCH:
                    connection.executemany(insert, batch)
                    rows += len(batch)
                    batch.clear()
            if batch:
                connection.executemany(insert, batch)
                rows += len(batch)
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
