from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from training.features import (
    OTHER_CHAPTER,
    REPEAT_COLUMN,
    DescriptionVectorizer,
    FormFeatures,
    TextSignals,
)
from training.features.columns import FEW_ROWS, SMALL_INPUT
from training.features.form_rows import form_rows
from training.features.measures import weights_as_meant
from training.history import PRIOR_SCORE_FEATURES
from training.model import (
    LABEL_CLASSES,
    RISES_WITH_RISK,
    ItemScores,
    columns_of,
    parcel_scores,
    riskiest_rows,
    threshold_at_fpr,
    with_prior_scores,
)
from training.schema import RISK_CLASSES
from training.train import TrainingResult, fingerprint, fit_and_evaluate


def one_item(
    description: str, net_weight_kg: float, value: float, currency: str, **parcel: object
) -> dict[str, list[object]]:
    return {
        "declaration_id": ["X1"],
        "description": [description],
        "net_weight_kg": [net_weight_kg],
        "gross_weight_kg": [net_weight_kg + 0.2],
        "quantity": [1.0],
        "value": [value],
        "currency": [currency],
        **{k: [v] for k, v in parcel.items()},
    }


# (obvious gear, obvious ordinary goods) per language.
PAIRS = {
    "ru": (
        one_item("Бронежилет с плитами 6Б45", 9.5, 3000, "RUB"),
        one_item("Мёд липовый", 1.0, 800, "RUB"),
    ),
    "en": (
        one_item("bulletproof vest plate carrier level IV", 8.0, 40, "USD"),
        one_item("cotton T-shirt", 0.2, 12, "USD"),
    ),
    "zh": (one_item("防弹衣 插板", 8.5, 150, "CNY"), one_item("茶叶 普洱", 0.5, 200, "CNY")),
    "translit": (one_item("bronezhilet b/u", 9.0, 2000, "RUB"), one_item("kniga", 0.5, 600, "RUB")),
}


@pytest.mark.parametrize("language", sorted(PAIRS))
def test_obvious_positive_scores_above_obvious_negative(
    tiny_training: TrainingResult, language: str
) -> None:
    gear, ordinary = PAIRS[language]
    model = tiny_training.model
    gear_score = model.score(gear).risk_score[0]
    ordinary_score = model.score(ordinary).risk_score[0]
    assert gear_score > ordinary_score
    assert gear_score > 0.5 > ordinary_score


def test_weight_that_does_not_fit_the_text_raises_the_score(tiny_training: TrainingResult) -> None:
    model = tiny_training.model
    gains = []
    for wording in ("Жилет", "Жилет мужской", "Куртка", "Vest"):
        light = model.score(one_item(wording, 0.4, 1500, "RUB", category="gift")).risk_score[0]
        heavy = model.score(one_item(wording, 8.5, 1500, "RUB", category="gift")).risk_score[0]
        gains.append(np.log(heavy / (1 - heavy)) - np.log(light / (1 - light)))
    # How far this small model moves in points depends on where the light garment sits; its
    # odds move by the weight: for every wording, and e-fold on average (one wording alone
    # moves by 0.9-2.3 as the small sample's draws do).
    assert min(gains) > 0.5
    assert np.mean(gains) > 1.0


def test_scores_are_probabilities_and_thresholds_monotone(tiny_training: TrainingResult) -> None:
    card = tiny_training.card
    assert 0.0 < card["thresholds"]["review"] <= card["thresholds"]["inspect"] <= 1.0
    holdout = tiny_training.holdout
    assert holdout["risk_score"].between(0, 1).all()
    assert set(holdout["risk_class"]).issubset({"benign", *RISK_CLASSES})
    metrics = card["metrics"]["holdout"]
    assert metrics["roc_auc"] > 0.8
    assert metrics["recall_at_5pct_fpr"] >= metrics["recall_at_1pct_fpr"]


def test_threshold_at_fpr_respects_the_false_alarm_budget() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(1000)
    benign = rng.random(1000) < 0.8
    for fpr in (0.005, 0.03, 0.1):
        cut = threshold_at_fpr(scores, benign, fpr)
        assert np.mean(scores[benign] >= cut) <= fpr


def test_each_row_knows_its_parcels_riskiest_row() -> None:
    ids = np.array(["A", "A", "B", "A", "C", "C"], dtype=object)
    scores = np.array([0.1, 0.7, 0.2, 0.3, 0.5, 0.5])
    # The first of equals leads a parcel.
    assert riskiest_rows(ids, scores).tolist() == [1, 1, 2, 1, 4, 4]
    assert riskiest_rows(ids[:0], scores[:0]).tolist() == []


def test_the_risk_class_weighs_the_calibrated_score() -> None:
    """A class model that reads an item benign by itself does not make an item at 0.92
    "benign": P(benign) is 1 - risk_score, each gear class the score times its share."""
    proba = np.array(
        [[0.6, 0.1, 0.1, 0.1, 0.1], [0.6, 0.1, 0.1, 0.05, 0.15], [0.1, 0.6, 0.1, 0.1, 0.1]]
    )
    scores = ItemScores(
        risk_score=np.array([0.3, 0.92, 0.3]),
        class_proba=proba,
        features=np.zeros((3, 1)),
        signals=np.zeros((3, 1)),
        first_pass=np.zeros(3),
    )
    assert scores.risk_class.tolist() == ["benign", "optics_sensors", "benign"]


def test_parcel_score_is_its_riskiest_item() -> None:
    ids = np.array(["A", "A", "B", "A"], dtype=object)
    assert parcel_scores(ids, np.array([0.1, 0.7, 0.2, 0.3])).tolist() == [0.7, 0.7, 0.2, 0.7]


def test_training_is_deterministic(synthetic_sample: pd.DataFrame) -> None:
    sample = synthetic_sample.iloc[:3000]
    first = fit_and_evaluate(sample, random_state=3)
    second = fit_and_evaluate(sample, random_state=3)
    assert first.card["metrics"] == second.card["metrics"]
    assert first.card["thresholds"] == second.card["thresholds"]
    assert fingerprint(sample) == fingerprint(sample.copy())


def test_transformers_follow_the_sklearn_contract(synthetic_sample: pd.DataFrame) -> None:
    sample = synthetic_sample.iloc[:1500]
    items = columns_of(sample)
    vectorizer = DescriptionVectorizer(min_df=1)
    assert clone(vectorizer).get_params() == vectorizer.get_params()
    matrix = vectorizer.fit(sample["description"].tolist()).transform(
        sample["description"].tolist()
    )
    assert matrix.shape == (len(sample), len(vectorizer.get_feature_names_out()))

    signals = TextSignals(n_folds=2)
    assert not hasattr(signals, "parts_")  # __init__ only stores parameters
    out = signals.fit_transform(items, sample["label_class"].to_numpy())
    # The items go on with their signals, which the form step reads together.
    assert out.items is items
    assert out.signals.shape == (len(sample), len(signals.get_feature_names_out()))
    assert list(out.names) == list(signals.get_feature_names_out())
    full = signals.transform(items)
    assert full.items is items and full.signals.shape == out.signals.shape
    np.testing.assert_array_equal(full.signals, signals.signals(items))

    form = FormFeatures().fit(out)
    assert form.signal_names_ == list(out.names)
    dense = form.transform(out)
    assert dense.shape == (len(sample), len(form.get_feature_names_out()))
    assert np.isfinite(dense).all()
    assert {form.group_of(n) for n in form.get_feature_names_out()} >= {
        "terms",
        "weight",
        "value",
        "hs_code",
        "lane",
        "category",
        "parcel",
    }


def test_fingerprint_tells_data_sets_apart_even_with_duplicate_rows() -> None:
    twice_a = pd.DataFrame({"description": ["vest", "vest"], "value": ["1", "1"]})
    twice_b = pd.DataFrame({"description": ["honey", "honey"], "value": ["2", "2"]})
    assert fingerprint(twice_a) != fingerprint(twice_b)
    assert fingerprint(twice_a) == fingerprint(twice_a.copy())


def test_rare_hs_chapters_are_read_as_one_other_chapter(tiny_training: TrainingResult) -> None:
    text = tiny_training.model.text_
    form = tiny_training.model.form_
    assert text.chapters_[-1] == OTHER_CHAPTER
    assert len(text.chapters_) <= 41
    rare = next(f"{c:02d}" for c in range(1, 98) if f"{c:02d}" not in text.chapters_)
    items = one_item("cotton T-shirt", 0.2, 12, "USD", hs_code=f"{rare}0100")
    signals = text.signals(items)
    features = form.features(items, signals)
    names = list(form.get_feature_names_out())
    other = list(text.get_feature_names_out()).index(f"chapter_logp_{OTHER_CHAPTER}")
    expected = min(max(signals[0, other], np.log(1e-3)), 0.0)
    assert features[0, names.index("hs_fit_logp")] == pytest.approx(expected)
    assert features[0, names.index("hs_missing")] == 0.0


def test_a_heading_the_nomenclature_classes_the_goods_under_fits_them(
    tiny_training: TrainingResult,
) -> None:
    # A jacket under 4203 (apparel of leather): the fit is the chance of any chapter whose
    # goods the nomenclature classes there, the declared one's and apparel's and
    # headgear's; a code of no such kind keeps its own chapter's chance.
    text = tiny_training.model.text_
    form = tiny_training.model.form_
    names = list(form.get_feature_names_out())
    text_names = list(text.get_feature_names_out())
    items = one_item("leather jacket", 1.4, 90, "USD", hs_code="420310")
    signals = text.signals(items)
    fit = form.features(items, signals)[0, names.index("hs_fit_logp")]
    own_chapter = "42" if "42" in text.chapters_ else OTHER_CHAPTER
    kinds = [own_chapter] + [c for c in ("61", "62", "65") if c in text.chapters_]
    assert len(kinds) > 1
    chances = [np.exp(signals[0, text_names.index(f"chapter_logp_{c}")]) for c in kinds]
    assert fit == pytest.approx(min(max(np.log(sum(chances)), np.log(1e-3)), 0.0))
    plain = one_item("leather jacket", 1.4, 90, "USD", hs_code="940310")
    own = text_names.index(f"chapter_logp_{'94' if '94' in text.chapters_ else OTHER_CHAPTER}")
    expected = min(max(text.signals(plain)[0, own], np.log(1e-3)), 0.0)
    plain_fit = form.features(plain, text.signals(plain))[0, names.index("hs_fit_logp")]
    assert plain_fit == pytest.approx(expected)


@pytest.mark.parametrize("rows", [1, 7, 2_000])
def test_scoring_arithmetic_is_sklearns(tiny_training: TrainingResult, rows: int) -> None:
    """`RiskModel.score` goes round the feature pipeline's `transform` (the DataFrame between
    its steps, the scaler's input checks) and `predict_proba` for speed (one declaration at a
    time); it must give what scikit-learn's own path gives, for one item, a few and many,
    on the items with each line's weight as meant (the first line typed in grams here)."""
    model = tiny_training.model
    items = tiny_training.holdout.head(rows)
    columns = columns_of(items)
    columns["net_weight_kg"] = columns["net_weight_kg"].astype(float).copy()
    columns["gross_weight_kg"] = columns["gross_weight_kg"].astype(float).copy()
    columns["net_weight_kg"][0], columns["gross_weight_kg"][0] = 5540.0, 15.57
    scores = model.score(columns)
    meant = weights_as_meant(columns)
    assert meant["net_weight_kg"][0] == pytest.approx(5.54)
    standardised = model.features_.transform(meant)
    np.testing.assert_array_equal(scores.features, standardised)
    slope, intercept = model.calibration_
    logit = model.risk_.decision_function(standardised)
    np.testing.assert_allclose(model.raw_logit(standardised), logit, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        scores.risk_score, 1 / (1 + np.exp(-(slope * logit + intercept))), rtol=1e-9
    )
    expected = pd.DataFrame(
        model.class_.predict_proba(standardised), columns=model.class_.classes_
    ).reindex(columns=list(LABEL_CLASSES), fill_value=0.0)
    np.testing.assert_allclose(scores.class_proba, expected.to_numpy(), rtol=1e-9, atol=1e-12)
    own = np.clip(standardised[:, model.first_pass_columns_], *model.first_pass_bounds_)
    np.testing.assert_allclose(
        scores.first_pass, model.first_pass_.predict_proba(own)[:, 1], rtol=1e-9
    )
    np.testing.assert_array_equal(model.first_pass_scores(columns), scores.first_pass)


def test_a_refit_forgets_what_the_old_models_cached(synthetic_sample: pd.DataFrame) -> None:
    """Signals cached per description by `transform` belong to the models that made them:
    after a refit on other rows, scoring gives what a fresh estimator gives."""
    first, second = synthetic_sample.iloc[:1200], synthetic_sample.iloc[1200:2400]
    reused = TextSignals(n_folds=2)
    reused.fit(columns_of(first), first["label_class"].to_numpy())
    reused.signals(columns_of(second))  # fills the caches with the first models' signals
    reused.fit(columns_of(second), second["label_class"].to_numpy())
    fresh = TextSignals(n_folds=2).fit(columns_of(second), second["label_class"].to_numpy())
    np.testing.assert_array_equal(
        reused.signals(columns_of(second)), fresh.signals(columns_of(second))
    )


def _odd_rows(base: dict[str, list[object]], count: int) -> dict[str, list[object]]:
    """`count` item rows cycling through forms the fast paths must read as the plain way
    does: missing, zero and odd weights, values, currencies, HS codes and quantities,
    several items to a parcel, and parties with a past."""
    forms: list[dict[str, object]] = [
        {},
        {"net_weight_kg": None},
        {"net_weight_kg": 0.0, "value": 0.0},
        {"net_weight_kg": 0.0, "value": 50.0},
        {"value": None, "currency": None},
        {"currency": "XXX"},
        {"hs_code": None},
        {"hs_code": "6"},
        {"hs_code": "9999"},
        {"hs_code": "420310"},
        {"hs_code": "6109", "description": "футболка"},
        {"quantity": None},
        {"quantity": 0.0},
        {"quantity": 3.0},
        {"quantity": 2.5},
        {"gross_weight_kg": None},
        {"gross_weight_kg": 0.0},
        {"gross_weight_kg": 40.0},
        {"category": None, "mail_class": None},
        {"origin_country": None},
        {"description": "подарок"},
        {"description": None},
        {"sender_parcels_before": 4.0, "sender_watchlisted": 1.0, "recipient_senders": 3},
        {"sender_confirmed": None, "recipient_named_gear": 2.0},
    ]
    rows = len(next(iter(base.values())))
    out: dict[str, list[object]] = {name: [] for name in base}
    out.update({name: [] for form in forms for name in form if name not in out})
    for i in range(count):
        form = forms[i % len(forms)]
        for name, values in out.items():
            if name == "declaration_id":
                values.append(f"P{i // 3}")
            elif name in form:
                values.append(form[name])
            else:
                given = base.get(name)
                values.append(given[i % rows] if given is not None else None)
    return out


@pytest.mark.parametrize("rows", [1, 3, FEW_ROWS, FEW_ROWS + 1, SMALL_INPUT + 1, 500])
def test_form_features_of_few_rows_are_the_column_wise_ones(
    tiny_training: TrainingResult, rows: int
) -> None:
    """`FormFeatures.features` works out a small input row by row in plain Python; it must
    give the column-wise transform's matrix, value for value, on holdout rows (as a frame's
    arrays and as a JSON declaration's lists) and on odd forms, below and above the cut-off."""
    model = tiny_training.model
    holdout = tiny_training.holdout.head(rows)
    frame_columns = columns_of(holdout)
    list_columns = {name: values.tolist() for name, values in frame_columns.items()}
    for items in (frame_columns, list_columns, _odd_rows(list_columns, rows)):
        signals = model.text_.signals(items)
        plain = model.form_.transform_columns(items, signals)
        fast = form_rows(model.form_.lookups(), items, signals)
        assert fast.shape == plain.shape
        assert np.array_equal(fast, plain), np.argwhere(fast != plain)[:5].tolist()
        assert np.array_equal(model.form_.features(items, signals), plain)


def test_a_parcel_with_a_net_weight_left_out_has_no_unaccounted_weight(
    tiny_training: TrainingResult,
) -> None:
    """Where a line declares no net weight, it may hold all of the gross: the parcel's
    unexplained weight is none, row by row and column by column, while a parcel whose lines
    all declare one keeps its gap."""
    model = tiny_training.model
    items = columns_of(
        pd.DataFrame(
            {
                "declaration_id": ["A", "A", "B"],
                "item_no": [1, 2, 1],
                "description": ["вещи", "конфеты", "вещи"],
                "quantity": [1.0, 1.0, 1.0],
                "net_weight_kg": [np.nan, 1.0, 1.0],
                "gross_weight_kg": [19.3, 19.3, 19.3],
                "value": [30.0, 5.0, 30.0],
                "currency": ["USD", "USD", "USD"],
            }
        )
    )
    signals = model.text_.signals(items)
    names = list(model.form_.feature_names_)
    gap = [names.index(n) for n in ("parcel_unexplained_weight", "parcel_unexplained_kilos")]
    for matrix in (
        model.form_.transform_columns(items, signals),
        form_rows(model.form_.lookups(), items, signals),
    ):
        assert np.all(matrix[:2, gap] == 0.0)
        assert np.all(matrix[2, gap] > 0.0)


def test_a_vague_description_is_no_text_evidence(tiny_training: TrainingResult) -> None:
    """ "киім", "giysi", "одежда" say nothing of what is inside: whatever language a writer
    (or a smuggler) prefers, their text reads as the average training line's, and what a
    vague line is worth is left to the form (`vague`, its weight, its worth)."""
    text = tiny_training.model.text_
    neutral = text.parts_["neutral_text"]
    signals = text.signals_for(["киім", "giysi", "Одежда.", "бронежилет одежда"])
    classes = slice(0, len(RISK_CLASSES))
    for vague in signals[:3]:
        assert np.allclose(vague[classes], neutral, rtol=1e-6)
    # A description that also names goods is read as written.
    assert not np.allclose(signals[3][classes], neutral, rtol=1e-6)
    # The average training line leans away from every gear class.
    assert np.all(neutral < 0)


def _sender_parcels(first: dict[str, list[object]], later: dict[str, list[object]]) -> dict:
    """Two parcels of one sender, a month apart, as one file's item columns."""
    both = {name: [*first[name], *later[name]] for name in first}
    both["declaration_id"] = ["E1", "L1"]
    both["sender_id"] = ["S-1", "S-1"]
    both["recipient_id"] = ["R-1", "R-2"]
    both["posted_at"] = pd.to_datetime(["2026-01-05", "2026-02-05"]).to_numpy()
    return both


def test_a_senders_earlier_parcel_that_reads_as_gear_raises_the_next(
    tiny_training: TrainingResult,
) -> None:
    """The parties' earlier parcels are read by their first-pass scores: the same plain
    parcel scores higher after the sender mailed armour, and its own first pass does not
    move (no parcel's final score feeds the next)."""
    model = tiny_training.model
    names = model.feature_names
    for feature in PRIOR_SCORE_FEATURES:
        assert names.index(feature) not in model.first_pass_columns_
    plain = one_item("куртка зимняя", 2.0, 3000, "RUB")
    after_armour = model.score_together(
        _sender_parcels(one_item("Бронежилет с плитами 6Б45", 9.5, 3000, "RUB"), plain)
    )
    after_tea = model.score_together(_sender_parcels(one_item("茶叶 普洱", 0.5, 200, "CNY"), plain))
    assert after_armour.risk_score[1] > after_tea.risk_score[1]
    # And the trees credit the difference to the sender's earlier parcel.
    prior = [names.index(feature) for feature in PRIOR_SCORE_FEATURES]
    credited = model.contributions(after_armour.features[1:])[0, prior].sum()
    assert credited > model.contributions(after_tea.features[1:])[0, prior].sum()
    assert after_armour.first_pass[1] == pytest.approx(after_tea.first_pass[1])
    # The earlier parcel itself has no earlier parcel: read as alone.
    alone = model.score(one_item("Бронежилет с плитами 6Б45", 9.5, 3000, "RUB"))
    assert after_armour.risk_score[0] == pytest.approx(alone.risk_score[0])


def test_prior_scores_are_counted_among_the_items_and_keep_the_stores() -> None:
    items = _sender_parcels(one_item("a", 1.0, 1, "USD"), one_item("b", 1.0, 1, "USD"))
    counted = with_prior_scores(items, np.array([0.9, 0.2]))
    assert counted["sender_prior_score"].tolist() == [0.0, 0.9]
    assert counted["recipient_prior_score"].tolist() == [0.0, 0.0]
    # A prior the store gave (a parcel of the sender outside these items) stands if higher.
    items["sender_prior_score"] = np.array([0.95, 0.1])
    counted = with_prior_scores(items, np.array([0.9, 0.2]))
    assert counted["sender_prior_score"].tolist() == [0.95, 0.9]


def test_each_training_repeat_of_a_written_parcel_is_a_parcel_of_its_own(
    tiny_training: TrainingResult,
) -> None:
    """Training counts written rows many times: each repeat must read as the parcel it is,
    not as one parcel of every repeat's lines (60 repeats of a 2 kg line in a 9 kg parcel
    would leave no kilos unexplained)."""
    model = tiny_training.model
    parcel = {
        "declaration_id": ["W1", "W1", "W1"],
        "description": ["куртка", "ботинки", "чай"],
        "net_weight_kg": [1.0, 1.0, 0.5],
        "gross_weight_kg": [9.0, 9.0, 9.0],
        "quantity": [1.0, 1.0, 1.0],
        "value": [3000.0, 2000.0, 500.0],
        "currency": ["RUB", "RUB", "RUB"],
    }
    alone = model.score(parcel).features  # few rows: the row-by-row path
    repeated = {name: values * 3 for name, values in parcel.items()}
    repeated[REPEAT_COLUMN] = [0, 0, 0, 1, 1, 1, 2, 2, 2]  # nine rows: the column path
    assert len(repeated["description"]) > FEW_ROWS
    np.testing.assert_allclose(model.score(repeated).features, np.vstack([alone] * 3))
    # Without the repeat column the nine rows are one parcel of nine lines.
    del repeated[REPEAT_COLUMN]
    names = model.feature_names
    merged = model.score(repeated).features[0, names.index("parcel_unexplained_weight")]
    assert merged < alone[0, names.index("parcel_unexplained_weight")]


def test_the_first_pass_reads_no_feature_past_the_range_training_saw(
    tiny_training: TrainingResult,
) -> None:
    """A counter weight typed 33.5 for 3.35 kg leaves 31 kg "not accounted for": the linear
    first pass reads it as the largest gap its training rows had, not as certainty, so
    the parties' later parcels are not raised by a typo."""
    model = tiny_training.model
    features = model.score(columns_of(tiny_training.holdout.head(3))).features
    names = np.array(model.feature_names)
    gap = int(np.flatnonzero(names == "parcel_unexplained_weight")[0])
    edge = model.first_pass_bounds_[1][list(model.first_pass_columns_).index(gap)]
    at_edge, far_past = features.copy(), features.copy()
    at_edge[:, gap] = edge
    far_past[:, gap] = edge + 50.0
    np.testing.assert_array_equal(model._first_pass(far_past), model._first_pass(at_edge))
    # Inside the range the feature still moves it.
    inside = features.copy()
    inside[:, gap] = edge - 1.0
    assert not np.array_equal(model._first_pass(inside), model._first_pass(at_edge))


def test_physical_facts_that_rise_with_risk_never_lower_it(tiny_training: TrainingResult) -> None:
    """More kilos than the kind of goods weighs, less worth than it is worth, kilos the lines
    do not account for: the trees weigh each as they learned, but more of it never reads as
    less risk, whatever the rest of the form says."""
    model = tiny_training.model
    names = model.feature_names
    assert len(names) == model.risk_.n_features_in_
    forms = np.random.default_rng(0).normal(size=(300, len(names)))  # standardised rows
    grid = np.linspace(-3.0, 6.0, 31)
    for name in RISES_WITH_RISK:
        j = names.index(name)
        logits = []
        for value in grid:
            forms[:, j] = value
            logits.append(model.raw_logit(forms))
        assert np.all(np.diff(np.array(logits), axis=0) >= -1e-9), name


def test_item_columns_keep_numbers_unboxed_and_score_as_boxed_ones(
    tiny_training: TrainingResult, synthetic_sample: pd.DataFrame
) -> None:
    # Numbers stay float arrays (boxing millions of training rows into Python floats cost
    # every later step); a model reads them exactly as it reads the same values as objects.
    frame = synthetic_sample.iloc[:400]
    items = columns_of(frame)
    assert items["net_weight_kg"].dtype == np.float64
    assert items["description"].dtype == object
    boxed = {name: np.asarray(values, dtype=object) for name, values in items.items()}
    model = tiny_training.model
    native, plain = model.score_together(items), model.score_together(boxed)
    np.testing.assert_array_equal(native.risk_score, plain.risk_score)
    np.testing.assert_array_equal(native.class_proba, plain.class_proba)


def test_calibrating_returns_the_scores_the_calibrated_model_gives(
    tiny_training: TrainingResult,
) -> None:
    """`calibrate` hands back the held-out items' scores rather than have them read again:
    they are exactly what `score_together` gives once the calibration is set."""
    model = copy.copy(tiny_training.model)  # the fitted models shared, the calibration not
    items = columns_of(tiny_training.holdout)
    returned = model.calibrate(items, tiny_training.holdout["label"].to_numpy())
    assert model.calibration_ == pytest.approx(tiny_training.model.calibration_)
    again = model.score_together(items)
    for name in ("risk_score", "class_proba", "features", "signals", "first_pass"):
        np.testing.assert_array_equal(getattr(returned, name), getattr(again, name))
