"""The store on both engines: party history records, outcomes, retention, the watch list,
forgetting a party, the history cache, exports. Each test runs on SQLite and on the test
run's own PostgreSQL server."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from service.party_history import PartyHistory
from service.store import Database, ScoredCsv, ScoredRecord, Store
from service.store.engine import StoreUnavailableError
from service.store.parcels import sqlite_party_parcels, standing_outcome
from service.store.tables import parcels, scored, watchlist_changes
from service.store.watchlist import WatchListError, WatchListImportError, sqlite_entries
from tests.service.store.scored import scored_table
from training.history import PartyParcel
from training.schema import DeclarationIn


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def declaration(
    declaration_id: str,
    sender: str | None = "S-1",
    recipient: str | None = "R-1",
    posted_at: str | None = "2026-11-28T10:00:00",
    weight: float = 4.0,
) -> DeclarationIn:
    return DeclarationIn.model_validate(
        {
            "declaration_id": declaration_id,
            "posted_at": posted_at,
            "sender_id": sender,
            "recipient_id": recipient,
            "destination_country": "cn",
            "gross_weight_kg": weight,
            "items": [{"description": "vest", "net_weight_kg": 3.9, "value": 10}],
        }
    )


def result(declaration_id: str, decision: str = "review") -> dict[str, Any]:
    return {
        "declaration_id": declaration_id,
        "parcel_risk_score": 0.5,
        "decision": decision,
        "model_version": "2026-11-28.1",
        "items": [{"item_no": 1, "risk_score": 0.5, "risk_class": "body_armor", "reasons": []}],
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    opened = Store(Database(database_url, lock_wait=2), cache_seconds=5, clock=clock)
    opened.open()
    yield opened
    opened.close()


def score(store: Store, decl: DeclarationIn, decision: str = "review", **kw: Any) -> None:
    store.audit.record(
        ScoredRecord("r", kw.get("key"), decl, result(decl.declaration_id, decision))
    )
    assert store.audit.flush(timeout=10)


def test_each_parcel_is_one_row_and_rescoring_updates_it(store: Store) -> None:
    score(store, declaration("P1", weight=4.0), "review")
    score(store, declaration("P2", sender="S-2", recipient="R-1", posted_at=None))
    score(store, declaration("P1", weight=5.5), "inspect")  # re-scored: the same row
    with store.database.engine().connect() as connection:
        rows = connection.execute(sa.select(parcels).order_by(parcels.c.declaration_id)).all()
    assert [row.declaration_id for row in rows] == ["P1", "P2"]
    p1, p2 = rows
    assert (p1.decision, p1.gross_weight_kg, p1.destination_country) == ("inspect", 5.5, "CN")
    assert p1.posted_at == datetime(2026, 11, 28, 10, 0)
    assert p1.first_scored_at < p1.last_scored_at
    # No posted_at: the scoring time stands in.
    assert abs(p2.posted_at - p2.first_scored_at) < timedelta(seconds=1)

    found = store.party_parcels(["S-1", "R-1", "NOBODY"])
    assert [p.declaration_id for p in found["S-1"]] == ["P1"]
    assert [p.declaration_id for p in found["R-1"]] == ["P1", "P2"]
    assert found["NOBODY"] == []
    assert found["S-1"][0] == PartyParcel(
        declaration_id="P1",
        posted_at=datetime(2026, 11, 28, 10, 0),
        sender_id="S-1",
        recipient_id="R-1",
        destination_country="CN",
        gross_weight_kg=5.5,
        decision="inspect",
    )


def test_a_gross_typed_in_grams_is_kept_in_kilograms(store: Store) -> None:
    # The vest line declares 3.9 kg; "4020" can only be grams, and the sender's kilos to
    # the lane count 4.02 of them, as the model reads the parcel.
    score(store, declaration("P1", weight=4020.0))
    score(store, declaration("P2", weight=40.0))  # 40 kg over 3.9 kg: as typed
    found = store.party_parcels(["S-1"])["S-1"]
    assert [p.gross_weight_kg for p in found] == [4.02, 40.0]
    facts = PartyHistory(store).facts([declaration("P3")])[0]
    assert facts["sender_lane_kg_30d"] == pytest.approx(44.02)


def test_the_parcels_first_pass_score_is_kept_for_its_parties(store: Store) -> None:
    """A later parcel of the same parties reads it (`training.history.PRIOR_FACTS`); the
    latest scoring's stands."""
    answer = result("FP1")
    store.audit.record(ScoredRecord("r", None, declaration("FP1"), answer, first_pass_score=0.8))
    assert store.audit.flush(timeout=10)
    (record,) = store.party_parcels(["S-1"])["S-1"]
    assert record.first_pass_score == pytest.approx(0.8)
    store.audit.record(ScoredRecord("r", None, declaration("FP1"), answer, first_pass_score=0.3))
    assert store.audit.flush(timeout=10)
    (record,) = Store(store.database).party_parcels(["S-1"])["S-1"]
    assert record.first_pass_score == pytest.approx(0.3)
    with store.database.engine().connect() as connection:
        kept = connection.execute(sa.text("SELECT first_pass_score FROM scored")).scalars().all()
    assert kept == pytest.approx([0.8, 0.3])


def test_a_row_spilled_before_first_pass_scores_is_put_in_without_one(store: Store) -> None:
    from service.store.records import SCORED_COLUMNS, scored_row

    row = scored_row(ScoredRecord("r", None, declaration("OLD1"), result("OLD1")))
    old = list(row[: SCORED_COLUMNS.index("first_pass_score")])  # an older version's row
    with store.database.engine().begin() as connection:
        store.audit._write(connection, [old])
    (record,) = store.party_parcels(["S-1"])["S-1"]
    assert (record.declaration_id, record.first_pass_score) == ("OLD1", None)


def test_a_scored_csv_records_its_parcels(store: Store) -> None:
    body = (
        b"declaration_id,posted_at,sender_id,recipient_id,gross_weight_kg,description,"
        b"risk_score,risk_class,parcel_risk_score,decision,reasons,model_version,error\n"
        b'C1,2026-11-27,S-9, R-9 ,"7,5",vest,0.9,body_armor,0.9,inspect,,v1,\n'
        b"C2,,S-9,,1,socks,,,,,,,description: bad\n"
    )
    store.audit.record(ScoredCsv("r", None, [scored_table(body)]))
    assert store.audit.flush(timeout=10)
    (parcel,) = store.party_parcels(["S-9"])["S-9"]
    assert (parcel.declaration_id, parcel.recipient_id, parcel.gross_weight_kg) == (
        "C1",
        "R-9",
        7.5,
    )
    assert (parcel.posted_at, parcel.decision) == (datetime(2026, 11, 27), "inspect")


def test_the_standing_outcome_goes_with_the_parcel(store: Store) -> None:
    score(store, declaration("O1"))
    store.audit.add_feedback(declaration_id="O1", outcome="cleared", item_no=1)
    store.audit.add_feedback(declaration_id="O1", outcome="confirmed", item_no=1)
    (parcel,) = store.party_parcels(["S-1"])["S-1"]
    assert parcel.outcome == "confirmed"
    assert parcel.outcome_at is not None
    assert abs(parcel.outcome_at - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)


def test_standing_outcome_rules() -> None:
    t = [datetime(2026, 1, day) for day in range(1, 6)]
    assert standing_outcome([]) == (None, None)
    # The latest outcome on a target counts.
    assert standing_outcome([(1, "confirmed", t[0]), (1, "cleared", t[1])]) == ("cleared", t[1])
    # Gear found on any item stands over another item cleared later.
    assert standing_outcome([(1, "confirmed", t[0]), (2, "cleared", t[1])]) == (
        "confirmed",
        t[0],
    )
    # A later word on the whole parcel is the last word.
    assert standing_outcome([(1, "confirmed", t[0]), (None, "cleared", t[2])]) == (
        "cleared",
        t[2],
    )
    assert standing_outcome([(None, "cleared", t[0]), (2, "confirmed", t[3])]) == (
        "confirmed",
        t[3],
    )


def test_parcels_past_retention_are_not_returned_and_are_purged(store: Store) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    old = (now - timedelta(days=store.retention_days + 5)).isoformat()
    recent = (now - timedelta(days=store.retention_days - 5)).isoformat()
    score(store, declaration("OLD", posted_at=old))
    score(store, declaration("RECENT", posted_at=recent))
    assert [p.declaration_id for p in store.party_parcels(["S-1"])["S-1"]] == ["RECENT"]
    # The writer purges on its first pass and hourly after; purge now, whichever ran first.
    store.purge()
    with store.database.engine().connect() as connection:
        left = connection.execute(sa.select(parcels.c.declaration_id)).scalars().all()
    assert left == ["RECENT"]
    assert store.purge() == 0


def test_a_parcel_of_a_year_before_1000_is_past_retention_not_an_error(store: Store) -> None:
    # A form typed "0917-03-18" was kept on SQLite as "917-03-18 ...": it sorted after
    # every real date, came back with the party's parcels and could not be read.
    now = datetime.now(UTC).replace(tzinfo=None)
    score(store, declaration("ANCIENT", posted_at="0917-03-18"))
    score(store, declaration("RECENT", posted_at=(now - timedelta(days=1)).isoformat()))
    assert [p.declaration_id for p in store.party_parcels(["S-1"])["S-1"]] == ["RECENT"]


def test_watch_entries_are_active_between_listing_and_expiry(store: Store) -> None:
    listed = datetime(2026, 12, 1, 12, 0)
    store.watch("S-1", "sender", "seized plates", "2026-12-10", by="cli:ann", now=listed)
    store.watch("R-1", "recipient", "tip-off", None, by="key:abcd1234", now=listed)
    at = datetime(2026, 12, 10, 23, 59)
    assert {e.party_id for e in store.watch_entries(["S-1", "R-1"], at)} == {"S-1", "R-1"}
    # Through the expiry day, not after; not before it was listed.
    assert [e.party_id for e in store.watch_entries(["S-1", "R-1"], at + timedelta(minutes=2))] == [
        "R-1"
    ]
    assert store.watch_entries(["S-1"], listed - timedelta(seconds=1)) == []
    with pytest.raises(WatchListError, match="role"):
        store.watch("S-1", "courier", "x", by="cli:ann")
    with pytest.raises(WatchListError, match="expires: is in the past"):
        store.watch("S-1", "sender", "x", "2020-01-01", by="cli:ann")
    # Listing again updates; every change is logged with who made it.
    _, created = store.watch("S-1", "sender", "seized plates, again", by="cli:bob", now=listed)
    assert not created
    assert [e.role for e in store.unwatch("S-1", by="cli:bob")] == ["sender"]
    with store.database.engine().connect() as connection:
        changes = connection.execute(
            sa.select(
                watchlist_changes.c.action,
                watchlist_changes.c.party_id,
                watchlist_changes.c.changed_by,
            ).order_by(watchlist_changes.c.id)
        ).all()
    assert [tuple(row) for row in changes] == [
        ("add", "S-1", "cli:ann"),
        ("add", "R-1", "key:abcd1234"),
        ("update", "S-1", "cli:bob"),
        ("remove", "S-1", "cli:bob"),
    ]


def test_a_watch_list_file_imports_whole_or_not_at_all(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "party_id,role,reason,expires\nA-1,sender,ok,\nA-2,courier,x,\nA-3,recipient,,\n"
        "A-4,sender,y,someday\n",
        encoding="utf-8",
    )
    with pytest.raises(WatchListImportError) as caught:
        store.import_watch_list(bad, by="cli:ann")
    assert [(p.row, p.field) for p in caught.value.problems] == [
        (3, "role"),
        (4, "reason"),
        (5, "expires"),
    ]
    assert store.watch_list() == []
    good = tmp_path / "good.csv"
    good.write_text(
        "\ufeffparty_id;role;reason;expires\nA-1;sender;ok;\nA-2;recipient;tip;2099-01-01\n",
        encoding="utf-8",
    )
    assert store.import_watch_list(good, by="cli:ann") == 2
    assert [(e.party_id, e.role) for e in store.watch_list()] == [
        ("A-1", "sender"),
        ("A-2", "recipient"),
    ]


def test_forgetting_a_party_leaves_nothing_of_it(store: Store) -> None:
    score(store, declaration("F1", sender="GONE", recipient="STAYS"))
    score(store, declaration("F2", sender="GONE", recipient=None))
    score(store, declaration("F3", sender="OTHER", recipient="GONE-NOT"))
    store.watch("GONE", "sender", "watched", by="cli:ann")
    forgotten = store.forget("GONE", by="cli:ann")
    assert (forgotten.parcels, forgotten.parcels_removed) == (2, 1)
    assert (forgotten.scorings_scrubbed, forgotten.watch_entries) == (2, 1)
    assert store.party_parcels(["GONE"])["GONE"] == []
    (kept,) = store.party_parcels(["STAYS"])["STAYS"]
    assert (kept.declaration_id, kept.sender_id) == ("F1", None)
    with store.database.engine().connect() as connection:
        inputs = connection.execute(sa.select(scored.c.input_json)).scalars().all()
        logged = connection.execute(sa.select(watchlist_changes.c.party_id)).scalars().all()
    assert not any('"GONE"' in text for text in inputs)
    assert any('"GONE-NOT"' in text for text in inputs)  # only the exact id goes
    assert "GONE" not in logged
    assert store.watch_list() == []


def test_the_cache_answers_what_the_store_answers(store: Store, clock: FakeClock) -> None:
    parties = ["S-1", "R-1", "S-2"]
    at = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)

    def same() -> None:
        assert store.history.party_parcels(parties) == store.party_parcels(parties)
        assert sorted(store.history.watch_entries(parties, at), key=repr) == sorted(
            store.watch_entries(parties, at), key=repr
        )

    same()
    score(store, declaration("K1"))
    same()
    score(store, declaration("K2", sender="S-2"), "inspect")
    same()
    store.audit.add_feedback(declaration_id="K2", outcome="confirmed")
    same()
    store.watch("S-2", "sender", "confirmed gear", by="cli:ann")
    same()
    store.unwatch("S-2", by="cli:ann")
    same()
    store.forget("R-1", by="cli:ann")
    same()
    assert store.history.hits > 0


def test_summaries_and_watch_in_one_lookup_answer_as_two(store: Store, clock: FakeClock) -> None:
    """The history facts' one lookup (`summaries_and_watch`) answers what `summaries` and
    `watch_entries` answer separately, and the facts built on it are those built from the
    store's uncached records; it asks the store once for the parties missing."""
    parties = ["S-1", "R-1", "S-2", "NEVER-SEEN"]
    at = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
    plain = PartyHistory(MemoryParties(store))
    cached = PartyHistory(store.history)
    asked = [declaration("Q1"), declaration("Q2", sender="S-2", recipient="NEVER-SEEN")]

    def same() -> None:
        store.history.clear()
        loads = store.history.misses
        summaries, watch = store.history.summaries_and_watch(parties, at)
        assert store.history.misses - loads <= 3  # the known parties, in one load
        assert summaries == store.history.summaries(parties)
        assert watch == store.history.watch_entries(parties, at)
        assert cached.facts(asked, now=at) == plain.facts(asked, now=at)

    same()
    score(store, declaration("K1"))
    same()
    score(store, declaration("K2", sender="S-2"), "inspect")
    store.audit.add_feedback(declaration_id="K2", outcome="confirmed")
    same()
    store.watch("S-2", "sender", "confirmed gear", by="cli:ann")
    same()


@pytest.fixture
def sqlite_store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """A store on SQLite whatever engines the run tests: its driver-level read is SQLite's."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    opened = Store(Database(url, lock_wait=2), cache_seconds=5, clock=clock)
    opened.open()
    yield opened
    opened.close()


def test_party_records_on_sqlites_own_connection_read_as_through_sqlalchemy(
    sqlite_store: Store,
) -> None:
    """On SQLite the history cache's read runs on the driver's connection
    (`Database.run_sqlite`); it answers what the plain read through SQLAlchemy answers."""
    store = sqlite_store
    score(store, declaration("D1"))
    score(store, declaration("D2", sender="S-2", recipient="R-1"), "inspect")
    store.audit.add_feedback(declaration_id="D2", outcome="confirmed")
    store.watch("S-2", "sender", "confirmed gear", by="cli:ann")
    store.watch("R-1", "recipient", "seen before", by="cli:ann", expires="2099-01-01")
    since = datetime(2000, 1, 1)
    for parties in (["S-1", "R-1", "S-2", "NOBODY", ""], ["S-2"], ["NOBODY"], []):
        fast = store.database.run_sqlite(
            lambda driver, asked=parties: (
                sqlite_party_parcels(driver, asked, since),
                sqlite_entries(driver, asked),
            )
        )
        assert fast == store._party_records_by(parties, since)
    assert store._party_records(["S-2"])[1] == store._party_records_by(["S-2"], since)[1]


def test_run_sqlite_rolls_back_a_failed_read_and_says_the_store_is_unavailable(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}", lock_wait=0.2)
    calls: list[int] = []

    def busy(driver: Any) -> None:
        calls.append(1)
        assert driver.in_transaction
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(StoreUnavailableError, match="database is locked"):
        database.run_sqlite(busy)
    assert len(calls) > 1  # waited out, as `run` does
    with pytest.raises(StoreUnavailableError, match="disk I/O error"):
        database.run_sqlite(
            lambda driver: (_ for _ in ()).throw(sqlite3.OperationalError("disk I/O error"))
        )
    # The connection went back to the pool rolled back: the next read begins afresh.
    assert database.run_sqlite(lambda driver: driver.in_transaction) is True
    assert database.run_sqlite(lambda driver: driver.execute("SELECT 1").fetchone()) == (1,)
    database.dispose()


class MemoryParties:
    """The store's uncached answers, without the cache's summing-up."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def party_parcels(self, party_ids: Any) -> Any:
        return self.store.party_parcels(party_ids)

    def watch_entries(self, party_ids: Any, at: datetime) -> Any:
        return self.store.watch_entries(party_ids, at)


def test_changes_from_elsewhere_are_seen_after_the_ttl(
    store: Store, clock: FakeClock, database_url: str
) -> None:
    score(store, declaration("E1"))
    assert store.history.party_parcels(["S-1"])["S-1"][0].outcome is None
    # Another replica (its own store object, its own cache) posts the outcome.
    other = Store(Database(database_url, lock_wait=2))
    other.audit.add_feedback(declaration_id="E1", outcome="confirmed")
    other.database.dispose()
    assert store.history.party_parcels(["S-1"])["S-1"][0].outcome is None  # cached
    clock.now += store.history.ttl + 0.1
    assert store.history.party_parcels(["S-1"])["S-1"][0].outcome == "confirmed"


def test_exports_read_both_engines_alike(store: Store, tmp_path: Path) -> None:
    score(store, declaration("X1"), key="aaaa0001")
    score(store, declaration("X2", posted_at=None), "clear")
    store.audit.add_feedback(declaration_id="X1", outcome="confirmed", label_class="body_armor")
    assert store.export_feedback(tmp_path / "feedback.csv") == 1
    assert store.export_scored(tmp_path / "scored.csv") == 2
    lines = (tmp_path / "scored.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(",scored_at,decision,model_version")
    assert [line.split(",")[0] for line in lines[1:]] == ["X1", "X2"]


def test_old_audit_rows_survive_with_the_store_on_postgres(
    database_url: str, tmp_path: Path
) -> None:
    # The export of the same rows is byte-identical on either engine (and to what the
    # hand-written code wrote: see test_migrations).
    from tests.service.store.old_audit_db import FEEDBACK, SCORED

    database = Database(database_url)
    with database.engine().begin() as connection:
        for row in SCORED:
            connection.execute(
                scored.insert().values(
                    id=row[0],
                    scored_at=row[1],
                    request_id=row[2],
                    key_id=row[3],
                    declaration_id=row[4],
                    model_version="2026-11-28.1",
                    parcel_risk_score=0.9,
                    decision="inspect",
                    input_json=row[5],
                    result_json=row[6],
                )
            )
        from service.store.tables import feedback

        for row in FEEDBACK:
            connection.execute(
                feedback.insert().values(
                    id=row[0],
                    received_at=row[1],
                    request_id=row[2],
                    key_id=row[3],
                    declaration_id=row[4],
                    item_no=row[5],
                    outcome=row[6],
                    label_class=row[7],
                    note=row[8],
                    scored_id=row[9],
                )
            )
    Store(database).export_feedback(tmp_path / "out.csv")
    database.dispose()
    expected = Path(__file__).parents[2] / "fixtures" / "store" / "old_feedback_export.csv"
    assert (tmp_path / "out.csv").read_bytes() == expected.read_bytes()


def test_inputs_keep_their_shape(store: Store) -> None:
    score(store, declaration("J1"))
    with contextlib.closing(store.database.engine().connect()) as connection:
        (text,) = connection.execute(sa.select(scored.c.input_json)).scalars().all()
    assert orjson.loads(text)["sender_id"] == "S-1"


def test_parties_the_store_never_saw_are_answered_without_a_query(
    store: Store, clock: FakeClock, database_url: str
) -> None:
    score(store, declaration("N1", sender="S-seen", recipient="R-seen"))
    store.watch("W-only", "recipient", "collector", by="cli:ann")
    queries: list[list[str]] = []
    load = store.history._load
    store.history._load = lambda ids: queries.append(list(ids)) or load(ids)  # type: ignore[method-assign]
    answer = store.history.party_parcels(["S-never", "S-seen", "W-only"])
    assert answer["S-never"] == []
    assert [p.declaration_id for p in answer["S-seen"]] == ["N1"]
    assert queries == [["S-seen", "W-only"]]
    # The same answers as the store's own, party by party.
    assert answer == store.party_parcels(["S-never", "S-seen", "W-only"])

    # A party another replica records is known here once the TTL has passed.
    other = Store(Database(database_url, lock_wait=2))
    other.open()
    score(other, declaration("N2", sender="S-elsewhere", recipient="R-2"))
    other.close()
    assert not store.known.might_know("S-elsewhere")
    clock.now += store.history.ttl + 0.1
    # The read of recent parties starts now, off the asking thread, which goes on with
    # what is known meanwhile.
    store.known.might_know("S-elsewhere")
    store.known.wait_refreshed(10)
    assert store.known.might_know("S-elsewhere")
    assert [
        p.declaration_id for p in store.history.party_parcels(["S-elsewhere"])["S-elsewhere"]
    ] == ["N2"]


def test_a_load_is_kept_unless_its_own_party_changed_meanwhile(store: Store) -> None:
    score(store, declaration("G1", sender="S-a", recipient="R-a"))
    score(store, declaration("G2", sender="S-b", recipient="R-b"))
    load = store.history._load

    def load_while_others_change(ids: Any) -> Any:
        answer = load(ids)
        store.history.invalidate(["S-b"])  # another party's parcel committed meanwhile
        return answer

    store.history._load = load_while_others_change  # type: ignore[method-assign]
    store.history.party_parcels(["S-a"])
    store.history._load = load  # type: ignore[method-assign]
    hits = store.history.hits
    store.history.party_parcels(["S-a"])
    assert store.history.hits == hits + 1  # kept despite S-b's change

    def load_while_it_changes(ids: Any) -> Any:
        answer = load(ids)
        store.history.invalidate(["S-a"])
        return answer

    store.history._load = load_while_it_changes  # type: ignore[method-assign]
    store.history.invalidate(["S-a"])
    store.history.party_parcels(["S-a"])
    store.history._load = load  # type: ignore[method-assign]
    misses = store.history.misses
    store.history.party_parcels(["S-a"])
    assert store.history.misses == misses + 1  # not kept: S-a changed during its load


def test_parcels_scored_here_join_the_cached_history_without_a_query(store: Store) -> None:
    score(store, declaration("C1", sender="S-c", posted_at="2026-11-01T10:00:00"))
    store.audit.add_feedback(declaration_id="C1", outcome="confirmed")
    assert store.history.party_parcels(["S-c"]) == store.party_parcels(["S-c"])
    misses = store.history.misses
    # A new parcel, and the first one scored again without a date: the cache follows.
    score(store, declaration("C2", sender="S-c", posted_at="2026-11-02T10:00:00"))
    score(store, declaration("C1", sender="S-c", posted_at=None, weight=5.0))
    cached = store.history.party_parcels(["S-c"])
    assert store.history.misses == misses
    assert cached == store.party_parcels(["S-c"])
    assert [(p.declaration_id, p.outcome) for p in cached["S-c"]] == [
        ("C1", "confirmed"),
        ("C2", None),
    ]


def test_the_sqlite_driver_read_is_the_sqlalchemy_read(tmp_path: Path) -> None:
    from service.store import parcels as parcel_rows

    store = Store(Database(f"sqlite:///{tmp_path / 'store.sqlite3'}", lock_wait=2))
    store.open()
    score(store, declaration("D1", sender="S-d", posted_at="2026-11-01T10:00:00"))
    score(store, declaration("D2", recipient="S-d", posted_at=None, weight=2.5))
    store.audit.add_feedback(declaration_id="D1", outcome="confirmed")
    since = datetime(2020, 1, 1)
    with store.database.engine().connect() as connection:
        driver = connection.connection.driver_connection
        direct = sorted(parcel_rows._sqlite_rows(driver, ["S-d"], since), key=repr)
        bound = {"parties": ["S-d"], "since": since}
        plain = sorted(
            (parcel_rows._record(r) for r in connection.execute(parcel_rows._BY_PARTY, bound)),
            key=repr,
        )
    store.close()
    assert direct == plain and len(direct) == 2


def test_the_sqlite_driver_read_of_the_watch_list_is_the_sqlalchemy_read(tmp_path: Path) -> None:
    from service.store import watchlist as watch_rows

    store = Store(Database(f"sqlite:///{tmp_path / 'store.sqlite3'}", lock_wait=2))
    store.open()
    store.watch("S-w", "sender", "seen with plates", by="cli:ann")
    store.watch("S-w", "recipient", "collector", "2999-01-01", by="cli:ann")
    store.watch("R-w", "recipient", "collector", by="cli:bob")
    parties = ["S-w", "R-w", "NOBODY"]
    with store.database.engine().connect() as connection:
        direct = watch_rows.entries(connection, parties)
        plain = [
            watch_rows._entry(row)
            for row in connection.execute(watch_rows._OF_PARTIES, {"parties": sorted(parties)})
        ]
    store.close()
    assert direct == plain
    assert [(e.party_id, e.role, e.expires_at) for e in direct] == [
        ("R-w", "recipient", None),
        ("S-w", "recipient", datetime(2999, 1, 2)),
        ("S-w", "sender", None),
    ]


def test_a_party_the_cache_lacks_is_read_in_one_transaction(store: Store) -> None:
    score(store, declaration("T1", sender="S-t", recipient="R-t"))
    store.watch("S-t", "sender", "seen with plates", by="cli:ann")
    units: list[Any] = []
    # SQLite's read goes through the driver's own connection (`run_sqlite`).
    name = "run_sqlite" if store.database.dialect == "sqlite" else "run"
    run = getattr(store.database, name)
    setattr(store.database, name, lambda work: units.append(work) or run(work))
    store.history.clear()
    at = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
    (watched,) = store.history.watch_entries(["S-t", "R-t"], at)
    assert watched.reason == "seen with plates"
    assert [p.declaration_id for p in store.history.party_parcels(["S-t"])["S-t"]] == ["T1"]
    assert len(units) == 1


def test_a_due_read_of_recent_parties_does_not_hold_up_the_asker() -> None:
    import threading

    from service.store.known import KnownParties

    clock = FakeClock()
    reading = threading.Event()
    release = threading.Event()

    def since(_: datetime) -> list[str]:
        reading.set()
        release.wait(10)
        return ["S-new"]

    known = KnownParties(
        lambda: ["S-old"],
        since,
        ttl=5,
        clock=clock,
        wall_clock=lambda: datetime(2026, 12, 4),
    )
    known.load()
    clock.now += 6
    # Due: the read starts in its own thread, and the asker is answered from what is known.
    assert known.might_know("S-old")
    assert not known.might_know("S-new")
    assert reading.wait(10)
    release.set()
    known.wait_refreshed(10)
    assert known.might_know("S-new")
