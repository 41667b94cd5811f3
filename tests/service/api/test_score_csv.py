from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from tests.service.conftest import SettingsFactory

pytest.importorskip("service.batch")

EXPORT = (
    "Трек;Описание;Вес;Стоимость;Валюта;note\n"
    "RB1;бронежилет 4 класс;7,5;300;USD;a\n"
    "RB1;футболка хлопок;0,2;10;USD;b\n"
    "RB2;;0,3;5;USD;c\n"
    "RB3;книга;0,5;12;EUR;d\n"
).encode("cp1251")


def test_scores_a_csv_export(settings_factory: SettingsFactory, models_dir: Path) -> None:
    settings = settings_factory(models_dir=models_dir)
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/score/csv", content=EXPORT, headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["note"] for row in rows] == ["a", "b", "c", "d"]
    assert rows[2]["error"]
    assert not rows[2]["risk_score"]
    for row in (rows[0], rows[1], rows[3]):
        assert row["decision"] in {"clear", "review", "inspect"}
        assert row["model_version"]
    # Scored declarations are audited like JSON ones, so feedback can refer to them.
    with contextlib.closing(sqlite3.connect(settings.audit_db)) as connection:
        audited = connection.execute("SELECT declaration_id FROM scored ORDER BY id").fetchall()
    assert audited == [("RB1",), ("RB3",)]


def test_unusable_csv_is_422(client: TestClient) -> None:
    csv_type = {"Content-Type": "text/csv"}
    response = client.post("/v1/score/csv", content=b"id;weight\nRB1;1\n", headers=csv_type)
    assert response.status_code == 422
    assert response.json()["code"] == "unusable_csv"
    empty = client.post("/v1/score/csv", content=b"  \n", headers=csv_type)
    assert empty.status_code == 422


# A field over the `csv` module's default limit (131,072 characters), in a pass-through
# column and in a description, with a record that sends the reader down its careful path.
HUGE = "x" * 200_000
HUGE_FIELD_EXPORT = (
    "declaration_id,description,note\n"
    f"H1,wool socks,{HUGE}\n"
    f"H2,{HUGE},n\n"
    "H3,plate carrier,ok,stray field\n"
    "H4,book,ok\n"
).encode()


def test_a_huge_field_is_scored_and_audited(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    # Reproduces findings 5 and 6: 200 with the header only, the connection cut, and the
    # request's whole audit record lost.
    settings = settings_factory(models_dir=models_dir)
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/score/csv", content=HUGE_FIELD_EXPORT, headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        # Read-your-writes: an outcome right after finds the declarations.
        posted = client.post("/v1/feedback", json={"declaration_id": "H4", "outcome": "cleared"})
        assert posted.status_code == 201, posted.text
    assert [row["declaration_id"] for row in rows] == ["H1", "H2", "H3", "H4"]
    assert len(rows[0]["note"]) == len(HUGE)
    assert rows[0]["decision"] and not rows[0]["error"]
    assert "description: must be at most 512 characters" in rows[1]["error"]
    assert "has 4 fields" in rows[2]["error"]
    with contextlib.closing(sqlite3.connect(settings.audit_db)) as connection:
        audited = connection.execute("SELECT declaration_id FROM scored ORDER BY id").fetchall()
    assert audited == [("H1",), ("H4",)]  # every scored row, whatever its size


def test_the_csv_route_needs_a_csv_content_type(client: TestClient) -> None:
    for headers in ({}, {"Content-Type": "application/json"}, {"Content-Type": "text/plain"}):
        response = client.post("/v1/score/csv", content=EXPORT, headers=headers)
        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"
    ok = client.post(
        "/v1/score/csv", content=EXPORT, headers={"Content-Type": "text/csv; charset=windows-1251"}
    )
    assert ok.status_code == 200
