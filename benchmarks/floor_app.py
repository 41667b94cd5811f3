"""The framework floor: FastAPI on uvicorn parsing the same JSON into the same pydantic models
and answering a constant. No scoring, no middleware, no audit: what any FastAPI service of
this shape costs per request on this machine. The HTTP benchmark reports parcel-screen's
requests/s as a share of this.

Served with `uvicorn benchmarks.floor_app:app --loop uvloop --http httptools`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from service.api.schemas import BatchRequest
from training.schema import DeclarationIn

_SCORED = (
    b'{"declaration_id":"RB123456789RU","parcel_risk_score":0.01,"decision":"clear",'
    b'"model_version":"floor","items":[{"item_no":1,"risk_score":0.01,"risk_class":"benign",'
    b'"reasons":[]}]}'
)
_BATCH = b'{"results":[]}'

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/v1/score")
async def score(request: Request) -> Response:
    DeclarationIn.model_validate_json(await request.body())
    return Response(_SCORED, media_type="application/json")


@app.post("/v1/score/batch")
async def score_batch(request: Request) -> Response:
    BatchRequest.model_validate_json(await request.body())
    return Response(_BATCH, media_type="application/json")


@app.get("/readyz")
async def readyz() -> Response:
    return Response(b'{"status":"ready"}', media_type="application/json")
