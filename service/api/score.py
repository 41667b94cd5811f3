"""Scoring routes: one declaration, a batch of them, a CSV file."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import anyio
import orjson
import pyarrow as pa
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import StreamingResponse

from service.api.deps import ScoringCall, scoring_call
from service.api.direct import RequestRoute
from service.api.errors import (
    ErrorBody,
    InvalidInputError,
    MalformedBodyError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    invalid_input,
    request_id_of,
)
from service.api.inflight import Work
from service.api.schemas import BatchResponse, JsonResponse, ScoredDeclaration
from service.api.security import api_key_scheme
from service.party_history import PartyHistory
from service.scorer import Scorer
from service.store.records import ScoredCsv, ScoredRecord
from training.schema import MAX_ID_CHARS, DeclarationIn, shown

log = logging.getLogger(__name__)


router = APIRouter(prefix="/v1", tags=["scoring"], route_class=RequestRoute)

# Measured (2 shared cores, uvloop, a small trained model): scoring one 1-item declaration
# takes ~270 us inline; through `anyio.to_thread` the same call takes ~460 us, since the hop
# alone costs ~110 us and the scorer holds the GIL most of the time, so a thread buys no
# parallelism. Single declarations up to this many items (~400 us at 16) are therefore
# scored on the event loop; bigger ones and batches go to a worker thread, where a long
# call cannot hold up other requests and the request deadline can still answer. Single
# declarations that arrive in the same loop turn are scored together (see coalesce).
INLINE_MAX_ITEMS: Final = 16
# Items of a batch scored in one scorer call. The scorer's working memory grows with the
# items of a call (a 9.8 MB batch scored in one call took ~1.5 GB); in groups of whole
# declarations up to this many items, a request's memory is its input plus one group's.
BATCH_CALL_ITEMS: Final = 4096
# What a 503 for a full house of batch work tells the client to wait.
BUSY_RETRY_SECONDS: Final = 2

ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    413: {"model": ErrorBody, "description": "The body or batch is over the limit"},
    415: {"model": ErrorBody, "description": "The body is not of the route's content type"},
    422: {"model": ErrorBody, "description": "The input does not fit the contract"},
    503: {
        "model": ErrorBody,
        "description": "No model loaded, the request timed out, or too many batch or CSV "
        "requests are in flight (see Retry-After)",
    },
}


# The scoring routes check the key inside their one dependency (see deps), so they state
# the requirement for the docs themselves.
_SECURITY: Final[list[dict[str, list[str]]]] = [{api_key_scheme.scheme_name: []}]


def _json_body(schema: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        },
        "security": _SECURITY,
    }


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON: a form or text body sent here by mistake is
    refused for what it is, not parsed as whatever it happens to look like."""
    media_type = _media_type(request)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"expected Content-Type: application/json, got {_shown_type(media_type)}"
        )


def require_csv(request: Request) -> None:
    """415 unless the body is declared CSV (text/csv)."""
    media_type = _media_type(request)
    if media_type != "text/csv":
        raise UnsupportedMediaTypeError(
            f"expected Content-Type: text/csv, got {_shown_type(media_type)}"
        )


def _shown_type(media_type: str) -> str:
    return shown(media_type) if media_type else "none"


def _audit(
    call: ScoringCall,
    request: Request,
    declarations: Sequence[DeclarationIn],
    results: Sequence[dict[str, Any]],
) -> None:
    audit = call.state.audit
    if audit is None:
        return
    request_id = request_id_of(request)
    key_id = call.caller.key_id
    for declaration, result in zip(declarations, results, strict=True):
        first_pass = getattr(result, "first_pass_score", None)
        audit.record(
            ScoredRecord(request_id, key_id, declaration, result, first_pass_score=first_pass)
        )


def _groups(declarations: list[DeclarationIn], max_items: int) -> list[list[DeclarationIn]]:
    """Consecutive whole declarations, up to `max_items` items a group (at least one each)."""
    groups: list[list[DeclarationIn]] = []
    items = 0
    for declaration in declarations:
        size = len(declaration.items)
        if not groups or items + size > max_items:
            groups.append([])
            items = 0
        groups[-1].append(declaration)
        items += size
    return groups


def _score_in_groups(
    scorer: Scorer, history: PartyHistory, declarations: list[DeclarationIn], work: Work | None
) -> list[dict[str, Any]]:
    """Scores of a batch, a group at a time; stops when the request gives up.

    Results do not depend on the grouping: parcels are scored whole, and random selection
    draws on the parcel's id alone.
    """
    results: list[dict[str, Any]] = []
    for group in _groups(declarations, BATCH_CALL_ITEMS):
        if work is not None:
            work.check()
        facts = history.facts(group) if scorer.reads_history else None
        results.extend(scorer.score_declarations(group, facts))
    return results


async def _score(
    call: ScoringCall, declarations: list[DeclarationIn], work: Work | None = None
) -> list[dict[str, Any]]:
    scorer = call.scorer
    history = call.state.party_history
    if len(declarations) == 1 and len(declarations[0].items) <= INLINE_MAX_ITEMS:
        # The store's answers for a party are cached: a lookup here costs microseconds.
        facts = history.facts(declarations) if scorer.reads_history else None
        return [
            await call.state.coalescer.score(scorer, declarations[0], facts[0] if facts else None)
        ]
    if work is not None:
        return await work.run(_score_in_groups, scorer, history, declarations, work)
    # abandon_on_cancel: the request deadline can answer without waiting for the thread.
    return await anyio.to_thread.run_sync(
        _score_in_groups, scorer, history, declarations, None, abandon_on_cancel=True
    )


async def claim_work(call: ScoringCall, request: Request) -> Work:
    """A slot for a batch or CSV request's work, or 503 (with Retry-After) if none is free.

    A request turned away has its body read and dropped chunk by chunk first (it holds no
    memory): answered while still sending a 10 MB body, a client sees its connection reset
    instead of the 503.
    """
    declared = request.headers.get("content-length", "")
    work = call.state.work_slots.claim(int(declared) if declared.isdigit() else None)
    if work is None:
        async for _ in request.stream():
            pass
        raise ServiceUnavailableError(
            "the batch and CSV requests being scored already take the memory set aside for "
            "them; try again shortly",
            code="busy",
            headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
        )
    return work


@router.post(
    "/score",
    summary="Score one declaration",
    response_model=None,
    responses={200: {"model": ScoredDeclaration}, **ERROR_RESPONSES},
    openapi_extra=_json_body("DeclarationIn"),
)
async def score(request: Request) -> JsonResponse:
    """A declaration (contract §1, JSON form) in; item and parcel scores, decision and
    reasons out (contract §2)."""
    call = scoring_call(request)
    require_json(request)
    declaration = validate_declaration(await request.body())
    begin = time.perf_counter()
    results = await _score(call, [declaration])
    call.state.metrics.observe_scoring("score", results, time.perf_counter() - begin)
    _audit(call, request, [declaration], results)
    return JsonResponse(results[0])


def validate_declaration(data: bytes | Any) -> DeclarationIn:
    """A declaration from JSON bytes or parsed JSON; any failure is the input's, a 4xx."""
    try:
        if isinstance(data, bytes):
            return DeclarationIn.model_validate_json(data)
        return DeclarationIn.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    except (TypeError, ValueError) as exc:
        # A field validator that fails with a plain error instead of a ValidationError:
        # still a value the caller sent, but a gap in the schema worth a look.
        log.warning("declaration validator raised %s: %s", type(exc).__name__, exc)
        raise InvalidInputError(f"the declaration could not be validated: {exc}") from None


def _batch_entries(body: bytes, limit: int) -> list[Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedBodyError("the request body is not valid JSON") from None
    if not isinstance(payload, dict) or "declarations" not in payload:
        raise InvalidInputError('expected an object {"declarations": [...]}', field="declarations")
    entries = payload["declarations"]
    if not isinstance(entries, list):
        raise InvalidInputError("declarations: expected a list", field="declarations")
    if not entries:
        raise InvalidInputError(
            "declarations: expected at least one declaration", field="declarations"
        )
    if len(entries) > limit:
        raise PayloadTooLargeError(
            f"{len(entries)} declarations in one batch; the limit is {limit} "
            "(send bigger sets to /v1/score/csv or split them)",
            code="batch_too_large",
            field="declarations",
        )
    return entries


def _entry_error(entry: Any, error: InvalidInputError | MalformedBodyError) -> dict[str, Any]:
    declaration_id = entry.get("declaration_id") if isinstance(entry, dict) else None
    if isinstance(declaration_id, str) and len(declaration_id) > MAX_ID_CHARS:
        # Enough to recognise it; a megabyte of it is not sent back.
        declaration_id = declaration_id[:MAX_ID_CHARS] + "..."
    return {
        "declaration_id": declaration_id if isinstance(declaration_id, str) else None,
        "error": {"code": error.code, "message": error.message, "field": error.field},
    }


@router.post(
    "/score/batch",
    summary="Score many declarations",
    response_model=None,
    responses={200: {"model": BatchResponse}, **ERROR_RESPONSES},
    openapi_extra=_json_body("BatchRequest"),
)
async def score_batch(request: Request) -> JsonResponse:
    """`{"declarations": [...]}` in; `{"results": [...]}` out, one entry per declaration in
    request order. A declaration that does not validate gets an error entry in its place;
    the others are scored."""
    call = scoring_call(request)
    require_json(request)
    # Before the body is kept: a request turned away holds no memory.
    work = await claim_work(call, request)
    try:
        return await _score_batch(call, request, work)
    finally:
        work.close()


async def _score_batch(call: ScoringCall, request: Request, work: Work) -> JsonResponse:
    entries = _batch_entries(await request.body(), call.state.settings.max_batch_declarations)
    results: list[dict[str, Any] | None] = [None] * len(entries)
    valid: list[DeclarationIn] = []
    positions: list[int] = []
    for position, entry in enumerate(entries):
        try:
            valid.append(validate_declaration(entry))
            positions.append(position)
        except (InvalidInputError, MalformedBodyError) as error:
            results[position] = _entry_error(entry, error)
    del entries  # parsed JSON of the whole body: not needed while scoring
    if valid:
        begin = time.perf_counter()
        scored = await _score(call, valid, work)
        call.state.metrics.observe_scoring("batch", scored, time.perf_counter() - begin)
        _audit(call, request, valid, scored)
        for position, result in zip(positions, scored, strict=True):
            results[position] = result
    return JsonResponse({"results": results})


_END: Final = object()


@router.post(
    "/score/csv",
    summary="Score a CSV export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The input rows in input order with the score columns added",
        },
        **ERROR_RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        },
        "security": _SECURITY,
    },
)
async def score_csv(request: Request) -> StreamingResponse:
    """A CSV export (contract §1, CSV form: `;` or `,`, decimal commas, UTF-8/cp1251/GB18030)
    in; the scored CSV out, as the `score` command writes it: every input row in input
    order, unscorable rows kept with `error` filled."""
    call = scoring_call(request)
    require_csv(request)
    work = await claim_work(call, request)
    try:
        response = await _score_csv(call, request, work)
    except BaseException:
        work.close()
        raise
    # The slot goes with the stream: released when the stream ends or is dropped (a client
    # that goes away), or, should the stream never start, when it is collected.
    weakref.finalize(response.body_iterator, work.close)
    return response


async def _score_csv(call: ScoringCall, request: Request, work: Work) -> StreamingResponse:
    from service.batch import score_csv_bytes

    body = await request.body()
    if not body.strip():
        raise InvalidInputError("the request body is empty; send a CSV file", code="empty_body")
    begin = time.perf_counter()
    history = call.state.party_history
    audit = call.state.audit
    # The scored rows, as rendered, for the audit (never the answer's text parsed back).
    scored_tables: list[pa.Table] = []
    chunks = score_csv_bytes(
        call.scorer,
        body,
        store=history.lookup if history.bulk is not None else None,
        on_rows=scored_tables.append if audit is not None else None,
    )
    del body  # the reader holds what it needs

    def next_chunk() -> Any:
        return next(chunks, _END)

    try:
        first = await work.run(next_chunk)
    except ValueError as exc:
        # The batch reader's verdict on unusable input (no description column, an
        # encoding it cannot read): the caller's to fix.
        raise InvalidInputError(str(exc), code="unusable_csv") from None
    key_id = call.caller.key_id
    metrics = call.state.metrics
    request_id = request_id_of(request)

    async def stream() -> AsyncIterator[bytes]:
        try:
            chunk = first
            while chunk is not _END:
                assert isinstance(chunk, bytes)
                yield chunk
                chunk = await work.run(next_chunk)
        finally:
            work.close()
        metrics.scoring_latency.labels("csv").observe(time.perf_counter() - begin)
        if audit is not None:
            audit.record(ScoredCsv(request_id, key_id, scored_tables))

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8")
