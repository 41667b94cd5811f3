"""The OpenAPI document is valid, and a typed client generated from it by a standard
generator works unedited."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration

GENERATOR = shutil.which("openapi-python-client") or str(
    Path(sys.executable).with_name("openapi-python-client")
)
pytestmark = pytest.mark.skipif(
    not Path(GENERATOR).is_file(), reason="openapi-python-client (dev extra) not installed"
)
PACKAGE = "parcel_screen_generated_client"


@pytest.fixture
def generated(
    tmp_path: Path, settings_factory: SettingsFactory, models_dir: Path
) -> Iterator[TestClient]:
    """The app under a test client, its generated client importable as PACKAGE."""
    app = create_app(settings_factory(models_dir=models_dir, access_log=False))
    spec = tmp_path / "openapi.json"
    with TestClient(app) as http:
        spec.write_text(json.dumps(http.get("/openapi.json").json()), encoding="utf-8")
        subprocess.run(
            [
                GENERATOR,
                "generate",
                "--path",
                str(spec),
                "--output-path",
                str(tmp_path / PACKAGE),
                "--meta",
                "none",
            ],
            check=True,
            capture_output=True,
        )
        sys.path.insert(0, str(tmp_path))
        try:
            yield http
        finally:
            sys.path.remove(str(tmp_path))
            for name in [n for n in sys.modules if n.startswith(PACKAGE)]:
                del sys.modules[name]


def test_the_openapi_document_is_valid(generated: TestClient) -> None:
    from openapi_spec_validator import validate

    validate(generated.get("/openapi.json").json())


def test_a_generated_client_scores_a_declaration_and_reads_its_reasons(
    generated: TestClient,
) -> None:
    http = generated
    client_module = importlib.import_module(f"{PACKAGE}.client")
    models = importlib.import_module(f"{PACKAGE}.models")
    score = importlib.import_module(f"{PACKAGE}.api.scoring.score_v1_score_post")
    client = client_module.Client(base_url="http://testserver").set_httpx_client(http)
    declaration = armour_declaration("RB000000001RU")
    scored = score.sync(client=client, body=models.DeclarationIn.from_dict(declaration))
    assert isinstance(scored, models.ScoredDeclaration)
    assert scored.declaration_id == "RB000000001RU"
    assert scored.decision.value in {"clear", "review", "inspect"}
    item = scored.items[0]
    assert 0.0 <= item.risk_score <= 1.0
    assert item.reasons, "a scored armour vest carries reasons"
    assert isinstance(item.reasons[0].code, str)
    # Errors come back typed too.
    bad = score.sync(
        client=client, body=models.DeclarationIn.from_dict({**declaration, "items": []})
    )
    assert isinstance(bad, models.ErrorBody)
