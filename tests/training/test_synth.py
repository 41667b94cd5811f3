"""The synthetic declaration generator: shape, determinism, labels and realism checks."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import knowledge
from training.gross_weight import ordinary_unexplained_kg
from training.schema import ALL_FIELDS, LABEL_CLASSES, NUMERIC_FIELDS, normalise_declarations
from training.synth import (
    REGISTERS,
    generate_declarations,
    generate_declarations_with_registers,
    write_synthetic_csv,
)
from training.synth.catalogue import compiled_catalogue
from training.synth.wording import head_word

ROWS = 30_000
SEED = 11
TEXT_FIELDS = tuple(
    field
    for field in ALL_FIELDS
    if field not in NUMERIC_FIELDS and field not in ("posted_at", "label")
)


@cache
def _sample() -> tuple[pd.DataFrame, np.ndarray]:
    parts = list(generate_declarations_with_registers(ROWS, SEED, chunk_rows=7_000))
    frame = pd.concat([part for part, _ in parts], ignore_index=True)
    registers = np.array(REGISTERS)[np.concatenate([codes for _, codes in parts])]
    return frame, registers


def _frame() -> pd.DataFrame:
    return _sample()[0]


def test_exact_row_count_and_chunk_limits() -> None:
    for rows in (1, 7, 4_999, 12_345):
        chunks = list(generate_declarations(rows, 3, chunk_rows=2_000))
        assert sum(len(chunk) for chunk in chunks) == rows
        assert all(len(chunk) <= 2_000 for chunk in chunks)
    assert list(generate_declarations(0, 3)) == []


def test_same_seed_same_output_independent_of_chunking() -> None:
    whole = pd.concat(generate_declarations(9_000, 5), ignore_index=True)
    again = pd.concat(generate_declarations(9_000, 5, chunk_rows=1_234), ignore_index=True)
    pd.testing.assert_frame_equal(whole, again)
    other = pd.concat(generate_declarations(9_000, 6), ignore_index=True)
    assert not whole["description"].equals(other["description"])


def test_columns_and_dtypes() -> None:
    frame = _frame()
    assert tuple(frame.columns) == ALL_FIELDS
    for field in ("gross_weight_kg", "item_no", "quantity", "net_weight_kg", "value"):
        assert frame[field].dtype == np.float64, field
    assert frame["posted_at"].dtype == np.dtype("datetime64[ns]")
    assert frame["posted_at"].min() >= pd.Timestamp("2023-01-01")
    assert frame["posted_at"].max() <= pd.Timestamp("2026-10-31")
    assert pd.api.types.is_integer_dtype(frame["label"])
    assert set(frame["label"].unique()) <= {0, 1}
    for field in TEXT_FIELDS:
        assert frame[field].dtype == object, field
        values = frame[field].dropna()
        assert values.map(type).eq(str).all(), field


def test_normalise_declarations_accepts_every_chunk() -> None:
    for chunk in generate_declarations(ROWS, SEED, chunk_rows=7_000):
        normalised = normalise_declarations(chunk)
        assert normalised["error"].isna().all(), normalised["error"].dropna().head()


def test_every_class_present_and_labels_consistent() -> None:
    frame = _frame()
    assert set(frame["label_class"]) == set(LABEL_CLASSES)
    consistent = frame["label"].eq((frame["label_class"] != "benign").astype(int))
    assert 0.002 < 1 - consistent.mean() < 0.03
    positive_rows = (frame["label_class"] != "benign").mean()
    assert 0.15 < positive_rows < 0.3


def test_parcels_contiguous_and_gross_covers_net() -> None:
    frame = _frame()
    ids = frame["declaration_id"]
    runs = ids.ne(ids.shift()).cumsum()
    assert runs.groupby(ids).nunique().max() == 1
    parcels = frame.groupby("declaration_id", sort=False)
    assert (parcels["gross_weight_kg"].nunique() == 1).all()
    net = parcels["net_weight_kg"].sum()
    gross = parcels["gross_weight_kg"].first()
    assert (gross + 1e-9 >= net).all()
    item_no = parcels["item_no"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))
    assert item_no.all()
    assert frame["net_weight_kg"].gt(0).all() and frame["value"].ge(0).all()


def test_chunks_never_split_a_parcel() -> None:
    seen: set[str] = set()
    for chunk in generate_declarations(6_000, 2, chunk_rows=500):
        ids = set(chunk["declaration_id"])
        assert not ids & seen
        seen |= ids


def test_declaration_ids_look_like_s10_and_are_unique_per_parcel() -> None:
    frame = _frame()
    parcels = frame.drop_duplicates("declaration_id")
    assert frame.groupby("declaration_id")["posted_at"].nunique().max() == 1
    s10 = parcels["declaration_id"].str.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}|LP00\d{9}[A-Z]{2}")
    assert s10.all()
    ids = frame["sender_id"].dropna()
    assert ids.str.fullmatch(r"S-[0-9a-f]{10}").all()


def test_parties_repeat_on_both_sides_of_the_trade() -> None:
    """Gear goes to collectors who buy from many sellers, but honest parties repeat too:
    being a repeat party alone must not be what separates gear."""
    frame = _frame()
    parcels = frame.groupby("declaration_id").agg(
        gear=("label", "max"), sender=("sender_id", "first"), recipient=("recipient_id", "first")
    )
    senders_of = parcels.groupby("recipient")["sender"].nunique()
    collecting = parcels["recipient"].map(senders_of)
    gear = parcels["gear"] == 1
    assert collecting[gear].mean() > 1.3 * collecting[~gear].mean()
    sent = parcels["sender"].map(parcels["sender"].value_counts())
    assert (sent[~gear] > 1).mean() > 0.2  # families and small sellers ship again
    assert (sent[gear] > 1).mean() > 0.2  # so do sellers of gear


def test_simulated_outcomes_confirm_only_gear_and_depend_only_on_the_seed() -> None:
    from training.synth import simulated_store

    frame = _frame()
    outcome, watch = simulated_store(frame, 3)
    again, watch_again = simulated_store(frame, 3)
    assert outcome.equals(again) and watch == watch_again
    gear = frame.groupby("declaration_id")["label"].transform("max") == 1
    assert set(outcome[~gear].dropna()) <= {"cleared"}
    assert (outcome[gear] == "confirmed").mean() > 0.05
    assert {entry.role for entry in watch} == {"sender", "recipient"}


def test_scripts_languages_and_registers() -> None:
    frame, registers = _sample()
    text = frame["description"]
    assert text.str.contains(r"[а-яА-ЯёЁ]").mean() > 0.2
    assert text.str.contains(r"[\u4e00-\u9fff]").mean() > 0.02
    gear = frame["label_class"] != "benign"
    shares = pd.Series(registers[gear.to_numpy()]).value_counts(normalize=True)
    assert 0.2 < shares["explicit"] < 0.4
    assert 0.5 < shares["disguised"] < 0.75
    assert 0.03 < shares["stealth"] < 0.12
    explicit = text[gear & (registers == "explicit")].str.lower()
    assert explicit.str.contains("бронежилет|plate carrier|防弹|夜视|тепловиз|шлем|helmet").any()


def test_chinese_is_also_written_in_pinyin_by_honest_and_gear_senders_alike() -> None:
    assert knowledge.romanise_chinese("防弹插板") == "fangdan chaban"
    assert knowledge.romanise_chinese("个人物品，衣服") == "geren wupin, yifu"
    # What is not Chinese stays as written.
    assert knowledge.romanise_chinese("夜视仪 NVG-2 / ПНВ") == "yeshiyi NVG-2 / ПНВ"
    frame, _ = _sample()
    chinese_lanes = (frame["origin_country"] == "CN") | (frame["destination_country"] == "CN")
    pinyin = frame["description"].str.contains(
        r"\b(?:liwu|yifu|fuzhuang|geren wupin|qiaokeli|fangdan\w*|zhanshu|toukui|beixin)\b"
    )
    assert pinyin[chinese_lanes].mean() > 0.002
    assert not pinyin[~chinese_lanes].any()
    gear = frame["label"].astype(int) == 1
    # Both honest goods and gear are written so: the script is no evidence.
    assert pinyin[chinese_lanes & gear].any() and pinyin[chinese_lanes & ~gear].any()


def test_hs_codes_mostly_present_and_valid() -> None:
    codes = _frame()["hs_code"]
    assert 0.25 < codes.isna().mean() < 0.45
    digits = codes.dropna().str.replace(r"[.\s]", "", regex=True)
    assert digits.str.fullmatch(r"\d{4,10}").all()


def test_gear_is_undervalued_and_heavy_where_it_should_be() -> None:
    frame, registers = _sample()
    rates = knowledge.usd_per_unit()
    usd = frame["value"] * frame["currency"].map(rates)
    armour = (frame["label_class"] == "body_armor") & (registers == "disguised")
    assert usd[armour].median() < 100
    assert (frame.loc[armour, "net_weight_kg"] / frame.loc[armour, "quantity"]).median() > 2
    optics = (frame["label_class"] == "optics_sensors") & (registers == "explicit")
    helmets = (frame["label_class"] == "helmet") & (registers != "stealth")
    per_unit = frame["net_weight_kg"] / frame["quantity"]
    assert per_unit[helmets].median() > 1.0
    assert usd[optics].median() > 50


def test_honest_vague_words_often_stand_for_a_bag_of_things() -> None:
    """ "одежда" or "вещи личные" of 9 kg is a family's box of clothes, declared as one unit:
    some honest vague lines weigh what several things of their kind do, and no gear line is
    made a bag."""
    frame, registers = _sample()
    per_unit = frame["net_weight_kg"] / frame["quantity"]
    honest_vague = (frame["label_class"] == "benign").to_numpy() & (registers == "vague")
    clothing = frame["description"].str.casefold().isin(["одежда", "вещи", "clothes", "kiyim"])
    bags = honest_vague & clothing.to_numpy() & (frame["quantity"] == 1).to_numpy()
    assert (per_unit[bags] > 3).mean() > 0.15
    honest_named = (frame["label_class"] == "benign").to_numpy() & (registers == "plain")
    assert (per_unit[bags] > 3).mean() > 3 * (per_unit[honest_named] > 3).mean()


def test_bags_leave_the_rest_of_the_traffic_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bags are drawn apart from everything else: without them, every other line's goods,
    and every parcel's parties, dates and codes, are the same (a count written into a
    description, "10 штук", is drawn after them and may differ)."""
    settings = knowledge.generator_settings()
    with_bags = pd.concat(generate_declarations(3_000, SEED), ignore_index=True)
    benign = dict(settings["benign"], vague_bag_share=0.0)
    monkeypatch.setitem(settings, "benign", benign)
    without = pd.concat(generate_declarations(3_000, SEED), ignore_index=True)
    changed = (
        (with_bags["net_weight_kg"] != without["net_weight_kg"])
        | (with_bags["quantity"] != without["quantity"])
    ).to_numpy()
    assert 0 < changed.sum() < 0.05 * len(changed)
    # A bag may make a letter too heavy for letter post, and so its id's service letters.
    same = ["sender_id", "recipient_id", "posted_at", "label_class", "hs_code"]
    pd.testing.assert_frame_equal(with_bags[same], without[same])
    line = ["quantity", "net_weight_kg", "value", "currency"]
    pd.testing.assert_frame_equal(with_bags.loc[~changed, line], without.loc[~changed, line])


def test_some_disguised_lines_weigh_what_their_cover_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "Футболки, 3 шт, 0.6 kg" over a vest: the line adds up as T-shirts, and only the
    parcel's gross weight, which the post weighs, leaves kilos unexplained. Honest parcels
    are drawn the same either way."""
    settings = knowledge.generator_settings()

    def left_over(share: float) -> tuple[float, float]:
        positive = dict(settings["positive"], net_as_cover_share=share)
        monkeypatch.setitem(settings, "positive", positive)
        frame = pd.concat(generate_declarations(6_000, SEED), ignore_index=True)
        # By what the goods are: inspection errors record a few gear lines as honest.
        frame["gear"] = frame["label_class"] != "benign"
        parcels = frame.groupby("declaration_id").agg(
            net=("net_weight_kg", "sum"), gross=("gross_weight_kg", "first"), gear=("gear", "max")
        )
        over = parcels["gross"] - parcels["net"] > ordinary_unexplained_kg(parcels["net"])
        return over[parcels["gear"]].mean(), over[~parcels["gear"]].mean()

    gear_never, honest_never = left_over(0.0)
    gear_always, honest_always = left_over(1.0)
    assert gear_always > gear_never + 0.05
    assert honest_always == honest_never


def test_some_disguised_lines_declare_the_kit_at_its_own_worth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A "binocular" of 4,000 USD: a seller's invoice declares what the kit is worth under a
    cover's words. Honest lines are drawn the same either way."""
    settings = knowledge.generator_settings()
    rates = knowledge.usd_per_unit()

    def declared(share: float) -> tuple[float, pd.Series]:
        positive = dict(settings["positive"], declared_own_worth_share=share)
        monkeypatch.setitem(settings, "positive", positive)
        parts = list(generate_declarations_with_registers(6_000, SEED))
        frame = pd.concat([part for part, _ in parts], ignore_index=True)
        registers = np.array(REGISTERS)[np.concatenate([codes for _, codes in parts])]
        usd = frame["value"] * frame["currency"].map(rates)
        disguised = (frame["label"] == 1).to_numpy() & (registers == "disguised")
        # Honest goods by what they are: inspection errors record a few gear lines as honest.
        return float(usd[disguised].quantile(0.9)), usd[frame["label_class"] == "benign"]

    never, honest_never = declared(0.0)
    always, honest_always = declared(1.0)
    assert always > 3 * never
    pd.testing.assert_series_equal(honest_never, honest_always)


def test_explicit_naming_gets_rarer_over_time() -> None:
    frame, registers = _sample()
    year = frame["posted_at"].dt.year
    gear = (frame["label_class"] != "benign").to_numpy()
    explicit = pd.Series(registers == "explicit")[gear]
    by_year = explicit.groupby(year[gear].to_numpy()).mean()
    assert by_year[2023] > by_year[2026] + 0.08


def test_disguised_gear_is_written_in_the_words_of_honest_goods() -> None:
    frame, registers = _sample()
    folded = frame["description"].str.casefold()
    benign = set(folded[frame["label_class"] == "benign"])
    honest = {
        text.casefold()
        for item in knowledge.item_catalogue()
        if item.label_class == "benign"
        for phrasing in item.names.phrasings
        for text in (
            phrasing.text,
            knowledge.transliterate(phrasing.text),
            knowledge.romanise_chinese(phrasing.text),
        )
    } | set(knowledge.vague_descriptions())
    # Written as one word, an honest phrase's noun is honest wording too ("тепловизор").
    settings = knowledge.generator_settings()["head_word"]
    honest |= {
        word.casefold()
        for item in knowledge.item_catalogue()
        if item.label_class == "benign"
        for phrasing in item.names.phrasings
        if (word := head_word(phrasing.text, phrasing.language, settings)) is not None
    }
    disguised = folded[pd.Series(registers == "disguised").to_numpy()]
    # Decorations (counts, colours, typos) make some texts unique; the rest are word for
    # word what honest senders write, and honest senders in this very sample wrote half.
    assert disguised.isin(honest).mean() > 0.7
    assert disguised.isin(benign).mean() > 0.4
    gear_names = {
        phrasing.text.casefold()
        for item in knowledge.item_catalogue()
        if item.label_class != "benign"
        for phrasing in item.names.phrasings
    } - honest
    assert not disguised.isin(gear_names).any()


def test_write_synthetic_csv_round_trips_atomically(tmp_path: Path) -> None:
    target = tmp_path / "synthetic.csv"
    assert write_synthetic_csv(target, 3_000, 4) == 3_000
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic.csv"]
    read = pd.read_csv(target, dtype=str, keep_default_na=False, encoding="utf-8")
    assert tuple(read.columns) == ALL_FIELDS
    assert len(read) == 3_000
    assert read["posted_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    expected = pd.concat(generate_declarations(3_000, 4), ignore_index=True)
    codes = expected["hs_code"].fillna("")
    assert read["hs_code"].tolist() == codes.tolist()
    assert read["hs_code"].str.match(r"0\d{3}").any()
    assert np.allclose(read["net_weight_kg"].astype(float), expected["net_weight_kg"])
    assert read["description"].tolist() == expected["description"].tolist()
    normalised = normalise_declarations(read.replace("", None))
    assert normalised["error"].isna().all()


def test_write_synthetic_csv_leaves_no_temp_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("training.synth.write.generate_declarations", broken)
    with pytest.raises(RuntimeError):
        write_synthetic_csv(tmp_path / "out.csv", 10, 1)
    assert list(tmp_path.iterdir()) == []


def test_lexicon_interfaces() -> None:
    rates = knowledge.usd_per_unit()
    assert len(rates) >= 30 and rates["USD"] == 1.0
    for code in ("RUB", "CNY", "EUR", "KZT", "BYN", "UAH", "PLN", "MNT", "VND", "THB"):
        assert rates[code] > 0
    vague = knowledge.vague_descriptions()
    for word in ("gift", "clothes", "подарок", "одежда", "礼物", "衣服", "podarok", "geschenk"):
        assert word in vague
    assert all(word == word.lower() for word in vague)
    catalogue = knowledge.item_catalogue()
    for label_class in LABEL_CLASSES[1:]:
        assert sum(item.label_class == label_class for item in catalogue) >= 8


def test_goods_catalogue_is_a_wide_world_of_ordinary_goods() -> None:
    goods = knowledge.goods_catalogue()
    assert len(goods) >= 400
    assert {item.family for item in goods} <= set(knowledge.FAMILIES)
    assert len({item.family for item in goods}) >= 10
    for item in goods:
        assert item.label_class == "benign"
        assert item.names.phrasings
        assert all(4 <= len(code.replace(".", "")) <= 10 for code in item.names.hs_codes)
        assert item.weight_median_kg > 0 and item.worth_usd[0] <= item.worth_usd[1]


def test_cover_stories_borrow_only_ordinary_items_of_their_pools() -> None:
    items = knowledge.item_catalogue()
    catalogue = compiled_catalogue()
    for name, story in knowledge.cover_stories().items():
        pool = catalogue.story_items[list(knowledge.cover_stories()).index(name)]
        for index in pool.tolist():
            item = items[index]
            assert item.label_class == "benign"
            assert item.family in story.families or any(k in item.key for k in story.keys)


def test_bad_goods_rows_are_refused_with_the_file_and_key(tmp_path: Path) -> None:
    row = {
        "key": "odd_thing", "family": "spaceships", "hs": "8802", "unit_kg": "1",
        "spread": "0.1", "usd_low": "1", "usd_high": "2", "qty": "1:1", "share": "1",
        "en": "odd thing",
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown family 'spaceships'"):
        knowledge._goods_item(row, "goods_test.csv")
    row.update(family="garden", hs="12")
    with pytest.raises(ValueError, match="bad HS code"):
        knowledge._goods_item(row, "goods_test.csv")


def test_ordinary_goods_are_often_written_as_one_word() -> None:
    """People write "куртка" or "etik" alone as often as a full phrase, and gear posing as
    ordinary goods is written the same way: a bare noun is ordinary wording."""
    settings = knowledge.generator_settings()["head_word"]
    assert head_word("куртка мужская зимняя", "ru", settings) == "куртка"
    assert head_word("Микроволновая печь Samsung 20л", "ru", settings) == "печь"
    assert head_word("qishki etik", "uz", settings) == "etik"
    # Tajik names the goods first, adjective or not (izofat): "либоси занона" is "либоси".
    assert head_word("либоси занона", "tg", settings) == "либоси"
    # English names the goods last, before what the phrase adds ("for kids", "of towels").
    assert head_word("kids bike helmet for scooter", "en", settings) == "helmet"
    assert head_word("set of 3 towels", "en", settings) == "set"
    assert head_word("冬季夹克", "zh", settings) is None
    frame, registers = _sample()
    one_word = ~frame["description"].str.strip().str.contains(" ")
    plain = pd.Series(registers == "plain").to_numpy()
    disguised = pd.Series(registers == "disguised").to_numpy()
    shares = [one_word[plain].mean(), one_word[disguised].mean()]
    assert all(0.1 < share < 0.5 for share in shares), shares
    assert abs(shares[0] - shares[1]) < 0.1, shares
