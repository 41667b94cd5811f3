"""The watch-list baseline ranks explicit gear terms and red flags above ordinary goods."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from training.baselines import Rule, Watchlist, normalise
from training.metrics import recall_at_fpr


def _items(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = ("description", "net_weight_kg", "quantity", "value", "currency", "hs_code")
    return {name: [row.get(name) for row in rows] for name in names}


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist.load()


EXPLICIT = [
    {"description": "Бронежилет 6Б45 б/у", "net_weight_kg": 9.5},
    {"description": "plate carrier with plates level IV", "net_weight_kg": 8.0},
    {"description": "防弹衣", "net_weight_kg": 6.0},
    {"description": "bronezhilet", "net_weight_kg": 7.0},
    {"description": "kamizelka kuloodporna", "net_weight_kg": 5.0},
    {"description": "ballistic helmet FAST", "net_weight_kg": 1.4},
    {"description": "Тепловизор для охоты", "net_weight_kg": 0.6},
    {"description": "night vision monocular PVS-14", "net_weight_kg": 0.4},
    {"description": "Wärmebildkamera Zielfernrohr", "net_weight_kg": 0.9},
    {"description": "РАЗГРУЗКА тактическая", "net_weight_kg": 1.2},
]
ORDINARY = [
    {"description": "cotton T-shirt", "net_weight_kg": 0.2, "value": 10, "currency": "USD"},
    {"description": "детская книга", "net_weight_kg": 0.4},
    {"description": "手机壳", "net_weight_kg": 0.05},
    {"description": "valenki", "net_weight_kg": 1.1},
    {"description": "ESP32 development board", "net_weight_kg": 0.1, "hs_code": "847330"},
    {"description": "fishing vest", "net_weight_kg": 0.4},
    {"description": "bicycle helmet", "net_weight_kg": 0.3},
    {"description": "acupuncture needles", "net_weight_kg": 0.1},
    {"description": "Kaffeebecher", "net_weight_kg": 0.3},
    {"description": "kurtka zhenskaya", "net_weight_kg": 0.9},
]


def test_explicit_terms_score_above_ordinary_goods(watchlist: Watchlist) -> None:
    explicit = watchlist.score(_items(EXPLICIT))
    ordinary = watchlist.score(_items(ORDINARY))
    assert explicit.min() > ordinary.max(), (explicit, ordinary)
    label = np.r_[np.ones(len(explicit)), np.zeros(len(ordinary))].astype(int)
    assert recall_at_fpr(label, np.r_[explicit, ordinary], 0.0) == 1.0


def test_red_flag_needs_its_condition(watchlist: Watchlist) -> None:
    light, heavy, unknown = watchlist.score(
        _items(
            [
                {"description": "sports vest", "net_weight_kg": 0.3},
                {"description": "sports vest", "net_weight_kg": 7.5},
                {"description": "sports vest"},
            ]
        )
    )
    assert heavy > light
    # A missing weight says nothing: no red flag.
    assert unknown == light


def test_weight_is_per_unit(watchlist: Watchlist) -> None:
    # Ten light vests on one line are not one heavy vest.
    many, one = watchlist.score(
        _items(
            [
                {"description": "жилет", "net_weight_kg": 4.0, "quantity": 10},
                {"description": "жилет", "net_weight_kg": 4.0, "quantity": 1},
            ]
        )
    )
    assert one > many


def test_short_terms_are_whole_words_and_chinese_matches_inside(watchlist: Watchlist) -> None:
    assert "optics_sensor_terms" in watchlist.term_hits("ПНВ Pulsar")
    assert "optics_sensor_terms" not in watchlist.term_hits("pnvx adapter")
    assert "armour_terms" in watchlist.term_hits("战术背心防弹插板")
    assert "armour_terms" in watchlist.term_hits("БРОНЕЖИЛЁТА")  # case, ё, inflection


def test_risk_class_follows_the_heaviest_rule(watchlist: Watchlist) -> None:
    classes = watchlist.risk_class(_items([EXPLICIT[0], EXPLICIT[5], EXPLICIT[6], ORDINARY[0]]))
    assert list(classes) == ["body_armor", "helmet", "optics_sensors", "benign"]


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown class"):
        Rule(name="x", risk_class="weapons", weight=1.0, terms=("gun",))
    with pytest.raises(ValueError, match="needs terms"):
        Rule(name="x", risk_class="helmet", weight=1.0)
    assert normalise("  Бронежилёт\tLEVEL  IV ") == "бронежилет level iv"
