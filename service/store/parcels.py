"""Party history records: one row per parcel in `parcels`, read back as `PartyParcel`s.

Each scoring upserts its parcel (keyed by declaration id, so re-scoring never adds a
second row): the latest scoring's facts win, the first scoring time is kept. Each outcome
posted on a parcel sets the outcome that stands for it (`standing_outcome`). Reads return
every parcel a party took part in, as sender or recipient, within the retention window.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service.store.sqlite_rows import insert_rows
from service.store.tables import ID_CHARS, feedback, parcels, watchlist
from training.gear_words import any_names_gear
from training.gross_weight import parcel_gross_kg
from training.history import Outcome, PartyParcel
from training.schema import FieldError, normalise_identifier

# Party ids asked for in one statement (well under SQLite's bound-parameter limit).
_CHUNK: Final = 400


def utc_naive(moment: datetime) -> datetime:
    """A datetime as the store keeps it: UTC, without a zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date or datetime (a zone is converted to UTC), else None."""
    if isinstance(value, datetime):
        return utc_naive(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return utc_naive(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def party_id(value: Any) -> str | None:
    """A party id as scoring normalises it; None when absent or unusable."""
    if value is None:
        return None
    try:
        text = normalise_identifier(str(value))
    except FieldError:
        return None
    return text if text and len(text) <= ID_CHARS else None


def _weight(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        with contextlib.suppress(ValueError):
            return float(value.strip().replace(",", "."))
    return None


@dataclass(frozen=True)
class ParcelFacts:
    """What one scoring says about its parcel."""

    declaration_id: str
    # None: the declaration had no (usable) posted_at; the scoring time stands in.
    posted_at: datetime | None
    sender_id: str | None
    recipient_id: str | None
    destination_country: str | None
    gross_weight_kg: float | None
    decision: str | None
    model_version: str | None
    scored_at: datetime
    names_gear: bool = False
    first_pass_score: float | None = None

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(party for party in (self.sender_id, self.recipient_id) if party)


def facts_of(row: Sequence[Any]) -> ParcelFacts | None:
    """The parcel facts of a `scored` row (a tuple in `SCORED_COLUMNS` order)."""
    scored_at_text, declaration_id, model_version, decision, input_json = (
        row[0],
        row[3],
        row[4],
        row[6],
        row[7],
    )
    # Rows spilled before the store kept first-pass scores are a column short.
    first_pass = row[9] if len(row) > 9 else None
    if not declaration_id or len(str(declaration_id)) > ID_CHARS:
        return None
    data = orjson.loads(input_json)
    scored_at = parse_time(scored_at_text) or datetime.now(UTC).replace(tzinfo=None)
    country = data.get("destination_country")
    items = [item for item in data.get("items") or () if isinstance(item, dict)]
    return ParcelFacts(
        declaration_id=str(declaration_id),
        posted_at=parse_time(data.get("posted_at")),
        sender_id=party_id(data.get("sender_id")),
        recipient_id=party_id(data.get("recipient_id")),
        destination_country=str(country)[:8] if country else None,
        gross_weight_kg=parcel_gross_kg(
            _weight(data.get("gross_weight_kg")),
            (_weight(item.get("net_weight_kg")) for item in items),
        ),
        decision=str(decision)[:16] if decision else None,
        model_version=str(model_version)[:64] if model_version else None,
        scored_at=scored_at,
        names_gear=any_names_gear(item.get("description") for item in items),
        first_pass_score=_score(first_pass),
    )


def _score(value: Any) -> float | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return min(max(float(value), 0.0), 1.0)
    return None


def _merged(facts: Iterable[ParcelFacts]) -> list[tuple[ParcelFacts, datetime]]:
    """One entry per declaration: the latest scoring's facts and the first scoring time,
    so an upsert statement never touches a row twice (PostgreSQL refuses that)."""
    latest: dict[str, ParcelFacts] = {}
    first: dict[str, datetime] = {}
    for fact in facts:
        key = fact.declaration_id
        first[key] = min(first.get(key, fact.scored_at), fact.scored_at)
        known = latest.get(key)
        if known is None or fact.scored_at >= known.scored_at:
            posted = known.posted_at if known is not None else None
            keep_posted = fact.posted_at is None and posted is not None
            latest[key] = replace(fact, posted_at=posted) if keep_posted else fact
    return [(fact, first[key]) for key, fact in latest.items()]


# Columns that the latest scoring decides.
_LATEST: Final = (
    "sender_id",
    "recipient_id",
    "destination_country",
    "gross_weight_kg",
    "names_gear",
    "first_pass_score",
    "decision",
    "model_version",
)


def upsert(connection: sa.Connection, facts: Iterable[ParcelFacts]) -> list[ParcelFacts]:
    """Insert or update the parcels of scorings; returns the facts written (one each)."""
    merged = _merged(facts)
    if not merged:
        return []
    dialect = connection.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Two statements: a scoring without posted_at must not move a parcel's posted_at.
    for with_posted in (True, False):
        batch = [entry for entry in merged if (entry[0].posted_at is not None) == with_posted]
        if not batch:
            continue
        values = [
            {
                "declaration_id": fact.declaration_id,
                "posted_at": fact.posted_at or first_scored_at,
                **{name: getattr(fact, name) for name in _LATEST},
                "first_scored_at": first_scored_at,
                "last_scored_at": fact.scored_at,
            }
            for fact, first_scored_at in batch
        ]
        if dialect == "sqlite":
            _upsert_sqlite(connection, values, with_posted)
            continue
        statement = insert(parcels)
        excluded = statement.excluded
        # A spilled scoring replayed after a newer one must not win over it.
        newer = excluded.last_scored_at >= parcels.c.last_scored_at
        updates: dict[str, Any] = {
            name: sa.case((newer, excluded[name]), else_=parcels.c[name]) for name in _LATEST
        }
        updates["last_scored_at"] = sa.case(
            (newer, excluded.last_scored_at), else_=parcels.c.last_scored_at
        )
        updates["first_scored_at"] = sa.case(
            (excluded.first_scored_at < parcels.c.first_scored_at, excluded.first_scored_at),
            else_=parcels.c.first_scored_at,
        )
        if with_posted:
            updates["posted_at"] = sa.case((newer, excluded.posted_at), else_=parcels.c.posted_at)
        connection.execute(
            statement.on_conflict_do_update(index_elements=["declaration_id"], set_=updates),
            values,
        )
    return [fact for fact, _ in merged]


def _sqlite_time(moment: datetime) -> str:
    # The text SQLAlchemy's DateTime keeps on SQLite, so both ways of writing compare alike.
    # Spelled out, not `strftime`: its %Y writes the year 917 as "917", which neither sorts
    # before "2026" nor reads back as a date.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}"
    )


_UPSERT_COLUMNS: Final = (
    "declaration_id",
    "posted_at",
    *_LATEST,
    "first_scored_at",
    "last_scored_at",
)


def _upsert_statement(with_posted: bool) -> str:
    newer = "excluded.last_scored_at >= parcels.last_scored_at"
    updates = [
        f"{name} = CASE WHEN {newer} THEN excluded.{name} ELSE {name} END"
        for name in (*_LATEST, "last_scored_at", *(("posted_at",) if with_posted else ()))
    ]
    updates.append(
        "first_scored_at = CASE WHEN excluded.first_scored_at < parcels.first_scored_at"
        " THEN excluded.first_scored_at ELSE first_scored_at END"
    )
    return f" ON CONFLICT (declaration_id) DO UPDATE SET {', '.join(updates)}"


_UPSERT_HEAD: Final = f"INSERT INTO parcels ({', '.join(_UPSERT_COLUMNS)})"
_UPSERT_SQLITE: Final = {flag: _upsert_statement(flag) for flag in (True, False)}


def _upsert_sqlite(
    connection: sa.Connection, values: list[dict[str, Any]], with_posted: bool
) -> None:
    """The same upsert, straight to the driver (SQLAlchemy's per-row parameter handling
    cost more than the statement itself)."""
    rows = [
        tuple(
            _sqlite_time(value) if isinstance(value, datetime) else value
            for value in (entry[name] for name in _UPSERT_COLUMNS)
        )
        for entry in values
    ]
    driver = connection.connection.driver_connection
    assert driver is not None
    insert_rows(driver, _UPSERT_HEAD, rows, _UPSERT_SQLITE[with_posted])


# -- outcomes ----------------------------------------------------------------------------


def standing_outcome(
    outcomes: Sequence[tuple[int | None, str, datetime | None]],
) -> tuple[Outcome | None, datetime | None]:
    """The outcome that stands for a parcel, from its outcomes (item_no, outcome, when),
    oldest first.

    The latest outcome on each target (the parcel, each item) counts. A parcel-level outcome
    newer than every item outcome is the officer's last word on the whole parcel; otherwise
    gear confirmed on any item makes the parcel confirmed (the latest such), and a parcel
    only cleared is cleared (the latest clearing).
    """
    latest: dict[int | None, tuple[str, datetime | None, int]] = {}
    for order, (item_no, outcome, moment) in enumerate(outcomes):
        latest[item_no] = (outcome, moment, order)
    if not latest:
        return None, None
    parcel = latest.get(None)
    items = [entry for target, entry in latest.items() if target is not None]
    if parcel is not None and all(parcel[2] > entry[2] for entry in items):
        return _outcome(parcel[0]), parcel[1]
    confirmed = [entry for entry in latest.values() if entry[0] == "confirmed"]
    chosen = max(confirmed or list(latest.values()), key=lambda entry: entry[2])
    return _outcome(chosen[0]), chosen[1]


def _outcome(text: str) -> Outcome:
    return "confirmed" if text == "confirmed" else "cleared"


def refresh_outcome(connection: sa.Connection, declaration_id: str) -> tuple[str, ...]:
    """Set the standing outcome of a parcel from its feedback; returns its parties."""
    rows = connection.execute(
        sa.select(feedback.c.item_no, feedback.c.outcome, feedback.c.received_at)
        .where(feedback.c.declaration_id == declaration_id)
        .order_by(feedback.c.id)
    ).all()
    outcome, moment = standing_outcome(
        [(item_no, outcome, parse_time(received)) for item_no, outcome, received in rows]
    )
    connection.execute(
        parcels.update()
        .where(parcels.c.declaration_id == declaration_id)
        .values(outcome=outcome, outcome_at=moment)
    )
    parties = connection.execute(
        sa.select(parcels.c.sender_id, parcels.c.recipient_id).where(
            parcels.c.declaration_id == declaration_id
        )
    ).first()
    return tuple(party for party in (parties or ()) if party)


# -- reads -------------------------------------------------------------------------------


def cutoff(now: datetime, retention_days: int) -> datetime:
    return utc_naive(now) - timedelta(days=retention_days)


def _record(row: Sequence[Any]) -> PartyParcel:
    """A parcel record from a row in `_COLUMNS` order: a SQLAlchemy row (datetimes) or a
    driver's tuple (SQLite's text times)."""
    declaration_id, posted, sender, recipient, country, weight, named, first_pass = row[:8]
    decision, outcome, at = row[8:11]
    return PartyParcel(
        declaration_id=declaration_id,
        posted_at=_time(posted),
        sender_id=sender,
        recipient_id=recipient,
        destination_country=country,
        gross_weight_kg=weight,
        names_gear=bool(named),
        first_pass_score=first_pass,
        decision=decision,
        outcome=_outcome(outcome) if outcome else None,
        outcome_at=_time(at) if at else None,
    )


def _time(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


_COLUMNS: Final = (
    parcels.c.declaration_id,
    parcels.c.posted_at,
    parcels.c.sender_id,
    parcels.c.recipient_id,
    parcels.c.destination_country,
    parcels.c.gross_weight_kg,
    parcels.c.names_gear,
    parcels.c.first_pass_score,
    parcels.c.decision,
    parcels.c.outcome,
    parcels.c.outcome_at,
)


# A UNION of two index reads, not an OR that may scan the table. Built once: making the
# statement on every call cost ten times its execution (the HTTP path asks per request).
_BY_PARTY: Final = sa.union(
    sa.select(*_COLUMNS).where(
        parcels.c.sender_id.in_(sa.bindparam("parties", expanding=True)),
        parcels.c.posted_at >= sa.bindparam("since"),
    ),
    sa.select(*_COLUMNS).where(
        parcels.c.recipient_id.in_(sa.bindparam("parties", expanding=True)),
        parcels.c.posted_at >= sa.bindparam("since"),
    ),
)


def _sqlite_rows(driver: Any, parties: list[str], since: datetime) -> Iterator[PartyParcel]:
    """`_BY_PARTY` straight through SQLite's driver: SQLAlchemy's statement and result
    handling cost ~0.4 ms a lookup, ten times the query, on the HTTP path (pinned to the
    SQLAlchemy read by the store tests, which run both engines)."""
    marks = ", ".join("?" * len(parties))
    columns = ", ".join(column.name for column in _COLUMNS)
    sql = (
        f"SELECT {columns} FROM parcels WHERE sender_id IN ({marks}) AND posted_at >= ?"
        f" UNION SELECT {columns} FROM parcels WHERE recipient_id IN ({marks}) AND posted_at >= ?"
    )
    moment = _sqlite_time(since)
    for row in driver.execute(sql, [*parties, moment, *parties, moment]):
        yield _record(row)


def party_parcels(
    connection: sa.Connection, party_ids: Collection[str], since: datetime
) -> dict[str, list[PartyParcel]]:
    """Every parcel each party took part in (posted at or after `since`), oldest first
    (by posted_at, then declaration id); every asked party has an entry."""
    if connection.dialect.name == "sqlite":
        return sqlite_party_parcels(connection.connection.driver_connection, party_ids, since)
    return _grouped(
        party_ids,
        lambda chunk: (
            _record(row)
            for row in connection.execute(_BY_PARTY, {"parties": chunk, "since": since})
        ),
    )


def sqlite_party_parcels(
    driver: Any, party_ids: Collection[str], since: datetime
) -> dict[str, list[PartyParcel]]:
    """`party_parcels` on SQLite's own connection (in a transaction the caller began)."""
    return _grouped(party_ids, lambda chunk: _sqlite_rows(driver, chunk, since))


def _grouped(
    party_ids: Collection[str], rows: Callable[[list[str]], Iterable[PartyParcel]]
) -> dict[str, list[PartyParcel]]:
    wanted = sorted({party for party in party_ids if party})
    found: dict[str, list[PartyParcel]] = {party: [] for party in wanted}
    for start in range(0, len(wanted), _CHUNK):
        for record in rows(wanted[start : start + _CHUNK]):
            for party in {record.sender_id, record.recipient_id}:
                if party in found:
                    found[party].append(record)
    for records in found.values():
        records.sort(key=lambda record: (record.posted_at, record.declaration_id))
    return found


def parties(connection: sa.Connection, since: datetime | None = None) -> list[str]:
    """The party ids of the parcels kept (those scored since `since`, when given) and of
    the watch list (listed since `since`)."""
    found: list[str] = []
    kept = sa.select(parcels.c.sender_id, parcels.c.recipient_id)
    listed = sa.select(watchlist.c.party_id)
    if since is not None:
        kept = kept.where(parcels.c.last_scored_at >= since)
        listed = listed.where(watchlist.c.listed_at >= since)
    for sender, recipient in connection.execute(kept):
        if sender:
            found.append(sender)
        if recipient:
            found.append(recipient)
    found.extend(party for (party,) in connection.execute(listed) if party)
    return found


def purge(connection: sa.Connection, before: datetime) -> int:
    """Remove parcels posted before `before` (past the retention window)."""
    return connection.execute(parcels.delete().where(parcels.c.posted_at < before)).rowcount


def declarations_of(connection: sa.Connection, party: str) -> list[str]:
    return list(
        connection.execute(
            sa.select(parcels.c.declaration_id).where(
                sa.or_(parcels.c.sender_id == party, parcels.c.recipient_id == party)
            )
        ).scalars()
    )


def forget(connection: sa.Connection, party: str) -> tuple[list[str], int]:
    """Take a party's id out of the parcels index: (the declarations whose sender or
    recipient it was, how many of them were removed because no party was left)."""
    declarations = declarations_of(connection, party)
    connection.execute(parcels.update().where(parcels.c.sender_id == party).values(sender_id=None))
    connection.execute(
        parcels.update().where(parcels.c.recipient_id == party).values(recipient_id=None)
    )
    removed = 0
    for start in range(0, len(declarations), _CHUNK):
        removed += connection.execute(
            parcels.delete().where(
                parcels.c.declaration_id.in_(declarations[start : start + _CHUNK]),
                parcels.c.sender_id.is_(None),
                parcels.c.recipient_id.is_(None),
            )
        ).rowcount
    return declarations, removed
