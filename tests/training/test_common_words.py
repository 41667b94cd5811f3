"""Function words and the most common words carry no evidence."""

from __future__ import annotations

import pytest

from training.common_words import common_words, function_words, is_common
from training.derive_common_words import derive_common_words, derive_function_words
from training.text import matching_text


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("сувенир на память", "сувенир память | suvenir pamyat"),
        ("for", ""),
        ("Жилет для мужчины 2 шт", "жилет мужчины | zhilet muzhchiny"),
        # Counts say how many, not what: "(2 pcs)", "x2", "3шт.", "5 dona".
        ("куртка зимняя (2 pcs)", "куртка зимняя | kurtka zimnyaya"),
        ("Shoes x2 qty 2", "shoes"),
        ("3шт. носки", "носки | noski"),
        ("ko'ylak 5 dona", "ko'ylak"),
        # ... but model designations and measures stay.
        ("6Б45 x2", "6б45 | 6b45"),
        ("кабель 1.5 мм", "кабель 1.5 мм | kabel 1.5 mm"),
        ("kamizelka na ryby", "kamizelka ryby"),
        ("gift for my friend", "gift friend"),
        ("подарок dlya druga", "подарок druga | podarok druga"),
    ],
)
def test_matching_text_drops_function_words_bare_numbers_and_counts(
    description: str, expected: str
) -> None:
    assert matching_text(description) == expected


def test_the_trades_own_short_terms_and_english_words_stay() -> None:
    # Armour levels, ACH / MICH helmets; "hat" and "war" are German function words but
    # English content words.
    assert matching_text("Body armor level IV") == "body armor level iv"
    assert matching_text("ACH helmet") == "ach helmet"
    assert matching_text("MICH 2000") == "mich"
    assert matching_text("Hat") == "hat"
    words = function_words()
    assert {"iv", "ach", "mich", "hat", "toy"}.isdisjoint(words)
    assert {"for", "на", "для", "dlya", "mit", "ve", "z"} <= words


@pytest.mark.parametrize("word", ["for", "на", "small", "man", "body", "вещи", "2", "Army"])
def test_common_words_are_recognised(word: str) -> None:
    assert is_common(word)


@pytest.mark.parametrize("word", ["бронежилет", "plitonoska", "helmet", "тепловизор", "6Б45"])
def test_the_words_of_gear_are_not_common(word: str) -> None:
    assert not is_common(word)


def test_the_word_lists_are_what_the_libraries_give() -> None:
    # The files spare the service wordfreq's ~2 s of loading; they must stay derived.
    assert sorted(function_words()) == derive_function_words()
    assert sorted(common_words()) == derive_common_words()
