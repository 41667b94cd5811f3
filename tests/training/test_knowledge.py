"""What the lexicon knows of goods and of the HS nomenclature."""

from __future__ import annotations

import pytest

from training import knowledge


@pytest.mark.parametrize(
    ("description", "several"),
    [
        ("odejda obuv", True),  # clothes and shoes, typed without a comma
        ("Одежда обувь игрушки", True),
        ("чай конфеты", True),
        ("пуховик женский", False),  # one kind, and a word that names no goods
        ("iPhone 13 чехол", False),  # two names within one family of goods
        ("книги", False),
        ("бронежилет", False),  # gear is no honest goods' name
    ],
)
def test_a_line_naming_goods_of_several_kinds_is_a_list(description: str, several: bool) -> None:
    assert knowledge.names_several_goods(description) is several


def test_the_nomenclature_classes_apparel_under_leather_and_worn_clothing() -> None:
    assert knowledge.chapters_classing("4203") == {"61", "62", "65"}
    assert {"61", "62"} <= knowledge.chapters_classing("6109")
    assert knowledge.chapters_classing("9005") == {"85", "90"}
    assert knowledge.chapters_classing("0901") == frozenset()


@pytest.mark.parametrize(
    ("description", "code", "listed"),
    [
        ("Чехол для телефона", "420232", True),  # cases and containers, as classed
        ("Чехол для телефона", "3926.90", True),
        ("Чехол для телефона", "6109", False),
        ("Qzxv wrmpt", "4202", False),  # no kind of goods named: nothing listed
    ],
)
def test_the_catalogue_says_which_headings_its_goods_are_declared_under(
    description: str, code: str, listed: bool
) -> None:
    assert knowledge.catalogue_lists_code(description, code) is listed


@pytest.mark.parametrize(
    ("description", "code", "listed"),
    [
        # A night-vision device in Kazakh under its own heading, however honest lines with
        # "құрылғысы" (device) are coded.
        ("түнгі көру құрылғысы", "9005100000", True),
        ("Прибор ночного видения PVS-14", "9005.80", True),
        ("түнгі көру құрылғысы", "6109", False),
        ("куртка мужская", "9005", False),  # no kit named: nothing listed
    ],
)
def test_the_gear_nomenclature_says_which_headings_its_kit_is_declared_under(
    description: str, code: str, listed: bool
) -> None:
    assert knowledge.kit_lists_code(description, code) is listed
