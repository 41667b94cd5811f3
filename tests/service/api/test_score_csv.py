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
    response = client.post("/v1/score/csv", content=b"id;weight\nRB1;1\n")
    assert response.status_code == 422
    assert response.json()["code"] == "unusable_csv"
    empty = client.post("/v1/score/csv", content=b"  \n")
    assert empty.status_code == 422
