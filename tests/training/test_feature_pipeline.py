"""The feature stack is one scikit-learn Pipeline: text signals, form features, floored
scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from training.features import (
    BORROWED_WORDING,
    REPEAT_COLUMN,
    FlooredScaler,
    FormFeatures,
    ItemSignals,
    TextSignals,
    feature_pipeline,
)
from training.features.text_signals import _shares_a_stem, _with_spellings
from training.history import PRIOR_SCORE_FEATURES
from training.model import RiskModel, columns_of
from training.text import word_stem
from training.train import TrainingResult


def test_the_model_holds_its_features_as_an_sklearn_pipeline(
    tiny_training: TrainingResult,
) -> None:
    model = tiny_training.model
    pipeline = model.features_
    assert isinstance(pipeline, Pipeline)
    assert [name for name, _ in pipeline.steps] == ["text", "form", "scale"]
    assert isinstance(model.text_, TextSignals) and model.text_ is pipeline["text"]
    assert isinstance(model.form_, FormFeatures) and model.form_ is pipeline["form"]
    assert isinstance(model.scaler_, FlooredScaler) and model.scaler_ is pipeline["scale"]

    # Names chain through the steps: the signals, then the named form features, kept by
    # the scaler.
    signal_names = list(model.text_.get_feature_names_out())
    assert list(pipeline[:1].get_feature_names_out()) == signal_names
    assert model.form_.signal_names_ == signal_names
    form_names = list(model.form_.get_feature_names_out())
    assert list(pipeline[:-1].get_feature_names_out()) == form_names
    assert list(pipeline.get_feature_names_out()) == form_names == model.feature_names
    # One-hot columns, and only they, have their spread floored.
    np.testing.assert_array_equal(model.scaler_.floored_, model.form_.indicator_mask())

    # A clone is the same pipeline unfitted.
    unfitted = clone(pipeline)
    assert unfitted.get_params(deep=False).keys() == pipeline.get_params(deep=False).keys()
    assert repr(unfitted) == repr(feature_pipeline(model.random_state))
    for (_, fresh), (_, fitted) in zip(unfitted.steps, pipeline.steps, strict=True):
        assert fresh is not fitted and fresh.get_params() == fitted.get_params()
    assert not hasattr(unfitted["text"], "parts_")
    assert not hasattr(unfitted["scale"], "scale_")


def test_fitting_the_pipeline_alone_gives_the_models_features(
    synthetic_sample: pd.DataFrame,
) -> None:
    """Below max_form_rows (no sample taken), `RiskModel.fit` fits the feature pipeline as
    `Pipeline.fit_transform` does: a clone fitted on its own gives the same numbers, but
    for the parties' earlier scores, which the model counts from its own first pass."""
    sample = synthetic_sample.iloc[:2000].reset_index(drop=True)
    items = columns_of(sample)
    classes = sample["label_class"].to_numpy()
    model = RiskModel(random_state=3).fit(items, classes, label=sample["label"].to_numpy())
    pipeline = clone(model.features_)
    out_of_fold = pipeline.fit_transform(items, classes)
    own = model.first_pass_columns_
    assert [
        model.feature_names[i] for i in np.setdiff1d(range(len(model.feature_names)), own)
    ] == list(PRIOR_SCORE_FEATURES)

    # Equal but for the order of summation (the model refits its scaler on a copy).
    np.testing.assert_allclose(pipeline["scale"].mean_[own], model.scaler_.mean_[own], rtol=1e-12)
    np.testing.assert_allclose(pipeline["scale"].scale_[own], model.scaler_.scale_[own], rtol=1e-12)
    assert out_of_fold.shape == (len(sample), len(model.feature_names))
    # transform scores with the text models fitted on every row, as the model does.
    np.testing.assert_allclose(
        pipeline.transform(items)[:, own],
        model.score(items).features[:, own],
        rtol=1e-9,
        atol=1e-12,
    )
    # The training items had no earlier scores; the model read some (repeat senders).
    assert (model.scaler_.mean_[~np.isin(range(len(model.feature_names)), own)] > 0).all()
    assert not np.array_equal(out_of_fold, pipeline.transform(items))


def test_the_text_learns_no_gear_from_wording_the_generator_borrowed(
    synthetic_sample: pd.DataFrame,
) -> None:
    """A cover the generator picked for helmets is honest traffic's wording: its borrowed
    uses teach the gear model nothing, while honest lines of its words still count (a
    made-up name here, so these lines alone teach it). The honest lines are worded apart
    from the cover: the text classifier's last steps over one text labelled both ways
    swing with the order it visits them in (docs/decisions.md, "Trees for the risk
    score")."""
    sample = synthetic_sample.iloc[:3000].reset_index(drop=True)
    cover = pd.DataFrame(
        {
            "description": ["Zorvex Kastro"] * 30 + ["Zorvex"] * 10,
            "label": [1] * 30 + [0] * 10,
            "label_class": ["helmet"] * 30 + ["benign"] * 10,
        }
    )
    frame = pd.concat([sample, cover], ignore_index=True)
    classes = frame["label_class"].to_numpy()

    def helmet_leaning(borrowed: np.ndarray | None) -> float:
        items = columns_of(frame)
        if borrowed is not None:
            items[BORROWED_WORDING] = borrowed
        text = TextSignals(random_state=0).fit(items, classes)
        names = list(text.get_feature_names_out())
        return float(text.signals_for(["Zorvex Kastro"])[0, names.index("text_helmet")])

    learnt = helmet_leaning(None)
    borrowed = np.zeros(len(frame), dtype=bool)
    borrowed[len(sample) : len(sample) + 30] = True
    assert learnt > 0 > helmet_leaning(borrowed)


def test_a_written_lines_wording_is_taught_from_its_first_repeats_only(
    synthetic_sample: pd.DataFrame,
) -> None:
    """Training repeats a written line to weigh it against the generator's rows; the gear
    model learns its words from the first ten repeats, so forty teach what ten do, and
    five teach less."""
    sample = synthetic_sample.iloc[:3000].reset_index(drop=True)

    def helmet_leaning(repeats: int) -> float:
        written = pd.DataFrame(
            {
                "description": ["Zorvex Kastro"] * repeats,
                "label": [1] * repeats,
                "label_class": ["helmet"] * repeats,
                REPEAT_COLUMN: np.arange(repeats, dtype=float),
            }
        )
        frame = pd.concat([sample, written], ignore_index=True)
        text = TextSignals(random_state=0).fit(columns_of(frame), frame["label_class"].to_numpy())
        names = list(text.get_feature_names_out())
        return float(text.signals_for(["Zorvex Kastro"])[0, names.index("text_helmet")])

    taught = helmet_leaning(10)
    assert helmet_leaning(40) == taught
    assert helmet_leaning(5) < taught


def test_the_text_models_fit_the_same_in_threads_as_in_one(
    synthetic_sample: pd.DataFrame,
) -> None:
    """The text classifiers fit their classes in threads to save time in training; each
    class's seed is drawn before they start, so the signals are those of a single thread."""
    sample = synthetic_sample.iloc[:3000].reset_index(drop=True)
    items, classes = columns_of(sample), sample["label_class"].to_numpy()
    alone = TextSignals(random_state=0, n_jobs=1)
    threaded = TextSignals(random_state=0, n_jobs=2)
    np.testing.assert_array_equal(
        threaded.fit_transform(items, classes).signals,
        alone.fit_transform(items, classes).signals,
    )
    texts = ["бронежилет", "куртка мужская", "phone case", "тепловизор"]
    np.testing.assert_array_equal(threaded.signals_for(texts), alone.signals_for(texts))


def test_a_word_known_only_from_gear_lines_gives_no_expectation(
    synthetic_sample: pd.DataFrame,
) -> None:
    """The weight and value models learn from honest goods only: a word of gear lines alone
    leaves their expectation a guess from its letters, so it is not called known; a word
    honest lines use is."""
    sample = synthetic_sample.iloc[:3000].reset_index(drop=True)
    gear = pd.DataFrame(
        {
            "description": ["Zorvexmesser", "Zorvexmesser pro"] * 10
            + ["Zorvex", "Zorvex blau"] * 10,
            "label": [1] * 20 + [0] * 20,
            "label_class": ["optics_sensors"] * 20 + ["benign"] * 20,
        }
    )
    frame = pd.concat([sample, gear], ignore_index=True)
    text = TextSignals(random_state=0).fit(columns_of(frame), frame["label_class"].to_numpy())
    names = list(text.get_feature_names_out())
    known = text.signals_for(["Zorvexmesser", "Zorvex", "Zorvex Zorvexmesser"])[
        :, names.index("expectation_confidence")
    ]
    assert known.tolist() == [0.0, 1.0, 0.5]


def test_goods_the_text_does_not_know_are_expected_as_their_hs_code_s_most_specific_level(
    synthetic_sample: pd.DataFrame,
) -> None:
    """Ovens declared under their subheading are expected at an oven's weight, not at that
    of the irons that make most of their heading (as microwave ovens under 851650 against the
    irons and hair dryers of 8516); a code whose subheading few honest lines were declared
    under falls back on its heading, and a heading typed alone says nothing of any
    subheading. (Codes of chapter 99, which no generated line uses.)"""
    sample = synthetic_sample.iloc[:3000].reset_index(drop=True)
    honest = pd.DataFrame(
        {
            "description": ["Zorvex ofen"] * 6 + ["Zorvex eisen"] * 20 + ["Zorvex"] * 9,
            "hs_code": ["9919500000"] * 6 + ["9919400000"] * 20 + ["9919"] * 9,
            "quantity": [1.0] * 35,
            "net_weight_kg": [12.0] * 6 + [1.0] * 20 + [30.0] * 9,
            "value": [120.0] * 6 + [20.0] * 20 + [30.0] * 9,
            "currency": ["USD"] * 35,
            "label": [0] * 35,
            "label_class": ["benign"] * 35,
        }
    )
    frame = pd.concat([sample, honest], ignore_index=True)
    text = TextSignals(random_state=0).fit(columns_of(frame), frame["label_class"].to_numpy())
    oven, iron, other, heading, none = text.hs_expectations(
        ["9919500000", "991940", "9919909000", "9919", None]
    )
    assert oven is not None and oven[0] == "991950"
    assert oven[1] == pytest.approx(12.0) and oven[2] == pytest.approx(10.0)
    assert iron is not None and iron[0] == "991940" and iron[1] == pytest.approx(1.0)
    # No honest line under 851690: the heading's median line, an iron's weight, stands.
    assert other is not None and other[0] == "9919" and other[1] == pytest.approx(1.0)
    assert heading == other
    assert none is None
    assert all(len(code) == 6 for code in text.hs_expectations_["subheading"])


def test_wording_whose_honest_lines_stray_widely_learns_a_wider_spread(
    synthetic_sample: pd.DataFrame,
) -> None:
    """Beside what honest goods of a wording weigh and cost, the text models learn how far
    their lines stray from it: reasons call a weight off only beyond that."""
    sample = synthetic_sample.iloc[:3000].reset_index(drop=True)
    honest = pd.DataFrame(
        {
            "description": ["Zorvex tee"] * 30 + ["Qwimbo sensor"] * 30,
            "quantity": [1.0] * 60,
            "net_weight_kg": [0.2] * 30 + [0.05, 0.3, 3.0] * 10,
            "value": [10.0] * 30 + [20.0, 30.0, 30.0] * 10,
            "currency": ["USD"] * 60,
            "label": [0] * 60,
            "label_class": ["benign"] * 60,
        }
    )
    frame = pd.concat([sample, honest], ignore_index=True)
    text = TextSignals(random_state=0).fit(columns_of(frame), frame["label_class"].to_numpy())
    tight, wide = text.expectation_spreads(["Zorvex tee", "Qwimbo sensor"])
    assert wide[0] > 2 * tight[0]  # weight per unit
    assert wide[1] > 2 * tight[1]  # USD per kg: the sensors' 10 to 400, the tees' 50
    assert np.isfinite(text.expectation_spreads(["never seen wording"])).all()


def test_repeats_share_the_form_features_of_their_first_row(
    synthetic_sample: pd.DataFrame,
) -> None:
    """Training computes the form features once per kind of repeated row and copies them:
    the same matrix as the form step over every row, a parcel listing one line twice
    included."""
    from training.features import repeat_twins

    sample = synthetic_sample.iloc[:2000].reset_index(drop=True)
    written = sample.iloc[:40].copy()
    written["declaration_id"] = "CP000000001RU"  # one parcel...
    written.iloc[1] = written.iloc[0]  # ...that lists a line twice
    written["declaration_id"] = written["declaration_id"].where(written.index < 3, "CP2")
    repeats = [written.assign(**{REPEAT_COLUMN: float(k)}) for k in range(3)]
    frame = pd.concat([sample, *repeats], ignore_index=True)
    items, classes = columns_of(frame), frame["label_class"].to_numpy()
    signals = TextSignals(random_state=0).fit_transform(items, classes)
    form = FormFeatures().fit(signals)

    first, twin = repeat_twins(items)
    assert len(first) == len(sample) + len(written)
    once = form.transform(
        ItemSignals(
            {name: np.asarray(values)[first] for name, values in items.items()},
            signals.signals[first],
            signals.names,
        )
    )
    np.testing.assert_array_equal(once[twin], form.transform(signals))


@pytest.mark.parametrize(
    ("gross", "declared", "read"),
    [
        (3056.0, 2.68, 3.056),  # a counter's grams
        (33.0, 0.02, 0.033),  # ...none weighs 33 kg with a 20 g letter in it
        (8.942, 0.4, 8.942),  # kilos over understated lines: what gives gear away
        (8.9, 0.01, 8.9),  # a parcel may weigh 8.9 kg whatever its lines say...
        (61.2, 57.81, 61.2),  # a heavy courier shipment
        (67.8, 5.57, 67.8),  # in grams it would weigh less than its lines
        (3000.0, 0.0, 3000.0),  # no line weights to tell
        (float("nan"), 1.0, float("nan")),
    ],
)
def test_a_gross_weight_is_read_as_grams_only_where_it_can_only_be_grams(
    gross: float, declared: float, read: float
) -> None:
    from training.gross_weight import gross_in_kg

    np.testing.assert_allclose(gross_in_kg(gross, declared), read)
    np.testing.assert_allclose(gross_in_kg(np.array([gross]), np.array([declared])), [read])


@pytest.mark.parametrize(
    ("net", "quantity", "gross", "read"),
    [
        (5540.0, 4.0, 15.57, 5.54),  # four bicycle helmets in grams, in a 15.6 kg parcel
        (58.0, 1.0, 1.08, 0.058),  # a photo of 58 g in a 1.1 kg parcel
        (6150.0, 1.0, float("nan"), 6.15),  # one box of spare parts, no gross to compare
        (61.5, 1.0, float("nan"), 61.5),  # may be 6.15 kg as well: left as typed
        (72.0, 100.0, float("nan"), 72.0),  # a courier's hundred trousers
        (36.6, 120.0, 100.7, 36.6),  # lighter than the parcel: kilograms
        (25.0, 1.0, 1.0, 25.0),  # under what a parcel may weigh: a typo of another kind
        (float("nan"), 1.0, 2.0, float("nan")),
    ],
)
def test_a_line_weight_is_read_as_grams_only_where_it_cannot_be_kilograms(
    net: float, quantity: float, gross: float, read: float
) -> None:
    from training.features.measures import weights_as_meant
    from training.gross_weight import net_in_kg

    np.testing.assert_allclose(net_in_kg(net, quantity, gross), read)
    items = {
        "net_weight_kg": np.array([net]),
        "quantity": np.array([quantity]),
        "gross_weight_kg": np.array([gross]),
    }
    np.testing.assert_allclose(weights_as_meant(items)["net_weight_kg"], [read])


def test_a_wording_of_one_written_line_repeated_is_thin() -> None:
    """One writer's "датчик" repeated in training is that line's weight, not a kind of goods,
    even beside a generated row of the same wording; a wording two written lines share, or
    one many generated rows share with a written line, is not thin."""
    from training.features.text_signals import _thin_wordings
    from training.text import matching_text

    texts = ["датчик", "Датчик", "футболка", "жилет", "шарф", "чай"]
    # Rows (code, honest, first copy, written): "датчик" a written line's four repeats and a
    # generated row, "Датчик" a gear line (the same wording, read alike); "футболка" two
    # written lines, twice each; "жилет" one generated row; "шарф" a written gear line;
    # "чай" a written line's two repeats beside six generated rows.
    rows = [
        (0, 1, 1, 1), (0, 1, 0, 1), (0, 1, 0, 1), (0, 1, 0, 1), (0, 1, 1, 0), (1, 0, 1, 1),
        (2, 1, 1, 1), (2, 1, 0, 1), (2, 1, 1, 1), (2, 1, 0, 1), (3, 1, 1, 0),
        (4, 0, 1, 1), (4, 0, 0, 1),
        (5, 1, 1, 1), (5, 1, 0, 1), *[(5, 1, 1, 0)] * 6,
    ]  # fmt: skip
    codes, benign, lines, written = (np.array(column) for column in zip(*rows, strict=True))
    thin = _thin_wordings(texts, codes, benign == 1, lines == 1, written == 1)
    assert thin == {matching_text("датчик")}


def test_a_stem_is_searched_among_honest_words_as_stemming_them_all_finds_it() -> None:
    """`_shares_a_stem` stems only the honest words that start as a word's stem does; it
    must answer as stemming every honest word would."""
    honest = frozenset(
        {"одежда", "берёзовый", "пиёла", "cry", "boot", "jacket", "kiyim", "футболка", "вело"}
    )
    stems = {word_stem(w) for w in honest}
    ordered = sorted({w.replace("ё", "е") for w in honest})
    words = ["одежду", "Одежды", "берёзовая", "березовая", "пиёлы", "cries", "Boots", "jackets"]
    words += ["kiyimlar", "футболки", "велосипед", "бронежилет", "防弹衣", "x"]
    for word in words:
        assert _shares_a_stem(word, ordered) == (word_stem(word) in stems), word
    assert _shares_a_stem("одежду", ordered) and not _shares_a_stem("бронежилет", ordered)


def test_honest_chinese_words_are_honest_in_pinyin_too() -> None:
    """ "头盔" (helmet) heads honest compounds (a motorcycle helmet): a seller typing it in
    pinyin writes "toukui", which a reason must not call typical of a ballistic helmet."""
    spellings = _with_spellings(frozenset({"摩托车头盔", "одежда"}))
    assert {"摩托车头盔", "motuoche", "toukui", "одежда", "odezhda"} <= spellings
