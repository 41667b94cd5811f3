from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from training.features import DescriptionVectorizer
from training.text import (
    _matching_text,
    is_count,
    is_measure,
    matching_text,
    transliterate,
    word_stem,
)


@pytest.mark.parametrize(
    "spelling",
    ["БРОНЕЖИЛЕТ", "бронежилет", "bronezhilet", "Бронежилет б/у", "бpoнeжилeт"],
)
def test_spellings_of_one_word_share_the_transliterated_form(spelling: str) -> None:
    assert "bronezhilet" in matching_text(spelling)


def test_homoglyphs_fold_to_the_script_of_the_word() -> None:
    # Latin "p", "o", "e" typed inside a Cyrillic word become Cyrillic.
    assert matching_text("бpoнeжилeт").startswith("бронежилет")
    # A Cyrillic "о" inside a Latin word becomes Latin.
    assert matching_text("vest bоdy") == "vest body"


def test_latin_accents_are_stripped_but_cyrillic_letters_kept() -> None:
    assert matching_text("Hełm balistyczny") == "helm balistyczny"
    assert matching_text("Wärmebild") == "warmebild"
    assert matching_text("йод").startswith("йод")


def test_transliteration_spelling_variants_meet() -> None:
    assert matching_text("zhilet razgruzochnyj") == matching_text("zhilet razgruzochnyy")
    assert matching_text("маскхалат").endswith("maskhalat")
    assert transliterate("щит") == "shchit"


def test_vectorizer_puts_spellings_close_together() -> None:
    corpus = ["бронежилет", "bronezhilet", "футболка хлопок", "cotton t-shirt", "мёд", "honey"]
    vectorizer = DescriptionVectorizer(min_df=1).fit(corpus)
    matrix = vectorizer.transform(["БРОНЕЖИЛЕТ", "bronezhilet", "cotton t-shirt"])
    similarity = (matrix @ matrix.T).toarray()
    assert similarity[0, 1] > 0.5
    assert similarity[0, 1] > similarity[0, 2]


def test_chinese_is_covered_by_character_ngrams() -> None:
    vectorizer = DescriptionVectorizer(min_df=1).fit(["防弹衣", "衣服", "蜂蜜"])
    names = set(vectorizer.get_feature_names_out())
    assert "char:防弹" in names


def test_fitting_and_transforming_in_one_pass_is_fitting_then_transforming(
    synthetic_sample: Any,
) -> None:
    """Training vectorises its texts in the pass that fits (sklearn's `fit_transform`);
    scoring later through `transform`. The two agree within float32 rounding."""
    texts = [*synthetic_sample["description"].dropna().unique().tolist(), "", "防弹衣 插板"]
    together = DescriptionVectorizer().fit_transform(texts)
    fitted = DescriptionVectorizer().fit(texts)
    apart = fitted.transform(texts)
    assert together.shape == apart.shape == (len(texts), len(fitted.get_feature_names_out()))
    assert together.dtype == apart.dtype == np.float32
    assert ((together != 0) != (apart != 0)).nnz == 0
    np.testing.assert_allclose(together.toarray(), apart.toarray(), rtol=0, atol=1e-6)


def test_vectorizer_pickles_its_vocabulary_compactly_and_intact() -> None:
    import pickle

    corpus = ["бронежилет 6б45", "bronezhilet", "cotton t-shirt", "防弹衣 插板", "t-shirt \x00x"]
    vectorizer = DescriptionVectorizer(min_df=1).fit(corpus)
    vocabularies = [dict(vectorizer.char_.vocabulary_), dict(vectorizer.word_.vocabulary_)]
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert [restored.char_.vocabulary_, restored.word_.vocabulary_] == vocabularies
    # Pickling leaves the vectorizer it was made from as it was.
    assert [vectorizer.char_.vocabulary_, vectorizer.word_.vocabulary_] == vocabularies
    assert (restored.transform(corpus) != vectorizer.transform(corpus)).nnz == 0


def test_ascii_takes_a_shortcut_to_the_same_matching_text(synthetic_sample: Any) -> None:
    odd = ["".join(chr(c) for c in range(128)), " Plate\x1cCARRIER\x0b kh ja ", "\t", "iJ shh"]
    texts = [*synthetic_sample["description"].dropna().unique().tolist(), *odd]
    ascii_texts = [t for t in texts if t.isascii()]
    assert len(ascii_texts) > 100
    for text in ascii_texts:
        assert matching_text(text) == _matching_text(text), text


def test_the_installed_stemmers_stem_as_snowballs_reference_ones() -> None:
    """snowballstemmer runs Snowball's C stemmers when PyStemmer is installed: fifteen times
    faster, and they must give the stems of its own Python stemmers (the model's words and
    the catalogue's lookups rest on them), here on every word of the goods catalogue."""
    import re

    import snowballstemmer
    from snowballstemmer.armenian_stemmer import ArmenianStemmer
    from snowballstemmer.english_stemmer import EnglishStemmer
    from snowballstemmer.russian_stemmer import RussianStemmer

    from training import knowledge

    words = sorted(
        {
            word
            for kind in knowledge.goods_catalogue()
            for phrasing in kind.names.phrasings
            for word in re.findall(r"\w+", phrasing.text.casefold())
        }
    )
    for language, reference in (
        ("russian", RussianStemmer()),
        ("english", EnglishStemmer()),
        ("armenian", ArmenianStemmer()),
    ):
        installed = snowballstemmer.stemmer(language)
        assert installed.stemWords(words) == reference.stemWords(words), language


def test_a_word_stem_meets_the_other_forms_of_the_word() -> None:
    assert word_stem("одежду") == word_stem("Одежда") == word_stem("одежды")
    assert word_stem("Boots") == word_stem("boot")
    assert word_stem("бронежилеты") != word_stem("одежда")
    # Scripts without a stemmer keep the word, casefolded.
    assert word_stem("防弹衣") == "防弹衣"


@pytest.mark.parametrize("word", ["x2", "3шт", "pcs", "2块", "10双", "3箱"])
def test_a_count_is_a_count(word: str) -> None:
    assert is_count(word)


@pytest.mark.parametrize("word", ["6Б45", "640x512", "防弹衣", "бронежилет", "Mavic"])
def test_a_name_or_designation_is_no_count(word: str) -> None:
    assert not is_count(word)
    assert not is_measure(word)


@pytest.mark.parametrize("word", ["3000m", "48W", "5000mAh", "20кг", "1.5l", "128GB"])
def test_a_number_and_its_unit_is_a_measure(word: str) -> None:
    assert is_measure(word)
