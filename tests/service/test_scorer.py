from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import service.reasons as reasons_module
import service.scorer as scorer_module
from service.id_draws import id_draws
from service.item_facts import ItemFacts
from service.reasons import (
    MIN_REASON_LOGIT,
    Reason,
    ReasonWriter,
    _against_written,
    _cheap_for_its_weight,
    _kg,
    _physical_reason,
    _said,
)
from service.scorer import Scorer, ScoringPolicy, random_selection
from training import knowledge
from training.common_words import is_common
from training.features import OTHER_CHAPTER, SMALL_INPUT
from training.model import RiskModel, columns_of
from training.schema import RISK_CLASSES, DeclarationIn, normalise_declarations
from training.text import matching_text


def declaration(
    description: str,
    weight: float,
    value: float = 1500,
    declaration_id: str = "RB123456789RU",
    **parcel: object,
) -> DeclarationIn:
    return DeclarationIn.model_validate(
        {
            "declaration_id": declaration_id,
            "origin_country": "RU",
            "destination_country": "CN",
            "category": "gift",
            "mail_class": "parcel",
            "gross_weight_kg": weight + 0.3,
            **parcel,
            "items": [
                {
                    "description": description,
                    "quantity": 1,
                    "net_weight_kg": weight,
                    "value": value,
                    "currency": "RUB",
                }
            ],
        }
    )


def _explaining(scorer: Scorer, model: RiskModel | None = None, inspect: float = 0.0) -> Scorer:
    """A scorer (of `model`, default the scorer's) that flags and so explains every item:
    review cut-off 0, no random selection."""
    return Scorer(
        model if model is not None else scorer.model,
        scorer.card,
        ScoringPolicy(review_threshold=0.0, inspect_threshold=inspect, random_selection_rate=0.0),
    )


def _known_goods_facts(
    scorer: Scorer,
    descriptions: list[str],
    classes: list[str],
    hs_codes: list[str | None] | None = None,
    **columns: list[Any],
) -> tuple[ReasonWriter, ItemFacts, np.ndarray]:
    """A reason writer and the facts of items whose text signals say, until a test sets
    them, well-known ordinary goods (full confidence, leaning -3 to every gear class) with no
    term to quote; `hs_codes` their declared codes, `columns` further item columns
    (quantity, net weight). The signals are returned to be set: the facts read them
    lazily."""
    writer = ReasonWriter(scorer.model)
    signal_columns = writer._signal_columns
    items = {
        "declaration_id": np.array([f"P{i}" for i in range(len(descriptions))], dtype=object),
        "description": np.array(descriptions, dtype=object),
        "hs_code": np.array(hs_codes or [None] * len(descriptions), dtype=object),
        **{
            name: np.asarray(values, dtype=object if isinstance(values[0], str) else float)
            for name, values in columns.items()
        },
    }
    signals = np.zeros((len(descriptions), len(scorer.model.text_.get_feature_names_out())))
    signals[:, signal_columns.confidence] = 1.0
    signals[:, signal_columns.text] = -3.0
    scores = SimpleNamespace(risk_class=np.array(classes, dtype=object), signals=signals)
    facts = ItemFacts(items, scores, signal_columns)  # type: ignore[arg-type]
    facts.terms = {(d, c): None for d, c in zip(descriptions, classes, strict=True)}
    return writer, facts, signals


def _lean_words(text: Any, lean: Callable[[str, str], float]) -> None:
    """Make a copy of the text models read each word on its own as leaning `lean(word,
    class)` to each gear class (log-odds against ordinary goods)."""

    def leaning(words: list[str], gear: object, columns: list[str]) -> np.ndarray:
        return np.array([[lean(word, column) for column in columns] for word in words])

    text._word_leaning = leaning
    text.__dict__.pop("word_leaning_", None)


def _read_as_words(text: Any, *words: str) -> None:
    """Make a copy of the text models read `words` as words of their vocabulary, whichever
    words the tiny model's draw of synthetic rows happened to teach it."""
    vocabulary = dict(text.vectorizer_.word_.vocabulary_)
    for word in words:  # as the models read it: "военный | voennyy"
        for spelling in re.findall(r"\w+", matching_text(word)):
            vocabulary.setdefault(spelling, len(vocabulary))
    text.vectorizer_.word_.vocabulary_ = vocabulary


def test_scored_declaration_has_the_contract_shape(tiny_scorer: Scorer) -> None:
    scored = tiny_scorer.score_declaration(declaration("Бронежилет с плитами", 9.0))
    assert set(scored) == {
        "declaration_id",
        "parcel_risk_score",
        "decision",
        "model_version",
        "items",
    }
    assert scored["decision"] in ("review", "inspect")
    item = scored["items"][0]
    assert item["item_no"] == 1
    assert item["risk_class"] == "body_armor"
    assert 0 <= item["risk_score"] <= 1
    assert item["reasons"], "a flagged item must say why"
    assert all(set(r) == {"code", "message"} for r in item["reasons"])


def test_reasons_name_the_term_and_the_weight(tiny_scorer: Scorer) -> None:
    explicit = tiny_scorer.score_declaration(declaration("Бронежилет б/у", 9.0))
    codes = {r["code"]: r["message"] for r in explicit["items"][0]["reasons"]}
    assert "suspicious_term" in codes
    assert "Бронежилет" in codes["suspicious_term"]

    # Declared far under a T-shirt's worth, the kilos are what is wrong with it: one of the
    # two physical facts is said, whichever the model weighs more. (Every item is
    # explained: whether this small model scores it past half the cut-off is not the point.)
    strict = _explaining(tiny_scorer)
    cheap = strict.score_declaration(declaration("cotton T-shirt", 8.0, value=700))
    codes = {r["code"] for r in cheap["items"][0]["reasons"]}
    assert codes & {"weight_mismatch", "value_mismatch"}


def test_a_code_whose_goods_stray_widely_sets_no_expectation_against_a_line(
    tiny_scorer: Scorer,
) -> None:
    """A catch-all code ("392690", other articles of plastics) holds phone cases and crates:
    a weight 40 times its median is said only where honest lines under it stray less than
    that (two spreads), as a wording's expectation is."""
    text = tiny_scorer.model.text_
    heading, (log_kg, _) = next(iter(text.hs_expectations_["heading"].items()))
    usual = math.exp(log_kg)
    assert all(
        math.isfinite(spread)
        for level in text.hs_spreads_.values()
        for pair in level.values()
        for spread in pair
    )
    saved = text.hs_spreads_["heading"][heading]
    said = []
    try:
        for spread in (0.1, 2.0):  # 40 times is within e^(2 * 2.0) = 55 times, not e^0.2
            text.hs_spreads_["heading"][heading] = (spread, spread)
            writer, facts, _ = _known_goods_facts(
                tiny_scorer,
                ["Qzxv wrmpt"],
                ["benign"],
                hs_codes=[heading],
                quantity=[1.0],
                net_weight_kg=[40 * usual],
            )
            said += writer._group_reasons("weight", np.arange(1), facts, facts.terms)
    finally:
        text.hs_spreads_["heading"][heading] = saved
    assert said[0] is not None and "goods declared under HS" in said[0][1]
    assert said[1] is None


def test_a_weight_the_catalogue_declares_under_the_code_is_not_called_off() -> None:
    """Most lines under 852560 are handheld radios of 0.23 kg, and a 2 kg HF transceiver
    was told it was heavy for goods declared under that code. The catalogue declares HF
    base transceivers under it too: 2 kg is no reason; 20 kg is, against the catalogue's
    heaviest such goods."""
    transceivers = reasons_module._code_range("852560", "weight")
    assert transceivers is not None and transceivers.highest > 2.0
    assert reasons_module._off_usual(2.0, 0.23, transceivers, 3.0, 0.2) is None
    assert reasons_module._off_usual(20.0, 0.23, transceivers, 3.0, 0.2) == (
        True,
        transceivers.said_above,
    )
    assert reasons_module._code_range("0000", "weight") is None


def test_a_value_on_a_line_without_a_net_weight_is_no_missing_value(
    tiny_scorer: Scorer,
) -> None:
    """ "костюм спортивный" declared at 3,000 RUB with its net weight left out was told "no
    usable declared value": the value is on the form, the weight to read it against is not.
    A line with neither is still told its value is missing."""
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        ["cotton T-shirt", "cotton T-shirt"],
        ["benign", "benign"],
        quantity=[1.0, 1.0],
        net_weight_kg=[np.nan, np.nan],
        value=[3000.0, np.nan],
        currency=["RUB", "RUB"],
    )
    signals[:, writer._signal_columns.value] = np.log(20.0)
    said = writer._group_reasons("value", np.arange(2), facts, facts.terms)
    assert said == [("weight_missing", "no net weight declared"), reasons_module._VALUE_MISSING]


def test_an_expectation_resting_on_the_hs_code_is_said_to_be_the_code_s(
    tiny_scorer: Scorer,
) -> None:
    """Wording the text models hardly know ("kitob", a book in Uzbek, declared under 3926)
    is expected as the goods of its HS code: the officer is told the weight of goods
    declared under that code, not that it is the usual weight of a "kitob"."""
    text = tiny_scorer.model.text_
    heading, (log_kg, _) = next(iter(text.hs_expectations_["heading"].items()))
    usual = math.exp(log_kg)
    unknown = "Qzxv wrmpt"
    assert text.known_share([unknown, "cotton T-shirt"]).tolist() == [0.0, 1.0]
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        [unknown, "cotton T-shirt"],
        ["benign", "benign"],
        hs_codes=[heading, heading],
        quantity=[1.0, 1.0],
        net_weight_kg=[40 * usual, 40 * 0.18],
    )
    signals[:, writer._signal_columns.weight] = np.log(0.18)
    said = writer._group_reasons("weight", np.arange(2), facts, facts.terms)
    # The figure said is the code's goods' in the catalogue where it declares goods under
    # the code, else the models' expectation for the code.
    known = reasons_module._code_range(heading, "weight")
    figure = usual if known is None else known.said_above
    assert said == [
        (
            "weight_mismatch",
            f"{_kg(40 * usual)} kg per unit is heavy for goods declared under HS {heading}"
            f" (usually about {_kg(figure)} kg)",
        ),
        (
            "weight_mismatch",
            "7.2 kg per unit is heavy for 'cotton T-shirt' (usually about 0.18 kg)",
        ),
    ]


def test_wording_that_leans_to_gear_is_set_against_its_hs_code_s_goods(
    tiny_scorer: Scorer,
) -> None:
    """ "FAST helmet high cut aramid" of 1.3 kg under 6506.10 was told "heavy (usually about
    0.17 kg)": what the models expect of wording that leans to gear blends the honest goods
    that share its words (aramid cord and gloves). Such wording is set against the goods
    declared under its code where one is given; ordinary wording, or wording without a code,
    keeps its own expectation."""
    text = tiny_scorer.model.text_
    heading, (log_kg, _) = next(iter(text.hs_expectations_["heading"].items()))
    usual = math.exp(log_kg)
    # Wording the models know that the catalogue names no kind of.
    described = "sports vest"
    assert text.known_share([described]).tolist() == [1.0]
    assert reasons_module._known_range(described, "weight") is None
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        [described] * 3,
        ["helmet"] * 3,
        hs_codes=[heading, heading, None],
        quantity=[1.0] * 3,
        net_weight_kg=[40 * usual] * 3,
    )
    columns = writer._signal_columns
    signals[:, columns.weight] = np.log(0.5 * usual)
    leaning = columns.text[RISK_CLASSES.index("helmet")]
    signals[[0, 2], leaning] = 0.5
    said = writer._group_reasons("weight", np.arange(3), facts, facts.terms)
    known = reasons_module._code_range(heading, "weight")
    figure = usual if known is None else known.said_above
    heavy = f"{_kg(40 * usual)} kg per unit is heavy for"
    assert said == [
        (
            "weight_mismatch",
            f"{heavy} goods declared under HS {heading} (usually about {_kg(figure)} kg)",
        ),
        ("weight_mismatch", f"{heavy} '{described}' (usually about {_kg(0.5 * usual)} kg)"),
        ("weight_mismatch", f"{heavy} '{described}' (usually about {_kg(0.5 * usual)} kg)"),
    ]


def test_a_weight_reason_quotes_the_unit_weight_against_the_usual_one(
    tiny_scorer: Scorer,
) -> None:
    """Where weight moved the score of well-known wording, the officer reads the unit weight
    against what such goods usually weigh; near the usual weight nothing is said."""
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        ["cotton T-shirt", "cotton T-shirt"],
        ["benign", "benign"],
        quantity=[2.0, 1.0],
        net_weight_kg=[16.0, 0.21],
    )
    signals[:, writer._signal_columns.weight] = np.log(0.18)
    said = writer._group_reasons("weight", np.arange(2), facts, facts.terms)
    assert said == [
        ("weight_mismatch", "8 kg per unit is heavy for 'cotton T-shirt' (usually about 0.18 kg)"),
        None,
    ]


def test_a_weight_within_what_honest_lines_of_its_wording_show_is_not_called_off(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Honest lines of some wording stray far from its expectation (a bare "модуль", a
    module, is a 0.1 kg board or a 3 kg unit): a weight is called heavy or light only
    beyond two of the wording's spreads, however far past one and a half times the usual it
    is."""
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        ["модуль", "модуль"],
        ["benign", "benign"],
        quantity=[1.0, 1.0],
        net_weight_kg=[0.07, 3.5],
    )
    signals[:, writer._signal_columns.weight] = np.log(0.3)

    def spreads(wide: float) -> None:
        signals[:, writer._signal_columns.spreads] = wide

    spreads(0.2)  # tight wording: 4 times light or 12 times heavy is news
    assert writer._group_reasons("weight", np.arange(2), facts, facts.terms) == [
        ("weight_mismatch", "0.07 kg per unit is light for 'модуль' (usually about 0.3 kg)"),
        ("weight_mismatch", "3.5 kg per unit is heavy for 'модуль' (usually about 0.3 kg)"),
    ]
    spreads(0.9)  # e^1.8, six times either way, is still within such wording's lines
    assert writer._group_reasons("weight", np.arange(2), facts, facts.terms) == [
        None,
        ("weight_mismatch", "3.5 kg per unit is heavy for 'модуль' (usually about 0.3 kg)"),
    ]


def test_spreads_are_those_the_score_read_and_only_where_quoted(tiny_scorer: Scorer) -> None:
    """A reason sets a weight against the spreads of its wording that the score read (the
    text models' `SPREAD_SIGNALS`), the same as the text models give on their own; a bag
    of things, whose expectation is never quoted, has none."""
    descriptions = ["куртка зимняя", "куртка зимняя", "одежда ношеная"]
    frame = pd.DataFrame({"description": descriptions, "quantity": [1.0] * 3})
    items = columns_of(frame)
    scores = tiny_scorer.model.score(items)
    writer = ReasonWriter(tiny_scorer.model)
    facts = ItemFacts(items, scores, writer._signal_columns)
    spreads = facts.expectation_spreads(np.arange(3), [True, True, False])
    alone = tiny_scorer.model.text_.expectation_spreads(descriptions[:1])
    np.testing.assert_allclose(spreads[:2], np.vstack([alone, alone]))
    assert np.isnan(spreads[2]).all()
    assert np.isfinite(spreads[:2]).all()


def test_a_weight_the_goods_catalogue_knows_for_its_kind_is_not_called_off(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The models expected "Saperavi red wine" at 0.52 kg a unit and called a 1.5 kg bottle
    heavy; the goods catalogue knows a bottle of wine (1.3 kg). A weight within the range of
    the kind the catalogue names is no reason; one beyond it is said against the
    catalogue's figure."""
    wine = knowledge.catalogue_kinds("Saperavi red wine")
    assert [kind.key for kind in wine] == ["g_wine_bottle"]
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        ["Saperavi red wine", "Saperavi red wine", "Qzxv wrmpt"],
        ["benign", "benign", "benign"],
        quantity=[1.0, 1.0, 1.0],
        net_weight_kg=[1.5, 9.0, 1.5],
    )
    signals[:, writer._signal_columns.weight] = np.log(0.52)
    # Tight wording, whatever spread this small model gives words it never read.
    monkeypatch.setattr(
        writer.model.text_,
        "expectation_spreads",
        lambda descriptions: np.full((len(descriptions), 2), 0.2),
    )
    assert writer._group_reasons("weight", np.arange(3), facts, facts.terms) == [
        None,
        (
            "weight_mismatch",
            "9 kg per unit is heavy for 'Saperavi red wine' (usually about 1.3 kg)",
        ),
        # Wording the catalogue does not name is set against the models' expectation.
        ("weight_mismatch", "1.5 kg per unit is heavy for 'Qzxv wrmpt' (usually about 0.52 kg)"),
    ]
    # Wording whose honest lines are one writer's line has no expectation of its own to
    # quote (a 7 kg "Ремень поясной" was told no single fact stood out); where the
    # catalogue names the kind, its figure is still said.
    monkeypatch.setattr(
        writer.model.text_,
        "rests_on_few_lines",
        lambda descriptions: np.ones(len(descriptions), dtype=bool),
    )
    said = writer._group_reasons("weight", np.arange(3), facts, facts.terms)
    assert said[1] == (
        "weight_mismatch",
        "9 kg per unit is heavy for 'Saperavi red wine' (usually about 1.3 kg)",
    )
    assert said[2] is None


def test_the_catalogue_names_goods_by_a_phrasing_not_by_one_word_of_a_long_line() -> None:
    assert {k.key for k in knowledge.catalogue_kinds("Men's Hiking Boots High Top Outdoor")} == {
        "g_hiking_boots",
        "g_shared_lowa_hiking_boots",
    }
    assert knowledge.catalogue_kinds("Top Gun patch") == ()
    assert knowledge.catalogue_kinds("Qzxv wrmpt") == ()


@pytest.mark.parametrize(
    ("description", "kind"),
    [
        ("Sleeping bags", "g_sleeping_bag"),  # the catalogue's "sleeping bag", in the plural
        ("Ботинки зимние", "g_mens_winter_boots"),  # its "зимние ботинки", in either order
        ("Men's boots (leather)", "g_mens_leather_boots"),
        # A run of a longer phrasing ("костюм для охоты зимний") with two words of its own.
        ("Камуфляжный костюм для охоты", "l_hunting_suit_winter_membrane"),
        ("Motorcycle protective vest", "l_moto_body_armor_turtle"),
    ],
)
def test_the_catalogue_names_goods_however_their_words_are_inflected_or_ordered(
    description: str, kind: str
) -> None:
    assert kind in {k.key for k in knowledge.catalogue_kinds(description)}


def test_the_first_of_two_latin_words_does_not_name_the_goods_alone(tiny_scorer: Scorer) -> None:
    """English and Turkish name the goods last: a "Bicycle helmet" is no bicycle of 13 kg,
    and one of 1.45 kg is told its weight against a helmet's. The last word still names
    them ("Women sandals", "bisiklet kaskı"), and so does either word in Cyrillic, where
    the goods come first as often as last ("шоколад российский")."""
    assert all("bicycle_complete" not in k.key for k in knowledge.catalogue_kinds("Bicycle helmet"))
    assert "g_sandals_summer" in {k.key for k in knowledge.catalogue_kinds("Women sandals")}
    assert "g_bicycle_ski_helmet" in {k.key for k in knowledge.catalogue_kinds("bisiklet kaskı")}
    assert "g_chocolate_bars" in {k.key for k in knowledge.catalogue_kinds("шоколад российский")}
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        ["Bicycle helmet"],
        ["benign"],
        hs_codes=["650610"],
        quantity=[1.0],
        net_weight_kg=[1.45],
    )
    signals[:, writer._signal_columns.weight] = np.log(0.35)
    said = writer._group_reasons("weight", np.arange(1), facts, facts.terms)
    assert said[0] is not None and said[0][0] == "weight_mismatch", said
    assert said[0][1].startswith("1.4 kg per unit is heavy for 'Bicycle helmet'"), said


def test_one_word_names_goods_only_as_written() -> None:
    """A stem alone may be another word's: "fitness" and "fittings" are both "fit"."""
    assert all("fitting" not in k.key for k in knowledge.catalogue_kinds("Fitness plates"))
    # A run with one word beyond the commonest names no kind: "для охоты" is for hunting.
    assert knowledge.catalogue_kinds("для охоты") == ()


@pytest.mark.parametrize(
    "description",
    ["куртка мужская", "сувенир на память", "small", "for", "вещи для мужчины", "body 2"],
)
def test_reasons_never_call_a_common_word_typical_of_gear(
    tiny_scorer: Scorer, description: str
) -> None:
    scored = tiny_scorer.score_declaration(declaration(description, 9.0, value=300))
    for reason in scored["items"][0]["reasons"]:
        if reason["code"] == "suspicious_term":
            term = reason["message"].split("'")[1]
            assert not is_common(term), reason["message"]
    # Asked directly, the text model names none of their common words.
    (term,) = tiny_scorer.model.text_.top_terms([description], ["body_armor"])
    assert term is None or not is_common(term)


def test_expectations_are_quoted_only_for_ordinary_wording(tiny_scorer: Scorer) -> None:
    # The expected weight of ordinary goods is not that of a vest named as armour: 9 kg is
    # what such a vest weighs, so no weight reason quotes an ordinary expectation for it.
    named = declaration("Бронежилет 6Б45", 9.0)
    named.items[0].hs_code = "6211"
    explicit = tiny_scorer.score_declaration(named)
    codes = [r["code"] for r in explicit["items"][0]["reasons"]]
    assert "weight_mismatch" not in codes
    assert "hs_mismatch" not in codes
    # Wording the models have never seen, with no HS code: no "usually about" either.
    unseen = tiny_scorer.score_declaration(declaration("Qzxv wrmpt blorf", 9.0))
    assert all("usually about" not in r["message"] for r in unseen["items"][0]["reasons"])
    # Half the words known (the models read "gebraucht", used, but never "Mikrowelle"): the
    # expectation is not that of microwaves, so it is not quoted.
    half = tiny_scorer.score_declaration(declaration("Mikrowelle gebraucht", 11.8, value=300))
    assert all("usually about" not in r["message"] for r in half["items"][0]["reasons"])
    # Only the commonest words ("small", "for"): the expectation is an average, no kind of
    # goods, however confident the models are of such frequent words.
    strict = _explaining(tiny_scorer, inspect=1.0)
    for common in ("small", "for", "на"):
        scored = strict.score_declaration(declaration(common, 6.0, value=100))
        assert all("usually about" not in r["message"] for r in scored["items"][0]["reasons"])


def test_a_line_weight_typed_in_grams_is_scored_and_quoted_in_kilograms(
    tiny_scorer: Scorer,
) -> None:
    """ "9500" for one line of a 9.8 kg parcel is 9.5 kg typed in grams: scored as 9.5 kg on
    both paths, and a weight reason quotes kilograms with what the form says."""
    strict = _explaining(tiny_scorer, inspect=1.0)
    kilograms = strict.score_declaration(declaration("Жилет мужской", 9.5, gross_weight_kg=9.8))
    typed = declaration("Жилет мужской", 9500.0, gross_weight_kg=9.8)
    grams = strict.score_declaration(typed)
    assert grams["parcel_risk_score"] == kilograms["parcel_risk_score"]
    frame = pd.DataFrame(typed.to_columns())
    frame["error"] = None
    assert strict.score_frame(frame)["risk_score"].iloc[0] == pytest.approx(
        grams["items"][0]["risk_score"], abs=1e-4
    )
    writer, facts, _ = _known_goods_facts(
        tiny_scorer,
        ["cotton T-shirt", "cotton T-shirt"],
        ["benign", "benign"],
        quantity=[1.0, 1.0],
        net_weight_kg=[4100.0, 4.1],
        gross_weight_kg=[4.3, 4.3],
    )
    messages = [r[1] for r in writer._group_reasons("weight", np.arange(2), facts, facts.terms)]
    assert messages[0].startswith("4.1 kg per unit is heavy")
    assert messages[0].endswith("(typed 4100, read as grams)")
    assert messages[1] == messages[0].removesuffix(" (typed 4100, read as grams)")


def test_a_quiet_line_of_a_flagged_parcel_is_told_which_line_flags_it(
    tiny_scorer: Scorer,
) -> None:
    parcel = declaration("Бронежилет 6Б45", 9.0)
    parcel.items.append(
        parcel.items[0].model_copy(update={"description": "шоколад", "net_weight_kg": 0.2})
    )
    scores = [i["risk_score"] for i in tiny_scorer.score_declaration(parcel)["items"]]
    assert scores[0] > scores[1]
    between = Scorer(
        tiny_scorer.model,
        tiny_scorer.card,
        ScoringPolicy(
            review_threshold=(scores[0] + scores[1]) / 2,
            inspect_threshold=1.0,
            random_selection_rate=0.0,
        ),
    )
    scored = between.score_declaration(parcel)
    assert scored["decision"] == "review"
    said = "nothing on this line stands out; its parcel is flagged for 'Бронежилет 6Б45'"
    assert scored["items"][1]["reasons"] == [{"code": "flagged_with", "message": said}]
    assert all(r["code"] != "flagged_with" for r in scored["items"][0]["reasons"])
    # A clear parcel's quiet line is told nothing.
    clear = Scorer(
        tiny_scorer.model,
        tiny_scorer.card,
        ScoringPolicy(review_threshold=1.0, inspect_threshold=1.0, random_selection_rate=0.0),
    )
    assert all(
        r["code"] != "flagged_with"
        for item in clear.score_declaration(parcel)["items"]
        for r in item["reasons"]
    )


def test_a_word_that_names_gear_is_said_of_its_own_class(tiny_scorer: Scorer) -> None:
    strict = _explaining(tiny_scorer, inspect=1.0)
    scored = strict.score_declaration(declaration("Бронежилет 6Б45", 9.0))
    named = [r["message"] for r in scored["items"][0]["reasons"] if "names gear" in r["message"]]
    assert named == ["'Бронежилет' names gear outright (body armour)"]


def test_frame_and_declaration_paths_agree(tiny_scorer: Scorer) -> None:
    decl = declaration("Жилет мужской", 7.5)
    single = tiny_scorer.score_declaration(decl)
    frame = pd.DataFrame(decl.to_columns())
    frame["error"] = None
    scored = tiny_scorer.score_frame(frame)
    assert scored["risk_score"].iloc[0] == pytest.approx(single["items"][0]["risk_score"], abs=1e-4)
    assert scored["decision"].iloc[0] == single["decision"]


def test_a_gross_weight_typed_in_grams_is_read_as_grams(tiny_scorer: Scorer) -> None:
    """ "3056" on a 2.7 kg parcel is 3.056 kg typed in grams at a counter: scored as such on
    both paths, and a reason quotes it as typed; a gross kilos above its lines is not."""
    strict = _explaining(tiny_scorer, inspect=1.0)
    kilograms = strict.score_declaration(
        declaration("Костюм спортивный", 2.7, gross_weight_kg=3.056)
    )
    grams = strict.score_declaration(declaration("Костюм спортивный", 2.7, gross_weight_kg=3056))
    assert grams["parcel_risk_score"] == kilograms["parcel_risk_score"]
    frame = pd.DataFrame(declaration("Костюм спортивный", 2.7, gross_weight_kg=3056).to_columns())
    frame["error"] = None
    assert strict.score_frame(frame)["risk_score"].iloc[0] == pytest.approx(
        grams["items"][0]["risk_score"], abs=1e-4
    )
    heavy = strict.score_declaration(declaration("Костюм спортивный", 2.7, gross_weight_kg=9.5))
    assert heavy["parcel_risk_score"] != kilograms["parcel_risk_score"]
    # The officer holds the form: a reason quotes the gross as typed.
    writer, facts, _ = _known_goods_facts(
        tiny_scorer,
        ["Костюм спортивный", "Костюм спортивный"],
        ["benign", "benign"],
        net_weight_kg=[2.7, 2.7],
        gross_weight_kg=[3056.0, 9.5],
    )
    facts.gap_leads = np.zeros(2, dtype=bool)  # where the line stands moved the score
    assert writer._group_reasons("parcel", np.arange(2), facts, facts.terms) == [
        ("parcel_context", "the only item of a 3.1 kg parcel (typed 3056, read as grams)"),
        (
            "parcel_context",
            "the parcel weighs 9.5 kg, its lines declare 2.7 kg: 6.8 kg is not accounted for",
        ),
    ]


def test_rows_with_errors_stay_unscored_in_place(tiny_scorer: Scorer) -> None:
    frame = pd.DataFrame(declaration("Мёд", 1.0).to_columns())
    frame = pd.concat([frame, frame, frame], ignore_index=True)
    frame["declaration_id"] = ["A", "B", "C"]
    frame["error"] = [None, "net_weight_kg: expected a number (line 3)", None]
    scored = tiny_scorer.score_frame(frame)
    assert scored.index.tolist() == [0, 1, 2]
    assert np.isnan(scored["risk_score"].iloc[1])
    assert scored["decision"].iloc[1] is None
    assert scored["risk_score"].iloc[[0, 2]].notna().all()


def test_random_selection_is_reproducible_and_near_its_rate() -> None:
    ids = np.array([f"RB{i:09d}RU" for i in range(20_000)], dtype=object)
    picked = random_selection(ids, 0.05)
    assert 0.04 < picked.mean() < 0.06
    assert (random_selection(ids, 0.05) == picked).all()
    assert not random_selection(ids, 0.0).any()


def test_random_selection_picks_the_same_parcels_in_every_process() -> None:
    # Pinned: a replay of the audit trail must pick the very same parcels, whichever
    # process, machine or run does it (so the hash is not Python's salted hash()).
    ids = np.array([f"CN{i:06d}" for i in range(400)], dtype=object)
    picked = np.flatnonzero(random_selection(ids, 0.05)).tolist()
    assert picked == [38, 62, 75, 92, 98, 99, 121, 158, 162, 170, 175, 214, 259, 279, 303, 369, 399]


def test_id_draws_are_pandas_hashes() -> None:
    """`id_draws` mixes pandas' SipHash on Python integers: the same draws as
    `pd.util.hash_array`, for ordinary, empty, non-ASCII and long ids."""
    ids = [f"RB{i:09d}RU" for i in range(5_000)] + ["", "ё中 1", "x" * 300, "None"]
    hashed = pd.util.hash_array(np.asarray(ids, dtype=object), categorize=False)
    assert id_draws(ids) == (hashed.astype(np.float64) / 2.0**64).tolist()


@pytest.mark.parametrize("size", [1, 3, SMALL_INPUT, SMALL_INPUT + 1, 700])
def test_random_selection_of_few_ids_is_the_plain_one(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random selection draws few ids without numpy's grouping; it must pick what the plain
    way picks, below and above the cut-off, with repeated ids and ids that are not text."""
    ids = np.array([f"CN{i % 97:06d}" if i % 5 else i for i in range(size * 40)], dtype=object)
    fast = [random_selection(ids[i : i + size], 0.3) for i in range(0, len(ids), size)]
    monkeypatch.setattr(scorer_module, "SMALL_INPUT", 0)
    plain = [random_selection(ids[i : i + size], 0.3) for i in range(0, len(ids), size)]
    assert all((a == b).all() and a.dtype == b.dtype for a, b in zip(fast, plain, strict=True))
    assert any(a.any() for a in plain)


def test_random_selection_sends_clear_parcels_to_review(tiny_registry, tiny_scorer: Scorer) -> None:  # type: ignore[no-untyped-def]
    everyone = Scorer(tiny_scorer.model, tiny_scorer.card, ScoringPolicy(random_selection_rate=1.0))
    scored = everyone.score_declaration(declaration("Мёд липовый", 1.0, value=800))
    assert scored["decision"] == "review"
    assert scored["items"][0]["reasons"][-1]["code"] == "random_selection"


def test_policy_overrides_the_stored_thresholds(tiny_scorer: Scorer) -> None:
    strict = _explaining(tiny_scorer)
    assert strict.score_declaration(declaration("Мёд", 1.0))["decision"] == "inspect"
    with pytest.raises(ValueError, match="inspect threshold"):
        Scorer(
            tiny_scorer.model,
            tiny_scorer.card,
            ScoringPolicy(review_threshold=0.9, inspect_threshold=0.1),
        )


def test_batch_keeps_declarations_with_the_same_id_apart(tiny_scorer: Scorer) -> None:
    results = tiny_scorer.score_declarations(
        [
            declaration("Бронежилет", 9.0, declaration_id="SAME"),
            declaration("Мёд", 1.0, declaration_id="SAME"),
        ]
    )
    assert results[0]["parcel_risk_score"] > results[1]["parcel_risk_score"]


def test_words_honest_senders_use_every_day_are_never_typical_of_gear(tiny_scorer: Scorer) -> None:
    text = tiny_scorer.model.text_
    honest = text.honest_words_
    assert honest, "the model keeps the everyday words of honest goods"
    everyday = sorted(honest)[:50]
    terms = text.top_terms(everyday, ["body_armor"] * len(everyday))
    assert all(term is None for term in terms)


def test_the_scorers_answer_is_the_documented_response_shape(
    tiny_scorer: Scorer, synthetic_sample: pd.DataFrame
) -> None:
    """The scorer builds the response as plain dicts (fast); the API documents it as
    `ScoredDeclaration`. Every answer must be exactly that model, no key more or less."""
    from service.api.schemas import ScoredDeclaration
    from training.history import COUNT_FACTS, TEXT_FACTS

    frame = synthetic_sample.head(400)
    declarations = []
    for declaration_id, rows in frame.groupby("declaration_id", sort=False):
        first = rows.iloc[0]
        declarations.append(
            DeclarationIn.model_validate(
                {
                    "declaration_id": declaration_id,
                    "origin_country": first["origin_country"],
                    "destination_country": first["destination_country"],
                    "gross_weight_kg": first["gross_weight_kg"],
                    "items": [
                        {"description": d, "net_weight_kg": w}
                        for d, w in zip(rows["description"], rows["net_weight_kg"], strict=True)
                    ],
                }
            )
        )
    seized = {**dict.fromkeys(COUNT_FACTS, 0.0), **dict.fromkeys(TEXT_FACTS)}
    seized.update(sender_confirmed=2.0, sender_last_confirmed="2026-03-02")
    histories = [seized if i % 2 else {} for i in range(len(declarations))]
    for result in tiny_scorer.score_declarations(declarations, histories):
        assert ScoredDeclaration.model_validate(result).model_dump() == result


def test_a_winter_jacket_too_heavy_is_told_so_and_armour_only_by_its_name(
    tiny_scorer: Scorer,
) -> None:
    """Honest words that disguises borrow still get their expected weight; a name of gear
    gets no "usually about" of ordinary goods."""
    # Every item looked at, whatever this small model makes of it.
    strict = _explaining(tiny_scorer)

    def reasons(description: str, kg: float) -> list[str]:
        declaration = DeclarationIn.model_validate(
            {
                "declaration_id": "J1",
                "origin_country": "RU",
                "destination_country": "CN",
                "category": "gift",
                "gross_weight_kg": kg + 0.3,
                "items": [{"description": description, "quantity": 1, "net_weight_kg": kg}],
            }
        )
        scored = strict.score_declarations([declaration])[0]
        return [r["message"] for r in scored["items"][0]["reasons"]]

    assert not any("usually" in m for m in reasons("бронежилет", 9.5))

    # Wording that leans to gear with no word to name ("куртка зимняя") keeps the weight of
    # the goods it names, whatever this small model weighs it by: the goods catalogue's
    # winter jackets (its "куртка зимняя мужская" and the like).
    writer, facts, signals = _known_goods_facts(
        tiny_scorer, ["куртка зимняя"], ["body_armor"], quantity=[1.0], net_weight_kg=[9.0]
    )
    columns = writer._signal_columns
    signals[0, columns.text[RISK_CLASSES.index("body_armor")]] = 1.5
    signals[:, columns.weight] = np.log(1.2)
    assert writer._group_reasons("weight", np.arange(1), facts, facts.terms) == [
        ("weight_mismatch", "9 kg per unit is heavy for 'куртка зимняя' (usually about 1.6 kg)")
    ]


def test_a_heavy_parcel_under_a_vague_word_is_told_by_its_weight_or_worth(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "одежда" names no kind of goods to expect a weight of, but 9.5 kg in one unit of it
    is what an officer would weigh it by: said as a fact, with no "usually about"."""
    # Every item looked at, its weight and its wording moving its score most, whatever this
    # small model makes of them.
    strict = _explaining(tiny_scorer)
    names = tiny_scorer.model.feature_names
    groups = [tiny_scorer.model.form_.group_of(n) for n in names]
    moved = np.zeros(len(names))
    moved[groups.index("weight")] = 1.0
    moved[groups.index("vague_description")] = 0.8

    def contributions(features: np.ndarray) -> np.ndarray:
        return np.tile(moved, (len(features), 1))

    monkeypatch.setattr(tiny_scorer.model, "contributions", contributions)
    scored = strict.score_declaration(declaration("одежда", 9.5, value=300))
    messages = [r["message"] for r in scored["items"][0]["reasons"]]
    # Said by its weight or by its worth per kilo, whichever the model weighs more.
    assert any(
        m.startswith("'одежда' is too vague to say what the goods are, ")
        and ("for 9.5 kg per unit" in m or "declared at 0.4 USD/kg" in m)
        for m in messages
    ), messages
    assert not any("usually" in m for m in messages)
    # Its weight and its wording both say it is vague: said once.
    codes = [r["code"] for r in scored["items"][0]["reasons"]]
    assert codes.count("vague_description") == 1


def test_vague_words_of_every_lane_are_no_kind_of_goods(tiny_scorer: Scorer) -> None:
    """Hebrew "clothes", Tajik "clothes" and "gift", Serbian and Finnish "clothes" are as
    vague as "одежда": no T-shirt's weight is quoted against a 4 kg box of them, whatever
    weight the models expect of the word; the box is told too vague, with its weight."""
    descriptions = ["בגדים", "либос", "тӯҳфа", "odeća", "vaatteet"]
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        descriptions,
        ["benign"] * 5,
        quantity=[1.0] * 5,
        net_weight_kg=[4.0] * 5,
    )
    signals[:, writer._signal_columns.weight] = np.log(0.25)
    assert writer._group_reasons("weight", np.arange(5), facts, facts.terms) == [
        ("vague_description", f"'{d}' is too vague to say what the goods are, for 4 kg per unit")
        for d in descriptions
    ]


def test_a_bag_of_things_under_a_vague_word_is_not_weighed_as_one_unit(
    tiny_scorer: Scorer,
) -> None:
    """ "одежда ношеная" (worn clothes), "вещи личные", Uzbek "chaqaloq kiyimi" (baby
    clothes, with the Uzbek ending), Kazakh "бала киімі" and "автозапчасти" are bags of
    things: a 9 kg one is not "heavy for 'одежда ношеная' (usually about 0.81 kg)". It is
    told too vague, with its weight. A jacket is weighed as a jacket."""
    bags = ["одежда ношеная", "вещи личные", "chaqaloq kiyimi", "бала киімі", "автозапчасти"]
    # A weight typed into the line is no word of its own.
    bags.append("одежда детская - 4kg")
    # Typed a letter off, as clerks do: "адежда" is "одежда".
    bags.append("адежда")
    n = len(bags) + 1
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        [*bags, "куртка зимняя"],
        ["benign"] * n,
        quantity=[1.0] * n,
        net_weight_kg=[9.0] * n,
    )
    signals[:, writer._signal_columns.weight] = np.log(0.8)
    said = writer._group_reasons("weight", np.arange(n), facts, facts.terms)
    assert said[:-1] == [
        ("vague_description", f"'{d}' is too vague to say what the goods are, for 9 kg per unit")
        for d in bags
    ]
    assert said[-1] == (
        "weight_mismatch",
        "9 kg per unit is heavy for 'куртка зимняя' (usually about 1.6 kg)",
    )
    # Nor is a bag's worth set against one garment's: 18 USD for 9 kg of used clothes is
    # what it is declared at, not "low for 'одежда ношеная' (usually about 27 USD/kg)".
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        bags,
        ["benign"] * len(bags),
        quantity=[1.0] * len(bags),
        net_weight_kg=[9.0] * len(bags),
        value=[18.0] * len(bags),
        currency=["USD"] * len(bags),
    )
    signals[:, writer._signal_columns.value] = np.log(27.0)
    usd = "2.0 USD/kg"
    assert writer._group_reasons("value", np.arange(len(bags)), facts, facts.terms) == [
        ("vague_description", f"'{d}' is too vague to say what the goods are, declared at {usd}")
        for d in bags
    ]


@pytest.mark.parametrize("box", ["одежда, обувь, игрушки", "odejda obuv", "обувь игрушки"])
def test_a_box_of_several_goods_is_not_weighed_as_one_kind(tiny_scorer: Scorer, box: str) -> None:
    """ "одежда, обувь, игрушки" is a box of them, and so is "odejda obuv" typed without a
    comma: no garment's weight or worth is quoted. One kind of goods at the same weight is."""
    strict = _explaining(tiny_scorer)
    scored = strict.score_declaration(declaration(box, 12.0, value=50))
    assert not any("usually" in r["message"] for r in scored["items"][0]["reasons"])
    one_kind = strict.score_declaration(declaration("обувь", 12.0, value=50))
    assert any("usually" in r["message"] for r in one_kind["items"][0]["reasons"])


def test_a_weight_near_the_usual_is_not_called_heavy() -> None:
    from service.reasons import _far_from

    assert not _far_from(6.9, 6.3, 1.5)  # a child's bicycle
    assert _far_from(9.5, 1.7, 1.5) and _far_from(0.3, 1.7, 1.5)
    assert not _far_from(0.0, 1.7, 1.5)  # nothing to compare


def _parcel_reasons(
    scorer: Scorer, gap_leads: bool, flagged_for_another: bool = False
) -> list[Reason | None]:
    """The parcel reasons of eleven items, the parcel's gross against its lines leading its
    part of the score (`gap_leads`) or where each line stands in its parcel; each item's
    parcel flagged for another line or not (`flagged_for_another`)."""
    writer = ReasonWriter(scorer.model)
    items = {
        "declaration_id": np.array(
            ["A", "A", "B", "C", "D", "E", "E", "F", "G", "H", "I"], dtype=object
        ),
        "net_weight_kg": np.array([1.0, 1.1, 2.0, 1.0, 7.7, 7.1, 2.4, 29.6, 5.0, 0.3, 0.3]),
        "gross_weight_kg": np.array(
            [10.6, 10.6, 2.3, np.nan, 9.2, 10.0, 10.0, 32.3, 8.0, 1.3, 0.6]
        ),
    }
    scores = SimpleNamespace(risk_class=np.full(11, "benign", dtype=object))
    facts = ItemFacts(items, scores, writer._signal_columns)  # type: ignore[arg-type]
    facts.gap_leads = np.full(11, gap_leads)
    facts.flagged_for = np.full(11, 0 if flagged_for_another else -1)
    return writer._group_reasons("parcel", np.arange(11), facts, {})


def test_a_parcel_heavier_than_its_lines_says_by_how_much(tiny_scorer: Scorer) -> None:
    """The parcel reason quotes the kilos no line accounts for, and only beyond what packaging
    leaves in ordinary parcels of its size; otherwise how much of the parcel the line
    holds."""
    said = _parcel_reasons(tiny_scorer, gap_leads=False)
    assert said[0] == (
        "parcel_context",
        "the parcel weighs 10.6 kg, its lines declare 2.1 kg: 8.5 kg is not accounted for",
    )
    assert said[1] == said[0]
    # That a line is its parcel's only item is no finding: nothing is said of it.
    assert said[2] is None
    assert said[3] == ("parcel_context", "the only item; no gross weight declared")
    # 1.5 kg of a 9.2 kg parcel is packaging as often as not: not called unaccounted for.
    assert said[4] is None
    assert said[5] == ("parcel_context", "7.1 kg of a 10 kg parcel, one of its 2 items")
    # The box of a 30 kg parcel weighs kilos: 2.7 kg is packaging there, 3 kg of 8 kg is not.
    assert said[7] is None
    assert said[8] == (
        "parcel_context",
        "the parcel weighs 8.0 kg, its lines declare 5.0 kg: 3.0 kg is not accounted for",
    )
    # A small packet's box weighs grams: a kilo beyond 0.3 kg of goods is the fact.
    assert said[9] == (
        "parcel_context",
        "the parcel weighs 1.3 kg, its lines declare 0.3 kg: 1.0 kg is not accounted for",
    )
    assert said[10] is None


def test_a_parcel_gap_within_ordinary_packing_is_no_reason(tiny_scorer: Scorer) -> None:
    """Where the gross against the lines moved the score but stays within what packaging
    leaves, nothing is said of the parcel: an officer reads 1.5 kg around 7.7 kg of goods as
    the box it is, and where the line stands in it is not what moved the score. A gap beyond
    packing is told, whichever line flags the parcel."""
    for flagged_for_another in (False, True):
        said = _parcel_reasons(tiny_scorer, gap_leads=True, flagged_for_another=flagged_for_another)
        assert said[0][1].endswith("8.5 kg is not accounted for")  # type: ignore[index]
        assert said[2] is None and said[4] is None and said[7] is None and said[10] is None
        assert said[3] == ("parcel_context", "the only item; no gross weight declared")


def test_a_parcel_with_a_net_weight_left_out_is_told_no_gap(tiny_scorer: Scorer) -> None:
    """A line without a net weight may hold the whole gross: "its lines declare 0.0 kg:
    19.3 kg is not accounted for" of a bag of "вещи" whose weight was left out is untrue.
    Where every line of the parcel declares one, the gap is told as before."""
    writer = ReasonWriter(tiny_scorer.model)
    items = {
        "declaration_id": np.array(["A", "A", "B", "C"], dtype=object),
        "net_weight_kg": np.array([np.nan, 1.0, np.nan, 1.0]),
        "gross_weight_kg": np.array([19.3, 19.3, 19.3, 19.3]),
    }
    scores = SimpleNamespace(risk_class=np.full(4, "benign", dtype=object))
    for gap_leads in (False, True):
        facts = ItemFacts(items, scores, writer._signal_columns)  # type: ignore[arg-type]
        facts.gap_leads = np.full(4, gap_leads)
        facts.flagged_for = np.full(4, -1)
        said = writer._group_reasons("parcel", np.arange(4), facts, {})
        assert not any(r is not None and "not accounted for" in r[1] for r in said[:3]), said
        assert said[3] == (
            "parcel_context",
            "the parcel weighs 19.3 kg, its lines declare 1.0 kg: 18.3 kg is not accounted for",
        )


def _place_facts(writer: ReasonWriter, origins: list[Any], destinations: list[Any]) -> ItemFacts:
    """The facts of benign-read items from `origins` to `destinations`, and nothing else."""
    items = {
        "origin_country": np.array(origins, dtype=object),
        "destination_country": np.array(destinations, dtype=object),
    }
    scores = SimpleNamespace(risk_class=np.full(len(origins), "benign", dtype=object))
    return ItemFacts(items, scores, writer._signal_columns)  # type: ignore[arg-type]


def test_a_lane_is_said_to_carry_more_gear_of_any_kind(tiny_scorer: Scorer) -> None:
    """The lane moves the risk of any gear, so its reason names no class: a birthday gift
    on a busy lane is not told the lane carries more of "this gear"."""
    writer = ReasonWriter(tiny_scorer.model)
    facts = _place_facts(writer, ["DE", None], ["RU", "KZ"])
    assert writer._group_reasons("lane", np.arange(2), facts, {}) == [
        ("lane", "the DE→RU lane carries more gear than most"),
        ("lane", "the ?→KZ lane carries more gear than most"),
    ]


def test_a_country_of_origin_or_destination_is_said_as_such_not_as_the_lane(
    tiny_scorer: Scorer,
) -> None:
    """Tiles from Belarus to Russia and to Poland were both told "the BY→…  lane carries
    more gear" when only the country of origin moved the score: each fact is said as what
    it is."""
    writer = ReasonWriter(tiny_scorer.model)
    groups = {tiny_scorer.model.form_.group_of(n) for n in tiny_scorer.model.feature_names}
    assert {"lane", "origin", "destination"} <= groups
    facts = _place_facts(writer, ["BY", None], ["PL", "KZ"])
    assert writer._group_reasons("origin", np.arange(2), facts, {}) == [
        ("lane", "parcels from BY carry more gear than most"),
        ("lane", "parcels from ? carry more gear than most"),
    ]
    assert writer._group_reasons("destination", np.arange(1), facts, {}) == [
        ("lane", "parcels to PL carry more gear than most"),
    ]


def test_a_quantity_is_a_reason_only_for_a_batch_of_one_kind(tiny_scorer: Scorer) -> None:
    """Two pairs of boots are how families send things, six pairs how a shop does; twelve
    sights on one line are not. A line that lists several goods is told its count without
    calling them one kind."""
    writer = ReasonWriter(tiny_scorer.model)
    items = {
        "declaration_id": np.array(["A", "B", "C", "D", "E"], dtype=object),
        "quantity": np.array([2.0, 12.0, np.nan, 16.0, 6.0]),
        "description": np.array(
            ["ботинки", "прицел 4x32", "прицел", "Подсумки, РПС, ремень тактический", "boots S3"],
            dtype=object,
        ),
    }
    scores = SimpleNamespace(risk_class=np.full(5, "benign", dtype=object))
    facts = ItemFacts(items, scores, writer._signal_columns)  # type: ignore[arg-type]
    said = writer._group_reasons("quantity", np.arange(5), facts, {})
    assert said == [
        None,
        ("quantity", "12 units of one kind declared"),
        None,
        ("quantity", "16 units of the goods it lists declared"),
        None,
    ]


def test_a_word_that_names_gear_is_quoted_as_such(tiny_scorer: Scorer) -> None:
    """A listed name of gear is the term quoted, in any script and as written: "Туулга
    аскердики" (Kyrgyz, the army's helmet), "өтпөс жилет" (Kyrgyz, -proof vest), Tajik
    "гармибин" (thermal sight), Uzbek "dubulg'a harbiy" (military helmet). Not "туулга"
    (helmet) alone, which honest senders also write of bicycle helmets, nor Uzbek "harbiy"
    (military) of a military ID ("harbiy bilet"), nor a word of a longer phrasing in a
    language with no frequency list ("dəbilqə", Azerbaijani helmet, of "ballistik
    dəbilqə"): it may be any noun."""
    from training.gear_words import gear_named_in

    assert gear_named_in("Туулга (аскердики)") == "Туулга аскердики"
    assert gear_named_in("ок өтпөс жилет") == "өтпөс жилет"
    assert gear_named_in("гармибин") == "гармибин"
    assert gear_named_in("ballistik dəbilqə") == "ballistik dəbilqə"
    assert gear_named_in("dəbilqə") is None
    assert gear_named_in("Dubulg'a (harbiy), 1 dona") == "Dubulg'a harbiy"
    assert gear_named_in("harbiy bilet") is None
    assert gear_named_in("велосипед туулга") is None
    assert gear_named_in("куртка мужская зимняя") is None
    # At the Baltic and Finnish crossings: Estonian "plaadikandja" (plate carrier) names
    # gear; Lithuanian "racija" (any walkie-talkie) and "lęšiai" (any lenses) do not.
    assert gear_named_in("plaadikandja") == "plaadikandja"
    assert gear_named_in("ballistiline kiiver") == "ballistiline kiiver"
    assert gear_named_in("racija") is None
    assert gear_named_in("kontaktiniai lęšiai") is None
    # A thermal drone by its model name or its thermal camera; a camera drone is not gear.
    assert gear_named_in("DJI Matrice 30T") == "Matrice"
    assert gear_named_in("热成像无人机") == "热成像无人机"
    assert gear_named_in("квадрокоптер DJI Mavic 3 Pro") is None
    assert gear_named_in("квадрокоптер Мавик 3 Про") is None
    strict = _explaining(tiny_scorer)
    scored = strict.score_declaration(declaration("Бронежилет 6Б45 б/у", 9.0))
    terms = [r["message"] for r in scored["items"][0]["reasons"] if r["code"] == "suspicious_term"]
    assert terms and "names gear outright" in terms[0], scored["items"][0]["reasons"]


def test_a_word_the_models_never_read_is_never_typical_of_gear(tiny_scorer: Scorer) -> None:
    """An unseen word leans only by its letters ("КИМОНО" read as armour): never quoted."""
    text = tiny_scorer.model.text_
    vocabulary = text.vectorizer_.word_.vocabulary_
    unseen = "Qzxvoptik"
    assert unseen.casefold() not in vocabulary
    assert text.top_terms([f"{unseen} {unseen}"], ["optics_sensors"]) == [None]


def test_a_word_of_a_vague_description_is_never_typical_of_gear(tiny_scorer: Scorer) -> None:
    """ "numune" (sample), "кече" of "кийим-кече" (clothes): a vague word says no more than a
    vague description does, however the text models came to lean on it."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    text.honest_words_ = frozenset()  # so only the vague-word rule can keep "gift" out

    # "gift" leans hardest of all, "бронежилет" clearly.
    _lean_words(text, lambda word, _: 5.0 if word == "gift" else 2.0)
    assert text.top_terms(["бронежилет gift"], ["body_armor"]) == ["бронежилет"]


def test_a_word_everyday_goods_are_written_with_is_never_typical_of_gear(
    tiny_scorer: Scorer,
) -> None:
    """ "CONTACT" (of contact lenses), Kyrgyz "өтүк" (boots): words that several kinds of
    everyday goods are written with, however hard the text models came to lean on them
    from the few training lines that use them."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    assert {"contact", "өтүк"} <= knowledge.everyday_words() <= text.honest_words_

    _lean_words(text, lambda word, _: 5.0 if word != "бронежилет" else 2.0)
    assert text.top_terms(["CONTACT", "өтүк"], ["optics_sensors", "tactical_apparel"]) == [
        None,
        None,
    ]
    assert text.top_terms(["бронежилет CONTACT"], ["body_armor"]) == ["бронежилет"]


def test_a_word_only_honest_goods_are_phrased_in_is_never_typical_of_gear(
    tiny_scorer: Scorer,
) -> None:
    """German "Jagd" (hunting) of a hunting jacket, Kazakh "аңшылыққа" (for hunting): no
    phrasing of gear uses them, so a leaning the text models took from covers that borrow
    them is no evidence. "тепловизор", on gear phrasings too, may still be named."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    text.honest_words_ = frozenset()
    assert {"jagd", "аңшылыққа"} <= knowledge.honest_only_words()
    assert "тепловизор" not in knowledge.honest_only_words()
    _read_as_words(text, "jagd", "аңшылыққа", "тепловизор")
    _lean_words(text, lambda word, _: 5.0 if word != "тепловизор" else 2.0)
    assert text.top_terms(["Entfernungsmesser Jagd"], ["body_armor"]) == [None]
    assert text.top_terms(["Аңшылыққа дүрбі"], ["optics_sensors"]) == [None]
    assert text.top_terms(["тепловизор Jagd"], ["optics_sensors"]) == ["тепловизор"]


def test_a_measure_is_never_typical_of_gear(tiny_scorer: Scorer) -> None:
    """ "3000m" of a rangefinder, "5000mAh" of a power bank: a number and its unit says how
    much of something, not what it is, however the text models came to lean on it."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    text.honest_words_ = frozenset()
    _read_as_words(text, "3000m", "5000mah", "тепловизор")
    _lean_words(text, lambda word, _: 5.0 if word != "тепловизор" else 2.0)
    assert text.top_terms(["3000m 5000mAh"], ["optics_sensors"]) == [None]
    assert text.top_terms(["тепловизор 3000m"], ["optics_sensors"]) == ["тепловизор"]


def test_terms_found_with_words_decided_before_are_those_found_afresh(tiny_scorer: Scorer) -> None:
    """Whether a word may be named is decided once per word and kept: a batch that met the
    words before names the same terms as a model that never saw them."""
    descriptions = [
        "бронежилет 6Б45", "куртка мужская", "Qzxvoptik", "microscope", "plate carrier",
        "钢板 2块", "шлем кевларовый", "военная форма", "бинокль ночного видения", "防弹衣",
        "Sportivnaja бронежилет", "нашивки на одежду",
    ]  # fmt: skip
    classes = ["body_armor", "tactical_apparel", "optics_sensors", "optics_sensors"]
    classes = [classes[i % len(classes)] for i in range(len(descriptions))]
    warm = copy.deepcopy(tiny_scorer.model.text_)  # a copy keeps no caches
    first = warm.top_terms(descriptions, classes)
    again = warm.top_terms(descriptions[::-1], classes[::-1])
    fresh = copy.deepcopy(tiny_scorer.model.text_).top_terms(descriptions[::-1], classes[::-1])
    assert again == fresh == first[::-1]
    assert any(term is not None for term in first)


def test_a_word_that_names_ordinary_goods_is_a_cover_never_typical_of_gear(
    tiny_scorer: Scorer,
) -> None:
    """ "microscope", "瓷砖" (ceramic tiles): how honest senders name one kind of goods. Gear
    declared in such a word is covered by it; the reason calls it a cover, not a word of
    gear, however hard the text models came to lean on it."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    text.honest_words_ = frozenset()  # so only this rule can keep "microscope" out
    _read_as_words(text, "microscope", "бронежилет")
    assert knowledge.names_honest_goods("microscope") and knowledge.names_honest_goods("瓷砖")
    assert not knowledge.names_honest_goods("бронежилет")

    _lean_words(text, lambda word, _: 5.0 if word != "бронежилет" else 2.0)
    assert text.top_terms(["microscope"], ["optics_sensors"]) == [None]
    assert text.top_terms(["бронежилет microscope"], ["body_armor"]) == ["бронежилет"]


def test_an_everyday_word_transliterated_is_as_honest_as_in_cyrillic(
    tiny_scorer: Scorer,
) -> None:
    """ "Sportivnaya forma" is the "спортивная форма" (sports kit) of honest lines, typed in
    Latin letters: the word is never typical of gear, though "жилет спортивный" once
    covered armour and no honest training line spells it in Latin."""
    # Fitted models keep each honest word in the spellings the text models read it in.
    honest = tiny_scorer.model.text_.honest_words_
    cyrillic = sorted(w for w in knowledge.everyday_words() if re.search("[а-я]", w))[:50]
    assert cyrillic
    for word in cyrillic:
        assert set(re.findall(r"\w+", matching_text(word))) <= honest, word

    text = copy.deepcopy(tiny_scorer.model.text_)
    text.honest_words_ = frozenset({"спортивная", "sportivnaya"})

    _lean_words(text, lambda word, _: 5.0)
    # "Sportivnaja" is another sender's spelling of the same word.
    assert text.top_terms(["Sportivnaja", "спортивная"], ["body_armor", "body_armor"]) == [
        None,
        None,
    ]
    assert text.top_terms(["Sportivnaja бронежилет"], ["body_armor"]) == ["бронежилет"]


def test_gear_named_outright_gets_no_ordinary_expectation(tiny_scorer: Scorer) -> None:
    """A vest of 9.5 kg named "бронежилет" is what such a vest weighs, even when an honest
    line ("бронежилет игрушечный", a toy) made the word one honest senders use too."""
    model = copy.deepcopy(tiny_scorer.model)
    model.text_.honest_words_ = model.text_.honest_words_ | {"бронежилет"}
    scorer = _explaining(tiny_scorer, model)
    scored = scorer.score_declaration(declaration("бронежилет", 9.5, value=5000))
    messages = [r["message"] for r in scored["items"][0]["reasons"]]
    assert "'бронежилет' names gear outright (body armour)" in messages
    assert not any("usually" in m for m in messages), messages


def test_an_hs_code_is_said_not_to_fit_only_where_the_nomenclature_hardly_allows_it() -> None:
    """A building thermal camera declared under 8525 (cameras) while the wording leans to
    9025: the text models give chapter 85 a fair share, so the code is no evidence against
    the declarant. Under a chapter they give almost nothing (62, women's suits), it is."""
    from service.item_facts import SignalColumns

    def row(p85: float, p90: float) -> list[float]:
        return [float(np.log(p)) for p in (p85, p90, 1.0 - p85 - p90)]

    signals = np.array([row(0.08, 0.84), row(0.01, 0.90), row(0.08, 0.84), row(0.08, 0.91)])
    items = {
        "description": np.array(["тепловизор строительный"] * 4, dtype=object),
        "hs_code": np.array(["8525890000", "852589", "6204", "6204"], dtype=object),
    }
    scores = SimpleNamespace(signals=signals, risk_class=np.array(["benign"] * 4, dtype=object))
    columns = SignalColumns(
        weight=0, value=0, confidence=0, names_gear=0, spreads=[], text=[], chapters=[0, 1, 2],
        chapter_names=["85", "90", OTHER_CHAPTER],
    )  # fmt: skip
    facts = ItemFacts(items, scores, columns)  # type: ignore[arg-type]
    # 85 at 8%: allowed; at 1% still allowed, 8525 being a heading the nomenclature classes
    # cameras under (`knowledge.hs_kinds`); 62 (not modelled, among "other") at 8% / 1%.
    assert facts.chapter_elsewhere.tolist() == [False, False, False, True]


def test_a_heading_the_nomenclature_classes_such_goods_under_fits() -> None:
    """A jacket under 4203 (apparel of leather) or 6309 (worn clothing) fits wording the
    text models put in chapter 62, however rarely honest lines used it; under 8471 it does
    not. A fur hat under 4303 fits headgear; binoculars under 8525 fit optics."""
    from service.item_facts import SignalColumns

    rows = [
        (["62"], "4203"),
        (["62"], "630900"),
        (["62"], "8471300000"),
        (["65"], "4303"),
        (["90"], "852589"),
        (["64"], "4203"),
    ]
    chapter_names = ["62", "65", "90", "64", OTHER_CHAPTER]
    signals = np.full((len(rows), len(chapter_names)), np.log(0.001))
    for i, (best, _) in enumerate(rows):
        signals[i, chapter_names.index(best[0])] = np.log(0.99)
    items = {
        "description": np.array(["куртка"] * len(rows), dtype=object),
        "hs_code": np.array([code for _, code in rows], dtype=object),
    }
    scores = SimpleNamespace(
        signals=signals, risk_class=np.array(["benign"] * len(rows), dtype=object)
    )
    columns = SignalColumns(
        weight=0, value=0, confidence=0, names_gear=0, spreads=[], text=[],
        chapters=list(range(len(chapter_names))), chapter_names=chapter_names,
    )  # fmt: skip
    facts = ItemFacts(items, scores, columns)  # type: ignore[arg-type]
    assert facts.chapter_elsewhere.tolist() == [False, False, True, False, False, True]


def test_an_hs_code_that_does_not_fit_is_quoted_as_typed(tiny_scorer: Scorer) -> None:
    """A code is quoted with its chapter; a clerk's two-digit chapter as a chapter."""
    writer, facts, _ = _known_goods_facts(
        tiny_scorer, ["кожаный ремень", "кожаный ремень"], ["benign", "benign"]
    )
    facts.__dict__["hs_code"] = np.array(["8525890000", "85"], dtype=object)
    facts.__dict__["chapter_elsewhere"] = np.array([True, True])
    assert writer._group_reasons("hs_code", np.arange(2), facts, facts.terms) == [
        ("hs_mismatch", "HS code 8525890000 (chapter 85) does not fit 'кожаный ремень'"),
        ("hs_mismatch", "HS chapter 85 does not fit 'кожаный ремень'"),
    ]


def test_an_hs_code_of_another_chapter_than_the_catalogues_goods_is_said_against_them(
    tiny_scorer: Scorer,
) -> None:
    """Where the text models see no other chapter, the goods catalogue may still know where
    the goods go: a CCTV camera under 9005 (binoculars, monoculars) is told the headings
    cameras go under. Not a code of their own chapter, nor of a kind the nomenclature also
    classes them under (old clothes under 6203 as well as 6309), nor a code for goods the
    catalogue does not know, nor kit declared under its own heading."""
    rows = [
        ("Камера видеонаблюдения", "900580"),
        ("Камера видеонаблюдения", "852589"),
        ("ESKI KIYIMLAR", "6203"),
        ("Qzxv wrmpt", "900580"),
        ("фонарик", "900580"),
    ]
    writer, facts, _ = _known_goods_facts(
        tiny_scorer, [d for d, _ in rows], ["benign"] * len(rows), [c for _, c in rows]
    )
    facts.__dict__["chapter_elsewhere"] = np.zeros(len(rows), dtype=bool)
    facts.__dict__["names_ordinary_goods"] = np.ones(len(rows), dtype=bool)
    assert writer._group_reasons("hs_code", np.arange(len(rows)), facts, facts.terms) == [
        (
            "hs_mismatch",
            "HS code 900580 (chapter 90) does not fit 'Камера видеонаблюдения'"
            " (such goods go under 8525 or 8528)",
        ),
        None,
        None,
        None,
        (
            "hs_mismatch",
            "HS code 900580 (chapter 90) does not fit 'фонарик' (such goods go under 8513)",
        ),
    ]
    # Wording that names no ordinary goods (gear, a vague word) is set against nothing.
    facts.__dict__["names_ordinary_goods"] = np.zeros(len(rows), dtype=bool)
    assert writer._group_reasons("hs_code", np.arange(len(rows)), facts, facts.terms) == [
        None
    ] * len(rows)
    # A digital camera goes under 8525 or 9006; a CCTV camera is no monocular (9005).
    assert reasons_module._catalogue_heading_elsewhere("Камера видеонаблюдения", "900659") == ()
    # Wording the catalogue reads as several kinds of no common chapter is a box of them.
    assert reasons_module._catalogue_heading_elsewhere("Возврат товара чехлы", "420292") == ()
    # Goods of the catalogue's kinds under a heading of another of their chapters' kind are
    # a clerk's choice: a Baofeng radio (8517, 8525, 8527) under 8543 is chapter 85 too.
    assert reasons_module._catalogue_heading_elsewhere("рация Baofeng", "854370") == ()
    assert reasons_module._catalogue_heading_elsewhere("рация Baofeng", "900580") == (
        "8517",
        "8525",
    )


def test_a_flagged_item_no_single_fact_moved_far_is_told_those_that_moved_it_most(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the cut-off, facts that each moved the score a little are said together; where
    those are only its context (here its category, by less than a reason needs on its own),
    or with none that has anything true to say, the officer is told the form as a whole
    passes, and which parts of it weigh most. (The facts said together are pinned with the
    lane's test below.)"""
    strict = _explaining(tiny_scorer)
    names = tiny_scorer.model.feature_names
    small = np.zeros(len(names))
    small[names.index("category_gift")] = MIN_REASON_LOGIT / 3

    def contributions(features: np.ndarray) -> np.ndarray:
        return np.tile(small, (len(features), 1))

    monkeypatch.setattr(tiny_scorer.model, "contributions", contributions)
    scored = strict.score_declaration(declaration("Мёд", 1.2))
    assert scored["items"][0]["reasons"][0]["message"].endswith("its category weighs most")
    small[:] = 0.0
    scored = strict.score_declaration(declaration("Мёд", 1.2))
    assert scored["items"][0]["reasons"] == [
        {
            "code": "form_as_a_whole",
            "message": "no single fact of the form stands out; it passes the review cut-off"
            " taken as a whole",
        }
    ]
    # Where facts moved it that have nothing true to say of this line (the text models lean
    # on honest "Мёд", no word of it is typical of gear), the officer is told which parts of
    # the form weigh most.
    small[names.index("text_body_armor")] = MIN_REASON_LOGIT / 2
    small[names.index("mail_parcel")] = MIN_REASON_LOGIT / 3
    scored = strict.score_declaration(declaration("Мёд", 1.2))
    assert scored["items"][0]["reasons"][0]["message"].endswith(
        "taken as a whole: its wording and its mail class weigh most"
    )


def test_a_group_with_nothing_true_to_say_gives_its_place_to_the_next(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three groups that moved a score most may have nothing to tell (one item, one
    unit, a mail class declared): the next group that moved it far enough is said in their
    place, and never more than MAX_REASONS are."""
    strict = _explaining(tiny_scorer)
    names = tiny_scorer.model.feature_names
    moved = np.zeros(len(names))
    mail = next(n for n in names if n.startswith("mail_"))
    for name, logit in [(mail, 3.0), ("parcel_items_log", 2.5), ("quantity_log", 2.0)]:
        moved[names.index(name)] = logit
    moved[names.index("hs_missing")] = 1.0

    def contributions(features: np.ndarray) -> np.ndarray:
        return np.tile(moved, (len(features), 1))

    monkeypatch.setattr(tiny_scorer.model, "contributions", contributions)
    scored = strict.score_declaration(declaration("Мёд", 1.2))
    assert [r["code"] for r in scored["items"][0]["reasons"]] == ["hs_missing"]
    assert _said(tuple((f"code{k}", "m") for k in range(5))) == [
        ("code0", "m"),
        ("code1", "m"),
        ("code2", "m"),
    ]


def test_an_item_over_the_review_cut_off_is_never_left_without_a_reason(
    tiny_scorer: Scorer,
) -> None:
    """Where no fact of a flagged item may be named, the officer is told the flag rests on
    the form as a whole, never given nothing; an item that names its facts is not."""
    strict = _explaining(tiny_scorer)
    for description in ["Мёд", "куртка", "рюкзак", "сувенир на память", "Бронежилет 6Б45"]:
        scored = strict.score_declaration(declaration(description, 1.2))
        codes = [r["code"] for r in scored["items"][0]["reasons"]]
        assert codes, description
        if "form_as_a_whole" in codes:
            assert codes == ["form_as_a_whole"], (description, codes)
    named = strict.score_declaration(declaration("Бронежилет 6Б45", 9.0))
    assert "form_as_a_whole" not in [r["code"] for r in named["items"][0]["reasons"]]
    # Under the cut-off (the default policy), an ordinary line is told nothing.
    plain = tiny_scorer.score_declaration(declaration("Мёд", 1.2))
    assert plain["decision"] != "clear" or plain["items"][0]["reasons"] == []


def test_a_mail_class_reason_is_only_that_none_was_given() -> None:
    from service.reasons import _sent_as

    # No service is a finding an officer accepts against a parcel, letter post least.
    for service in ("courier", "ems", "parcel", "small_packet", "letter"):
        assert _sent_as(service) is None, service
    assert _sent_as(None) == "no mail class declared"
    assert _sent_as("") == "no mail class declared"


def test_a_term_is_called_typical_of_the_class_it_leans_to_most(tiny_scorer: Scorer) -> None:
    """ "военный" (military) of a "военный билет" read as optics is typical of military kit:
    the reason names the class the word itself leans to, whatever class the item is read as."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    text.honest_words_ = frozenset()
    leans = {"body_armor": 1.0, "helmet": 0.5, "tactical_apparel": 3.0}
    leans["optics_sensors"] = 2.0

    _read_as_words(text, "военный")
    _lean_words(text, lambda _, column: leans[column])
    assert text.top_terms(["военный"], ["optics_sensors"]) == ["военный"]
    assert text.class_of_term("военный") == "tactical_apparel"
    # Read from the words the reasons just looked up, or worked out afresh.
    text.__dict__.pop("word_leaning_", None)
    assert text.class_of_term("военный") == "tactical_apparel"
    # A word named on a line read as a class it also clearly leans to is said of that
    # class ("IIIA" of a vest); one that leans little to it keeps its own ("Pulsar").
    assert text.class_of_term("военный", "optics_sensors") == "optics_sensors"
    assert text.class_of_term("военный", "helmet") == "tactical_apparel"
    assert text.class_of_term("военный", "benign") == "tactical_apparel"


def test_wording_a_disguise_leans_on_is_called_a_cover_and_the_kit_s_name_what_it_names(
    tiny_scorer: Scorer,
) -> None:
    """ "бинокль охотничий" is how night-vision monoculars travel as often as binoculars do:
    where its wording moved the score, the officer is told it is wording often declared for
    such optics, not that any word of it is typical of gear. A name the gear nomenclature
    gives the kit itself ("тепловизор"), which honest goods share, is told what it names: a
    thermal imager is no cover for a thermal imager. Wording that leans little, that names
    no kind of goods beyond vague and common words ("одежда мужская"), or that is only the
    plain name of everyday goods ("бинокль", "Ботинки": every honest sender writes it) is no
    cover of anything."""
    from service.item_facts import COVER_WORDING, READS_AS_GEAR

    descriptions = [
        "бинокль охотничий",
        "куртка зимняя",
        "одежда мужская",
        "for",
        "шлем защитный",
        "тепловизор",
        "бинокль",
        "Ботинки",
    ]
    classes = ["optics_sensors"] * 4 + ["helmet", "optics_sensors"] * 2

    def said(over_cut_off: np.ndarray | None = None) -> list[Reason | None]:
        writer, facts, signals = _known_goods_facts(tiny_scorer, descriptions, classes)
        columns = writer._signal_columns
        optics = columns.text[RISK_CLASSES.index("optics_sensors")]
        helmet = columns.text[RISK_CLASSES.index("helmet")]
        plain = COVER_WORDING + 0.5
        signals[:, optics] = [plain, COVER_WORDING - 0.5, 2.0, 2.0, -3.0, 2.0, plain, plain]
        signals[4, helmet] = READS_AS_GEAR - 0.1
        signals[7, helmet] = READS_AS_GEAR - 0.1
        facts.over_cut_off = over_cut_off
        return writer._group_reasons("terms", np.arange(8), facts, facts.terms)

    helmet_cover = (
        "cover_wording",
        "'шлем защитный' is wording often declared for a ballistic helmet",
    )
    assert said() == [
        (
            "cover_wording",
            "'бинокль охотничий' is wording often declared for night-vision, thermal or"
            " military optics, radios and sensors",
        ),
        None,
        None,
        None,
        helmet_cover,
        (
            "suspicious_term",
            "'тепловизор' names night-vision, thermal or military optics, radios and sensors"
            " as well as honest goods",
        ),
        None,
        None,
    ]
    # Only an item over the review cut-off is told its cover.
    partly = said(np.array([False, True, True, True, True, True, True, True]))
    assert partly[0] is None
    assert partly[4] == helmet_cover


def test_a_weight_the_description_writes_is_the_one_a_unit_is_set_against() -> None:
    """ "Диски для штанги 2.5 кг" of 2.5 kg a disc was told "heavy (usually about 0.79
    kg)": a unit weighing what its description says is no heavier than it should be; one
    that does not is set against the sender's own figure."""
    heavy = ("weight_mismatch", "2.5 kg per unit is heavy for 'Диски' (usually about 0.79 kg)")
    assert _against_written(heavy, 2.5, "Диски для штанги 2.5 кг") is None
    assert _against_written(heavy, 2.8, "Диски для штанги 2.5 кг") is None
    assert _against_written(heavy, 7.0, "Диски для штанги 2.5 кг") == (
        "weight_mismatch",
        "7 kg per unit is heavy for 'Диски для штанги 2.5 кг' (its description says 2.5 kg)",
    )
    # Without a written weight, or for another kind of reason, nothing changes.
    assert _against_written(heavy, 2.5, "Диски для штанги") == heavy
    value = ("value_mismatch", "declared 2.4 USD/kg is low for 'Диски'")
    assert _against_written(value, 2.5, "Диски для штанги 2.5 кг") == value


def test_an_item_s_reasons_are_its_strongest_three_once_each_and_a_random_pick() -> None:
    cover = ("cover_wording", "'Binoculars' is wording often declared for optics")
    heavy = ("weight_mismatch", "2.2 kg per unit is heavy for 'Binoculars'")
    hs = ("hs_mismatch", "HS code 9013 (chapter 90) does not fit 'Binoculars'")
    value = ("value_mismatch", "declared 9 USD/kg is low for 'Binoculars'")
    picked = ("random_selection", "picked at random for control")
    assert _said((cover, cover, None, None, None, picked)) == [cover, picked]
    assert _said((cover, heavy, hs, value, None, picked)) == [cover, heavy, hs, picked]
    assert _said((None, None, None, None, None, picked)) == [picked]
    assert _said((None, None, None, None, None, None)) == []


def test_wording_that_names_the_kit_is_never_called_light_or_dear() -> None:
    """Honest "night vision goggles" are toys and cheap digital sets: against their figures
    the kit itself is heavy and cheap only. Other wording is told either way."""
    subject = "'night vision goggles'"

    def said(weight: bool, actual: float, usual: float, names_kit: bool) -> Reason | None:
        return _physical_reason(
            weight,
            actual,
            usual,
            None,
            math.nan,
            "night vision goggles",
            subject,
            quotable=True,
            vague=False,
            names_kit=names_kit,
        )

    assert said(False, 800.0, 37.0, names_kit=True) is None
    assert said(True, 0.05, 0.3, names_kit=True) is None
    assert said(False, 2.0, 37.0, names_kit=True) == (
        "value_mismatch",
        f"declared 2.0 USD/kg is low for {subject} (usually about 37 USD/kg)",
    )
    assert said(True, 1.2, 0.3, names_kit=True) == (
        "weight_mismatch",
        f"1.2 kg per unit is heavy for {subject} (usually about 0.3 kg)",
    )
    assert said(False, 800.0, 37.0, names_kit=False) == (
        "value_mismatch",
        f"declared 800 USD/kg is high for {subject} (usually about 37 USD/kg)",
    )


def test_the_reason_writer_tells_whether_the_full_description_names_the_kit(
    tiny_scorer: Scorer,
) -> None:
    """The writer hands `_physical_reason` whether the line's whole wording names the kit:
    "night vision goggles" at 800 USD/kg is not called dear; a "cotton T-shirt" of the same
    figures is."""
    from service.wording import names_the_kit

    descriptions = ["night vision goggles", "cotton T-shirt"]
    assert names_the_kit(descriptions[0]) and not names_the_kit(descriptions[1])
    writer, facts, signals = _known_goods_facts(
        tiny_scorer,
        descriptions,
        ["benign", "benign"],
        quantity=[1.0, 1.0],
        net_weight_kg=[0.5, 0.5],
        value=[400.0, 400.0],
        currency=["USD", "USD"],
    )
    signals[:, writer._signal_columns.value] = np.log(37.0)
    said = writer._group_reasons("value", np.arange(2), facts, facts.terms)
    assert said[0] is None
    assert said[1] is not None and said[1][1].startswith("declared 800 USD/kg is high for")


def test_a_lane_is_said_only_where_nothing_else_is() -> None:
    """No officer stops a parcel for its lane: beside any fact of the form it goes unsaid."""
    lane = ("lane", "the RU→MN lane carries more gear than most")
    heavy = ("weight_mismatch", "0.65 kg per unit is heavy for 'Телефон'")
    picked = ("random_selection", "picked at random for control")
    assert _said((lane, heavy, None, None, None, None)) == [heavy]
    assert _said((heavy, lane, None, None, None, picked)) == [heavy, picked]
    assert _said((lane, None, None, None, None, picked)) == [lane, picked]


def test_an_item_over_the_cut_off_with_only_its_lane_to_say_is_told_its_weaker_facts(
    tiny_scorer: Scorer,
) -> None:
    """The lane alone moved the score past the review cut-off strongly enough to be said;
    the facts of the form that moved it less are looked at first, and the lane then goes
    unsaid. With nothing else to say, the officer is told the lane weighs most, not that the
    lane carries gear: no officer stops a parcel for its lane."""
    writer = ReasonWriter(tiny_scorer.model)
    frame = pd.DataFrame(
        {
            "declaration_id": ["RB000000001RU"],
            "item_no": [1],
            "mail_class": ["parcel"],
            "category": ["gift"],
            "origin_country": ["RU"],
            "destination_country": ["MN"],
            "description": ["Телефон"],
            "hs_code": ["851713"],
            "quantity": [1.0],
            "net_weight_kg": [2.1],
            "gross_weight_kg": [10.6],
            "value": [4000.0],
            "currency": ["RUB"],
        }
    )
    items = columns_of(frame)
    scores = tiny_scorer.model.score(items)
    names = list(tiny_scorer.model.feature_names)
    original = writer.model.contributions

    def lane_leads(gap: float) -> Callable[[np.ndarray], np.ndarray]:
        def contributions(features: np.ndarray) -> np.ndarray:
            out = np.zeros((len(features), len(names)))
            lane = next(j for j, name in enumerate(names) if name.startswith("lane_"))
            out[:, lane] = MIN_REASON_LOGIT + 1.0
            out[:, names.index("parcel_unexplained_kilos")] = gap
            return out

        return contributions

    said = {}
    try:
        for gap in (MIN_REASON_LOGIT / 2, 0.0):
            writer.model.contributions = lane_leads(gap)  # type: ignore[method-assign]
            said[gap] = writer.reasons(
                items,
                scores,
                np.ones(1, dtype=bool),
                np.zeros(1, dtype=bool),
                as_cells=False,
                over_cut_off=np.ones(1, dtype=bool),
            )[0]
    finally:
        writer.model.contributions = original  # type: ignore[method-assign]
    assert [reason["code"] for reason in said[MIN_REASON_LOGIT / 2]] == ["parcel_context"]
    assert said[MIN_REASON_LOGIT / 2][0]["message"].endswith("8.5 kg is not accounted for")
    assert [reason["code"] for reason in said[0.0]] == ["form_as_a_whole"]
    assert said[0.0][0]["message"].endswith("taken as a whole: its lane weighs most")


def _reasons_with(
    scorer: Scorer,
    monkeypatch: pytest.MonkeyPatch,
    moved: dict[str, float],
    made: dict[str, Reason],
    over_cut_off: bool,
    history: dict[str, object] | None = None,
    **item: object,
) -> list[str]:
    """The codes said of one item (`item`: its columns over a 9 kg "Жилетка"; `history`:
    its parties' history columns) whose groups of the form moved its score by `moved`
    (logits by group) and whose group reasons are `made` (by group; none for the rest)."""
    writer = ReasonWriter(scorer.model)
    names = list(scorer.model.feature_names)
    groups = [scorer.model.form_.group_of(name) for name in names]
    columns: dict[str, list[object]] = {
        "declaration_id": ["RB000000001RU"],
        "item_no": [1],
        "mail_class": ["parcel"],
        "category": ["gift"],
        "origin_country": ["RU"],
        "destination_country": ["KZ"],
        "description": ["Жилетка"],
        "hs_code": [None],
        "quantity": [1.0],
        "net_weight_kg": [9.0],
        "gross_weight_kg": [9.4],
        "value": [2000.0],
        "currency": ["RUB"],
    }
    columns.update({name: [value] for name, value in item.items()})
    frame = normalise_declarations(pd.DataFrame(columns))
    for name, value in (history or {}).items():
        frame[name] = [value]
    items = columns_of(frame)
    scores = scorer.model.score(items)

    def contributions(features: np.ndarray) -> np.ndarray:
        out = np.zeros((len(features), len(names)))
        for group, logit in moved.items():
            out[:, groups.index(group)] = logit
        return out

    monkeypatch.setattr(scorer.model, "contributions", contributions)
    monkeypatch.setattr(
        writer,
        "_group_reasons",
        lambda group, rows, facts, terms: [made.get(group)] * len(rows),
    )
    said = writer.reasons(
        items,
        scores,
        np.ones(1, dtype=bool),
        np.zeros(1, dtype=bool),
        as_cells=False,
        over_cut_off=np.full(1, over_cut_off),
    )[0]
    return [reason["code"] for reason in said]


def test_an_item_told_only_of_its_wording_is_told_the_weight_and_worth_that_moved_it(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "'Bicycle helmet' is wording often declared for a ballistic helmet" was all an
    officer was told of a 1.6 kg bicycle helmet: its weight moved the score too, less than
    the cut-off for a reason of its own. Over the review cut-off, an item told only of its
    wording is told its weight and worth where they moved it up; never its weaker facts of
    other kinds, nor beside a fact of the form already said."""
    cover = ("cover_wording", "'Жилетка' is wording often declared for body armour")
    heavy = ("weight_mismatch", "9 kg per unit is heavy for 'Жилетка' (usually about 0.64 kg)")
    gap = ("parcel_context", "the parcel weighs 12 kg, its lines declare 9 kg")
    made = {"terms": cover, "weight": heavy, "parcel": gap}
    weak = MIN_REASON_LOGIT / 2
    moved = {"terms": 1.0, "weight": weak, "parcel": weak}

    def said(moved: dict[str, float], over_cut_off: bool = True) -> list[str]:
        return _reasons_with(tiny_scorer, monkeypatch, moved, made, over_cut_off)

    assert said(moved) == ["cover_wording", "weight_mismatch"]
    assert said(moved, over_cut_off=False) == ["cover_wording"]
    # A weight that moved the score down is no reason.
    assert said({**moved, "weight": -weak}) == ["cover_wording"]
    # Told a fact of its form already, it is not told the weaker ones.
    assert sorted(said({**moved, "parcel": 1.0})) == ["cover_wording", "parcel_context"]


def test_an_item_with_nothing_to_tell_is_told_its_partys_earlier_parcel_read_as_gear(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender's second parcel of a backpack and tool pouches, its first inspected 16 days
    before, was told "no single fact of the form stands out": officers at two posts asked
    that a party's flagged parcels be carried over to its next. Where no fact moved it far
    enough, its sender's or recipient's earlier parcel that read as gear is said, though
    the models did not weigh it; with none, the form as a whole."""
    earlier = {"sender_prior_score": 0.82, "sender_prior_parcel": "CP000100140RU"}
    moved = {"terms": MIN_REASON_LOGIT / 2}

    def said(history: dict[str, object] | None, over_cut_off: bool = True) -> list[str]:
        return _reasons_with(tiny_scorer, monkeypatch, moved, {}, over_cut_off, history)

    assert said(earlier) == ["sender_history"]
    assert said({**earlier, "sender_prior_score": 0.3}) == ["form_as_a_whole"]
    assert said(None) == ["form_as_a_whole"]
    assert said(earlier, over_cut_off=False) == []
    recipient = {"recipient_prior_score": 0.9, "recipient_prior_parcel": "CP000100140RU"}
    assert said(recipient) == ["recipient_history"]


def test_a_unit_cheap_per_kilo_only_for_its_weight_is_told_its_weight_alone(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "declared 2.6 USD/kg is low for 'Жилетка'" beside "9 kg per unit is heavy" of a vest
    at 22 USD said the weight again: per unit it is a vest's price. Where the unit is cheap
    per unit too, both are said."""
    assert _cheap_for_its_weight(2.4, 55.0, 9.0, 0.6)
    # 2 USD a vest is cheap however much it weighs.
    assert not _cheap_for_its_weight(0.22, 55.0, 9.0, 0.6)
    # A light one is cheap for itself.
    assert not _cheap_for_its_weight(2.4, 55.0, 0.5, 0.6)
    assert not _cheap_for_its_weight(80.0, 55.0, 9.0, 0.6)

    heavy = ("weight_mismatch", "9 kg per unit is heavy for 'Жилетка' (usually about 0.64 kg)")
    low = ("value_mismatch", "declared 2.4 USD/kg is low for 'Жилетка' (usually about 55 USD/kg)")
    moved = {"weight": 1.0, "value": 1.0}
    monkeypatch.setattr(ItemFacts, "expected_weight", property(lambda self: np.array([0.6])))
    monkeypatch.setattr(ItemFacts, "expected_value", property(lambda self: np.array([55.0])))

    def said(value_usd: float, made: dict[str, Reason]) -> list[str]:
        return _reasons_with(
            tiny_scorer, monkeypatch, moved, made, True, value=value_usd, currency="USD"
        )

    assert said(22.0, {"weight": heavy, "value": low}) == ["weight_mismatch"]
    assert sorted(said(2.0, {"weight": heavy, "value": low})) == [
        "value_mismatch",
        "weight_mismatch",
    ]
    # Without a weight reason said, its worth is its only fact and stays.
    assert said(22.0, {"value": low}) == ["value_mismatch"]


def test_a_cover_is_said_of_the_class_its_item_is_read_as_where_its_wording_leans_there(
    tiny_scorer: Scorer,
) -> None:
    """A "Жилет рыболовный" read as body armour whose words lean a little more to tactical
    kit is told what body armour is declared as: an officer read the class and a cover of
    another class as a contradiction. Where the wording leans too little to the item's class,
    the class it leans to most is said."""
    from service.item_facts import COVER_WORDING

    descriptions = ["Жилет рыболовный", "Жилет рыболовный"]
    writer, facts, signals = _known_goods_facts(
        tiny_scorer, descriptions, ["body_armor", "body_armor"]
    )
    columns = writer._signal_columns
    armour = columns.text[RISK_CLASSES.index("body_armor")]
    tactical = columns.text[RISK_CLASSES.index("tactical_apparel")]
    signals[:, tactical] = COVER_WORDING + 0.6
    signals[:, armour] = [COVER_WORDING + 0.2, COVER_WORDING - 0.2]
    facts.over_cut_off = np.array([True, True])
    assert facts.covers_gear.tolist() == ["body_armor", "tactical_apparel"]


def test_wording_that_reads_as_gear_is_said_so_and_gets_no_ordinary_expectation(
    tiny_scorer: Scorer,
) -> None:
    """ "военная форма" is a uniform to an officer, though no word of it names gear alone
    (honest lines send children's military costumes): its wording is said to read as
    military kit, and the weight of such costumes is never quoted against it. Wording with
    a word of honest goods in it ("ceramic tiles") is a cover however strongly
    disguises lean on it, and keeps the expectation of those goods. A vague word or the
    commonest words never read as anything, however the models lean on them."""
    from service.item_facts import COVER_WORDING, READS_AS_GEAR

    descriptions = [
        "военная форма",
        "вещи",
        "куртка зимняя",
        "for",
        "ceramic tiles",
        "motorcycle helmet",
    ]
    classes = ["tactical_apparel"] * 4 + ["body_armor", "helmet"]
    writer, facts, signals = _known_goods_facts(tiny_scorer, descriptions, classes)
    columns = writer._signal_columns
    tactical = columns.text[RISK_CLASSES.index("tactical_apparel")]
    armour = columns.text[RISK_CLASSES.index("body_armor")]
    helmet = columns.text[RISK_CLASSES.index("helmet")]
    signals[:4, tactical] = [
        READS_AS_GEAR + 0.5,
        READS_AS_GEAR + 0.5,
        COVER_WORDING - 0.3,
        READS_AS_GEAR + 0.5,
    ]
    signals[4, armour] = READS_AS_GEAR + 1.0
    signals[5, helmet] = READS_AS_GEAR + 1.0
    said = writer._group_reasons("terms", np.arange(6), facts, facts.terms)
    assert said == [
        ("suspicious_term", "'военная форма' reads as military/tactical kit"),
        None,
        None,
        None,
        # Words of other goods: what body armour is declared as.
        ("cover_wording", "'ceramic tiles' is wording often declared for body armour"),
        # Every word of it is one motorcycle helmets are written with too.
        ("cover_wording", "'motorcycle helmet' is wording often declared for a ballistic helmet"),
    ]
    # Honest words that lean to gear ("куртка зимняя", tiles, a helmet) keep their
    # expectation.
    assert facts.expectation_quotable.tolist() == [False, False, True, False, True, True]


def test_an_honest_word_in_another_form_is_never_typical_of_gear(
    tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "нашивки на одежду" (patches for clothes) was told "'одежду' is typical of body
    armour": "одежда" is on every other honest form, "одежду" (its accusative) on few. An
    honest word counts in each of its forms."""
    text = copy.deepcopy(tiny_scorer.model.text_)
    # Only the honest words of the lines the model read: the catalogue's phrasings ("одежду"
    # is on some) are a rule of their own.
    monkeypatch.setattr(knowledge, "honest_only_words", frozenset)

    _lean_words(text, lambda word, _: 5.0)
    # The words as the text models would read them (the tiny model never saw them).
    vocabulary = text.vectorizer_.word_.vocabulary_
    for word in ("нашивки", "одежду", "одежда", "boots", "бронежилеты"):
        for token in re.findall(r"\w+", matching_text(word)):
            vocabulary.setdefault(token, len(vocabulary))
    text.honest_words_ = frozenset({"нашивки"})
    assert text.top_terms(["нашивки на одежду"], ["body_armor"]) == ["одежду"]

    text.honest_words_ = frozenset({"нашивки", "одежда", "boot"})
    assert text.top_terms(["нашивки на одежду", "Boots"], ["body_armor", "tactical_apparel"]) == [
        None,
        None,
    ]
    # A word of another stem is still named.
    assert text.top_terms(["одежда бронежилеты"], ["body_armor"]) == ["бронежилеты"]


def test_warming_up_loads_what_reasons_read_before_the_first_request(
    tiny_scorer: Scorer,
) -> None:
    # As in a fresh process: nothing looked up yet.
    knowledge._catalogue_phrases.cache_clear()
    knowledge.catalogue_kinds.cache_clear()
    reasons_module._known_range.cache_clear()
    tiny_scorer.warm_up()
    assert knowledge._catalogue_phrases.cache_info().currsize == 1
