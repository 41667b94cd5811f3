"""Request and response shapes of the API beyond `DeclarationIn`.

The response models document the answers in OpenAPI; the scoring routes build their
answers as plain dicts (validated by the scorer's own tests) and serialise them with
orjson, which keeps model validation off the hot path.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.responses import JSONResponse

from training.schema import (
    LABEL_CLASSES,
    MAX_ID_CHARS,
    DeclarationIn,
    FieldError,
    normalise_label_class,
    validate_declaration_id,
)


class JsonResponse(JSONResponse):
    """JSON via orjson; numpy scalars from the model serialise as numbers.

    A `JSONResponse` subclass, so the OpenAPI document describes each response by its model
    (a plain `Response` subclass is declared there as a string).
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class Reason(BaseModel):
    code: str = Field(examples=["weight_mismatch"])
    message: str = Field(examples=["4.1 kg is heavy for a cotton T-shirt (usually under 0.3 kg)"])


class ScoredItem(BaseModel):
    item_no: int = Field(examples=[1])
    risk_score: float = Field(ge=0, le=1, examples=[0.93])
    risk_class: Literal[LABEL_CLASSES] = Field(examples=["body_armor"])  # type: ignore[valid-type]
    reasons: list[Reason]


class ScoredDeclaration(BaseModel):
    declaration_id: str = Field(examples=["RB123456789RU"])
    parcel_risk_score: float = Field(ge=0, le=1, examples=[0.93])
    decision: Literal["clear", "review", "inspect"]
    model_version: str = Field(examples=["2026-11-28.1"])
    items: list[ScoredItem]


class ItemError(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str = Field(examples=["items[0].description: is required and must not be empty"])
    field: str | None = Field(None, examples=["items[0].description"])


class BatchError(BaseModel):
    """A declaration of a batch that could not be scored, in its place in the results."""

    declaration_id: str | None
    error: ItemError


class BatchRequest(BaseModel):
    declarations: list[DeclarationIn]


class BatchResponse(BaseModel):
    results: list[ScoredDeclaration | BatchError]


class FeedbackIn(BaseModel):
    """The outcome of an inspection of a scored declaration."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "declaration_id": "RB123456789RU",
                    "item_no": 1,
                    "outcome": "confirmed",
                    "label_class": "body_armor",
                    "note": "soft armour panel under T-shirts",
                }
            ]
        },
    )

    declaration_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    item_no: int | None = Field(None, ge=1, le=1_000_000_000)
    outcome: Literal["confirmed", "cleared"] = Field(
        description="`confirmed`: the parcel (or item) held tactical/military gear; "
        "`cleared`: inspection found nothing of the kind"
    )
    label_class: Literal[LABEL_CLASSES] | None = Field(  # type: ignore[valid-type]
        None, description="What was found; defaults to the class the model gave"
    )
    note: str | None = Field(None, max_length=2000)
    scored_by: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{8}$",
        description="Extension: the key id of the scoring the outcome is about, for an admin "
        "key when several keys scored the declaration with different content; other keys may "
        "only name their own (the default)",
    )

    @field_validator("declaration_id", mode="before")
    @classmethod
    def _declaration_id(cls, value: Any) -> Any:
        # As the scoring routes read it, so an id with invisible characters finds its scoring.
        return validate_declaration_id(value)

    @field_validator("label_class", mode="before")
    @classmethod
    def _label_class(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return normalise_label_class(value)
            except FieldError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackIn:
        if self.outcome == "cleared" and self.label_class not in (None, "benign"):
            raise ValueError("a cleared outcome cannot carry a risk class")
        if self.outcome == "confirmed" and self.label_class == "benign":
            raise ValueError("a confirmed outcome needs a risk class, not benign")
        return self


class FeedbackOut(BaseModel):
    feedback_id: int
    declaration_id: str
    item_no: int | None
    outcome: Literal["confirmed", "cleared"]
    label_class: str | None
    # Extension: the key id of the scoring the outcome was recorded against (None when the
    # service runs without keys).
    scored_by: str | None = None


class Thresholds(BaseModel):
    review: float
    inspect: float
    random_selection_rate: float


class ModelOut(BaseModel):
    """The model card, plus what this deployment actually applies."""

    model_config = ConfigDict(extra="allow")

    version: str
    effective_thresholds: Thresholds
    loaded_at: str


class ReloadOut(BaseModel):
    model_version: str
    previous_version: str | None
    changed: bool


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None
    audit: Literal["ok", "disabled", "stopped", "failing"]


# -- the watch list and party histories (admin) ------------------------------------------


class WatchEntryIn(BaseModel):
    """A party to put on the watch list (or whose entry for that role to update)."""

    model_config = ConfigDict(extra="forbid")

    party_id: str = Field(min_length=1, max_length=64, examples=["S-5F2A9C"])
    role: Literal["sender", "recipient"]
    reason: str = Field(min_length=1, max_length=500, examples=["seized plates, case 2026/118"])
    # A date: the entry stands through that day (UTC); or an ISO 8601 datetime.
    expires: date | datetime | None = None


class WatchEntryOut(BaseModel):
    party_id: str
    role: Literal["sender", "recipient"]
    reason: str
    # Who listed it: `key:<key id>`, `cli:<user>`, or `no key` on a service without keys.
    listed_by: str
    listed_at: datetime
    expires_at: datetime | None
    # Whether it applies now (not expired).
    active: bool


class WatchListOut(BaseModel):
    entries: list[WatchEntryOut]


class WatchChangeOut(BaseModel):
    entry: WatchEntryOut
    created: bool


class WatchRemovedOut(BaseModel):
    party_id: str
    removed: list[WatchEntryOut]


class PartyParcelOut(BaseModel):
    declaration_id: str
    posted_at: datetime
    sender_id: str | None
    recipient_id: str | None
    destination_country: str | None
    gross_weight_kg: float | None
    # Whether a line of the parcel named gear openly ("бронежилет 6Б45", "plate carrier").
    names_gear: bool
    # Its score on its own form, before its parties' earlier scores were read: what the
    # parties' later parcels read (none: scored before the store kept it).
    first_pass_score: float | None = None
    decision: str | None
    outcome: Literal["confirmed", "cleared"] | None
    outcome_at: datetime | None


class PartyHistoryOut(BaseModel):
    """What the store knows of a party within the retention window."""

    party_id: str
    as_sender: int
    as_recipient: int
    # Parcels whose latest decision was review / inspect.
    review: int
    inspect: int
    confirmed: int
    cleared: int
    latest_confirmed_at: datetime | None
    latest_cleared_at: datetime | None
    counterparties: int
    watch: list[WatchEntryOut]
    # Newest first, at most `limit` of them; `parcels_total` counts them all.
    parcels: list[PartyParcelOut]
    parcels_total: int
