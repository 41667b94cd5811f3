"""Rows written in few statements are the rows `executemany` writes."""

from __future__ import annotations

import sqlite3

from service.store.sqlite_rows import insert_rows


def _table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, x REAL, s TEXT)")
    return connection


def test_many_rows_in_few_statements_match_executemany() -> None:
    # More rows than one statement holds (999 parameters / 4 columns), values of every kind.
    rows = [(f"k{i}", i, i / 3 if i % 5 else None, "é'\"," * (i % 3)) for i in range(700)]
    plain, batched = _table(), _table()
    plain.executemany("INSERT INTO t (k, n, x, s) VALUES (?, ?, ?, ?)", rows)
    insert_rows(batched, "INSERT INTO t (k, n, x, s)", rows)
    query = "SELECT * FROM t ORDER BY k"
    assert batched.execute(query).fetchall() == plain.execute(query).fetchall()


def test_an_upsert_tail_applies_to_every_row() -> None:
    plain, batched = _table(), _table()
    for connection in (plain, batched):
        connection.execute("INSERT INTO t VALUES ('a', 1, 1.0, 'old')")
    rows = [("a", 2, 2.0, "new"), ("b", 3, 3.0, "new")]
    tail = " ON CONFLICT (k) DO UPDATE SET n = excluded.n + t.n, s = excluded.s"
    plain.executemany(f"INSERT INTO t (k, n, x, s) VALUES (?, ?, ?, ?){tail}", rows)
    insert_rows(batched, "INSERT INTO t (k, n, x, s)", rows, tail)
    query = "SELECT * FROM t ORDER BY k"
    assert batched.execute(query).fetchall() == plain.execute(query).fetchall()
    assert batched.execute(query).fetchall()[0] == ("a", 3, 1.0, "new")


def test_no_rows_writes_nothing() -> None:
    connection = _table()
    insert_rows(connection, "INSERT INTO t (k, n, x, s)", [])
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (0,)
