"""Test data: declarations as intake systems send them."""

from __future__ import annotations

from typing import Any


def make_item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "description": "cotton T-shirt",
        "hs_code": "6109.10",
        "quantity": 1,
        "net_weight_kg": 0.2,
        "value": 700,
        "currency": "RUB",
    }
    item.update(overrides)
    return item


def make_declaration(
    declaration_id: str = "RB123456789RU",
    items: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    declaration: dict[str, Any] = {
        "declaration_id": declaration_id,
        "origin_country": "RU",
        "destination_country": "CN",
        "category": "gift",
        "mail_class": "parcel",
        "gross_weight_kg": 0.4,
        "items": items if items is not None else [make_item()],
    }
    declaration.update(overrides)
    return declaration


def armour_declaration(declaration_id: str = "RB000000001RU") -> dict[str, Any]:
    return make_declaration(
        declaration_id,
        items=[
            make_item(
                description="plate carrier with level IV ballistic plates",
                hs_code="6307.90",
                net_weight_kg=7.5,
                value=450,
                currency="USD",
            ),
            make_item(),
        ],
        gross_weight_kg=8.0,
    )
