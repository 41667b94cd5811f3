"""The schema: made from nothing on either engine, and an old audit database adopted with
every row (its export unchanged, byte for byte)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.store import Database, ScoredRecord, Store
from service.store.engine import StoreUrlError, store_url
from service.store.migrate import current, head
from tests.service.store import old_audit_db
from tests.service.store.test_store import declaration, result

FIXTURES = Path(__file__).parents[2] / "fixtures" / "store"
TABLES = {"alembic_version", "scored", "feedback", "parcels", "watchlist", "watchlist_changes"}


def test_a_new_store_gets_every_table(database_url: str) -> None:
    database = Database(database_url)
    engine = database.engine()
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        assert current(connection) == head()
    # A second process (a second Database) finds it at head and changes nothing.
    again = Database(database_url)
    with again.engine().connect() as connection:
        assert current(connection) == head()
    again.dispose()
    database.dispose()


@pytest.mark.parametrize(
    ("with_scored_id", "golden"),
    [(True, "old_feedback_export.csv"), (False, "old_feedback_export_unbound.csv")],
)
def test_an_old_audit_database_is_adopted_without_losing_rows(
    tmp_path: Path, with_scored_id: bool, golden: str
) -> None:
    path = old_audit_db.build(tmp_path / "audit.sqlite3", with_scored_id=with_scored_id)
    store = Store(Database.sqlite(path))
    store.open()
    try:
        # What the hand-written code exported from these rows, byte for byte.
        assert store.export_feedback(tmp_path / "out.csv") == 5
        assert (tmp_path / "out.csv").read_bytes() == (FIXTURES / golden).read_bytes()
        # The adopted store takes new rows and outcomes as any other.
        store.audit.record(ScoredRecord("r", None, declaration("NEW"), result("NEW")))
        assert store.audit.flush(timeout=10)
        assert store.audit.add_feedback(declaration_id="NEW", outcome="cleared") == 7
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM scored").fetchone() == (6,)
        assert connection.execute("SELECT COUNT(*) FROM feedback").fetchone() == (7,)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(feedback)")}
        assert "scored_id" in columns
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (head(),)


def test_urls_name_the_engine() -> None:
    assert store_url("postgresql://u:pw@db:5432/screen").drivername == "postgresql+psycopg"
    assert store_url("postgres://u@db/screen").drivername == "postgresql+psycopg"
    assert store_url("sqlite:///var/store.sqlite3").database == "var/store.sqlite3"
    for bad, words in [
        ("mysql://u@db/x", "unsupported database 'mysql'"),
        ("sqlite://", "name a SQLite file"),
        ("not a url", "not a database URL"),
    ]:
        with pytest.raises(StoreUrlError, match=words):
            store_url(bad)
    # Messages and logs never show the password.
    assert "pw" not in Database("postgresql://u:pw@db:5432/screen").describe()


def test_a_store_before_named_gear_keeps_its_parcels(database_url: str) -> None:
    """Revision 0003 adds `parcels.names_gear`: parcels recorded before it read as not
    naming gear, and history keeps counting them."""
    from datetime import datetime

    from service.store.migrate import upgrade

    database = Database(database_url)
    engine = database.engine()
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        for table in ("watchlist_changes", "watchlist", "parcels", "feedback", "scored"):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    upgrade(engine, "0002")
    moment = datetime(2026, 1, 5)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO parcels (declaration_id, posted_at, sender_id, recipient_id,"
                " first_scored_at, last_scored_at) VALUES ('OLD', :t, 's', 'r', :t, :t)"
            ),
            {"t": moment},
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert current(connection) == head()
    store = Store(database)
    store.open()
    try:
        (record,) = store.party_parcels(["s"])["s"]
        assert (record.declaration_id, record.names_gear) == ("OLD", False)
        # Revision 0004: no first-pass score was kept for it.
        assert record.first_pass_score is None
    finally:
        store.close()
