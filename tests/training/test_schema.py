from __future__ import annotations

import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from training.schema import (
    INVISIBLE_RANGES,
    LINE_COLUMN,
    MAX_ID_CHARS,
    DeclarationIn,
    FieldError,
    canonical_header,
    normalise_declarations,
    normalise_description,
    normalise_hs_code,
    normalise_identifier,
    normalise_text,
    parse_numbers,
    shown,
)


def raw_frame(**overrides: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "declaration_id": ["RB1", "RB1", "RB2"],
        "description": ["Жилет", "Мёд", "cotton T-shirt"],
        "net_weight_kg": ["7,5", "1", "0,3"],
        "value": ["1500", "300", "10"],
        "currency": ["руб", "RUB", "usd"],
        "origin_country": ["ru", "RUS", "cn"],
        "destination_country": ["CN", "cn", "RU"],
        "category": ["Подарок", "GIFT", "sale"],
        "mail_class": ["посылка", "Parcel", "EMS"],
        "hs_code": ["6211.43", "04 09 00", ""],
    }
    base.update(overrides)
    frame = pd.DataFrame(base)
    frame[LINE_COLUMN] = np.arange(2, len(frame) + 2)
    return frame


def test_normalises_codes_enums_numbers_and_fills_item_numbers() -> None:
    frame = normalise_declarations(raw_frame())
    assert frame["error"].isna().all()
    assert frame["currency"].tolist() == ["RUB", "RUB", "USD"]
    assert frame["origin_country"].tolist() == ["RU", "RU", "CN"]
    assert frame["category"].tolist() == ["gift", "gift", "sale_of_goods"]
    assert frame["mail_class"].tolist() == ["parcel", "parcel", "ems"]
    assert frame["hs_code"].tolist() == ["621143", "040900", None]
    assert frame["net_weight_kg"].tolist() == [7.5, 1.0, 0.3]
    assert frame["item_no"].tolist() == [1.0, 2.0, 1.0]


def test_bad_rows_are_marked_with_field_and_line_never_dropped() -> None:
    frame = normalise_declarations(
        raw_frame(
            net_weight_kg=["-1", "abc", "1"],
            currency=["RUB", "XXQ", "USD"],
            description=["ok", "  ", "x" * 600],
        )
    )
    assert len(frame) == 3
    errors = frame["error"].tolist()
    assert "net_weight_kg: expected a number > 0" in errors[0] and "(line 2)" in errors[0]
    assert "net_weight_kg: expected a number, got 'abc'" in errors[1]
    assert "currency: expected an ISO 4217 currency code" in errors[1]
    assert "description: is required" in errors[1] and "(line 3)" in errors[1]
    assert "description: must be at most 512 characters" in errors[2]


def test_missing_declaration_id_is_derived_from_the_line() -> None:
    frame = normalise_declarations(raw_frame(declaration_id=["", None, "RB9"]))
    assert frame["declaration_id"].tolist() == ["ROW-2", "ROW-3", "RB9"]
    assert frame["error"].isna().all()


@pytest.mark.parametrize(
    ("texts", "decimal", "expected"),
    [
        (["1 234,5", "12,5", "3"], None, [1234.5, 12.5, 3.0]),
        (["1,234.5", "1,200", "3"], None, [1234.5, 1200.0, 3.0]),
        (["1.234,5", "7"], None, [1234.5, 7.0]),
        (["1,200"], ",", [1.2]),
    ],
)
def test_numbers_accept_decimal_commas_and_thousands(
    texts: list[str], decimal: str | None, expected: list[float]
) -> None:
    parsed = parse_numbers(pd.Series(texts, dtype=object), decimal)  # type: ignore[arg-type]
    assert parsed.tolist() == expected


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Item Description", "description"),
        ("описание", "description"),
        ("描述", "description"),
        ("HS", "hs_code"),
        ("Tariff-Code", "hs_code"),
        ("вес", "net_weight_kg"),
        ("重量", "net_weight_kg"),
        ("Declared Value", "value"),
        ("стоимость", "value"),
        ("ORIGIN", "origin_country"),
        ("some_other_column", None),
    ],
)
def test_header_aliases(header: str, field: str | None) -> None:
    assert canonical_header(header) == field


def test_json_declaration_normalises_like_the_frame() -> None:
    declaration = DeclarationIn.model_validate(
        {
            "declaration_id": " RB1 ",
            "category": "Подарок",
            "origin_country": "rus",
            "items": [{"description": " Жилет ", "hs_code": "6211.43", "net_weight_kg": "7,5"}],
        }
    )
    assert declaration.declaration_id == "RB1"
    assert declaration.category == "gift"
    assert declaration.origin_country == "RU"
    assert declaration.items[0].description == "Жилет"
    assert declaration.items[0].hs_code == "621143"
    assert declaration.items[0].net_weight_kg == 7.5
    columns = declaration.to_columns()
    assert columns["item_no"] == [1]
    assert columns["declaration_id"] == ["RB1"]


@pytest.mark.parametrize(
    ("typed", "read"),
    [("62", "62"), ("6211.43", "621143"), ("8409 9990 1019", "840999901019")],
)
def test_hs_codes_are_read_as_clerks_type_them(typed: str, read: str) -> None:
    """A two-digit chapter and Turkey's 12-digit tariff code are codes too; a lone digit or
    three are not."""
    assert normalise_hs_code(typed) == read
    for bad in ("1", "621", "6211431234567"):
        with pytest.raises(FieldError, match="HS code"):
            normalise_hs_code(bad)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "x", "net_weight_kg": -1}, "net_weight_kg"),
        ({"description": "x", "value": -5}, "value"),
        ({"description": "x", "currency": "ZZZ"}, "currency"),
        ({"description": "x", "hs_code": "123"}, "hs_code"),
        ({"description": "x", "quantity": 0}, "quantity"),
        ({"description": 5}, "description"),
    ],
)
def test_json_declaration_rejects_bad_items_naming_the_field(
    item: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        DeclarationIn.model_validate({"declaration_id": "RB1", "items": [item]})
    locations = [error["loc"] for error in info.value.errors()]
    assert any(field in loc for loc in locations)


def test_json_declaration_rejects_unknown_enum() -> None:
    with pytest.raises(ValidationError) as info:
        DeclarationIn.model_validate(
            {"declaration_id": "RB1", "category": "smuggling", "items": [{"description": "x"}]}
        )
    assert info.value.errors()[0]["loc"] == ("category",)


def test_text_fields_normalise_as_their_scalar_normaliser_says() -> None:
    """Stable text skips the normaliser; anything NFKC or whitespace would touch does not."""
    ids = ["RB1", " RB2 ", "RB\u00a03", "ＲＢ４", "RB  5", "a" * (MAX_ID_CHARS + 1), "Ж-6", "Ｒ"]
    descriptions = [
        "Жилет разгрузочный",
        "cotton  T-shirt",
        "防弹衣 插板",
        "\tgift\n",
        "ｃｌｏｔｈｅｓ",
        "ﬁlter",
        "Бронежилет 6Б45",
        "x" * 600,
    ]
    raw = pd.DataFrame(
        {
            "declaration_id": ids,
            "sender_id": ids,
            "description": descriptions,
            "net_weight_kg": ["1"] * 8,
            "value": ["5"] * 8,
            "currency": ["USD"] * 8,
        }
    )
    out = normalise_declarations(raw)

    def expected(normalise: Callable[[str], str], value: str) -> str | None:
        try:
            return normalise(value)
        except FieldError:
            return None

    for field, normalise in (
        ("sender_id", normalise_identifier),
        ("description", normalise_description),
    ):
        assert out[field].tolist() == [expected(normalise, v) for v in raw[field]], field
    valid_ids = [expected(normalise_identifier, v) for v in ids]
    assert [i for i, v in zip(out["declaration_id"], valid_ids, strict=True) if v] == [
        v for v in valid_ids if v
    ]
    assert "declaration_id: must be at most" in out["error"][5]
    assert "description: must be at most" in out["error"][7]
    assert out["declaration_id"][3] == "RB4"


# --- invisible characters (issue 12, finding 4) -------------------------------------------


def test_invisible_ranges_cover_every_format_and_control_character() -> None:
    # Checked against the running Python's Unicode database, so an upgrade that adds
    # format characters fails here rather than letting them through.
    listed = {code for first, last in INVISIBLE_RANGES for code in range(first, last + 1)}
    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) in ("Cf", "Cc") and not char.isspace():
            assert code in listed, f"U+{code:04X} ({unicodedata.name(char, '?')})"
    for code in listed:
        char = chr(code)
        assert not char.isspace()
        assert unicodedata.category(char) in ("Cf", "Cc", "Mn", "Lo", "Cn"), f"U+{code:04X}"


@pytest.mark.parametrize(
    "disguised",
    [
        "bullet\u200dproof vest",
        "b\u200bu\u200bl\u200bl\u200be\u200bt\u200bp\u200br\u200bo\u200bo\u200bf vest",
        "\u202ebulletproof vest\u202c",
        "\u2066bulletproof\u2069 vest\ufeff",
        "bullet\u00adproof\x00 vest",
        "bulletproof\x1f vest",  # a control that counts as a space: still one space
        "bulletproof\ufe0f vest\U000e0041",
    ],
)
def test_invisible_characters_do_not_change_a_description(disguised: str) -> None:
    assert normalise_description(disguised) == "bulletproof vest"
    assert normalise_text(disguised) == "bulletproof vest"
    frame = normalise_declarations(raw_frame(description=[disguised, "ok", "bulletproof vest"]))
    assert frame["description"].tolist()[0] == frame["description"].tolist()[2]
    assert frame["error"].isna().all()


@pytest.mark.parametrize("invisible", ["\u200b", "\u200b\u200d\u2060", "\u202e\u202c", "\x00\x01"])
def test_descriptions_and_ids_of_invisible_characters_only_are_refused(invisible: str) -> None:
    with pytest.raises(FieldError, match="must not be empty"):
        normalise_description(invisible)
    with pytest.raises(FieldError, match="invisible or control characters"):
        normalise_identifier(invisible)
    frame = normalise_declarations(
        raw_frame(description=[invisible, "ok", "ok"], declaration_id=["RB1", invisible, "RB2"])
    )
    errors = frame["error"].tolist()
    assert "description: is required and must not be empty" in errors[0]
    assert "declaration_id: must not be empty" in errors[1]
    assert errors[2] is None
    item = {"description": "ok"}
    with pytest.raises(ValidationError, match="description"):
        DeclarationIn.model_validate(
            {"declaration_id": "RB1", "items": [{"description": invisible}]}
        )
    with pytest.raises(ValidationError, match="declaration_id"):
        DeclarationIn.model_validate({"declaration_id": invisible, "items": [item]})
    with pytest.raises(ValidationError, match="sender_id"):
        DeclarationIn.model_validate(
            {"declaration_id": "RB1", "sender_id": invisible, "items": [item]}
        )


def test_json_and_frames_agree_on_invisible_characters() -> None:
    text = "\u202eплито\u200dноска\u202c"
    parsed = DeclarationIn.model_validate(
        {"declaration_id": "R\u200bB1", "items": [{"description": text}]}
    )
    frame = normalise_declarations(
        raw_frame(description=[text, "a", "b"], declaration_id=["R\u200bB1", "x", "y"])
    )
    assert parsed.items[0].description == frame["description"].iloc[0] == "плитоноска"
    assert parsed.declaration_id == frame["declaration_id"].iloc[0] == "RB1"


def test_long_values_are_shown_cut_short() -> None:
    assert shown("abc") == "'abc'"
    long = shown("x" * 1_000_000)
    assert len(long) < 80
    assert "1000000 characters" in long
