"""What a description's words say of its goods (`service.wording`)."""

from __future__ import annotations

import numpy as np
import pytest

from service.wording import (
    bag_of_things,
    in_gear_wording,
    is_everyday_name,
    is_vague_word,
    lists_goods,
    names_goods,
    names_goods_itself,
    names_the_kit,
    stated_unit_weights,
    vague_in_latin,
)


def test_vague_words_typed_in_latin_letters_get_no_expectation() -> None:
    flags = vague_in_latin(
        np.array(["veshi b/u", "Veshchi b/u.", "kurtka zimnyaya", "куртка", None], dtype=object)
    )
    assert flags.tolist() == [True, True, False, False, False]


@pytest.mark.parametrize(
    "word",
    [
        "одежда",
        "одежды",  # a Russian case form
        "вещей",
        "kiyimlari",  # Uzbek, with its endings
        "киімі",  # Kazakh
        "eşikleri",  # Turkmen
        "zatlary",  # Turkmen, "things" with its endings
        "автозапчасти",  # a compound's tail
        "адежда",  # a letter off, as clerks type it
    ],
)
def test_a_vague_word_is_found_in_any_form(word: str) -> None:
    assert is_vague_word(word)


@pytest.mark.parametrize(
    "word",
    ["куртка", "stuffed", "presentation", "mother", "одеяло"],
)
def test_everyday_words_are_not_taken_for_vague_ones(word: str) -> None:
    assert not is_vague_word(word)


@pytest.mark.parametrize(
    "description",
    [
        "одежда ношеная",
        "вещи личные",
        "bola kiyimlari",
        "oto yedek parça",
        "одежда детская - 4kg",
        "çaga eşikleri",
    ],
)
def test_a_vague_word_with_at_most_one_word_of_its_own_is_a_bag(description: str) -> None:
    assert bag_of_things(description)


@pytest.mark.parametrize(
    "description",
    [
        "образцы керамической плитки",
        "куртка мужская",
        "запчасти для трактора Беларус",
        "iPhone 13",
        "Oyoq kiyim",  # footwear: a vague word inside a phrase that names a kind
        "бут кийим",
        # A word of its own that names a kind of goods: a helmet, stoneware samples.
        "Сувенир шлем",
        "Керамогранит образцы",
    ],
)
def test_a_line_that_names_its_goods_is_no_bag(description: str) -> None:
    assert not bag_of_things(description)


def test_lists_and_names() -> None:
    assert lists_goods("одежда, обувь, игрушки")
    assert lists_goods("odejda obuv")
    assert not lists_goods("куртка зимняя")
    assert not names_goods("for")
    assert names_goods("бинокль")
    assert names_goods_itself("бинокль")
    assert not names_goods_itself("одежда мужская")


@pytest.mark.parametrize(
    ("description", "named"),
    [
        ("блины для штанги", True),  # "для" (for) is no vague word
        ("личные наушники", True),  # a word of a vague phrase is not vague alone
        ("личные вещи", False),  # the vague phrase itself
        ("одежду мужскую", False),  # a vague word in any of its forms
        ("erkaklar kiyimi", False),
        # "Foot clothes" is footwear, "inner clothes" underwear: kinds of goods, no bags.
        ("Oyoq kiyim", True),
        ("аяқ киімдер", True),
        ("iç giyim", True),
        ("либоси корӣ", True),  # Tajik: work clothes
        ("Lebas-e nezami", True),  # Persian in Latin letters: military clothing
        ("спецодежда", True),
        ("oyoq", True),
        ("kiyim", False),
        # Samples (a vague word) of a kind of goods named beside them.
        ("Керамогранит образцы", True),
        ("запчасти б/у", False),  # "б" and "у" of "б/у" (used) name nothing
        ("одежда мужская б/у", False),
        ("Сувенир шлем", True),
    ],
)
def test_a_description_names_its_goods_unless_a_vague_word_stands_for_them(
    description: str, named: bool
) -> None:
    assert names_goods_itself(description) is named


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Тепловизионный монокуляр Hikmicro Lynx Pro LE10S", True),  # an unknown model code
        ("Прицел ПСО-1М2", True),  # a designation the nomenclature knows
        ("плитоноска 6Б45", True),
        ("керамическая плитка 30x60", False),  # a word of honest goods
        ("LE10S", False),  # a model code alone names nothing
        # Words everyday goods are written with read as gear only as a name of the kit.
        ("Lens for camera", False),
        ("Камера для дрона", False),
        ("военная форма", True),
        ("тактический рюкзак", True),
    ],
)
def test_gear_wording_reads_past_model_codes_it_does_not_know(
    description: str, expected: bool
) -> None:
    assert in_gear_wording(description) is expected


@pytest.mark.parametrize(
    ("description", "named"),
    [
        ("Тепловизор", True),  # a name the gear nomenclature gives the kit itself
        ("Разгрузка", True),
        ("camera", False),  # a word of gear phrasings, but no name of the kit alone
        ("рюкзак 60 л", False),
        ("Костюм для охоты (камуфляж)", False),
        # Held in a longer description, as senders write around it.
        ("Plate carrier (tactical vest), Cordura, without plates", True),
        ("Night vision goggles toy for kids", True),
        ("Форма военная (сувенир)", True),
        ("Каска строительная", False),  # "каска" alone names any hard hat
        ("Подсумок для инструмента / tool belt pouch", False),
    ],
)
def test_a_description_names_the_kit_only_as_the_nomenclature_names_it(
    description: str, named: bool
) -> None:
    assert names_the_kit(description) is named


@pytest.mark.parametrize(
    ("description", "plain"),
    [
        ("Ботинки", True),
        ("etik", True),  # boots, in Azerbaijani and Turkish
        ("Бинокль", True),
        ("бинокль охотничий", False),  # a kind of its own: a hunter's binoculars
        ("sports vest", False),
        ("Qzxv", False),  # no word of everyday goods
        ("for", False),  # only the commonest words
    ],
)
def test_the_plain_name_of_everyday_goods_is_one_everyday_word(
    description: str, plain: bool
) -> None:
    assert is_everyday_name(description) is plain


@pytest.mark.parametrize(
    ("description", "weights"),
    [
        ("Диски для штанги 2.5 кг", (2.5,)),
        ("Гиря 16kg", (16.0,)),
        ("чай 500 г", (0.5,)),
        ("Гантели 2 шт по 5,5 кг", (5.5,)),
        ("Sugar 10 KG", (10.0,)),
        ("Ботинки 42 размер", ()),  # a size, not a weight
    ],
)
def test_a_description_may_write_what_a_unit_weighs(
    description: str, weights: tuple[float, ...]
) -> None:
    assert stated_unit_weights(description) == weights
