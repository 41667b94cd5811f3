"""What a description's words say of its goods, read as an officer reads them: whether it
names goods at all (beyond the commonest words), names them in words of its own, lists
several kinds ("одежда, обувь, игрушки"), is a bag of things under a vague word ("вещи
личные", "bola kiyimlari"), or is written only in the words of the gear nomenclature.
Reasons use these to decide what may be said of a line; nothing here moves a score.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import numpy as np

from training import knowledge
from training.common_words import is_common
from training.text import word_stem

# What joins several kinds of goods in one line: commas, semicolons, "+", "and" words.
_LIST: Final = re.compile(r"[,;+&]|\s(?:и|and|und|i|va|və|ва|жана|եւ|და)\s", re.IGNORECASE)


def lists_goods(description: str) -> bool:
    """Whether a line lists several goods: joined by commas or "and" words, or named word
    by word ("odejda obuv": `knowledge.names_several_goods`)."""
    return _LIST.search(description) is not None or knowledge.names_several_goods(description)


@lru_cache(maxsize=1)
def _vague_latin() -> frozenset[str]:
    """The vague words as senders also type them in Latin letters ("veshi b/u")."""
    return frozenset(
        _latin_key(knowledge.transliterate(word)) for word in knowledge.vague_descriptions()
    )


def _latin_key(text: str) -> str:
    # Senders write щ as "shch", "sch" or "sh" ("veshchi", "veshi"): one key for all.
    return re.sub(r"shch|shh|sch", "sh", text.casefold().strip(" .,!"))


# A word of a description: letters and digits, as the word lists hold them.
_WORD: Final = re.compile(r"\w+")


@lru_cache(maxsize=20_000)
def names_goods(description: str) -> bool:
    """Whether a description has a word beyond the commonest words of the lanes' languages."""
    return any(not is_common(word) for word in _WORD.findall(description))


def names_goods_itself(description: str) -> bool:
    """Whether a description names a kind of goods in words of its own ("бинокль",
    "рюкзак"): a word beyond the commonest words, and no vague word in any of its forms
    (`is_vague_word`) nor vague phrase ("одежда мужская" is clothes, whatever its adjective;
    "личные вещи" are things) unless a word beside it names a kind ("образцы плитки" are
    tiles). A word of a vague phrase is not vague alone: "личные наушники" are headphones,
    "блины для штанги" barbell plates."""
    words = _WORD.findall(description.casefold())
    if not any(not is_common(w) for w in words):
        return False
    vague = _vague_positions(words)
    return not vague or _name_a_kind([w for i, w in enumerate(words) if i not in vague])


def is_everyday_name(description: str) -> bool:
    """Whether a description is only the plain name of everyday goods, one word that at
    least three kinds of honest goods are written with (`knowledge.everyday_words`:
    "Ботинки", "etik", "Бинокль", "жилет"). Officers at three posts would not stop a parcel
    because such a word is "often declared for" kit: every honest sender of boots writes
    it, and disguises borrow it at that rate. What such a line weighs or is worth still
    speaks."""
    words = [w for w in _WORD.findall(description.casefold()) if not is_common(w)]
    return len(words) == 1 and words[0] in knowledge.everyday_words()


# Endings the Turkic languages of the lanes add to a noun ("kiyim-i", "киім-дер",
# "parça-lar", Turkmen "eşik-leri", "zat-lary"): a vague word with one of them is still that
# word.
_TURKIC_ENDINGS: Final = frozenset(
    {"i", "ı", "u", "ü", "si", "sı", "su", "sü", "lar", "ler", "lari", "ları", "leri"}
    | {"y", "sy", "lary"}
    | {"і", "ы", "и", "сы", "сі", "лар", "лер", "дар", "дер", "тар", "тер"}
)
# The shortest vague word found as the tail of a compound ("авто-запчасти", "спец-одежда"):
# shorter ones end everyday words ("m-other").
_LEAST_VAGUE_TAIL: Final = 6


@lru_cache(maxsize=1)
def _vague_entries() -> tuple[frozenset[str], frozenset[str], dict[str, list[tuple[str, ...]]]]:
    """The vague descriptions of one word ("одежда", "kiyim", "gift"), their stems, and
    those of several words as word tuples ("личные вещи", "yedek parça") by their first
    word, so a description is matched only against the phrases its words can begin."""
    entries = [tuple(_WORD.findall(entry.casefold())) for entry in knowledge.vague_descriptions()]
    single = frozenset(words[0] for words in entries if len(words) == 1)
    stems = frozenset(word_stem(word) for word in single)
    phrases: dict[str, list[tuple[str, ...]]] = {}
    for words in entries:
        if len(words) > 1:
            phrases.setdefault(words[0], []).append(words)
    return single, stems, phrases


@lru_cache(maxsize=50_000)
def is_vague_word(word: str) -> bool:
    """Whether a word (casefolded) is alone a vague description ("одежда", "вещи",
    "kiyim"), in any grammatical form ("одежду", "kiyimlari", "киімі") or ending a compound
    ("автозапчасти")."""
    single, stems, _ = _vague_entries()
    if word in single:
        return True
    # Stems only outside Latin letters: the English stemmer makes "stuffed" of "stuff" and
    # "presentation" of "present", and Latin Uzbek or Turkish has no stemmer at all.
    if not word.isascii() and word_stem(word) in stems:
        return True
    if any(word[:-k] in single for k in range(1, 5) if word[-k:] in _TURKIC_ENDINGS):
        return True
    if any(word[i:] in single for i in range(3, len(word) - _LEAST_VAGUE_TAIL + 1)):
        return True
    return (
        not word.isascii()
        and len(word) >= _LEAST_TYPO_MATCH - 1
        and not _one_letter_out(word).isdisjoint(_vague_slips())
    )


# Vague words of this many letters or more are still found one slip of the hand or the ear
# off ("адежда", "одеда", "вешщи"), outside Latin letters: a shorter word one letter off is
# often another word.
_LEAST_TYPO_MATCH: Final = 6


def _one_letter_out(word: str) -> set[str]:
    """A word and every form of it one letter shorter: two words share one when they are a
    letter added, dropped or changed apart."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


@lru_cache(maxsize=1)
def _vague_slips() -> frozenset[str]:
    return frozenset(
        form
        for word in _vague_entries()[0]
        if len(word) >= _LEAST_TYPO_MATCH and not word.isascii()
        for form in _one_letter_out(word)
    )


def _vague_positions(words: list[str]) -> set[int]:
    """Where casefolded `words` hold a vague word (`is_vague_word`) or a vague phrase of
    several words ("личные вещи", "yedek parça")."""
    vague = {i for i, word in enumerate(words) if is_vague_word(word)}
    phrases = _vague_entries()[2]
    for start, word in enumerate(words):
        for phrase in phrases.get(word, ()):
            if tuple(words[start : start + len(phrase)]) == phrase:
                vague.update(range(start, start + len(phrase)))
    # "Foot clothes" is footwear: a vague word inside a phrase that names a kind of goods
    # ("oyoq kiyim", "спецодежда") is no vague word there.
    if vague:
        for start, word in enumerate(words):
            for phrase in _kinds_with_a_vague_word().get(word, ()):
                if tuple(words[start : start + len(phrase)]) == phrase:
                    vague.difference_update(range(start, start + len(phrase)))
    return vague


@lru_cache(maxsize=1)
def _kinds_with_a_vague_word() -> dict[str, list[tuple[str, ...]]]:
    """`knowledge.kinds_with_a_vague_word` by first word."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for phrase in knowledge.kinds_with_a_vague_word():
        by_first.setdefault(phrase[0], []).append(phrase)
    return by_first


# How many words of its own, beyond its vague words, the commonest words and numbers, a
# description may have and still not say what its goods are: "одежда ношеная", "bola
# kiyimi", "запчасти для Нексии" are bags of things; "образцы керамической плитки" names
# the goods.
_BAG_OWN_WORDS: Final = 1


def _has_digit(word: str) -> bool:
    """Whether a word holds a digit: a count, size, weight or model code ("x2", "52-54",
    "4kg", "LE10S"), not a word that names goods."""
    return any(letter.isdigit() for letter in word)


@lru_cache(maxsize=20_000)
def bag_of_things(description: str) -> bool:
    """Whether a description is a vague word with at most `_BAG_OWN_WORDS` of its own: a
    bag of things ("вещи личные", "oto yedek parça"), not one unit of one kind of goods."""
    words = _WORD.findall(description.casefold())
    vague = _vague_positions(words)
    if not vague:
        return False
    counts = knowledge.count_words()
    # Nor are counts, sizes and weights ("x2", "52-54", "4kg") words of its own.
    own = [
        word
        for i, word in enumerate(words)
        if i not in vague and not is_common(word) and word not in counts and not _has_digit(word)
    ]
    # A word of its own that names a kind of goods says what they are: "сувенир шлем" is
    # a helmet, "керамогранит образцы" samples of stoneware.
    return len(own) <= _BAG_OWN_WORDS and not _name_a_kind(own)


def _name_a_kind(words: list[str]) -> bool:
    """Whether words (casefolded) name a kind of goods, honest or of gear: one of them alone
    ("шлем"), or together as the catalogue writes them ("керамогранит"). Only words of
    three letters or more beyond the commonest count: the "б" and "у" of "б/у" (used) are
    on gear phrasings too."""
    own = [w for w in words if sum(c.isalpha() for c in w) >= 3 and not is_common(w)]
    vocabulary = knowledge.gear_vocabulary()
    return any(knowledge.names_honest_goods(w) or w in vocabulary for w in own) or bool(
        own and knowledge.catalogue_kinds(" ".join(own))
    )


def in_gear_wording(description: str) -> bool:
    """Whether every word of a description beyond the commonest is one the gear nomenclature
    is phrased with ("военная форма"), and it is more than words everyday goods are written
    with too: "керамическая плитка" has a word of honest goods, a bare "helmet" is as much a
    motorcycle's or a bicycle's, and "Lens for camera" or "Камера для дрона" is a camera's
    part, unless they hold a name the nomenclature gives the kit (`names_the_kit`). A model
    code the nomenclature does not know ("LE10S", "640") says nothing either way: the words
    around it decide."""
    vocabulary = knowledge.gear_vocabulary()
    words = [
        w
        for w in _WORD.findall(description.casefold())
        if not is_common(w) and (w in vocabulary or not _has_digit(w))
    ]
    if not words or not all(w in vocabulary for w in words):
        return False
    everyday = knowledge.everyday_words()
    return not all(w in everyday for w in words) or names_the_kit(description)


@lru_cache(maxsize=20_000)
def names_the_kit(description: str) -> bool:
    """Whether a description holds every word of a name the gear nomenclature gives the kit,
    in any order ("Тепловизор", "Разгрузка", "night vision goggles toy for kids", "Форма
    военная (сувенир)", "военная форма"): not words of other goods a disguise borrows
    ("рюкзак 60 л", "camera"), though honest goods may be called so too. Officers at three
    exchanges read "Plate carrier (tactical vest), Cordura" as naming the kit, not as a
    cover of it."""
    held = set(_WORD.findall(description.casefold()))
    return any(name <= held for w in held for name in _kit_names_by_word().get(w, ()))


@lru_cache(maxsize=1)
def _kit_names_by_word() -> dict[str, list[frozenset[str]]]:
    """The names the gear nomenclature gives the kit, as sets of words, under each word."""
    out: dict[str, list[frozenset[str]]] = {}
    for name in knowledge.gear_names():
        words = frozenset(name.split())
        for w in words:
            out.setdefault(w, []).append(words)
    return out


def vague_in_latin(descriptions: np.ndarray) -> np.ndarray:
    """Per description, whether it is a vague description typed in Latin letters."""
    vague = _vague_latin()
    return np.array(
        [isinstance(d, str) and _latin_key(d) in vague for d in descriptions.tolist()],
        dtype=bool,
    )


# A weight written into a description ("Диски для штанги 2.5 кг", "Гиря 16kg", "чай 500 г"):
# the number and its unit, kilograms or grams.
_STATED_WEIGHT: Final = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(kg|kgs|кг|килограмм\w*|g|gr|гр|г|грамм\w*)(?!\w)"
)


def stated_unit_weights(description: str) -> tuple[float, ...]:
    """The weights in kilograms a description writes of its goods ("2.5 кг" of barbell
    plates, "500 г" of tea): what a unit weighs by the sender's own words."""
    out = []
    for number, unit in _STATED_WEIGHT.findall(description.casefold()):
        kilograms = float(number.replace(",", "."))
        out.append(kilograms if unit.startswith(("k", "к")) else kilograms / 1000.0)
    return tuple(w for w in out if w > 0)
