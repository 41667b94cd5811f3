"""The declaration, in one place: columns, enums, header aliases and normalisation.

Every surface (CSV reader, JSON API, training) goes through the functions here, so a
declaration means the same thing everywhere. Low-cardinality fields (countries,
currencies, enums, HS codes) are normalised by one scalar function applied to the
*distinct* values of a column, which keeps a single implementation for the JSON path and
the vectorised frame path without a per-row Python loop.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pycountry
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

# --- columns ---------------------------------------------------------------------------

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

# --- header aliases ----------------------------------------------------------------------

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "declaration_id": (
        "id",
        "declaration",
        "declaration_no",
        "declaration_number",
        "item_id",
        "barcode",
        "tracking",
        "tracking_no",
        "tracking_number",
        "trackingnumber",
        "s10",
        "mail_item_id",
        "parcel_id",
        "shipment_id",
        "трек",
        "трек-номер",
        "трек_номер",
        "шпи",
        "номер",
        "номер_отправления",
        "运单号",
        "单号",
        "邮件号",
    ),
    "posted_at": (
        "date",
        "posting_date",
        "posted",
        "accepted_at",
        "acceptance_date",
        "date_posted",
        "дата",
        "дата_приема",
        "дата_отправки",
        "日期",
        "寄出日期",
    ),
    "mail_class": (
        "class",
        "mail_type",
        "service",
        "product",
        "вид_отправления",
        "类别",
        "邮件种类",
    ),
    "category": (
        "category_of_item",
        "item_category",
        "nature",
        "nature_of_goods",
        "type",
        "категория",
        "категория_вложения",
        "类目",
        "物品类别",
    ),
    "origin_country": (
        "origin",
        "from_country",
        "country_from",
        "sender_country",
        "orig",
        "страна_отправления",
        "страна_отправителя",
        "откуда",
        "寄件国",
        "原产国",
        "始发国",
    ),
    "destination_country": (
        "destination",
        "dest",
        "to_country",
        "country_to",
        "recipient_country",
        "страна_назначения",
        "страна_получателя",
        "куда",
        "目的国",
        "收件国",
    ),
    "sender_id": ("sender", "shipper", "shipper_id", "отправитель", "寄件人"),
    "recipient_id": ("recipient", "consignee", "consignee_id", "получатель", "收件人"),
    "gross_weight_kg": (
        "gross_weight",
        "gross",
        "parcel_weight",
        "total_weight",
        "вес_брутто",
        "брутто",
        "毛重",
    ),
    "item_no": ("item", "line", "line_no", "item_number", "position", "№", "позиция", "序号"),
    "description": (
        "item_description",
        "content",
        "contents",
        "goods_description",
        "description_of_goods",
        "goods",
        "detailed_description",
        "desc",
        "описание",
        "описание_вложения",
        "наименование",
        "наименование_товара",
        "вложение",
        "描述",
        "物品描述",
        "品名",
        "内件",
        "内件名称",
    ),
    "hs_code": (
        "hs",
        "hs_tariff",
        "tariff_code",
        "tariff",
        "hscode",
        "hs_tariff_number",
        "commodity_code",
        "tnved",
        "тн_вэд",
        "тнвэд",
        "код_тн_вэд",
        "код_тнвэд",
        "税号",
        "海关编码",
        "hs编码",
    ),
    "quantity": ("qty", "count", "pieces", "pcs", "units", "количество", "кол-во", "数量"),
    "net_weight_kg": (
        "weight",
        "net_weight",
        "weight_kg",
        "net_kg",
        "item_weight",
        "вес",
        "вес_нетто",
        "нетто",
        "вес_кг",
        "重量",
        "净重",
    ),
    "value": (
        "declared_value",
        "price",
        "amount",
        "item_value",
        "value_declared",
        "стоимость",
        "цена",
        "ценность",
        "сумма",
        "价值",
        "申报价值",
        "金额",
    ),
    "currency": ("currency_code", "cur", "ccy", "валюта", "币种", "货币"),
    "label": ("is_positive", "target", "y", "метка"),
    "label_class": ("class_label", "label_type"),
}


def header_key(name: str) -> str:
    """The form under which a header is looked up: NFKC, casefolded, separators unified."""
    text = unicodedata.normalize("NFKC", str(name)).strip().casefold()
    text = re.sub(r"[\s\-./]+", "_", text)
    return text.strip("_")


HEADER_ALIASES: Final[dict[str, str]] = {
    header_key(alias): field for field, aliases in _ALIASES.items() for alias in aliases
} | {field: field for field in ALL_FIELDS}


def canonical_header(name: str) -> str | None:
    """The contract field a header stands for, or None for a column to pass through."""
    key = header_key(name)
    return HEADER_ALIASES.get(key) or HEADER_ALIASES.get(key.replace("_", ""))


# --- scalar normalisers (shared by the JSON model and the frame normaliser) --------------


class FieldError(ValueError):
    """A value that does not fit its field; the message says what was expected."""


# Longest part of a caller's value quoted back in a message: enough to recognise it, never
# a megabyte of it echoed into a response or a log line.
SHOWN_CHARS: Final = 40


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value quoted for a message (`repr`), cut to `limit` characters with its length."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


# Characters that show nothing, or that steer how text around them shows: control
# characters (category Cc, except the whitespace ones, which become spaces), format
# characters (Cf: zero-width space and joiners, bidi overrides and isolates, soft hyphen,
# byte-order mark, tags) and the few other default-ignorable code points (variation
# selectors, Hangul fillers, the combining grapheme joiner). Put between the letters of a
# word ("bullet<U+200D>proof") they change nothing a person sees and everything a text model
# sees, so text loses them before anything else looks at it. Ranges as (first, last) code
# points; tests check them against the running Python's Unicode database.
INVISIBLE_RANGES: Final = (
    (0x0000, 0x0008),
    (0x000E, 0x001B),
    (0x007F, 0x0084),
    (0x0086, 0x009F),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
)


def _character_class(escape: Callable[[int], str]) -> str:
    return (
        "["
        + "".join(
            escape(first) if first == last else f"{escape(first)}-{escape(last)}"
            for first, last in INVISIBLE_RANGES
        )
        + "]"
    )


_INVISIBLE: Final = re.compile(_character_class(lambda c: f"\\U{c:08x}"))
# The same class for Arrow's RE2, so exports drop exactly what the normaliser drops.
INVISIBLE_RE2: Final = _character_class(lambda c: f"\\x{{{c:x}}}")


# Control characters that count as whitespace: the normaliser's split turns them into
# spaces; exports, which keep text as it came, turn them into spaces too (tab, line feed
# and carriage return stay: CSV quotes them).
SPACING_CONTROLS: Final = "\x0b\x0c\x1c\x1d\x1e\x1f\x85"
_SPACING_CONTROLS: Final = re.compile(f"[{SPACING_CONTROLS}]")
SPACING_CONTROLS_RE2: Final = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACING_CONTROLS) + "]"


def export_text(value: str) -> str:
    """Text as an export may carry it: invisible characters dropped, controls as spaces."""
    if value.isascii() and value.isprintable():
        return value
    return _SPACING_CONTROLS.sub(" ", _INVISIBLE.sub("", value))


def visible_text(value: str) -> str:
    """`value` without the invisible characters above (whitespace ones left to the caller)."""
    if value.isascii() and value.isprintable():
        return value  # the common case: no control character, nothing outside ASCII
    return _INVISIBLE.sub("", value)


def _fold(value: str) -> str:
    text = unicodedata.normalize("NFKC", visible_text(value)).strip().casefold()
    return re.sub(r"[\s\-_]+", " ", text)


_CATEGORY_ALIASES: Final[dict[str, str]] = {
    _fold(alias): category
    for category, aliases in {
        "gift": (
            "gift",
            "gifts",
            "present",
            "подарок",
            "подарки",
            "礼物",
            "礼品",
            "geschenk",
            "prezent",
            "cadeau",
            "regalo",
            "hediye",
        ),
        "documents": (
            "documents",
            "document",
            "docs",
            "doc",
            "документы",
            "документ",
            "文件",
            "dokumente",
            "dokumenty",
        ),
        "commercial_sample": (
            "commercial sample",
            "commercial samples",
            "sample",
            "samples",
            "образец",
            "образцы",
            "коммерческий образец",
            "样品",
            "muster",
            "próbka",
        ),
        "returned_goods": (
            "returned goods",
            "returned",
            "return",
            "returns",
            "возврат",
            "возврат товара",
            "退货",
            "退回",
            "rücksendung",
            "zwrot",
        ),
        "sale_of_goods": (
            "sale of goods",
            "sale",
            "sales",
            "merchandise",
            "goods",
            "commercial",
            "продажа",
            "продажа товаров",
            "товар",
            "товары",
            "销售",
            "商品",
            "销售商品",
            "verkauf",
            "sprzedaż",
        ),
        "other": ("other", "others", "другое", "прочее", "иное", "其他", "sonstiges", "inne"),
    }.items()
    for alias in (*aliases, category)
}

_MAIL_CLASS_ALIASES: Final[dict[str, str]] = {
    _fold(alias): mail_class
    for mail_class, aliases in {
        "letter": (
            "letter",
            "letters",
            "письмо",
            "信函",
            "brief",
            "list",
        ),
        # The UPU letter-post small packet (up to 2 kg): its own class since the contract
        # named it; before, exports that wrote it were read as letters.
        "small_packet": (
            "small packet",
            "small packets",
            "packet",
            "мелкий пакет",
            "бандероль",
            "小包",
            "päckchen",
            "paczka mała",
            "e-packet",
        ),
        "parcel": ("parcel", "parcels", "package", "посылка", "包裹", "paket", "paczka"),
        "ems": ("ems", "емс", "ems express", "特快专递"),
        "courier": ("courier", "express", "курьер", "курьерская", "快递", "kurier"),
    }.items()
    for alias in (*aliases, mail_class)
}

_COUNTRY_CODES: Final = frozenset(c.alpha_2 for c in pycountry.countries)
_COUNTRY_ALPHA3: Final = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
# Codes still common in postal systems that ISO does not (or no longer) assign.
_COUNTRY_EXTRA: Final = {"UK": "GB", "EL": "GR", "XK": "XK", "SU": "RU"}

_CURRENCY_CODES: Final = frozenset(c.alpha_3 for c in pycountry.currencies)
_CURRENCY_EXTRA: Final = {
    "RUR": "RUB",
    "РУБ": "RUB",
    "РУБ.": "RUB",
    "Р": "RUB",
    "₽": "RUB",
    "RMB": "CNY",
    "ЮАНЬ": "CNY",
    "元": "CNY",
    "¥": "CNY",
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "ЕВРО": "EUR",
    "ДОЛЛ": "USD",
    "ТЕНГЕ": "KZT",
    "₸": "KZT",
    "ГРН": "UAH",
    "₴": "UAH",
    "ZŁ": "PLN",
    "ZL": "PLN",
    "BYR": "BYN",
}


def normalise_text(value: str) -> str:
    """Invisible characters dropped, NFKC, trimmed, inner whitespace collapsed to one space.

    The one normaliser of free text (descriptions, ids) for every surface: JSON, CSV and
    Parquet, training and scoring.
    """
    return " ".join(unicodedata.normalize("NFKC", visible_text(value)).split())


def normalise_country(value: str) -> str:
    code = unicodedata.normalize("NFKC", value).strip().upper()
    if code in _COUNTRY_CODES:
        return code
    if code in _COUNTRY_EXTRA:
        return _COUNTRY_EXTRA[code]
    if code in _COUNTRY_ALPHA3:
        return _COUNTRY_ALPHA3[code]
    raise FieldError(f"expected an ISO 3166-1 alpha-2 country code, got {shown(value)}")


def normalise_currency(value: str) -> str:
    code = unicodedata.normalize("NFKC", value).strip().upper()
    if code in _CURRENCY_CODES:
        return code
    if code in _CURRENCY_EXTRA:
        return _CURRENCY_EXTRA[code]
    raise FieldError(f"expected an ISO 4217 currency code, got {shown(value)}")


def normalise_category(value: str) -> str:
    try:
        return _CATEGORY_ALIASES[_fold(value)]
    except KeyError:
        raise FieldError(f"expected one of {', '.join(CATEGORIES)}, got {shown(value)}") from None


def normalise_mail_class(value: str) -> str:
    try:
        return _MAIL_CLASS_ALIASES[_fold(value)]
    except KeyError:
        raise FieldError(f"expected one of {', '.join(MAIL_CLASSES)}, got {shown(value)}") from None


_HS_SEPARATORS: Final = re.compile(r"[\s.\-]")
_HS_CODE: Final = re.compile(r"\d{4,10}")


def normalise_hs_code(value: str) -> str:
    code = _HS_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    if not _HS_CODE.fullmatch(code):
        raise FieldError(f"expected an HS code of 4-10 digits, got {shown(value)}")
    return code


def normalise_label_class(value: str) -> str:
    folded = _fold(value).replace(" ", "_")
    if folded not in LABEL_CLASSES:
        raise FieldError(f"expected one of {', '.join(LABEL_CLASSES)}, got {shown(value)}")
    return folded


_LABEL_VALUES: Final = {
    "0": 0,
    "1": 1,
    "false": 0,
    "true": 1,
    "no": 0,
    "yes": 1,
    "0.0": 0,
    "1.0": 1,
}


def normalise_label(value: str) -> int:
    try:
        return _LABEL_VALUES[_fold(value)]
    except KeyError:
        raise FieldError(f"expected 0 or 1, got {shown(value)}") from None


def normalise_description(value: str) -> str:
    text = normalise_text(value)
    if not text:
        raise FieldError("is required and must not be empty")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise FieldError(f"must be at most {MAX_DESCRIPTION_CHARS} characters, got {len(text)}")
    return text


def normalise_identifier(value: str) -> str:
    text = normalise_text(value)
    if not text:
        # Only reached for a value that is not blank: it held nothing but invisible
        # characters, which is no identifier (and would group unrelated parcels together).
        raise FieldError("must not be empty (it holds only invisible or control characters)")
    if len(text) > MAX_ID_CHARS:
        raise FieldError(f"must be at most {MAX_ID_CHARS} characters, got {len(text)}")
    return text


_SCALAR_NORMALISERS: Final[dict[str, Callable[[str], Any]]] = {
    "mail_class": normalise_mail_class,
    "category": normalise_category,
    "origin_country": normalise_country,
    "destination_country": normalise_country,
    "hs_code": normalise_hs_code,
    "currency": normalise_currency,
    "sender_id": normalise_identifier,
    "recipient_id": normalise_identifier,
    "declaration_id": normalise_identifier,
    "description": normalise_description,
    "label": normalise_label,
    "label_class": normalise_label_class,
}

# --- numbers ----------------------------------------------------------------------------

_NUMBER_JUNK: Final = re.compile(r"[\s\u00a0\u202f'’]")


def parse_number(value: object, decimal: Literal[",", "."] | None = None) -> float:
    """A float from a number or a messy numeric string ("1 234,5", "1,234.5", "12,5")."""
    if isinstance(value, bool):
        raise FieldError(f"expected a number, got {shown(value)}")
    if isinstance(value, int | float):
        return float(value)
    parsed = parse_numbers(pd.Series([value], dtype=object), decimal).iloc[0]
    if pd.isna(parsed):
        raise FieldError(f"expected a number, got {shown(value)}")
    return float(parsed)


def infer_decimal(values: pd.Series) -> Literal[",", "."]:
    """Whether a column of numeric strings uses decimal commas.

    A comma is a decimal separator when some value has a comma not followed by exactly
    three digits ("12,5"), or when a comma comes after the last dot ("1.234,5").
    """
    text = pd.Series(values.dropna().unique(), dtype=object).astype(str)
    text = text.str.replace(_NUMBER_JUNK, "", regex=True)
    decimal_comma = text.str.contains(r",(?:\d{1,2}|\d{4,})$", regex=True) | text.str.contains(
        r"\.\d{3},", regex=True
    )
    return "," if bool(decimal_comma.any()) else "."


def _parse_distinct_numbers(text: pd.Series, decimal: Literal[",", "."]) -> pd.Series:
    cleaned = text.str.replace(_NUMBER_JUNK, "", regex=True)
    if decimal == ",":
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        cleaned = cleaned.str.replace(",", "", regex=False)
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values as strings); code -1 marks a missing cell."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Series(uniques, dtype=object).astype(str)


def parse_numbers(values: pd.Series, decimal: Literal[",", "."] | None = None) -> pd.Series:
    """Vectorised `parse_number`: NaN where a value is missing or not a number.

    Text is parsed once per distinct value: exports repeat their numbers a lot.
    """
    return _numbers_and_blanks(values, decimal)[0]


def _numbers_and_blanks(
    values: pd.Series, decimal: Literal[",", "."] | None
) -> tuple[pd.Series, pd.Series]:
    """`parse_numbers` of one column and where its cells are blank (missing or only
    whitespace), from one pass over its distinct values."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), values.isna()
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(np.nan, index=values.index, dtype="float64"), values.isna()
    codes, uniques = _distinct(values)
    if decimal is None:
        decimal = infer_decimal(uniques)
    parsed = np.append(_parse_distinct_numbers(uniques, decimal).to_numpy(), np.nan)
    blank = np.append((uniques.str.strip() == "").to_numpy(dtype=bool), True)
    return (
        pd.Series(parsed[codes], index=values.index, dtype="float64"),
        pd.Series(blank[codes], index=values.index),
    )


# --- the frame normaliser ----------------------------------------------------------------


# Characters that NFKC keeps as they are, alone and next to each other (checked for every
# pair of the ASCII and Cyrillic ones; CJK ideographs take part in no composition), none of
# them whitespace. Text of these with single inner spaces is its own `normalise_text`.
_STABLE_CHARS: Final = "!-~\u0400-\u0482\u048a-\u04ff\u4e00-\u9fff"
_STABLE_TEXT: Final = f"^[{_STABLE_CHARS}]+(?: [{_STABLE_CHARS}]+)*$"
# Fields whose normaliser returns a stable text of at most this many characters unchanged.
_KEPT_WHEN_STABLE: Final = {
    "declaration_id": MAX_ID_CHARS,
    "sender_id": MAX_ID_CHARS,
    "recipient_id": MAX_ID_CHARS,
    "description": MAX_DESCRIPTION_CHARS,
}


def _stable_texts(uniques: pd.Series, max_chars: int) -> np.ndarray:
    """True for values that are stable text of at most `max_chars` characters.

    Checked in Arrow (C, no Python call per value): most identifiers and descriptions are,
    and only the others need the Python normaliser.
    """
    try:
        array = pa.array(uniques.to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowException, UnicodeError):  # lone surrogates: let the normaliser judge
        return np.zeros(len(uniques), dtype=bool)
    stable = pc.and_(
        pc.match_substring_regex(array, _STABLE_TEXT),
        pc.less_equal(pc.utf8_length(array), max_chars),
    )
    return np.asarray(stable.to_numpy(zero_copy_only=False), dtype=bool)


def _map_distinct(
    values: pd.Series, normalise: Callable[[str], Any], kept_when_stable: int | None = None
) -> tuple[pd.Series, pd.Series]:
    """Apply a scalar normaliser to each distinct non-blank value; (result, error message).

    With `kept_when_stable`, stable texts up to that length are known to normalise to
    themselves and skip the normaliser.
    """
    codes, uniques = _distinct(values)
    stable = (
        _stable_texts(uniques, kept_when_stable)
        if kept_when_stable is not None and len(uniques)
        else np.zeros(len(uniques), dtype=bool)
    )
    # One slot per distinct value, and a trailing None for the NA sentinel (-1) to index.
    results = np.full(len(uniques) + 1, None, dtype=object)
    messages = np.full(len(uniques) + 1, None, dtype=object)
    distinct = uniques.to_numpy(dtype=object)
    results[:-1][stable] = distinct[stable]
    for position in np.flatnonzero(~stable).tolist():
        unique = distinct[position]
        if not unique.strip():
            continue
        try:
            results[position] = normalise(unique)
        except FieldError as exc:
            messages[position] = str(exc)
    return (
        pd.Series(results[codes], index=values.index, dtype=object),
        pd.Series(messages[codes], index=values.index, dtype=object),
    )


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def _quoted_cut(values: pd.Series) -> pd.Series:
    """Values quoted for a row error, as `shown` quotes one: long ones cut, with their length."""
    lengths = values.str.len()
    long = lengths > SHOWN_CHARS
    quoted = "'" + values + "'"
    if bool(long.any()):
        cut = "'" + values[long].str[:SHOWN_CHARS] + "'... (" + lengths[long].astype(str)
        quoted[long] = cut + " characters)"
    return quoted


def _num(values: pd.Series) -> pd.Series:
    return values.map("{:g}".format)


class _ErrorCollector:
    """Collects `field: message` entries for the (usually few) rows that have them."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.positions: list[np.ndarray] = []
        self.entries: list[np.ndarray] = []

    def add(
        self,
        field: str,
        mask: pd.Series,
        message: str,
        shown: pd.Series | None = None,
        *,
        quote: bool = False,
    ) -> None:
        """Record `message` for rows in `mask`, followed by the row's `shown` value if given.

        The per-row text is only built for the masked rows: errors are rare, rows are many.
        """
        flags = mask.to_numpy(dtype=bool, na_value=False)
        if not flags.any():
            return
        positions = np.flatnonzero(flags)
        if shown is None:
            texts = np.full(len(positions), f"{field}: {message}", dtype=object)
        else:
            picked = shown.iloc[positions]
            rendered = (
                _quoted_cut(_as_text(picked))
                if quote
                else (_num(picked) if pd.api.types.is_numeric_dtype(picked) else _as_text(picked))
            )
            texts = (f"{field}: {message}" + rendered).to_numpy(dtype=object)
        self.positions.append(positions)
        self.entries.append(texts)

    def has_error(self) -> np.ndarray:
        flags = np.zeros(len(self.index), dtype=bool)
        for positions in self.positions:
            flags[positions] = True
        return flags

    def result(self, lines: pd.Series | None) -> pd.Series:
        out = np.full(len(self.index), None, dtype=object)
        if self.positions:
            joined = (
                pd.Series(np.concatenate(self.entries), index=np.concatenate(self.positions))
                .groupby(level=0, sort=True)
                .agg("; ".join)
            )
            positions = joined.index.to_numpy()
            texts = joined.to_numpy(dtype=object)
            if lines is not None:
                texts = texts + " (line " + lines.iloc[positions].astype(str).to_numpy() + ")"
            out[positions] = texts
        return pd.Series(out, index=self.index, dtype=object)


def normalise_declarations(
    raw: pd.DataFrame,
    *,
    decimal: Literal[",", "."] | None = None,
    with_labels: bool | None = None,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Typed, checked declaration columns from a frame whose headers are already canonical.

    Returns a new frame with every contract field (missing ones empty), typed: floats for
    numbers, `datetime64` for `posted_at`, Python strings or None for text. An `error`
    column holds `field: message` entries for rows that cannot be scored (None otherwise).
    Rows are never dropped and the index is kept, so results line up with `raw`.

    `decimal` fixes the decimal separator of numeric text columns; by default it is
    inferred per column. `with_labels` defaults to whether a `label` column is present.
    `only` normalises just those fields (a pass that reads a few columns of a file); the
    checks of fields left out are left out too.
    """
    index = raw.index
    lines = raw[LINE_COLUMN] if LINE_COLUMN in raw.columns else None
    errors = _ErrorCollector(index)
    out: dict[str, pd.Series] = {}
    if with_labels is None:
        with_labels = "label" in raw.columns
    fields: tuple[str, ...] = ALL_FIELDS if with_labels else DECLARATION_FIELDS
    if only is not None:
        fields = tuple(field for field in fields if field in only)

    def column(field: str) -> pd.Series:
        if field in raw.columns:
            return raw[field]
        return pd.Series(None, index=index, dtype=object)

    description_messages = pd.Series(None, index=index, dtype=object)
    for field in fields:
        values = column(field)
        if field in _SCALAR_NORMALISERS:
            if pd.api.types.is_numeric_dtype(values) and field == "label":
                values = values.astype("Int64").astype("string")
            normalised, messages = _map_distinct(
                values, _SCALAR_NORMALISERS[field], _KEPT_WHEN_STABLE.get(field)
            )
            if field == "description":
                description_messages = messages
            bad = messages.notna()
            errors.add(field, bad, "", messages)
            out[field] = normalised
        elif field in NUMERIC_FIELDS:
            numbers, blank = _numbers_and_blanks(values, decimal)
            not_number = numbers.isna() & ~blank
            errors.add(field, not_number, "expected a number, got ", values, quote=True)
            if field in ("gross_weight_kg", "net_weight_kg"):
                invalid = numbers <= 0
                errors.add(field, invalid, "expected a number > 0, got ", numbers)
            elif field == "value":
                invalid = numbers < 0
                errors.add(field, invalid, "expected a number >= 0, got ", numbers)
            else:  # quantity, item_no: whole numbers >= 1
                invalid = (numbers < 1) | (numbers.notna() & (numbers != np.floor(numbers)))
                errors.add(field, invalid, "expected a whole number >= 1, got ", numbers)
            out[field] = numbers.where(~invalid)
        elif field == "posted_at":
            if pd.api.types.is_datetime64_any_dtype(values):
                parsed = pd.to_datetime(values, utc=True)
                bad = pd.Series(False, index=index)
            else:
                codes, uniques = _distinct(values)
                stripped = uniques.str.strip()
                blank = pd.Series(
                    np.append((stripped == "").to_numpy(dtype=bool), True)[codes], index=index
                )
                distinct = pd.to_datetime(stripped, format="ISO8601", errors="coerce", utc=True)
                parsed = pd.Series(
                    distinct.array.take(codes, allow_fill=True), index=index, dtype=distinct.dtype
                )
                bad = parsed.isna() & ~blank
                errors.add(field, bad, "expected an ISO 8601 date, got ", values, quote=True)
            out[field] = parsed.dt.tz_localize(None)

    # Every column above is a new array: no copy (which took ~1 ms per column and chunk).
    frame = pd.DataFrame({name: out[name] for name in fields}, index=index, copy=False)

    # Required fields. The description normaliser raises rather than return nothing, so an
    # empty result without a message is a blank cell (missing or only whitespace): found
    # without a second pass over the column.
    if "description" in frame.columns:
        missing_description = frame["description"].isna() & description_messages.isna()
        errors.add("description", missing_description, "is required and must not be empty")

    # A missing declaration id gets one derived from the row, so every row is its own parcel.
    missing_id = frame["declaration_id"].isna() | (frame["declaration_id"] == "")
    if bool(missing_id.any()):
        row_ids = lines if lines is not None else pd.Series(np.arange(1, len(index) + 1), index)
        frame.loc[missing_id, "declaration_id"] = "ROW-" + row_ids[missing_id].astype(str)

    # Item numbers default to the row's position within its parcel (grouped only if needed).
    if "item_no" in frame.columns and bool(frame["item_no"].isna().any()):
        position = frame.groupby("declaration_id", sort=False).cumcount() + 1
        frame["item_no"] = frame["item_no"].fillna(position.astype("float64"))

    if READ_ERROR_COLUMN in raw.columns:
        read_errors = raw[READ_ERROR_COLUMN]
        errors.add("row", read_errors.notna(), "", read_errors)

    frame[ERROR_COLUMN] = errors.result(lines)
    return frame


# --- the JSON form --------------------------------------------------------------------------


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
