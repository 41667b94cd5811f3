"""The declaration as JSON (`DeclarationIn`, `ItemIn`): pydantic models whose fields go
through the same scalar normalisers as files do.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from training.schema.errors import FieldError
from training.schema.fields import ITEM_FIELDS, MAX_ID_CHARS
from training.schema.numbers import parse_number
from training.schema.scalars import (
    normalise_category,
    normalise_country,
    normalise_currency,
    normalise_description,
    normalise_hs_code,
    normalise_identifier,
    normalise_mail_class,
)


def _scalar(normalise: Callable[[str], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        if not value.strip():
            return None
        try:
            return normalise(value)
        except FieldError as exc:
            raise ValueError(str(exc)) from None

    return validate


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        # JSON true is not 1 item: pydantic would take it as 1, and a client that sends it
        # has a bug to hear about.
        raise ValueError(f"expected a number, got {str(value).lower()}")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            return parse_number(value)
        except FieldError as exc:
            raise ValueError(str(exc)) from None
    return value


def validate_declaration_id(value: Any) -> str:
    """A required declaration id from JSON, normalised (`ValueError` says what is wrong)."""
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if not value.strip():
        raise ValueError("is required and must not be empty")
    try:
        return normalise_identifier(value)
    except FieldError as exc:
        raise ValueError(str(exc)) from None


Country = Annotated[str | None, BeforeValidator(_scalar(normalise_country))]
Currency = Annotated[str | None, BeforeValidator(_scalar(normalise_currency))]
HsCode = Annotated[str | None, BeforeValidator(_scalar(normalise_hs_code))]
Identifier = Annotated[str | None, BeforeValidator(_scalar(normalise_identifier))]
MailClass = Annotated[
    Literal["letter", "small_packet", "parcel", "ems", "courier"] | None,
    BeforeValidator(_scalar(normalise_mail_class)),
]
Category = Annotated[
    Literal["gift", "documents", "commercial_sample", "returned_goods", "sale_of_goods", "other"]
    | None,
    BeforeValidator(_scalar(normalise_category)),
]
# Constraints sit on the number, not the optional: null is a legal "not declared".
PositiveKg = Annotated[
    Annotated[float, Field(gt=0, allow_inf_nan=False)] | None, BeforeValidator(_number)
]
Money = Annotated[
    Annotated[float, Field(ge=0, allow_inf_nan=False)] | None, BeforeValidator(_number)
]
Count = Annotated[Annotated[int, Field(ge=1, le=1_000_000_000)] | None, BeforeValidator(_number)]


class ItemIn(BaseModel):
    """One item line of a declaration (contract §1)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    item_no: Count = None
    description: str = Field(..., examples=["cotton T-shirt"])
    hs_code: HsCode = Field(None, examples=["6109.10"])
    quantity: Count = None
    net_weight_kg: PositiveKg = None
    value: Money = None
    currency: Currency = None

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        try:
            return normalise_description(value)
        except FieldError as exc:
            raise ValueError(str(exc)) from None


class DeclarationIn(BaseModel):
    """A declaration as JSON: the parcel header and its item lines (contract §1)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "declaration_id": "RB123456789RU",
                    "origin_country": "RU",
                    "destination_country": "CN",
                    "category": "gift",
                    "mail_class": "parcel",
                    "gross_weight_kg": 4.3,
                    "items": [
                        {
                            "description": "cotton T-shirt",
                            "hs_code": "6109.10",
                            "quantity": 1,
                            "net_weight_kg": 4.1,
                            "value": 700,
                            "currency": "RUB",
                        }
                    ],
                }
            ]
        },
    )

    declaration_id: str = Field(..., min_length=1, max_length=MAX_ID_CHARS)
    posted_at: date | datetime | None = None
    mail_class: MailClass = None
    category: Category = None
    origin_country: Country = None
    destination_country: Country = None
    sender_id: Identifier = None
    recipient_id: Identifier = None
    gross_weight_kg: PositiveKg = None
    items: list[ItemIn] = Field(..., min_length=1, max_length=1000)

    @field_validator("declaration_id", mode="before")
    @classmethod
    def _declaration_id(cls, value: Any) -> str:
        return validate_declaration_id(value)

    def to_columns(self) -> dict[str, list[Hashable | None]]:
        """Column-wise item rows (parcel fields repeated), the scorer's input without pandas."""
        posted: datetime | None
        if isinstance(self.posted_at, datetime):
            posted = self.posted_at.replace(tzinfo=None)
        elif isinstance(self.posted_at, date):
            posted = datetime(self.posted_at.year, self.posted_at.month, self.posted_at.day)
        else:
            posted = None
        n = len(self.items)
        columns: dict[str, list[Hashable | None]] = {
            "declaration_id": [self.declaration_id] * n,
            "posted_at": [posted] * n,
            "mail_class": [self.mail_class] * n,
            "category": [self.category] * n,
            "origin_country": [self.origin_country] * n,
            "destination_country": [self.destination_country] * n,
            "sender_id": [self.sender_id] * n,
            "recipient_id": [self.recipient_id] * n,
            "gross_weight_kg": [self.gross_weight_kg] * n,
        }
        for field in ITEM_FIELDS:
            columns[field] = [getattr(item, field) for item in self.items]
        columns["item_no"] = [
            item.item_no if item.item_no is not None else position
            for position, item in enumerate(self.items, start=1)
        ]
        return columns
