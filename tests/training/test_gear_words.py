"""When a description names gear: words of the gear nomenclature that honest goods never use."""

from __future__ import annotations

import pytest

from training.gear_words import (
    any_names_gear,
    derive_gear_words,
    description_names_gear,
    gear_words,
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
        "шлем кевларовый",
        "army boots",
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
        "Жилет для рыбалки",
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
    assert gear_words() == frozenset(derive_gear_words())


def test_the_readable_sets_are_the_corpora_readers_train_and_calibration() -> None:
    from training.corpora import BLIND, CALIBRATION, TRAIN
    from training.gear_words import READABLE_CORPORA

    assert set(READABLE_CORPORA) == {TRAIN, CALIBRATION}
    assert BLIND not in READABLE_CORPORA
