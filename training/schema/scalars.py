"""One value of a field, normalised: countries, currencies, categories, mail classes, HS
codes, labels, descriptions and ids. Low-cardinality fields are normalised per *distinct*
value by these same functions in the frame normaliser, so JSON and files agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any, Final

import pycountry

from training.schema.errors import FieldError, shown
from training.schema.fields import (
    CATEGORIES,
    LABEL_CLASSES,
    MAIL_CLASSES,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
)
from training.schema.free_text import normalise_text, visible_text


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
# 4-10 digits as the contract reads them, and beyond it what clerks type on about one line
# in 150 of the written sets: a two-digit chapter ("62"), or Turkey's 12-digit tariff code
# (GTİP). The model reads the chapter and heading of any code.
_HS_CODE: Final = re.compile(r"\d{2}|\d{4,12}")


def normalise_hs_code(value: str) -> str:
    code = _HS_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    if not _HS_CODE.fullmatch(code):
        raise FieldError(
            f"expected an HS code of 4-12 digits or a two-digit chapter, got {shown(value)}"
        )
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


SCALAR_NORMALISERS: Final[dict[str, Callable[[str], Any]]] = {
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
