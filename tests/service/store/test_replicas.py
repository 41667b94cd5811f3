"""Two service processes on one PostgreSQL store see each other's outcomes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from service.api import create_app
from service.settings import Settings
from tests.postgres import PostgresServer
from tests.service.factories import make_declaration

REPO = Path(__file__).resolve().parents[3]


def test_two_replicas_share_outcomes(
    postgres_server: PostgresServer, models_dir: Path, tmp_path: Path
) -> None:
    url = postgres_server.create_database()
    settings = Settings(
        database_url=url,
        models_dir=models_dir,
        audit_spill_path=tmp_path / "replica1.spill.jsonl",
        history_cache_seconds=5,
        log_format="plain",
        reload_on_sighup=False,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        store = app.state.service.store
        now = [1000.0]
        store.history.clock = lambda: now[0]
        body = make_declaration("SHARED1")
        body.update(sender_id="S-SHARED", recipient_id="R-SHARED")
        assert client.post("/v1/score", json=body).status_code == 200
        assert store.audit.flush(timeout=10)
        (before,) = store.history.party_parcels(["S-SHARED"])["S-SHARED"]
        assert before.outcome is None

        # The other replica, its own process, posts the outcome.
        replica = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.service.store.replica",
                url,
                str(models_dir),
                "SHARED1",
                "R-SHARED",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert replica.returncode == 0, replica.stderr[-2000:]
        seen = orjson.loads(replica.stdout)
        assert seen["feedback"] == 201, seen
        # It saw the parcel this replica scored, with its own outcome.
        assert seen["history"]["parcels_total"] == 1
        assert seen["history"]["confirmed"] == 1

        # This replica: the store has it at once; the cache within its TTL.
        assert store.party_parcels(["S-SHARED"])["S-SHARED"][0].outcome == "confirmed"
        assert store.history.party_parcels(["S-SHARED"])["S-SHARED"][0].outcome is None
        now[0] += store.history.ttl + 0.1
        (after,) = store.history.party_parcels(["S-SHARED"])["S-SHARED"]
        assert (after.outcome, after.declaration_id) == ("confirmed", "SHARED1")
        history = client.get("/v1/admin/history/S-SHARED").json()
        assert (history["confirmed"], history["as_sender"]) == (1, 1)
