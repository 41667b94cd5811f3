"""The declaration, in one place: columns, enums, header aliases and normalisation.

Every surface (CSV reader, JSON API, training) goes through the functions here, so a
declaration means the same thing everywhere. Low-cardinality fields (countries,
currencies, enums, HS codes) are normalised by one scalar function applied to the
*distinct* values of a column, which keeps a single implementation for the JSON path and
the vectorised frame path without a per-row Python loop.

One job a module:

- `fields`: the contract's fields, enums and limits, and the columns readers add.
- `headers`: which contract field an export's header stands for (aliases).
- `errors`: `FieldError`, `shown` (a value quoted for a message), `RowErrors` (a frame's).
- `free_text`: invisible characters, `normalise_text`, `export_text`.
- `scalars`: one value of a field normalised (country, currency, category, ..., ids).
- `numbers`: numbers as exports write them (decimal commas, thousands separators).
- `frame`: `normalise_declarations`, typed and checked columns of a whole frame.
- `json_form`: `DeclarationIn` and `ItemIn`, the declaration as JSON.

Callers import from `training.schema`; the modules are its parts.
"""

from training.schema.errors import SHOWN_CHARS, FieldError, shown
from training.schema.fields import (
    ALL_FIELDS,
    CATEGORIES,
    DECLARATION_FIELDS,
    ERROR_COLUMN,
    ITEM_FIELDS,
    LABEL_CLASSES,
    LABEL_FIELDS,
    LINE_COLUMN,
    MAIL_CLASSES,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    NUMERIC_FIELDS,
    PARCEL_FIELDS,
    READ_ERROR_COLUMN,
    RISK_CLASSES,
)
from training.schema.frame import normalise_declarations
from training.schema.free_text import (
    INVISIBLE_RANGES,
    INVISIBLE_RE2,
    SPACING_CONTROLS,
    SPACING_CONTROLS_RE2,
    export_text,
    normalise_text,
    visible_text,
)
from training.schema.headers import HEADER_ALIASES, canonical_header, header_key
from training.schema.json_form import (
    Category,
    Count,
    Country,
    Currency,
    DeclarationIn,
    HsCode,
    Identifier,
    ItemIn,
    MailClass,
    Money,
    PositiveKg,
    validate_declaration_id,
)
from training.schema.numbers import infer_decimal, parse_number, parse_numbers
from training.schema.scalars import (
    normalise_category,
    normalise_country,
    normalise_currency,
    normalise_description,
    normalise_hs_code,
    normalise_identifier,
    normalise_label,
    normalise_label_class,
    normalise_mail_class,
)

__all__ = [
    "ALL_FIELDS",
    "CATEGORIES",
    "DECLARATION_FIELDS",
    "ERROR_COLUMN",
    "HEADER_ALIASES",
    "INVISIBLE_RANGES",
    "INVISIBLE_RE2",
    "ITEM_FIELDS",
    "LABEL_CLASSES",
    "LABEL_FIELDS",
    "LINE_COLUMN",
    "MAIL_CLASSES",
    "MAX_DESCRIPTION_CHARS",
    "MAX_ID_CHARS",
    "NUMERIC_FIELDS",
    "PARCEL_FIELDS",
    "READ_ERROR_COLUMN",
    "RISK_CLASSES",
    "SHOWN_CHARS",
    "SPACING_CONTROLS",
    "SPACING_CONTROLS_RE2",
    "Category",
    "Count",
    "Country",
    "Currency",
    "DeclarationIn",
    "FieldError",
    "HsCode",
    "Identifier",
    "ItemIn",
    "MailClass",
    "Money",
    "PositiveKg",
    "canonical_header",
    "export_text",
    "header_key",
    "infer_decimal",
    "normalise_category",
    "normalise_country",
    "normalise_currency",
    "normalise_declarations",
    "normalise_description",
    "normalise_hs_code",
    "normalise_identifier",
    "normalise_label",
    "normalise_label_class",
    "normalise_mail_class",
    "normalise_text",
    "parse_number",
    "parse_numbers",
    "shown",
    "validate_declaration_id",
    "visible_text",
]
