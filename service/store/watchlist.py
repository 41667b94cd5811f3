"""The watch list kept by data staff: parties to look at, with why, who and until when.

One entry per party and role; adding it again updates it. Every change (add, update,
remove, import, forget) is written to `watchlist_changes` in the same transaction, with
who made it (an API key id or the user running the command). Input is checked here, so
the CLI, the CSV import and the HTTP route refuse the same things with the same words.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from service.store.parcels import utc_naive
from service.store.tables import ID_CHARS, watchlist, watchlist_changes
from training.history import ROLES, Role, WatchEntry
from training.schema import FieldError, normalise_identifier

MAX_REASON_CHARS: Final = 500
# A watch-list file is a few thousand lines; anything far bigger is the wrong file.
MAX_IMPORT_BYTES: Final = 16 << 20
IMPORT_COLUMNS: Final = ("party_id", "role", "reason", "expires")


class WatchListError(ValueError):
    """An entry that cannot be kept; says which field (and which row of a file)."""

    def __init__(self, message: str, *, field: str, row: int | None = None) -> None:
        where = f"row {row}, " if row is not None else ""
        super().__init__(f"{where}{field}: {message}")
        self.message = message
        self.field = field
        self.row = row


class WatchListImportError(ValueError):
    """A file with bad rows: every problem, and nothing imported."""

    def __init__(self, problems: Sequence[WatchListError]) -> None:
        shown = "; ".join(str(problem) for problem in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} bad rows, nothing imported: {shown}{more}")
        self.problems = list(problems)


@dataclass(frozen=True)
class WatchRequest:
    """One checked entry to put on the list."""

    party_id: str
    role: Role
    reason: str
    # UTC, naive; None: until removed.
    expires_at: datetime | None


def check_party(value: Any, field: str = "party_id") -> str:
    if not isinstance(value, str) or not value.strip():
        raise WatchListError("is required", field=field)
    try:
        party = normalise_identifier(value)
    except FieldError as exc:
        raise WatchListError(str(exc), field=field) from None
    if len(party) > ID_CHARS:
        raise WatchListError(f"must be at most {ID_CHARS} characters", field=field)
    return party


def parse_expiry(value: Any, now: datetime) -> datetime | None:
    """An expiry: a date (the entry stands through that day, UTC) or an ISO datetime."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    moment: datetime
    if isinstance(value, datetime):
        moment = utc_naive(value)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day) + timedelta(days=1)
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime(day.year, day.month, day.day) + timedelta(days=1)
            else:
                moment = utc_naive(datetime.fromisoformat(text))
        except ValueError:
            raise WatchListError(
                "expected a date (YYYY-MM-DD) or an ISO 8601 datetime", field="expires"
            ) from None
    if moment <= utc_naive(now):
        raise WatchListError("is in the past", field="expires")
    return moment


def check(party_id: Any, role: Any, reason: Any, expires: Any, now: datetime) -> WatchRequest:
    """A watch-list entry from raw input, or `WatchListError` naming the field."""
    party = check_party(party_id)
    if role not in ROLES:
        raise WatchListError("must be sender or recipient", field="role")
    if not isinstance(reason, str) or not reason.strip():
        raise WatchListError("is required: say why the party is watched", field="reason")
    if len(reason.strip()) > MAX_REASON_CHARS:
        raise WatchListError(f"must be at most {MAX_REASON_CHARS} characters", field="reason")
    return WatchRequest(party, role, reason.strip(), parse_expiry(expires, now))


def _log(
    connection: sa.Connection,
    action: str,
    now: datetime,
    by: str,
    party_id: str | None,
    role: str | None = None,
    reason: str | None = None,
    expires_at: datetime | None = None,
) -> None:
    connection.execute(
        watchlist_changes.insert().values(
            changed_at=now,
            action=action,
            party_id=party_id,
            role=role,
            reason=reason,
            expires_at=expires_at,
            changed_by=by[:ID_CHARS],
        )
    )


def put(
    connection: sa.Connection, entry: WatchRequest, by: str, now: datetime, action: str = "add"
) -> bool:
    """Add an entry, or update the one of the same party and role; True if it was new."""
    key = (watchlist.c.party_id == entry.party_id) & (watchlist.c.role == entry.role)
    existed = connection.execute(sa.select(watchlist.c.party_id).where(key)).first() is not None
    values = {
        "reason": entry.reason,
        "listed_by": by[:ID_CHARS],
        "listed_at": utc_naive(now),
        "expires_at": entry.expires_at,
    }
    if existed:
        connection.execute(watchlist.update().where(key).values(**values))
    else:
        connection.execute(
            watchlist.insert().values(party_id=entry.party_id, role=entry.role, **values)
        )
    _log(
        connection,
        action if not existed else "update",
        utc_naive(now),
        by,
        entry.party_id,
        entry.role,
        entry.reason,
        entry.expires_at,
    )
    return not existed


def remove(
    connection: sa.Connection, party_id: str, by: str, now: datetime, role: Role | None = None
) -> list[WatchEntry]:
    """Take a party off the list (one role, or every role); returns what was removed."""
    removed = entries(connection, [party_id])
    if role is not None:
        removed = [entry for entry in removed if entry.role == role]
    for entry in removed:
        connection.execute(
            watchlist.delete().where(
                (watchlist.c.party_id == entry.party_id) & (watchlist.c.role == entry.role)
            )
        )
        _log(connection, "remove", utc_naive(now), by, entry.party_id, entry.role, entry.reason)
    return removed


def _entry(row: sa.Row[Any]) -> WatchEntry:
    return WatchEntry(
        party_id=row.party_id,
        role=row.role,
        reason=row.reason,
        listed_by=row.listed_by,
        listed_at=row.listed_at,
        expires_at=row.expires_at,
    )


def entries(
    connection: sa.Connection, party_ids: Collection[str] | None = None
) -> list[WatchEntry]:
    """Entries of some parties (or all), expired ones included, by party and role."""
    if party_ids is None:
        return [_entry(row) for row in connection.execute(_ALL)]
    wanted = sorted(set(party_ids))
    if not wanted:
        return []
    if connection.dialect.name == "sqlite":
        return sqlite_entries(connection.connection.driver_connection, wanted)
    return [_entry(row) for row in connection.execute(_OF_PARTIES, {"parties": wanted})]


def sqlite_entries(driver: Any, party_ids: Collection[str]) -> list[WatchEntry]:
    """`entries` of some parties on SQLite's own connection (in a transaction the caller
    began)."""
    wanted = sorted(set(party_ids))
    return [
        entry
        for start in range(0, len(wanted), _CHUNK)
        for entry in _sqlite_entries(driver, wanted[start : start + _CHUNK])
    ]


# Built once: the HTTP path asks for the entries of a declaration's parties.
_ALL: Final = sa.select(watchlist).order_by(watchlist.c.party_id, watchlist.c.role)
_OF_PARTIES: Final = _ALL.where(watchlist.c.party_id.in_(sa.bindparam("parties", expanding=True)))
# Party ids asked for in one statement through SQLite's driver (under its parameter limit).
_CHUNK: Final = 400
_SQLITE_COLUMNS: Final = "party_id, role, reason, listed_by, listed_at, expires_at"


def _sqlite_entries(driver: Any, parties: list[str]) -> list[WatchEntry]:
    """`_OF_PARTIES` straight through SQLite's driver, as the party parcels are read: on the
    HTTP path SQLAlchemy's statement and result handling cost several times the query
    (pinned to the SQLAlchemy read by the store tests)."""
    marks = ", ".join("?" * len(parties))
    sql = (
        f"SELECT {_SQLITE_COLUMNS} FROM watchlist WHERE party_id IN ({marks})"
        " ORDER BY party_id, role"
    )
    return [
        WatchEntry(
            party_id=party,
            role=role,
            reason=reason,
            listed_by=listed_by,
            listed_at=_sqlite_datetime(listed_at),
            expires_at=_sqlite_datetime(expires_at) if expires_at is not None else None,
        )
        for party, role, reason, listed_by, listed_at, expires_at in driver.execute(sql, parties)
    ]


def _sqlite_datetime(value: datetime | str) -> datetime:
    # SQLAlchemy keeps a DateTime on SQLite as ISO text ("2026-12-04 10:00:00.000000").
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def forget(connection: sa.Connection, party_id: str, by: str, now: datetime) -> int:
    """Remove a party's entries and its id from the change log; returns entries removed."""
    removed = connection.execute(watchlist.delete().where(watchlist.c.party_id == party_id))
    connection.execute(
        watchlist_changes.update()
        .where(watchlist_changes.c.party_id == party_id)
        .values(party_id=None, reason=None)
    )
    # The forgetting itself is logged, without the id it forgot.
    _log(connection, "forget", utc_naive(now), by, None)
    return int(removed.rowcount)


def read_import(path: Path, now: datetime) -> list[WatchRequest]:
    """The entries of a watch-list CSV (party_id, role, reason, expires), or
    `WatchListImportError` listing every bad row (numbered as a spreadsheet shows them,
    the header being row 1)."""
    with path.open("rb") as handle:
        data = handle.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise WatchListImportError(
            [WatchListError(f"the file is larger than {MAX_IMPORT_BYTES} bytes", field="file")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WatchListImportError(
            [WatchListError("the file is not UTF-8 text", field="file")]
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in ("party_id", "role", "reason") if name not in header]
    if missing:
        raise WatchListImportError(
            [WatchListError(f"missing column(s) {', '.join(missing)}", field="header", row=1)]
        )
    reader.fieldnames = header
    found: list[WatchRequest] = []
    problems: list[WatchListError] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(reader, start=2):
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # a blank line
        try:
            entry = check(
                (row.get("party_id") or "").strip(),
                (row.get("role") or "").strip().lower(),
                row.get("reason") or "",
                row.get("expires"),
                now,
            )
        except WatchListError as exc:
            problems.append(WatchListError(exc.message, field=exc.field, row=number))
            continue
        key = (entry.party_id, entry.role)
        if key in seen:
            problems.append(
                WatchListError(
                    f"{entry.party_id} as {entry.role} is also on row {seen[key]}",
                    field="party_id",
                    row=number,
                )
            )
            continue
        seen[key] = number
        found.append(entry)
    if problems:
        raise WatchListImportError(problems)
    return found
