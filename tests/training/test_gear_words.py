"""When a description names gear: words of the gear nomenclature that honest goods never use."""

from __future__ import annotations

import pytest

from training.gear_words import (
    _connectives,
    _listed,
    any_names_gear,
    derive_gear_words,
    description_names_gear,
    gear_named_in,
    gear_words,
    gear_words_within,
    names_gear,
)


@pytest.mark.parametrize(
    "description",
    [
        "бронежилет 6Б45 с плитами",
        "Ratnik 6B45",
        "night vision goggles PVS-14",
        "bulletproof vest",
        "防弹衣 带插板",
        "防弹头盔",  # a bulletproof helmet: named, though its head noun alone is not
        "шлем кевларовый",
        # An army's acronym of three Cyrillic letters: a night-vision device, a rig.
        "ПНВ",
        "РПС армейская",
        # A tactical helmet declares no honest kind: its Kevlar is armour.
        "тактический шлем кевлар",
        "army boots",
        "модуль FLIR Boson 640",
        "askeri kask",  # Turkish: military helmet, though both words are on honest forms
        "hərbi çəkmə",
        # Armenian and Georgian: military boots, a military helmet.
        "զինվորական կոշիկներ",
        "სამხედრო ჩაფხუტი",
        "Starlink Mini kit",
        # Chinese compounds holding a gear word whole: "genuine army boots", "Russian army
        # combat uniform".
        "正品军靴 42码",
        "俄罗斯军服 迷彩",
        "二手防弹衣",
        # Army designations of sights: a sniper's scope, an AK's night sight.
        "Прицел ПСО-1М2",
        "ночной прицел 1ПН93-2",
        # An imaging function with a device: both words are on honest forms alone.
        "тепловизионный прицел Arkon",
        "thermal sight - return for repair",
        # A plate carrier in the form senders also write, in Cyrillic and Latin letters.
        "плитоносец без плит",
        "plitonosets (bez plit)",
        # Armour as a common word before it makes it: "body armor", "soft armour".
        "Body armor plates level IV ceramic",
        "soft armour panels",
        "body armour NIJ IV",
        "body armour",
        "Бронежилет / body armour, used",
        # A visor made to stop bullets names a helmet's armour.
        "забрало баллистическое",
        "бронезабрало",
    ],
)
def test_gear_named_openly_is_named(description: str) -> None:
    assert description_names_gear(description)


@pytest.mark.parametrize(
    "description",
    [
        "куртка мужская",
        "одежда",
        "подарок",
        "вещи б/у",
        "Плитка керамическая 2шт",
        "sports vest",
        "тепловизор строительный",  # building thermal cameras are honest goods
        "термобельё thermal underwear",
        "прицел для пневматики 4x32",  # an air rifle's scope
        "Жилет для рыбалки",
        # Armenian: children's clothes; "military" pairs only with goods of gear phrasings.
        "մանկական հագուստ",
        # A cover several writers' gear lines share, on one honest line too: a multimeter.
        "прибор измерительный",
        # The head of honest Chinese compounds (摩托车头盔, a motorcycle helmet) is a cover.
        "头盔",
        # "For the shop" in Turkmen: a postposition pairs with no word into a name of gear.
        "magazin üçin",
        # A phone's thermal camera: an honest compound that holds a word of gear
        # ("热成像仪"), which therefore names gear only written alone.
        "手机热成像仪 安卓Type-C",
        # Common Chinese words of gear phrasings: "in bulk", "the real item".
        "批量",
        "实物",
        # "Armor" of a phone case or of motocross protection is no armour.
        "Armor phone case",
        "motocross body armor jacket",
        # Armour of the body a motocross rider's protector guards: the line declares it.
        "Защита для мотокросса / motocross body armour",
        "Motorcycle body armour jacket",
        # A motorcycle helmet's visor ("забрало"), in Russian and Ukrainian.
        "Забрало для мотошлема",
        "забрало",
        "візор для мотошолома",
        # A fibre beside an honest kind's noun says what the kind is made of: a Kevlar
        # motorcycle or hockey helmet.
        "Мотоциклетный шлем, кевлар",
        "Шлем хоккейный кевлар",
        # Three Latin letters are as often a battery or a radio standard.
        "AGM battery 12V",
        "DMR radio",
        "",
    ],
)
def test_honest_words_do_not_name_gear(description: str) -> None:
    assert not description_names_gear(description)


def test_a_disguise_in_honest_words_is_not_named_whatever_it_hides() -> None:
    assert not description_names_gear("Запчасти автомобильные")


def test_column_and_parcel_forms_agree_with_one_description() -> None:
    texts = ["бронежилет", None, "куртка", "бронежилет", float("nan")]
    assert names_gear(texts).tolist() == [True, False, False, True, False]
    assert any_names_gear(["куртка", None, "каска 6Б7"])
    assert not any_names_gear(["куртка", None])


def test_no_word_of_the_list_is_a_common_word() -> None:
    from training.common_words import is_common

    assert not [w for w in gear_words() if " " not in w and is_common(w)]


def test_the_lexicon_file_is_what_the_derivation_gives() -> None:
    """`lexicon/gear_words.txt` is derived (python -m training.gear_words), never edited."""
    assert _listed() == derive_gear_words()


def test_a_chinese_compound_names_gear_by_the_gear_word_it_holds() -> None:
    assert "军靴" in gear_words_within()
    assert "热成像仪" not in gear_words_within()  # held by an honest compound
    assert all(len(w) >= 2 and not w.isascii() for w in gear_words_within())
    # The reason quotes the compound as the sender wrote it.
    assert gear_named_in("正品军靴 42码") == "正品军靴"
    assert gear_named_in("手机热成像仪") is None


def test_the_readable_sets_are_the_corpora_readers_train_and_calibration() -> None:
    from training.corpora import BLIND, CALIBRATION, TRAIN
    from training.gear_words import READABLE_CORPORA

    assert set(READABLE_CORPORA) == {TRAIN, CALIBRATION}
    assert BLIND not in READABLE_CORPORA


def test_the_column_check_is_the_plain_check_on_every_written_description() -> None:
    """`names_gear` looks for candidate words with Arrow's kernels first; it must say what
    `description_names_gear` says of each description, including where Arrow's lowercase
    or whitespace could differ from Python's ("ß", Armenian "և", odd separators)."""
    import csv
    from pathlib import Path

    texts: list[object] = []
    for path in sorted(Path("corpora").glob("*/*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            texts.extend(row["description"] for row in csv.DictReader(handle))
    tricky = [
        "STRAßE", "Bulletproof\u00a0vest", "bulletproof\x1cvest", "(бронежилет)", "«6Б45»",
        "զրահաբաճկոն և սաղավարտ", "ΘΩΡΑΚΑΣ", "防弹衣", "army  boots", " army boots ",
        "ARMY BOOTS!", "正品军靴", "手机热成像仪", None, float("nan"), "", "   ",
    ]  # fmt: skip
    texts += tricky
    assert len(texts) > 4000
    plain = [isinstance(t, str) and description_names_gear(t) for t in texts]
    assert names_gear(texts).tolist() == plain
    # The word a reason quotes is found exactly where a description names gear.
    assert [isinstance(t, str) and gear_named_in(t) is not None for t in texts] == plain
    assert sum(plain) > 200  # the check is not trivially all False


def test_an_arrow_column_is_read_as_its_values() -> None:
    import pyarrow as pa

    texts = ["бронежилет 6Б45", None, "куртка", "STRAßE army boots"]
    expected = names_gear(texts).tolist()
    assert names_gear(pa.chunked_array([texts[:2], texts[2:]])).tolist() == expected
    assert names_gear(pa.array([None, None])).tolist() == [False, False]


def test_a_connective_is_a_word_honest_lines_write_inside_next_to_many_words() -> None:
    """A postposition sits between the words it joins, next to any of them; a noun written
    as often ends or starts its lines, and a word of few neighbours is no connective."""
    nouns = [f"goods{i}" for i in range(70)]
    honest = [f"{noun} üçin çaga" for noun in nouns]  # "<goods> for a child"
    honest += [f"täze {noun} köýnek" for noun in nouns[:50]]  # "new <goods> shirt"
    honest += ["gyzyl alma nar"] * 80  # "red apple, pomegranate": always inside
    found = _connectives(honest)
    assert "üçin" in found
    assert "köýnek" not in found and "täze" not in found  # at the ends of their lines
    assert "alma" not in found  # inside, but next to two words only
