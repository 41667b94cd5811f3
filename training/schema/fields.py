"""The declaration's fields: parcel and item columns, labels, enums, limits, and the
internal columns readers add.
"""

from __future__ import annotations

from typing import Final

PARCEL_FIELDS: Final = (
    "declaration_id",
    "posted_at",
    "mail_class",
    "category",
    "origin_country",
    "destination_country",
    "sender_id",
    "recipient_id",
    "gross_weight_kg",
)
ITEM_FIELDS: Final = (
    "item_no",
    "description",
    "hs_code",
    "quantity",
    "net_weight_kg",
    "value",
    "currency",
)
LABEL_FIELDS: Final = ("label", "label_class")
DECLARATION_FIELDS: Final = PARCEL_FIELDS + ITEM_FIELDS
ALL_FIELDS: Final = DECLARATION_FIELDS + LABEL_FIELDS
NUMERIC_FIELDS: Final = ("gross_weight_kg", "quantity", "net_weight_kg", "value", "item_no")

# Order matters: position 0 is the letter (the generator and features index by position).
MAIL_CLASSES: Final = ("letter", "parcel", "ems", "courier", "small_packet")
CATEGORIES: Final = (
    "gift",
    "documents",
    "commercial_sample",
    "returned_goods",
    "sale_of_goods",
    "other",
)
RISK_CLASSES: Final = ("body_armor", "helmet", "tactical_apparel", "optics_sensors")
LABEL_CLASSES: Final = ("benign", *RISK_CLASSES)

MAX_DESCRIPTION_CHARS: Final = 512
MAX_ID_CHARS: Final = 64

# The column that carries the 1-based line of a row in its source file; readers set it so
# that errors can name the row. It is internal and never written out.
LINE_COLUMN: Final = "_line"
# Readers put a message here for a row they could not read cleanly (malformed quoting,
# undecodable bytes); the normaliser turns it into that row's error.
READ_ERROR_COLUMN: Final = "_read_error"
ERROR_COLUMN: Final = "error"
