"""A second service replica, in its own process, for the shared-store test.

`python -m tests.service.store.replica DATABASE_URL MODELS_DIR DECLARATION_ID PARTY` starts
the app on the store, posts a confirmed outcome for the declaration (which the other
replica scored) over HTTP, and prints what it sees of the party's history, as JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from service.api import create_app
from service.settings import Settings


def main(database_url: str, models_dir: str, declaration_id: str, party: str) -> None:
    settings = Settings(
        database_url=database_url,
        models_dir=Path(models_dir),
        audit_spill_path=Path(models_dir).parent / "replica2.spill.jsonl",
        log_format="plain",
        reload_on_sighup=False,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        posted = client.post(
            "/v1/feedback", json={"declaration_id": declaration_id, "outcome": "confirmed"}
        )
        history = client.get(f"/v1/admin/history/{party}")
    sys.stdout.write(
        orjson.dumps(
            {"feedback": posted.status_code, "body": posted.json(), "history": history.json()}
        ).decode()
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
