"""Which database the store is, how to connect to it, and how to wait out a busy one.

A store is named by a URL (`PARCEL_SCREEN_DATABASE_URL`): `sqlite:///path` (a file, the
default; WAL, so readers never wait for the writer) or `postgresql://user:pw@host/db`
(several replicas share it; driven by psycopg 3). `Database` owns the SQLAlchemy engine,
creates or migrates the schema the first time it is used, notices a SQLite file deleted or
replaced under it, and runs units of work with a bounded wait for locks: past the wait,
or on any failure, `StoreUnavailableError` says "come back later", never a 500.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

log = logging.getLogger(__name__)

T = TypeVar("T")

# A writer that finds a SQLite file locked (an export, a backup) waits this long per
# statement; the unit of work is retried with backoff up to the caller's `lock_wait`.
BUSY_TIMEOUT_MS: Final = 5000

# Errors that mean "the store cannot do this now", as opposed to a bug.
STORE_ERRORS: Final = (SQLAlchemyError, sqlite3.Error, OSError)

_POSTGRES_SCHEMES: Final = ("postgresql", "postgres", "postgresql+psycopg")


class StoreUnavailableError(Exception):
    """The store cannot answer now (locked past the wait, failing); try again later."""


class StoreUrlError(ValueError):
    """A database URL the store cannot use; the message names the setting."""


def store_url(url: str | URL) -> URL:
    """The SQLAlchemy URL of a store URL: `postgresql://` goes through psycopg 3."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise StoreUrlError(
            "PARCEL_SCREEN_DATABASE_URL: not a database URL; expected sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:5432/DB"
        ) from None
    if parsed.drivername in _POSTGRES_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            # Each connection would get a database of its own: nothing would be shared.
            raise StoreUrlError(
                "PARCEL_SCREEN_DATABASE_URL: name a SQLite file (sqlite:///var/store.sqlite3); "
                "an in-memory database is not a store"
            )
        return parsed.set(drivername="sqlite+pysqlite")
    raise StoreUrlError(
        f"PARCEL_SCREEN_DATABASE_URL: unsupported database {parsed.drivername!r}; "
        "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/DB"
    )


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite+pysqlite", database=str(path))


def is_lock(exc: BaseException) -> bool:
    """Whether an error is a lock held by someone else (worth waiting for)."""
    original = getattr(exc, "orig", exc)
    if isinstance(original, sqlite3.OperationalError):
        text = str(original).lower()
        return "locked" in text or "busy" in text
    sqlstate = getattr(original, "sqlstate", None)
    # lock_not_available, deadlock_detected, serialization_failure
    return sqlstate in ("55P03", "40P01", "40001")


def _missing_table(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _identity(path: Path) -> tuple[int, int] | None:
    """The file behind a path (device, inode), to tell when it is deleted or replaced."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[..., None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun explicitly (below), so SQLite's own BEGIN handling in the
        # driver never commits behind SQLAlchemy's back.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; only an OS crash
            # can lose the last commits, the price of not syncing every batch.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    return on_connect


def _begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")


class Database:
    """One store: its engine, its schema kept at the newest migration, bounded waits."""

    def __init__(
        self, url: str | URL, *, lock_wait: float = 10.0, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.url = store_url(url)
        self.lock_wait = lock_wait
        self.busy_timeout_ms = int(min(busy_timeout_ms, lock_wait * 1000))
        self.sqlite_path: Path | None = (
            Path(self.url.database or "") if self.url.drivername.startswith("sqlite") else None
        )
        self._engine: sa.Engine | None = None
        self._opened_on: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def sqlite(cls, path: Path, **options: Any) -> Database:
        return cls(sqlite_url(path), **options)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.sqlite_path is not None else "postgresql"

    def describe(self) -> str:
        """The URL without its password, for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.describe()!r})"

    # -- the engine -----------------------------------------------------------------------

    def engine(self) -> sa.Engine:
        """The engine, made (and the schema migrated) on first use; for SQLite, made
        afresh when the file was deleted or replaced under the running process."""
        engine = self._engine
        if engine is not None and (
            self.sqlite_path is None or _identity(self.sqlite_path) == self._opened_on
        ):
            return engine
        with self._lock:
            if self._engine is not None:
                if self.sqlite_path is None or _identity(self.sqlite_path) == self._opened_on:
                    return self._engine
                log.warning(
                    "store: the database file was deleted or replaced; opening it afresh",
                    extra={"store": self.describe()},
                )
                self._engine.dispose()
                self._engine = None
            engine = self._make_engine()
            try:
                from service.store.migrate import upgrade

                upgrade(engine)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
            if self.sqlite_path is not None:
                self._opened_on = _identity(self.sqlite_path)
            return engine

    def _make_engine(self) -> sa.Engine:
        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(
                self.url,
                connect_args={
                    "timeout": self.busy_timeout_ms / 1000,
                    "check_same_thread": False,
                },
            )
            event.listen(engine, "connect", _sqlite_pragmas(self.busy_timeout_ms))
            event.listen(engine, "begin", _begin)
            return engine
        return sa.create_engine(
            self.url,
            # Connections dropped by a server restart are replaced, not handed out.
            pool_pre_ping=True,
            pool_size=4,
            max_overflow=4,
            pool_timeout=self.lock_wait,
            connect_args={
                "connect_timeout": max(1, int(self.lock_wait)),
                # A statement waiting for a lock gives up, and is retried up to lock_wait.
                "options": f"-c lock_timeout={self.busy_timeout_ms}",
            },
        )

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine, self._opened_on = None, None

    # -- units of work --------------------------------------------------------------------

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in one transaction, waiting out a lock up to `lock_wait`.

        `StoreUnavailableError` when the store stays locked or fails: the caller is told
        to come back, rather than given a 500 (or nothing stored and no word of it).
        """

        def attempt() -> T:
            with self.engine().begin() as connection:
                return work(connection)

        return self._waiting_out_locks(attempt, DBAPIError)

    def run_sqlite(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`run` for a read on SQLite's own connection: `work` gets the driver's connection
        inside one transaction (begun and ended here), with the same wait for locks and the
        same `StoreUnavailableError`. SQLAlchemy's connection, transaction and event
        handling around a read cost more than the read itself (~0.1 ms a transaction); a
        party's history is read on the HTTP path. SQLite stores only (`dialect`)."""
        if self.sqlite_path is None:
            raise TypeError("run_sqlite needs a SQLite store")

        def attempt() -> T:
            pooled = self.engine().raw_connection()
            try:
                driver: sqlite3.Connection = pooled.driver_connection  # type: ignore[assignment]
                driver.execute("BEGIN")
                # Handed back to the pool, the connection is rolled back when this fails;
                # on success the read is committed.
                result = work(driver)
                driver.execute("COMMIT")
                return result
            finally:
                pooled.close()

        return self._waiting_out_locks(attempt, (DBAPIError, sqlite3.Error))

    def _waiting_out_locks(
        self,
        attempt: Callable[[], T],
        database_errors: type[Exception] | tuple[type[Exception], ...],
    ) -> T:
        """`attempt()` until it succeeds: a lock is waited out up to `lock_wait`, a schema
        gone from under us is put back once, anything else is `StoreUnavailableError`."""
        deadline = time.monotonic() + self.lock_wait
        delay = 0.05
        migrated = False
        while True:
            try:
                return attempt()
            except database_errors as exc:
                if _missing_table(exc) and not migrated:
                    # The schema went away under us (a file made afresh): put it back.
                    migrated = True
                    self.dispose()
                    continue
                left = deadline - time.monotonic()
                if is_lock(exc) and left > 0:
                    time.sleep(min(delay, left))
                    delay = min(delay * 2, 1.0)
                    continue
                raise StoreUnavailableError(f"the store is unavailable ({_reason(exc)})") from exc
            except STORE_ERRORS as exc:
                raise StoreUnavailableError(f"the store is unavailable ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
