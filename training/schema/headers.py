"""Header aliases: the contract field a column of an export stands for, whatever the system
that wrote it called it (English, Russian, Chinese, abbreviations).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from training.schema.fields import ALL_FIELDS

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
